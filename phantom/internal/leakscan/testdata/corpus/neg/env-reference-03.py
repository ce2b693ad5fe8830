token = None
