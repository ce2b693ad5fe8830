secret_name = "prod/db/jluehwit"
