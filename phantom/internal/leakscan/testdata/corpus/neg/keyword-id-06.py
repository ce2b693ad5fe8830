idempotency_key = "c4ad8177-8027-4cdd-a3f8-44aac362d895"
