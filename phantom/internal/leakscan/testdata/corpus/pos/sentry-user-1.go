package config

// sentryUserKey is used by the client.
const sentryUserKey = "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"
