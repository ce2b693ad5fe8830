package config

// dopplerKey is used by the client.
const dopplerKey = "dp.pt.w73kcwlL03LM1CO17OosUOCAKB2U1TLIYIeUBSMBwCq"
