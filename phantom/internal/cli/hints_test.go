package cli

import (
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// hintRE finds the commands phantom suggests: after "run: " or "with: " to
// the end of the line, or between backquotes.
var hintRE = regexp.MustCompile("(?:run|with): (phantom [^\n]*)|`(phantom [^`]*)`")

func hintCommands(text string) []string {
	var out []string
	for _, m := range hintRE.FindAllStringSubmatch(text, -1) {
		c := m[1]
		if c == "" {
			c = m[2]
		}
		out = append(out, strings.TrimRight(c, " ."))
	}
	return out
}

// runHint runs a suggested command exactly as printed, through sh, with the
// phantom under test first on PATH, and returns its exit code and output.
func (s *sandbox) runHint(line string) (int, string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", line)
	cmd.Dir = s.dir
	cmd.Env = append([]string{"PATH=" + filepath.Dir(s.bin) + ":/usr/bin:/bin"}, s.env[1:]...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		s.t.Fatalf("%s: %v", line, err)
	}
	return code, string(out)
}

// mustHint asserts that text suggests exactly one command matching want and
// that the command, run as printed, succeeds.
func (s *sandbox) mustHint(what, text, want string) {
	s.t.Helper()
	var found string
	for _, c := range hintCommands(text) {
		if strings.Contains(c, want) {
			found = c
		}
	}
	if found == "" {
		s.t.Fatalf("%s: no suggested command containing %q in:\n%s", what, want, text)
	}
	if code, out := s.runHint(found); code != 0 {
		s.t.Fatalf("%s: the suggested %q exits %d:\n%s", what, found, code, out)
	}
}

// TestSuggestedCommandsWork collects the fix-it commands phantom prints in
// the situations where it suggests one, and runs each as printed: every one
// must succeed (issue 13 item 18).
func TestSuggestedCommandsWork(t *testing.T) {
	s := newSandbox(t, "PHANTOM_VAULT_PASSPHRASE=hints-pass-123")
	s.write(".env", "OPENAI_API_KEY=sk-test-hints-0123456789abcdef\nGITHUB_TOKEN=ghp_0123456789abcdefghij0123456789abcdef\nSTRIPE_SECRET_KEY=sk_test_hints0123456789abcdef\nPORT=1\n")

	// Outside a project: "Run 'phantom init' in your project directory first."
	_, errOut, code := s.run("", "list")
	if code != 4 || !strings.Contains(errOut, "'phantom init'") {
		t.Fatalf("list outside a project: exit %d\n%s", code, errOut)
	}
	if code, out := s.runHint("phantom init --yes"); code != 0 {
		t.Fatalf("phantom init: exit %d\n%s", code, out)
	}

	// remove without --env-file: the warning's command removes the line.
	_, errOut, _ = s.run("", "remove", "OPENAI_API_KEY")
	s.mustHint("remove", errOut, "phantom remove OPENAI_API_KEY --env-file .env")
	if strings.Contains(s.read(".env"), "OPENAI_API_KEY") {
		t.Fatalf("the suggested remove left the line:\n%s", s.read(".env"))
	}

	// A token of a removed secret: exec and why suggest removing the line.
	_, _, _ = s.run("", "remove", "GITHUB_TOKEN")
	_, errOut, code = s.run("", "exec", "--", "true")
	if code != 0 {
		t.Fatalf("exec: exit %d\n%s", code, errOut)
	}
	whyOut := s.mustRun("", "why", "GITHUB_TOKEN")
	if !strings.Contains(whyOut, "phantom remove GITHUB_TOKEN --env-file .env") {
		t.Fatalf("why does not suggest the remove:\n%s", whyOut)
	}
	s.mustHint("exec, removed secret", errOut, "phantom remove GITHUB_TOKEN --env-file .env")
	if strings.Contains(s.read(".env"), "GITHUB_TOKEN") {
		t.Fatalf("the suggested remove left the line:\n%s", s.read(".env"))
	}

	// A token that is not the secret's current one (a copied or rotated
	// line): exec and why suggest the sync that writes the current token.
	env := s.read(".env")
	stale := "phm_" + strings.Repeat("ab", 32)
	s.write(".env", regexp.MustCompile(`(?m)^STRIPE_SECRET_KEY=.*$`).ReplaceAllString(env, "STRIPE_SECRET_KEY="+stale))
	_, errOut, code = s.run("", "exec", "--", "true")
	if code != 0 {
		t.Fatalf("exec: exit %d\n%s", code, errOut)
	}
	whyOut = s.mustRun("", "why", "STRIPE_SECRET_KEY")
	if !strings.Contains(whyOut, "phantom sync --env-file .env STRIPE_SECRET_KEY") {
		t.Fatalf("why does not suggest the sync:\n%s", whyOut)
	}
	s.mustHint("exec, stale token", errOut, "phantom sync --env-file .env STRIPE_SECRET_KEY")
	if strings.Contains(s.read(".env"), stale) {
		t.Fatalf("the suggested sync left the stale token:\n%s", s.read(".env"))
	}
	if _, errOut, _ = s.run("", "exec", "--", "true"); strings.Contains(errOut, "not in this project's vault") {
		t.Fatalf("exec still warns after the suggested fix:\n%s", errOut)
	}

	// A path with a space is quoted, so the command still works as printed.
	s.write("my env", "NEW_API_KEY=phm_"+strings.Repeat("cd", 32)+"\n")
	_, errOut, _ = s.run("", "exec", "--env-file", "my env", "--", "true")
	s.mustHint("exec, quoted path", errOut, "phantom remove NEW_API_KEY --env-file 'my env'")
	if strings.Contains(s.read("my env"), "NEW_API_KEY") {
		t.Fatalf("the suggested remove left the line:\n%s", s.read("my env"))
	}

	// remove --env-file for a name gone from the vault keeps a line that
	// holds a value (it may be its only copy): exit 4 as before.
	s.write(".env.keep", "KEEP_SECRET=sk-test-not-a-token-0123456789\n")
	if _, _, code := s.run("", "remove", "KEEP_SECRET", "--env-file", ".env.keep"); code != 4 || !strings.Contains(s.read(".env.keep"), "KEEP_SECRET=sk-test") {
		t.Fatalf("remove --env-file of a value line: exit %d, file %q", code, s.read(".env.keep"))
	}
}
