package cli

import (
	"errors"
	"os"
	"os/exec"
	"os/signal"

	"phantomstack.dev/shared/exitcode"
)

// execPhantom runs phantom as a child and exits with its exit code: Windows
// cannot replace a process (no execve). Ctrl-C and Ctrl-Break reach every
// process on the console, phantom (and through it the app) included, so
// stack only ignores them while it waits and then reports phantom's status
// (docs/platforms.md).
func execPhantom(bin string, argv []string) error {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt)
	defer signal.Stop(sigs)
	cmd := exec.Command(bin, argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ee):
		return exitcode.Silent{Code: ee.ExitCode()}
	}
	return exitcode.Errorf(exitcode.Failure, "could not run phantom exec: %v", err)
}

// killSelf ends stack at once, as a crash does (test hooks only).
func killSelf() {
	if p, err := os.FindProcess(os.Getpid()); err == nil {
		p.Kill()
	}
}
