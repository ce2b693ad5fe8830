const stripe = Stripe('pk_live_e7lCS77ZNM62iw8GbK5QoZfc');
