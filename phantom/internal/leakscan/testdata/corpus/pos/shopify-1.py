import requests

shopifyKey = "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"
session = requests.Session()
