package config

// gcpApiKeyKey is used by the client.
const gcpApiKeyKey = "AIzaySBmJ4orz_9cPHlPLCRd7pidCilnpqVto0k"
