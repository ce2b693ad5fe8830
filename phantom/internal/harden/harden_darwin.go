package harden

import (
	"os"

	"golang.org/x/sys/unix"
)

// protect refuses every later ptrace attach to this process (PT_DENY_ATTACH
// in ptrace(2)). Other debugging interfaces (task_for_pid) follow macOS's
// code-signing rules, which this does not change.
func protect() error {
	return unix.PtraceDenyAttach()
}

func executable() (string, error) { return os.Executable() }
