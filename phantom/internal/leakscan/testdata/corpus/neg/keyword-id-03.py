secret_name = "prod/db/mkzesbfy"
