package cli

import "syscall"

func detachedProcess() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
