const stripe = Stripe('pk_live_NH3VthoBRyIM0j1BQu06eB3a');
