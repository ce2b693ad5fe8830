package harden

import "errors"

// Windows has no ptrace to deny, no core files and no exec. What is left:
//
//   - protect does nothing. Another process of the same user can open
//     phantom with PROCESS_VM_READ and read its memory; restricting the
//     process's own DACL (as KeePassXC does) is possible but could not be
//     tested here, so it is not claimed (docs/platforms.md).
//   - Windows writes no core file; a crash dump through Windows Error
//     Reporting needs GOTRACEBACK=wer (or crash), which reexec refuses.
//   - reexec cannot replace the process (there is no execve), so a loud
//     GOTRACEBACK is refused with the fix instead of removed.
func protect() error { return nil }

func noCoreDumps() error { return nil }

func reexec([]string) error {
	return errors.New(`GOTRACEBACK is set above "single", which could print or dump this process's memory on a crash, and phantom cannot restart itself without it on Windows; unset GOTRACEBACK (in PowerShell: Remove-Item Env:GOTRACEBACK) and retry`)
}
