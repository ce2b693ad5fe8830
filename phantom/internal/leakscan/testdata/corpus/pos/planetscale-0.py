import requests

planetscaleKey = "pscale_tkn_z6gzWc-mP89t0PjiIfZ2ecQD9R5vlQg3HSTIAjuWNlg"
session = requests.Session()
