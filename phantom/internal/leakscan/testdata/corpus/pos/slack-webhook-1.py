import requests

slackWebhookKey = "https://hooks.slack.com/services/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"
session = requests.Session()
