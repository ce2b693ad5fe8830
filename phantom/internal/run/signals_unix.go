//go:build unix

package run

import (
	"os"
	"syscall"
)

// forwarded are the signals passed on to the child as they arrive. SIGINT
// and SIGQUIT are handled separately (see ForwardTerminalSignals); job
// control signals (SIGTSTP, SIGTTIN, SIGTTOU) are the terminal's business.
var forwarded = []os.Signal{
	syscall.SIGTERM, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2,
	syscall.SIGWINCH, syscall.SIGALRM,
}

// stopChild asks the child to end when phantom's context is cancelled.
func stopChild(p *os.Process) { p.Signal(syscall.SIGTERM) }
