const stripe = Stripe('pk_live_kT1udWbyLtC9doNt3JOyuHYd');
