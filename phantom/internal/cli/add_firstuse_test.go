package cli

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
)

// TestAddOffersEnvFile: after `phantom add NAME` the app must be able to see
// NAME, so add offers to write its placeholder into the project's env file on
// a terminal, prints the exact command without one (and that command works
// as printed, also from a subdirectory), and says how to run the app
// (issue 13 item 16).
func TestAddOffersEnvFile(t *testing.T) {
	s := newSandbox(t, "PHANTOM_VAULT_PASSPHRASE=first-use-pass-1")
	s.write(".env", "PORT=1\n")
	s.mustRun("", "init", "--yes")
	tokenLine := regexp.MustCompile(`(?m)^NEW_API_KEY=phm_[0-9a-f]{64}$`)

	// A terminal: asked, Enter accepts, the line is written.
	screen, code := s.runOnPTYSteps([]ptyStep{
		{"Value for NEW_API_KEY (hidden): ", "sk-test-first-use-0123456789\r"},
		{"Add NEW_API_KEY=phm_", ""},
		{" to .env? [Y/n] ", "\r"},
		{"Wrote its placeholder to .env", ""},
		{"Run your app with `phantom exec -- <your command>`", ""},
	}, "add", "NEW_API_KEY")
	if code != 0 || !tokenLine.MatchString(s.read(".env")) {
		t.Fatalf("add on a terminal: exit %d, .env %q\n%s", code, s.read(".env"), screen)
	}

	// "n" leaves the file alone and says how to do it later.
	before := s.read(".env")
	screen, code = s.runOnPTYSteps([]ptyStep{
		{"Value for OTHER_API_KEY (hidden): ", "sk-test-first-use-abcdef0123\r"},
		{" to .env? [Y/n] ", "n\r"},
		{"Left .env alone. Add the placeholder later with: phantom sync --env-file .env OTHER_API_KEY", ""},
	}, "add", "OTHER_API_KEY")
	if code != 0 || s.read(".env") != before {
		t.Fatalf("declined: exit %d, .env %q\n%s", code, s.read(".env"), screen)
	}

	// Updating a value whose token is already in .env asks nothing.
	screen, code = s.runOnPTYSteps([]ptyStep{
		{"Value for NEW_API_KEY (hidden): ", "sk-test-first-use-9999999999\r"},
		{"Run your app with", ""},
	}, "add", "NEW_API_KEY")
	if code != 0 || strings.Contains(screen, "[Y/n]") {
		t.Fatalf("update: exit %d\n%s", code, screen)
	}

	// No terminal to answer on (--stdin), stderr on one: the printed
	// command, run as printed, writes the line.
	errOut, code := s.runStdinPipedStderrTTY("sk-test-first-use-stdin-0123\n", "add", "PIPED_API_KEY", "--stdin")
	if code != 0 {
		t.Fatalf("add --stdin: exit %d\n%s", code, errOut)
	}
	s.mustHint("add --stdin", errOut, "phantom sync --env-file .env PIPED_API_KEY")
	if !regexp.MustCompile(`(?m)^PIPED_API_KEY=phm_[0-9a-f]{64}$`).MatchString(s.read(".env")) {
		t.Fatalf("the suggested sync did not write the line:\n%s", s.read(".env"))
	}

	// From a subdirectory the printed path is relative to it.
	sub := filepath.Join(s.dir, "src")
	os.MkdirAll(sub, 0o755)
	root := s.dir
	s.dir = sub
	errOut, code = s.runStdinPipedStderrTTY("sk-test-first-use-sub-0123456\n", "add", "SUB_API_KEY", "--stdin")
	if code != 0 {
		t.Fatalf("add from src/: exit %d\n%s", code, errOut)
	}
	s.mustHint("add from src/", errOut, "phantom sync --env-file ../.env SUB_API_KEY")
	s.dir = root
	if !regexp.MustCompile(`(?m)^SUB_API_KEY=phm_[0-9a-f]{64}$`).MatchString(s.read(".env")) {
		t.Fatalf("the suggested sync from src/ did not write the line:\n%s", s.read(".env"))
	}

	// A program calling add (stack: no terminal at all), or a stack sign-in
	// token (--policy deny, even on a terminal), gets today's output.
	_, errOut, code = s.run("sk-test-first-use-prog-0123456\n", "add", "PROG_API_KEY", "--stdin")
	if code != 0 || strings.Contains(errOut, "phantom sync") || strings.Contains(errOut, "phantom exec") {
		t.Fatalf("add from a program: exit %d\n%s", code, errOut)
	}
	errOut, code = s.runStdinPipedStderrTTY("sk-test-first-use-deny-0123456\n", "add", "STACK_SIGNIN_TOKEN", "--stdin", "--policy", "deny")
	if code != 0 || strings.Contains(errOut, "phantom sync") {
		t.Fatalf("add --policy deny: exit %d\n%s", code, errOut)
	}

	// --json stays JSON only: no offer on stderr either.
	out, errOut, code := s.run("sk-test-first-use-json-0123456\n", "add", "JSON_API_KEY", "--stdin", "--json")
	if code != 0 || !strings.HasPrefix(out, "{") || strings.Contains(errOut, "phantom sync") {
		t.Fatalf("add --json: exit %d\nout %s\nerr %s", code, out, errOut)
	}
}

// runStdinPipedStderrTTY runs phantom with stdin from a pipe and stdout and
// stderr on a pseudo-terminal (a person piping a value in at a shell), and
// returns what the terminal showed.
func (s *sandbox) runStdinPipedStderrTTY(stdin string, args ...string) (string, int) {
	s.t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		s.t.Fatal(err)
	}
	defer ptmx.Close()
	cmd := exec.Command(s.bin, args...)
	cmd.Dir, cmd.Env = s.dir, append(s.env, "TERM=xterm")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(stdin), tty, tty
	var out screen
	done := make(chan struct{})
	go func() { io.Copy(&out, ptmx); close(done) }()
	err = cmd.Run()
	tty.Close()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		s.t.Fatalf("phantom %v: %v", args, err)
	}
	// The terminal turns \n into \r\n; hints are matched line by line.
	return strings.ReplaceAll(out.String(), "\r\n", "\n"), code
}
