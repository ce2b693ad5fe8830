package config

// openaiKey is used by the client.
const openaiKey = "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"
