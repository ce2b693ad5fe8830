const stripe = Stripe('pk_live_BqZ6Jadq2Lz7MkBozvChwYfI');
