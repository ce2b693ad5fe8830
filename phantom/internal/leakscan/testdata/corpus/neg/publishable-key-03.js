const stripe = Stripe('pk_live_RJT6xuc3o2RKK96vJuDtmiJs');
