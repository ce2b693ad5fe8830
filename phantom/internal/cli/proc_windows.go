package cli

import (
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/windows"

	"phantomstack.dev/shared/exitcode"
)

// stillActive is the exit code GetExitCodeProcess reports for a process
// that has not ended (STILL_ACTIVE).
const stillActive = 259

// processAlive reports whether pid is a running process this user may
// query.
func processAlive(pid int) bool {
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(pid))
	if err != nil {
		return false
	}
	defer windows.CloseHandle(h)
	var code uint32
	return windows.GetExitCodeProcess(h, &code) == nil && code == stillActive
}

// terminate ends a phantom proxy. Windows cannot ask another process to
// exit cleanly (there is no SIGTERM), so it is killed: its state file is
// removed by `phantom stop`, and no proxy.stop audit event is written
// (docs/platforms.md).
func terminate(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}

// killCommand is the command that ends pid.
func killCommand(pid int) string { return "taskkill /F /PID " + strconv.Itoa(pid) }

// detachSupported: the background proxy gets its readiness pipe and the
// passphrase as inherited file descriptors 3 and 4, which Windows cannot
// pass to a child.
func detachSupported() error {
	return exitcode.Errorf(exitcode.Failure, "phantom start --detach is not supported on Windows (docs/platforms.md); run phantom start without --detach in its own terminal, or phantom exec -- COMMAND")
}

func detachedAttr() *syscall.SysProcAttr { return nil }
