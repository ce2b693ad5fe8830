//go:build unix

package interrupt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"

	"phantomstack.dev/shared/exitcode"
	"phantomstack.dev/shared/term"
)

func TestNotifyContextCancelsOnSIGINT(t *testing.T) {
	ctx, stop := NotifyContext(context.Background())
	defer stop()
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("SIGINT did not cancel the context")
	}
	if s, ok := Cause(ctx); !ok || s.Sig != os.Interrupt {
		t.Fatalf("cause = %v", context.Cause(ctx))
	}
	// A second signal inside Grace is absorbed: the test process lives on.
	syscall.Kill(os.Getpid(), syscall.SIGINT)
	time.Sleep(50 * time.Millisecond)
}

func TestMessage(t *testing.T) {
	bg := context.Background()
	if _, ok := Message(bg, errors.New("boom"), "x"); ok {
		t.Fatal("a plain error without a signal is not an interruption")
	}
	if m, ok := Message(bg, fmt.Errorf("prompt: %w", term.ErrInterrupted), "nothing was changed"); !ok || m != "interrupted (Ctrl-C); nothing was changed" {
		t.Fatalf("ErrInterrupted: %q %v", m, ok)
	}
	own := exitcode.Errorf(exitcode.Interrupted, "interrupted (Ctrl-C); the journal is kept")
	if m, ok := Message(bg, own, "ignored"); !ok || m != "interrupted (Ctrl-C); the journal is kept" {
		t.Fatalf("own message: %q %v", m, ok)
	}
	ctx, cancel := context.WithCancelCause(bg)
	cancel(&Signal{Sig: syscall.SIGTERM})
	if m, ok := Message(ctx, errors.New("Get x: context canceled"), "nothing was changed"); !ok || m != "interrupted (terminated); nothing was changed" {
		t.Fatalf("SIGTERM: %q %v", m, ok)
	}
}
