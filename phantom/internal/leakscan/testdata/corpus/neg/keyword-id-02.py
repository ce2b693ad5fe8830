token_type = "bearer"
