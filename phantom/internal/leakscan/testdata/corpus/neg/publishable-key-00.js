const stripe = Stripe('pk_live_WR948JjXBZGt413Av2U12vXi');
