package term

import (
	"context"
	"errors"
	stdio "io"
	"strings"
	"testing"
	"time"
)

func TestPromptsRefuseWithoutTTY(t *testing.T) {
	io, in, _, _ := Test()
	in.WriteString("secret\n")
	if _, err := io.ReadSecret(context.Background(), "value: "); !errors.Is(err, ErrNoTTY) {
		t.Fatalf("ReadSecret without TTY: %v", err)
	}
	if err := io.ConfirmTyped(context.Background(), "sure?", "yes"); !errors.Is(err, ErrNoTTY) {
		t.Fatalf("ConfirmTyped without TTY: %v", err)
	}
}

func TestConfirmTyped(t *testing.T) {
	for _, c := range []struct {
		input string
		ok    bool
	}{{"reveal FOO\n", true}, {"y\n", false}, {"", false}} {
		io, in, _, errOut := Test()
		io.SetTTY(true, true, true)
		in.WriteString(c.input)
		err := io.ConfirmTyped(context.Background(), "Show FOO?", "reveal FOO")
		if (err == nil) != c.ok {
			t.Errorf("input %q: err = %v", c.input, err)
		}
		if !strings.Contains(errOut.String(), `Type "reveal FOO"`) {
			t.Errorf("prompt not on stderr: %q", errOut.String())
		}
	}
}

func TestReadSecretOnTestTTY(t *testing.T) {
	io, in, out, _ := Test()
	io.SetTTY(true, false, true)
	in.WriteString("hunter2\r\nrest")
	b, err := io.ReadSecret(context.Background(), "value: ")
	if err != nil || string(b) != "hunter2" {
		t.Fatalf("ReadSecret = %q, %v", b, err)
	}
	if out.Len() != 0 {
		t.Fatal("prompt leaked to stdout")
	}
}

// TestReadLineEndsAtCancel: a prompt waiting for a line ends when the
// command's context is cancelled (Ctrl-C), with ErrInterrupted.
func TestReadLineEndsAtCancel(t *testing.T) {
	io, _, _, _ := Test()
	io.SetTTY(true, true, true)
	pr, pw := stdio.Pipe() // a writer that never writes
	defer pw.Close()
	io.In = pr
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	if _, err := io.ReadLine(ctx, "? "); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("ReadLine = %v", err)
	}
	if _, err := io.ReadSecret(ctx, "? "); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("ReadSecret = %v", err)
	}
	if _, err := ReadAll(ctx, pr); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("ReadAll = %v", err)
	}
}
