import requests

databricksKey = "dapi9a0628fbb5fd4fd01aa75160a703ab54"
session = requests.Session()
