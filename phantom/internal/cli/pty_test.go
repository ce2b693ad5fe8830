package cli

import (
	"bytes"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
)

// runOnPTY runs phantom with stdin, stdout and stderr on one pseudo-terminal,
// like a user at a shell, typing input once waitFor is on screen.
func (s *sandbox) runOnPTY(input, waitFor string, args ...string) (string, int) {
	s.t.Helper()
	return s.runOnPTYSteps([]ptyStep{{waitFor, input}}, args...)
}

const ptySecret = "sk-test-pty-reveal-0123456789abcdef"

func TestRevealNeedsTTYAndTypedConfirmation(t *testing.T) {
	s := newSandbox(t, "PHANTOM_VAULT_PASSPHRASE=pty-pass-123456")
	s.write(".env", "OPENAI_API_KEY="+ptySecret+"\n")
	s.mustRun("", "init", "--yes")

	// Not a terminal: refused, exit 5, no value.
	out, errOut, code := s.run("reveal OPENAI_API_KEY\n", "reveal", "OPENAI_API_KEY")
	if code != 5 || strings.Contains(out+errOut, ptySecret) {
		t.Fatalf("reveal without a TTY: exit %d, out %q err %q", code, out, errOut)
	}
	// There is no bypass flag.
	if _, errOut, code := s.run("", "reveal", "OPENAI_API_KEY", "--yes"); code != 2 || !strings.Contains(errOut, "unknown flag") {
		t.Fatalf("reveal --yes: exit %d %s", code, errOut)
	}
	// A terminal but the wrong confirmation: nothing shown.
	screen, code := s.runOnPTY("yes\n", "to continue", "reveal", "OPENAI_API_KEY")
	if code == 0 || strings.Contains(screen, ptySecret) {
		t.Fatalf("wrong confirmation: exit %d, screen:\n%s", code, screen)
	}
	// The typed confirmation shows the value.
	screen, code = s.runOnPTY("reveal OPENAI_API_KEY\n", "to continue", "reveal", "OPENAI_API_KEY")
	if code != 0 || !strings.Contains(screen, ptySecret) {
		t.Fatalf("confirmed reveal: exit %d, screen:\n%s", code, screen)
	}
	if out := s.mustRun("", "audit", "show", "--json"); !strings.Contains(out, `"op": "secret.reveal"`) || strings.Contains(out, ptySecret) {
		t.Fatalf("audit: %s", out)
	}
	// stdin a terminal but stdout piped (e.g. `phantom reveal X | cat`): refused.
	cmd := exec.Command(s.bin, "reveal", "OPENAI_API_KEY")
	cmd.Dir, cmd.Env = s.dir, s.env
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	defer tty.Close()
	var piped bytes.Buffer
	cmd.Stdin, cmd.Stderr, cmd.Stdout = tty, tty, &piped
	go io.Copy(io.Discard, ptmx)
	go ptmx.Write([]byte("reveal OPENAI_API_KEY\n"))
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 5 || strings.Contains(piped.String(), ptySecret) {
		t.Fatalf("reveal into a pipe: %v, stdout %q", err, piped.String())
	}
}

func TestUnprotectRestoresOriginalBytes(t *testing.T) {
	s := newSandbox(t, "PHANTOM_VAULT_PASSPHRASE=pty-pass-123456")
	// A name set twice with one value shares a token and each line gets its
	// own text back; an empty line of that name stays empty (issue 13 item 1).
	original := "# app\r\nSTRIPE_SECRET_KEY=\r\nexport OPENAI_API_KEY='" + ptySecret + "' # key\r\nPORT=1\r\nDB_PASSWORD=\"p@ss word\\n2\"\r\n" +
		"STRIPE_SECRET_KEY=sk_live_dup0123456789abcdef\r\nSTRIPE_SECRET_KEY='sk_live_dup0123456789abcdef' # again\r\n"
	s.write(".env", original)
	s.mustRun("", "init", "--yes")
	if strings.Contains(s.read(".env"), ptySecret) || strings.Contains(s.read(".env"), "sk_live_dup") {
		t.Fatal("init left the value")
	}
	if !strings.Contains(s.read(".env"), "\r\nSTRIPE_SECRET_KEY=\r\n") {
		t.Fatalf("init wrote into the empty line:\n%s", s.read(".env"))
	}
	// Without a terminal: refused, file untouched.
	protected := s.read(".env")
	if _, _, code := s.run("unprotect\n", "unprotect"); code != 5 || s.read(".env") != protected {
		t.Fatalf("unprotect without TTY: exit %d", code)
	}
	screen, code := s.runOnPTY("unprotect\n", "to continue", "unprotect")
	if code != 0 {
		t.Fatalf("unprotect: exit %d\n%s", code, screen)
	}
	if got := s.read(".env"); got != original {
		t.Fatalf("unprotect did not restore the original bytes:\n got %q\nwant %q", got, original)
	}
}

// TestTrustApprovesOnTerminal: a changed route is refused by exec until a
// person types "trust"; a later change to the route needs a new approval.
func TestTrustApprovesOnTerminal(t *testing.T) {
	s := newSandbox(t, "PHANTOM_VAULT_PASSPHRASE=pty-pass-123456")
	s.write(".env", "OPENAI_API_KEY=sk-proj-trust-0123456789abcdef\n")
	s.mustRun("", "init", "--yes")
	cfg := s.read(".phantom.toml")
	s.write(".phantom.toml", cfg+"\n[routes.openai]\nupstream = \"https://127.0.0.1:9\"\n")

	_, errOut, code := s.run("", "exec", "--", "true")
	if code != 5 || !strings.Contains(errOut, "https://api.openai.com → https://127.0.0.1:9") || !strings.Contains(errOut, "phantom trust") {
		t.Fatalf("untrusted route: exit %d\n%s", code, errOut)
	}
	// Typing anything else approves nothing.
	screen, code := s.runOnPTY("yes\r", `Type "trust"`, "trust")
	if code != 1 || !strings.Contains(screen, "route openai: upstream https://api.openai.com → https://127.0.0.1:9") {
		t.Fatalf("declined trust: exit %d\n%s", code, screen)
	}
	if _, _, code := s.run("", "exec", "--", "true"); code != 5 {
		t.Fatalf("exec after a declined trust: exit %d", code)
	}
	screen, code = s.runOnPTY("trust\r", `Type "trust"`, "trust")
	if code != 0 || !strings.Contains(screen, "Approved 1 route") {
		t.Fatalf("trust: exit %d\n%s", code, screen)
	}
	out, errOut, code := s.run("", "exec", "--", "sh", "-c", "echo $OPENAI_BASE_URL")
	if code != 0 || !strings.Contains(out, "/openai/v1") {
		t.Fatalf("exec after trust: exit %d\n%s%s", code, out, errOut)
	}
	// Change the route again: refused again.
	s.write(".phantom.toml", cfg+"\n[routes.openai]\nupstream = \"https://127.0.0.1:10\"\n")
	if _, _, code := s.run("", "exec", "--", "true"); code != 5 {
		t.Fatalf("exec after the route changed again: exit %d", code)
	}
	// The approval lives in PHANTOM_HOME, not in the project.
	if strings.Contains(s.read(".phantom.toml"), "sha256") {
		t.Fatal("approval written into the repository")
	}
}

// TestNoMaskingWithPersonAtTerminal: masked by default, on a terminal too
// (stdout on the terminal, or captured); --no-masking shows the injected
// value only after "no-masking" is typed at the prompt, and is audited.
func TestNoMaskingWithPersonAtTerminal(t *testing.T) {
	const dbURL = "postgres://u:NOMASKPASS@db/app"
	s := newSandbox(t, "PHANTOM_VAULT_PASSPHRASE=pty-pass-123456")
	s.write(".env", "DATABASE_URL="+dbURL+"\n")
	s.mustRun("", "init", "--yes")

	// Everything on the terminal, as at a shell: still masked.
	screen, code := s.runOnPTY("", "", "exec", "--", "sh", "-c", "echo $DATABASE_URL")
	if code != 0 || strings.Contains(screen, "NOMASKPASS") || !strings.Contains(screen, "phm_") {
		t.Fatalf("exec on a terminal: exit %d, screen %q", code, screen)
	}

	// stdin and stderr on the terminal, stdout captured (phantom exec ... | less).
	run := func(input string, args ...string) (string, string, int) {
		ptm, tty, err := pty.Open()
		if err != nil {
			t.Fatal(err)
		}
		defer ptm.Close()
		defer tty.Close()
		cmd := exec.Command(s.bin, args...)
		cmd.Dir, cmd.Env = s.dir, s.env
		cmd.Stdin, cmd.Stderr = tty, tty
		var out, screen bytes.Buffer
		cmd.Stdout = &out
		go io.Copy(&screen, ptm)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if input != "" {
			ptm.Write([]byte(input))
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("phantom %v did not finish", args)
		}
		return out.String(), screen.String(), cmd.ProcessState.ExitCode()
	}
	if out, _, code := run("", "exec", "--", "sh", "-c", "echo $DATABASE_URL"); code != 0 || strings.Contains(out, "NOMASKPASS") || !strings.Contains(out, "phm_") {
		t.Fatalf("captured output not masked: exit %d %q", code, out)
	}
	// Anything but the typed confirmation: refused, nothing run.
	if out, screen, code := run("yes\n", "exec", "--no-masking", "--", "sh", "-c", "echo $DATABASE_URL"); code != 5 || strings.Contains(out+screen, "NOMASKPASS") || !strings.Contains(screen, `Type "no-masking"`) {
		t.Fatalf("--no-masking declined: exit %d, out %q, screen %q", code, out, screen)
	}
	if out, _, code := run("no-masking\n", "exec", "--no-masking", "--", "sh", "-c", "echo $DATABASE_URL"); code != 0 || strings.TrimSpace(out) != dbURL {
		t.Fatalf("--no-masking: exit %d %q", code, out)
	}
	log := s.mustRun("", "audit", "show", "--json")
	for _, want := range []string{"refused: not confirmed", "confirmed on the terminal"} {
		if !strings.Contains(log, want) {
			t.Errorf("audit log has no exec.no-masking %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "NOMASKPASS") {
		t.Fatal("the audit log holds the value")
	}
}
