package config

// grafanaKey is used by the client.
const grafanaKey = "glsa_ITFcwUxeHAtnXPsJw5lf2MISDEksN5i5_7f6294da"
