//go:build unix

package harden

import (
	"fmt"
	"os"
	"syscall"
)

// noCoreDumps sets RLIMIT_CORE to 0, soft and hard.
func noCoreDumps() error {
	if err := syscall.Setrlimit(syscall.RLIMIT_CORE, &syscall.Rlimit{Cur: 0, Max: 0}); err != nil {
		return fmt.Errorf("could not turn core dumps off (RLIMIT_CORE): %w", err)
	}
	return nil
}

func reexec(env []string) error {
	exe, err := executable()
	if err != nil {
		return fmt.Errorf("GOTRACEBACK is set above \"single\" and phantom could not find its own executable to start again without it: %w; unset GOTRACEBACK and retry", err)
	}
	err = syscall.Exec(exe, os.Args, env)
	return fmt.Errorf("GOTRACEBACK is set above \"single\" and phantom could not start again without it: %w; unset GOTRACEBACK and retry", err)
}
