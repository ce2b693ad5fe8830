// Package proctree describes the chain of processes that started this one,
// for the audit log: "sh(812) < script(800) < python3(790)" says a typed
// confirmation came through a pseudo-terminal a Python program made. It is
// a record, not a check: any process can name itself anything.
package proctree

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// maxDepth bounds the walk (init is usually reached well before).
const maxDepth = 8

// Parents describes the ancestors of this process, nearest first, from
// /proc on Linux. It returns "" where /proc has no such files.
func Parents() string { return chain(os.Getppid(), readStat) }

// chain walks from pid towards init through stat.
func chain(pid int, stat func(pid int) (comm string, ppid int, ok bool)) string {
	var parts []string
	for i := 0; i < maxDepth && pid > 0; i++ {
		comm, ppid, ok := stat(pid)
		if !ok {
			break
		}
		parts = append(parts, fmt.Sprintf("%s(%d)", comm, pid))
		if pid == 1 {
			break
		}
		pid = ppid
	}
	return strings.Join(parts, " < ")
}

// readStat parses /proc/<pid>/stat: "pid (comm) state ppid ...". comm may
// itself hold spaces and parentheses, so it ends at the last ')'.
func readStat(pid int) (string, int, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", 0, false
	}
	return parseStat(string(b))
}

func parseStat(s string) (string, int, bool) {
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return "", 0, false
	}
	// A name is chosen by the process itself: keep it printable, short
	// (the kernel's limit is 16 bytes), and free of the separator.
	comm := strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || r == '<' {
			return '?'
		}
		return r
	}, s[open+1:end])
	if len(comm) > 32 {
		comm = comm[:32]
	}
	f := strings.Fields(s[end+1:])
	if len(f) < 2 {
		return "", 0, false
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return "", 0, false
	}
	return comm, ppid, true
}
