//go:build unix

package cli

import (
	"os"
	"syscall"

	"phantomstack.dev/shared/exitcode"
)

// execPhantom replaces stack with phantom: no process in between to lose a
// signal or an exit status.
func execPhantom(bin string, argv []string) error {
	err := syscall.Exec(bin, argv, os.Environ())
	return exitcode.Errorf(exitcode.Failure, "could not run phantom exec: %v", err)
}

// killSelf ends stack the way a crash or `kill -9` does (test hooks only).
func killSelf() {
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
}
