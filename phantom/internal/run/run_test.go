package run

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"phantomstack.dev/phantom/internal/scrub"
)

const (
	value = "REAL-secret-value-0123456789"
	tok   = "phm_0000000000000000000000000000000000000000000000000000000000000001"
)

// slowWriter takes its first write only after a pause, like a reader of
// phantom's stdout that is busy when the child exits.
type slowWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	first bool
}

func (w *slowWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.first {
		w.first = true
		time.Sleep(500 * time.Millisecond)
	}
	return w.buf.Write(p)
}

func (w *slowWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestReturnsWhenChildExits: with masked output, Run returns when the
// child exits although a background grandchild still holds the pipe; the
// child's whole output arrives, masked, even when it is read slowly; the
// grandchild's later output is not waited for.
func TestReturnsWhenChildExits(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("sh not found")
		}
		t.Skip("sh not found")
	}
	out := &slowWriter{}
	c := &Command{
		// 60 KB (within one pipe buffer, so the child exits before the slow
		// writer has taken the first part), then a value with no newline.
		Args:   []string{"sh", "-c", `head -c 60000 /dev/zero | tr '\0' a; printf '%s' "$V"; (sleep 4; echo late) &`},
		Env:    []string{"PATH=" + os.Getenv("PATH"), "V=" + value},
		Stdout: out, Stderr: out,
		Mask:       scrub.New(map[string]string{value: tok}),
		MaskStdout: true, MaskStderr: true,
	}
	start := time.Now()
	code, err := c.Run(context.Background())
	if err != nil || code != 0 {
		t.Fatalf("Run: %d %v", code, err)
	}
	if d := time.Since(start); d > 3500*time.Millisecond {
		t.Errorf("Run took %v: it waited for the grandchild", d)
	}
	got := out.String()
	if want := strings.Repeat("a", 60000) + tok; got != want {
		t.Errorf("output: %d bytes, ends %q; want %d bytes ending in the token", len(got), got[max(0, len(got)-80):], len(want))
	}
	if strings.Contains(got, value) || strings.Contains(got, "late") {
		t.Errorf("output holds the value or the grandchild's late line")
	}
}
