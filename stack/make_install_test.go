package stack_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMakeInstallNamesGOBIN runs `make install` with GOBIN set: the binaries
// land in GOBIN (go install's rule), and the closing line must name that
// directory, not GOPATH/bin.
func TestMakeInstallNamesGOBIN(t *testing.T) {
	if testing.Short() {
		t.Skip("builds both binaries; skipped with -short")
	}
	mk, err := exec.LookPath("make")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("make is needed: %v", err)
		}
		t.Skipf("no make: %v", err)
	}
	gobin := t.TempDir()
	cmd := exec.Command(mk, "--no-print-directory", "install")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "GOBIN="+gobin, "GOFLAGS=")
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make install: %v\n%s", err, b)
	}
	for _, name := range []string{"phantom", "stack"} {
		if _, err := os.Stat(filepath.Join(gobin, name)); err != nil {
			t.Errorf("make install did not put %s into GOBIN: %v", name, err)
		}
	}
	if want := "installed phantom and stack into " + gobin + "\n"; !strings.Contains(string(b), want) {
		t.Errorf("make install output lacks %q:\n%s", want, b)
	}
}
