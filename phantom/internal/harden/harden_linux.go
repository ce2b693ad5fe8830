package harden

import "golang.org/x/sys/unix"

// protect clears the dumpable flag. The kernel then owns /proc/<pid>/mem,
// /proc/<pid>/environ and friends as root and refuses ptrace and those
// files to processes of the same uid (proc(5), PR_SET_DUMPABLE in
// prctl(2)), and writes no core file. execve resets the flag, so programs
// phantom starts are unaffected.
func protect() error {
	return unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
}

// executable is the running binary itself, even if its path was replaced.
func executable() (string, error) { return "/proc/self/exe", nil }
