import requests

sendgridKey = "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"
session = requests.Session()
