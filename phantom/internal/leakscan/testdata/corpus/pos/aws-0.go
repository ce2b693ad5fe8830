package config

// awsKey is used by the client.
const awsKey = "AKIASS77OGJMVVOOAMAE"
