package proctree

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

func TestParseStat(t *testing.T) {
	comm, ppid, ok := parseStat("4242 (my (odd) prog) S 812 4242 4242 0 -1 4194560\n")
	if !ok || comm != "my (odd) prog" || ppid != 812 {
		t.Fatalf("got %q %d %v", comm, ppid, ok)
	}
	if comm, _, _ := parseStat("1 (a\x1b[2J<b) S 0"); comm != "a?[2J?b" {
		t.Fatalf("control characters kept: %q", comm)
	}
	for _, bad := range []string{"", "12 comm S 1", "12 (x) S", "12 (x) S y"} {
		if _, _, ok := parseStat(bad); ok {
			t.Errorf("parsed %q", bad)
		}
	}
}

func TestChain(t *testing.T) {
	procs := map[int]struct {
		comm string
		ppid int
	}{30: {"sh", 20}, 20: {"script", 10}, 10: {"python3", 1}, 1: {"init", 0}}
	stat := func(pid int) (string, int, bool) { p, ok := procs[pid]; return p.comm, p.ppid, ok }
	if got := chain(30, stat); got != "sh(30) < script(20) < python3(10) < init(1)" {
		t.Fatalf("chain: %q", got)
	}
	if got := chain(99, stat); got != "" {
		t.Fatalf("unknown pid: %q", got)
	}
}

func TestParentsNamesTheTestRunner(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	got := Parents()
	if !strings.Contains(got, "("+strconv.Itoa(os.Getppid())+")") {
		t.Fatalf("Parents() = %q, want the parent pid %d in it", got, os.Getppid())
	}
}
