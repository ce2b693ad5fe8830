const stripe = Stripe('pk_live_AG7BXxq0LbGk2Rqe24R5uq3C');
