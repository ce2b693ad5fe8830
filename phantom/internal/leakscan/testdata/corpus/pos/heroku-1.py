import requests

herokuKey = "HRKU-AAbKuAoKWTZ5KcdfblO8ZqgMFSolun_y-zwfJFFwcg-zgI2glnp-U-t_3sTY"
session = requests.Session()
