const stripe = Stripe('pk_live_WGt6yWSzazRLyFBeHE0dgrde');
