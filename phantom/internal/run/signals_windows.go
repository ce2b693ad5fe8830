package run

import (
	"os"
	"syscall"
)

// Windows has no signals to forward: a console's Ctrl-C, Ctrl-Break and
// close events reach every process attached to it, the child included, and
// os.Process.Signal can deliver nothing but Kill. SIGTERM (Go's name for
// the close, logoff and shutdown events) is caught so that phantom waits
// for the child and reports its exit code instead of ending first; passing
// it on fails harmlessly. The list must not be empty: signal.Notify with no
// signals relays every signal. docs/platforms.md.
var forwarded = []os.Signal{syscall.SIGTERM}

// stopChild ends the child when phantom's context is cancelled. Windows
// cannot ask another process to exit (no SIGTERM), so it is killed.
func stopChild(p *os.Process) { p.Kill() }
