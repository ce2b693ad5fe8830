const stripe = Stripe('pk_live_ypWfcS8qO43i7grutfofR6wu');
