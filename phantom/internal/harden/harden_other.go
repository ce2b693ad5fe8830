//go:build unix && !linux && !darwin

package harden

import "os"

// protect has no per-process anti-debugging switch to set on this OS;
// RLIMIT_CORE 0 (set by Process) still keeps memory out of core files.
func protect() error { return nil }

func executable() (string, error) { return os.Executable() }
