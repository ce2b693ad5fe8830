//go:build unix

package cli

import (
	"strconv"
	"syscall"
)

// processAlive reports whether pid is a running process this user may
// signal (kill(2) with signal 0).
func processAlive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// terminate asks a phantom proxy to stop; it shuts down cleanly on SIGTERM.
func terminate(pid int) error { return syscall.Kill(pid, syscall.SIGTERM) }

// killCommand is the shell command that ends pid.
func killCommand(pid int) string { return "kill " + strconv.Itoa(pid) }

// detachSupported reports whether `phantom start --detach` can work here.
func detachSupported() error { return nil }

// detachedAttr puts the background proxy in its own session, so that the
// terminal's hangup and Ctrl-C do not reach it.
func detachedAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }
