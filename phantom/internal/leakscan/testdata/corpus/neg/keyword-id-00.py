cache_key = f"user:{user_id}:profile"
