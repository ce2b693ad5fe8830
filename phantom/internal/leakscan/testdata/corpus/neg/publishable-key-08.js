const stripe = Stripe('pk_live_sGvtaNpqv0YZPtQPrvedYBGM');
