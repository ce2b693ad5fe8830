secret_key_path: /run/secrets/app_key
