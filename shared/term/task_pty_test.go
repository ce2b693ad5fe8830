//go:build unix

package term

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// On a real terminal RunTask draws the bubbletea spinner on stderr, and
// Ctrl-C (SIGINT) cancels the task's context and returns ErrInterrupted.
func TestRunTaskSpinnerInterrupt(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatalf("opening a pty: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	s := &IOStreams{In: &bytes.Buffer{}, Out: io.Discard, ErrOut: tty, stderrTTY: true, colorEnabled: true}

	screen := make(chan string, 64)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			if n > 0 {
				screen <- string(buf[:n])
			}
			if err != nil {
				close(screen)
				return
			}
		}
	}()

	started := make(chan struct{})
	cancelled := make(chan bool, 1)
	done := make(chan error, 1)
	go func() {
		done <- s.RunTask(context.Background(), Task{Title: "Waiting for the project", Next: "fetch the API keys"},
			func(ctx context.Context, p Progress) error {
				p.Status("status COMING_UP")
				close(started)
				select {
				case <-ctx.Done():
					cancelled <- true
					return ctx.Err()
				case <-time.After(20 * time.Second):
					cancelled <- false
					return nil
				}
			})
	}()
	<-started
	var seen strings.Builder
	deadline := time.After(10 * time.Second)
	for !strings.Contains(seen.String(), "next: fetch the API keys") {
		select {
		case chunk := <-screen:
			seen.WriteString(chunk)
		case <-deadline:
			t.Fatalf("spinner never drew its view; screen so far: %q", seen.String())
		}
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrInterrupted) {
			t.Fatalf("RunTask = %v, want ErrInterrupted", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("RunTask did not return after SIGINT")
	}
	if !<-cancelled {
		t.Fatal("the task's context was not cancelled")
	}
}
