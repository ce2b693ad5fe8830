package config

// gitlabKey is used by the client.
const gitlabKey = "glpat-SrjCJ_Aa5az6cfKQsOeE"
