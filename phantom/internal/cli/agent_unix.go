//go:build !windows

package cli

import "syscall"

// detachedProcess starts the agent in its own session: no controlling
// terminal, so closing the terminal or Ctrl-C there does not stop it.
func detachedProcess() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }
