package cli

import (
	"bytes"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// ptyStep waits for text to appear on the screen after the previous step's
// match, then types input ("" types nothing).
type ptyStep struct{ waitFor, input string }

type screen struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *screen) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *screen) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// runOnPTYSteps runs phantom on a pseudo-terminal and answers a sequence of
// prompts, each only once it is on screen, as a person would.
func (s *sandbox) runOnPTYSteps(steps []ptyStep, args ...string) (string, int) {
	s.t.Helper()
	cmd := exec.Command(s.bin, args...)
	cmd.Dir = s.dir
	cmd.Env = append(s.env, "TERM=xterm")
	f, err := pty.Start(cmd)
	if err != nil {
		s.t.Fatalf("pty: %v", err)
	}
	defer f.Close()
	var out screen
	done := make(chan struct{})
	go func() { io.Copy(&out, f); close(done) }()
	werr := make(chan error, 1)
	go func() { werr <- cmd.Wait() }()
	pos := 0
	for _, st := range steps {
		deadline := time.Now().Add(20 * time.Second)
		for {
			if i := strings.Index(out.String()[pos:], st.waitFor); i >= 0 {
				pos += i + len(st.waitFor)
				break
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				s.t.Fatalf("phantom %v: %q never appeared; screen:\n%s", args, st.waitFor, out.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
		if st.input != "" {
			f.Write([]byte(st.input))
		}
	}
	select {
	case err = <-werr:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		s.t.Fatalf("phantom %v did not finish; screen:\n%s", args, out.String())
	}
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	return out.String(), code
}

const ptyPass = "long-enough-1"

// TestPassphrasePromptsOnTerminal: choosing a passphrase for a new vault
// refuses one under 8 characters and a repeat that does not match, each time
// saying so and asking again; opening says a wrong passphrase was wrong and
// how many tries are left (issue 13 item 19).
func TestPassphrasePromptsOnTerminal(t *testing.T) {
	s := newSandbox(t) // no keychain (no D-Bus), no passphrase variable
	s.write(".env", "OPENAI_API_KEY=sk-test-pty-pass-0123456789abcdef\n")

	screen, code := s.runOnPTYSteps([]ptyStep{
		{"Vault passphrase: ", "short\r"},
		{"That passphrase is shorter than 8 characters; choose a longer one (2 tries left).", ""},
		{"Vault passphrase: ", ptyPass + "\r"},
		{"Repeat passphrase: ", "something-else\r"},
		{"The passphrases do not match; choose one and type it twice again (1 try left).", ""},
		{"Vault passphrase: ", ptyPass + "\r"},
		{"Repeat passphrase: ", ptyPass + "\r"},
	}, "init", "--yes")
	if code != 0 || !strings.Contains(screen, "Created the vault") {
		t.Fatalf("init: exit %d\n%s", code, screen)
	}

	// A wrong passphrase is said to be wrong; the next try opens the vault.
	screen, code = s.runOnPTYSteps([]ptyStep{
		{"Vault passphrase: ", "not-the-passphrase\r"},
		{"Wrong passphrase, try again (2 tries left).", ""},
		{"Vault passphrase: ", ptyPass + "\r"},
		{"OPENAI_API_KEY", ""},
	}, "list")
	if code != 0 {
		t.Fatalf("list after one wrong passphrase: exit %d\n%s", code, screen)
	}

	// Three wrong ones: exit 3, having said so before each new try.
	screen, code = s.runOnPTYSteps([]ptyStep{
		{"Vault passphrase: ", "wrong-1\r"},
		{"Wrong passphrase, try again (2 tries left).", ""},
		{"Vault passphrase: ", "wrong-2\r"},
		{"Wrong passphrase, try again (1 try left).", ""},
		{"Vault passphrase: ", "wrong-3\r"},
		{"wrong passphrase", ""},
	}, "list")
	if code != 3 {
		t.Fatalf("three wrong passphrases: exit %d\n%s", code, screen)
	}

	// Three mismatches end the command (exit 1) without a vault.
	s2 := newSandbox(t)
	screen, code = s2.runOnPTYSteps([]ptyStep{
		{"Vault passphrase: ", ptyPass + "\r"}, {"Repeat passphrase: ", "x-" + ptyPass + "\r"},
		{"Vault passphrase: ", ptyPass + "\r"}, {"Repeat passphrase: ", "y-" + ptyPass + "\r"},
		{"Vault passphrase: ", ptyPass + "\r"}, {"Repeat passphrase: ", "z-" + ptyPass + "\r"},
		{"did not match, 3 times", ""},
	}, "init", "--yes")
	if code != 1 {
		t.Fatalf("three mismatches: exit %d\n%s", code, screen)
	}
	if m, _ := filepath.Glob(filepath.Join(s2.home, "vaults", "*.vault")); len(m) != 0 {
		t.Fatalf("a vault was created after three mismatches: %v", m)
	}
}

// TestShortEnvPassphraseRefusedAtCreation: PHANTOM_VAULT_PASSPHRASE under 8
// characters cannot create a vault (exit 2, nothing written), the same
// minimum as a typed one and as `phantom vault rekey`.
func TestShortEnvPassphraseRefusedAtCreation(t *testing.T) {
	s := newSandbox(t, "PHANTOM_VAULT_PASSPHRASE=seven77")
	s.write(".env", "OPENAI_API_KEY=sk-test-pty-pass-0123456789abcdef\n")
	before := s.read(".env")
	_, errOut, code := s.run("", "init", "--yes")
	if code != 2 || !strings.Contains(errOut, "shorter than 8 characters") || !strings.Contains(errOut, "PHANTOM_VAULT_PASSPHRASE") {
		t.Fatalf("init with a 7-character passphrase: exit %d\n%s", code, errOut)
	}
	if s.read(".env") != before {
		t.Fatal("init rewrote .env although no vault was created")
	}
	if m, _ := filepath.Glob(filepath.Join(s.home, "vaults", "*.vault")); len(m) != 0 {
		t.Fatalf("a vault was created: %v", m)
	}
}
