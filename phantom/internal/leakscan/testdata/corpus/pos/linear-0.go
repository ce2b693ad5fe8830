package config

// linearKey is used by the client.
const linearKey = "lin_api_mInThK6Lv2FSLK11Ngn9IAdAwY43rfVZ7gU2poce"
