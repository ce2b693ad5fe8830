package cli

import (
	"os"
	"strconv"
	"strings"
)

// processChain names phantom's parent processes, nearest first, as
// "bash < script < python3 < tmux", for the audit events of the commands a
// human must confirm (reveal, unprotect, trust, exec --no-masking): a
// confirmation typed through `script`, a Python pty or a tmux session an
// agent drives shows there. It is evidence, not proof: a process chooses its
// own name (prctl PR_SET_NAME). Linux only (/proc); "" elsewhere or when
// /proc cannot be read.
func processChain() string {
	const maxDepth = 6
	var names []string
	pid := os.Getppid()
	for i := 0; i < maxDepth && pid > 1; i++ {
		comm, ppid, ok := procInfo(pid)
		if !ok {
			break
		}
		names = append(names, comm)
		pid = ppid
	}
	return strings.Join(names, " < ")
}

// procInfo reads a process's name and parent from /proc/<pid>/stat:
// "pid (comm) state ppid ...". comm may hold spaces and parentheses, so the
// fields are taken after the last ')'.
func procInfo(pid int) (comm string, ppid int, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", 0, false
	}
	s := string(b)
	open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || closing < open {
		return "", 0, false
	}
	fields := strings.Fields(s[closing+1:])
	if len(fields) < 2 {
		return "", 0, false
	}
	ppid, err = strconv.Atoi(fields[1])
	if err != nil {
		return "", 0, false
	}
	return cleanComm(s[open+1 : closing]), ppid, true
}

// cleanComm keeps a process name printable and short: it is written into
// audit entries and shown by `audit show`.
func cleanComm(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case b.Len() >= 32:
			return b.String()
		case r < 0x20 || r == 0x7f || r == '<':
			b.WriteByte('?')
		default:
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "?"
	}
	return b.String()
}

// withChain appends the process chain to an audit detail.
func withChain(detail string) string {
	c := processChain()
	if c == "" {
		return detail
	}
	if detail == "" {
		return "via " + c
	}
	return detail + "; via " + c
}
