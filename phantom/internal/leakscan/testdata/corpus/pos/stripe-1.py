import requests

stripeKey = "rk_live_xhptUxDIJp9j3XVmLEYrob45"
session = requests.Session()
