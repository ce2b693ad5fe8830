primary_key = "id"
