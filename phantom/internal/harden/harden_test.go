//go:build linux

package harden

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The test binary re-executes itself with HARDEN_TEST_CHILD set to run one
// of these after Process, as phantom's main does.
func TestMain(m *testing.M) {
	switch os.Getenv("HARDEN_TEST_CHILD") {
	case "":
		os.Exit(m.Run())
	case "report":
		if err := Process(); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		d, _ := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
		var rl unix.Rlimit
		unix.Getrlimit(unix.RLIMIT_CORE, &rl)
		tb, set := os.LookupEnv("GOTRACEBACK")
		_, stash := os.LookupEnv(stashEnv)
		fmt.Printf("dumpable=%d core=%d/%d gotraceback=%q/%v stash=%v\n", d, rl.Cur, rl.Max, tb, set, stash)
		os.Exit(0)
	case "panic":
		if err := Process(); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		// A second goroutine, parked: "all" or "crash" would print it.
		go func() { select {} }()
		time.Sleep(10 * time.Millisecond)
		panic("boom")
	}
	os.Exit(2)
}

func child(t *testing.T, name string, env ...string) (string, string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), append([]string{"HARDEN_TEST_CHILD=" + name}, env...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Run()
	return out.String(), errb.String()
}

func TestProcessMakesNonDumpableWithoutCoreLimit(t *testing.T) {
	out, errOut := child(t, "report", "GOTRACEBACK=")
	want := `dumpable=0 core=0/0 gotraceback=""/true stash=false`
	if strings.TrimSpace(out) != want {
		t.Fatalf("got %q (stderr %q), want %q", out, errOut, want)
	}
}

// GOTRACEBACK=crash: phantom starts again without it (its own level is the
// default), and puts it back into its environment for its children.
func TestProcessDropsLoudTracebackForItselfOnly(t *testing.T) {
	out, errOut := child(t, "report", "GOTRACEBACK=crash")
	want := `dumpable=0 core=0/0 gotraceback="crash"/true stash=false`
	if strings.TrimSpace(out) != want {
		t.Fatalf("got %q (stderr %q), want %q", out, errOut, want)
	}
	for _, tb := range []string{"all", "system", "crash", "2"} {
		_, errOut := child(t, "panic", "GOTRACEBACK="+tb)
		if n := strings.Count(errOut, "\ngoroutine "); !strings.Contains(errOut, "panic: boom") || n != 1 {
			t.Errorf("GOTRACEBACK=%s: %d goroutine traces (want only the panicking one):\n%s", tb, n, errOut)
		}
	}
}
