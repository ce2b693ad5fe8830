package term

import (
	"errors"
	"strings"
	"testing"
)

func TestPromptsRefuseWithoutTTY(t *testing.T) {
	io, in, _, _ := Test()
	in.WriteString("secret\n")
	if _, err := io.ReadSecret("value: "); !errors.Is(err, ErrNoTTY) {
		t.Fatalf("ReadSecret without TTY: %v", err)
	}
	if err := io.ConfirmTyped("sure?", "yes"); !errors.Is(err, ErrNoTTY) {
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
		err := io.ConfirmTyped("Show FOO?", "reveal FOO")
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
	b, err := io.ReadSecret("value: ")
	if err != nil || string(b) != "hunter2" {
		t.Fatalf("ReadSecret = %q, %v", b, err)
	}
	if out.Len() != 0 {
		t.Fatal("prompt leaked to stdout")
	}
}
