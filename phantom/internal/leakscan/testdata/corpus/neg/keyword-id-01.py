idempotency_key = "63ef6aa1-7013-41e6-a530-355595ca4755"
