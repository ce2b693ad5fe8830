package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Ctrl-C ends any phantom command cleanly (issue 13, code health): exit 130,
// one line saying it was interrupted and what it left, no stack trace, and
// the vault and env files as they were. The commands below block on
// something a user can be stuck at: a value piped by a writer that never
// closes, a confirmation prompt, the passphrase prompt.

// vaultFiles reads every file of the sandbox's vault directory, to compare
// before and after an interrupted command.
func (s *sandbox) vaultFiles() map[string]string {
	s.t.Helper()
	out := map[string]string{}
	paths, _ := filepath.Glob(filepath.Join(s.home, "vaults", "*.vault"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			s.t.Fatal(err)
		}
		out[filepath.Base(p)] = string(b)
	}
	return out
}

// TestInterruptAddReadingStdin: `phantom add NAME --stdin` waiting for a
// writer that never closes the pipe stops at SIGINT.
func TestInterruptAddReadingStdin(t *testing.T) {
	s := newSandbox(t, "PHANTOM_VAULT_PASSPHRASE=interrupt-pass-123")
	s.write(".env", "OPENAI_API_KEY=sk-test-interrupt-0123456789abcdef\n")
	s.mustRun("", "init", "--yes")
	env, vaults := s.read(".env"), s.vaultFiles()
	if len(vaults) != 1 {
		t.Fatalf("vault files: %v", vaults)
	}

	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	cmd := exec.Command(s.bin, "add", "NEW_KEY", "--stdin")
	cmd.Dir, cmd.Env, cmd.Stdin = s.dir, s.env, pr
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pr.Close()
	pw.Write([]byte("half-a-val")) // no newline, no end of file: phantom waits
	code := interruptAfter(t, cmd, 1500*time.Millisecond)

	if code != 130 {
		t.Fatalf("exit %d, want 130; stderr:\n%s", code, stderr.String())
	}
	lines := strings.Split(strings.TrimRight(stderr.String(), "\n"), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "error: interrupted (Ctrl-C)") || !strings.Contains(lines[0], "nothing was stored") {
		t.Fatalf("want one line saying it was interrupted and nothing was stored; stderr:\n%s", stderr.String())
	}
	if stdout.Len() != 0 {
		t.Fatalf("stdout: %q", stdout.String())
	}
	if s.read(".env") != env {
		t.Fatal(".env changed")
	}
	if got := s.vaultFiles(); len(got) != 1 || got[filepathBase(vaults)] != vaults[filepathBase(vaults)] {
		t.Fatal("the vault file changed")
	}
	if names := s.names(); len(names) != 1 || names[0] != "OPENAI_API_KEY" {
		t.Fatalf("vault after the interrupted add: %v", names)
	}
}

func filepathBase(m map[string]string) string {
	for k := range m {
		return k
	}
	return ""
}

// interruptAfter sends SIGINT to cmd once it has run for wait, and returns
// its exit code; it fails the test unless cmd exits within 5 seconds of the
// signal. Before the signal cmd must still be running: it is blocked.
func interruptAfter(t *testing.T, cmd *exec.Cmd, wait time.Duration) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		t.Fatalf("%v ended before the signal: %v", cmd.Args, err)
	case <-time.After(wait):
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%v still running 5s after SIGINT", cmd.Args)
	}
	return cmd.ProcessState.ExitCode()
}

// TestInterruptInitPromptOnTerminal: Ctrl-C typed at init's confirmation
// (the terminal's line mode: the signal alone does not end the read) stops
// init before anything is written.
func TestInterruptInitPromptOnTerminal(t *testing.T) {
	s := newSandbox(t, "PHANTOM_VAULT_PASSPHRASE=interrupt-pass-123")
	const env = "OPENAI_API_KEY=sk-test-interrupt-0123456789abcdef\n"
	s.write(".env", env)
	screen, code := s.runOnPTY("\x03", "[Y/n] ", "init")
	if code != 130 {
		t.Fatalf("exit %d, want 130; screen:\n%s", code, screen)
	}
	if !strings.Contains(screen, "error: interrupted (Ctrl-C); ") || strings.Contains(screen, "goroutine ") {
		t.Fatalf("screen:\n%s", screen)
	}
	if s.read(".env") != env {
		t.Fatal(".env changed")
	}
	if v := s.vaultFiles(); len(v) != 0 {
		t.Fatalf("a vault was created: %v", v)
	}
}

// TestInterruptPassphrasePrompt: Ctrl-C at the hidden passphrase prompt
// puts the terminal back and exits 130 with the one line.
func TestInterruptPassphrasePrompt(t *testing.T) {
	s := newSandbox(t, "PHANTOM_VAULT_PASSPHRASE=interrupt-pass-123")
	s.write(".env", "OPENAI_API_KEY=sk-test-interrupt-0123456789abcdef\n")
	s.mustRun("", "init", "--yes")
	vaults := s.vaultFiles()
	s.env = withoutEnv(s.env, "PHANTOM_VAULT_PASSPHRASE")
	screen, code := s.runOnPTY("\x03", "Vault passphrase: ", "list")
	if code != 130 {
		t.Fatalf("exit %d, want 130; screen:\n%s", code, screen)
	}
	if !strings.Contains(screen, "error: interrupted (Ctrl-C); nothing was changed") {
		t.Fatalf("screen:\n%s", screen)
	}
	if got := s.vaultFiles(); got[filepathBase(vaults)] != vaults[filepathBase(vaults)] {
		t.Fatal("the vault file changed")
	}
}

func withoutEnv(env []string, name string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// TestExecForwardsEverySIGINT: phantom exec's child still gets each SIGINT,
// the second one too, long after the first cancelled phantom's own context:
// the one that makes a signal-aware context must not end phantom exec (it
// would exit before the child, with the wrong status).
func TestExecForwardsEverySIGINT(t *testing.T) {
	s := newSandbox(t, "PHANTOM_VAULT_PASSPHRASE=interrupt-pass-123")
	s.mustRun("", "init", "--yes")
	script := `n=0
trap 'n=$((n+1)); echo "got $n"; if [ $n -ge 2 ]; then exit 7; fi' INT
echo ready
i=0; while [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done; exit 99`
	cmd := exec.Command(s.bin, "exec", "--", "sh", "-c", script)
	cmd.Dir, cmd.Env = s.dir, s.env
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 8)
	go func() {
		buf := make([]byte, 256)
		var acc string
		for {
			n, err := out.Read(buf)
			acc += string(buf[:n])
			for {
				i := strings.IndexByte(acc, '\n')
				if i < 0 {
					break
				}
				lines <- acc[:i]
				acc = acc[i+1:]
			}
			if err != nil {
				close(lines)
				return
			}
		}
	}()
	expect := func(want string) {
		t.Helper()
		select {
		case l := <-lines:
			if l != want {
				t.Fatalf("child said %q, want %q", l, want)
			}
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("child never said %q; stderr: %s", want, stderr.String())
		}
	}
	expect("ready")
	cmd.Process.Signal(syscall.SIGINT)
	expect("got 1")
	time.Sleep(1500 * time.Millisecond) // past the grace in which repeats are absorbed
	cmd.Process.Signal(syscall.SIGINT)
	expect("got 2")
	err = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 7 {
		t.Fatalf("exit %d (%v), want the child's 7; stderr: %s", code, err, stderr.String())
	}
	if stderr.Len() != 0 {
		t.Fatalf("phantom wrote to stderr: %s", stderr.String())
	}
}
