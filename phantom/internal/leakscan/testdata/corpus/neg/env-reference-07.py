api_key = settings.get("api_key")
