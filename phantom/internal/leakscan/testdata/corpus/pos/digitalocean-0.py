import requests

digitaloceanKey = "dop_v1_5750f709a55198bc70674f76c7f9c26d50c79cfe0c748cf668163ff0db7728a9"
session = requests.Session()
