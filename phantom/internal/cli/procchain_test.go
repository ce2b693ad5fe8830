package cli

import (
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
)

// processChain names the parents nearest first: run through `sh -c`, a
// child sees "sh" first and this test binary next.
func TestProcessChain(t *testing.T) {
	if runtime.GOOS != "linux" {
		if processChain() != "" {
			t.Fatal("a chain without /proc")
		}
		t.Skip("reads /proc")
	}
	if os.Getenv("PROCCHAIN_CHILD") == "1" {
		os.Stdout.WriteString(processChain() + "\n")
		return
	}
	self, _ := os.Executable()
	out, err := exec.Command("sh", "-c", `PROCCHAIN_CHILD=1 "$0" -test.run '^TestProcessChain$'; true`, self).Output()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.SplitN(string(out), "\n", 2)[0]
	parts := strings.Split(got, " < ")
	if len(parts) < 2 || !strings.HasPrefix(parts[0], "sh(") || !strings.Contains(parts[1], ".test(") || len(parts) > 8 {
		t.Fatalf("chain %q", got)
	}
	if withChain("x") == "x" || !strings.HasPrefix(withChain(""), "via ") {
		t.Fatal("withChain")
	}
}
