import requests

postmanKey = "PMAK-35cd2bac65c2ef82602ac8f4-7e574e4fc089a14cadb43f032d4000b837"
session = requests.Session()
