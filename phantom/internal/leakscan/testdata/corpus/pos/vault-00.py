db = connect(host="db", user="app", password="maple-river/514 dayq")
