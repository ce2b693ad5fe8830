//go:build linux

package redteam

import "os"

func getenv(k string) string { return os.Getenv(k) }
