package cli

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// processChain names the processes above phantom, nearest first ("bash <
// script < python3 < tmux"), for audit events on human decisions: a
// confirmation typed through a pseudo-terminal an agent opened shows here.
// Linux only (/proc); elsewhere "pid N".
func processChain() string {
	var names []string
	pid := os.Getppid()
	for i := 0; i < 6 && pid > 1; i++ {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			break
		}
		// pid (comm) state ppid …; comm may hold spaces and parentheses.
		s := string(b)
		open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || close < open {
			break
		}
		names = append(names, s[open+1:close])
		fields := strings.Fields(s[close+1:])
		if len(fields) < 2 {
			break
		}
		pid, _ = strconv.Atoi(fields[1])
	}
	if len(names) == 0 {
		return fmt.Sprintf("pid %d", os.Getppid())
	}
	return strings.Join(names, " < ")
}
