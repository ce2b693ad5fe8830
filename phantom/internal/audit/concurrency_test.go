package audit

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"phantomstack.dev/shared/fsx"
)

// The concurrent-process test re-executes this test binary; in a child,
// TestMain appends events and exits instead of running the tests.
const (
	childDirEnv = "PHANTOM_AUDIT_TEST_CHILD_DIR"
	childIDEnv  = "PHANTOM_AUDIT_TEST_CHILD_ID"
	perChild    = 25
	children    = 20
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(childDirEnv); dir != "" {
		os.Exit(childMain(dir, os.Getenv(childIDEnv)))
	}
	os.Exit(m.Run())
}

func childMain(dir, id string) int {
	l := Open(dir, Options{Process: "phantom child " + id, LockTimeout: time.Minute})
	for i := 0; i < perChild; i++ {
		if err := l.Append(Event{Op: "secret.reveal", Name: fmt.Sprintf("C%s_%d", id, i)}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return 0
}

func acquireForTest(path string) (*fsx.Lock, error) {
	return fsx.AcquireLock(path, time.Second, "test holder")
}

func TestConcurrentProcesses(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("spawns processes")
	}
	dir := filepath.Join(t.TempDir(), "home")
	appendN(t, Open(dir, Options{Process: "seed"}), 1) // the anchor verify checks from
	cmds := make([]*exec.Cmd, children)
	for i := range cmds {
		c := exec.Command(os.Args[0], "-test.run=^$")
		c.Env = append(os.Environ(), childDirEnv+"="+dir, childIDEnv+"="+strconv.Itoa(i))
		c.Stderr = os.Stderr
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[i] = c
	}
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Errorf("child %d: %v", i, err)
		}
	}
	rep := verify(t, dir)
	expectProblems(t, rep)
	if rep.Verified != children*perChild+1 || rep.Lines != children*perChild+1 {
		t.Fatalf("verified %d of %d lines, want %d", rep.Verified, rep.Lines, children*perChild+1)
	}
	checkAllPresent(t, dir, children, perChild, "C")
}

func checkAllPresent(t *testing.T, dir string, writers, each int, prefix string) {
	t.Helper()
	evs, err := Read(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range evs {
		if seen[e.Name] {
			t.Fatalf("%s recorded twice", e.Name)
		}
		seen[e.Name] = true
	}
	for w := 0; w < writers; w++ {
		for i := 0; i < each; i++ {
			if n := fmt.Sprintf("%s%d_%d", prefix, w, i); !seen[n] {
				t.Fatalf("%s missing", n)
			}
		}
	}
}

func TestConcurrentGoroutines(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "home")
	const writers, each = 8, 25
	shared := Open(dir, Options{Process: "shared"})
	appendN(t, shared, 1) // the anchor verify checks from
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		// Half share one Log, half have their own (separate lock descriptors).
		l := shared
		if w%2 == 1 {
			l = Open(dir, Options{Process: "own"})
		}
		wg.Go(func() {
			for i := 0; i < each; i++ {
				if err := l.Append(Event{Op: "secret.add", Name: fmt.Sprintf("G%d_%d", w, i)}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Go(func() { // a verifier running alongside the writers
		for i := 0; i < 5; i++ {
			rep, err := Verify(dir)
			if err != nil || !rep.OK() {
				t.Errorf("verify during writes: %v %+v", err, rep.Problems)
			}
		}
	})
	wg.Wait()
	rep := verify(t, dir)
	expectProblems(t, rep)
	if rep.Verified != writers*each+1 {
		t.Fatalf("verified %d", rep.Verified)
	}
	checkAllPresent(t, dir, writers, each, "G")
}

func BenchmarkAppend(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "home")
	l := Open(dir, Options{Process: "bench"})
	ev := Event{Op: "secret.reveal", Name: "OPENAI_API_KEY", Project: "0123456789abcdef0123456789abcdef"}
	for b.Loop() {
		if err := l.Append(ev); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "home")
	l := Open(dir, Options{Process: "bench"})
	for i := 0; i < 1000; i++ {
		l.Append(Event{Op: "secret.reveal", Name: "OPENAI_API_KEY"})
	}
	for b.Loop() {
		if rep, err := Verify(dir); err != nil || !rep.OK() {
			b.Fatal(err)
		}
	}
}
