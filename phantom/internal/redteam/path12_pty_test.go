//go:build linux

package redteam

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func init() {
	// showvar NAME: prints NAME's value on stdout and stderr.
	children["showvar"] = func(args []string) int {
		v := os.Getenv(args[0])
		fmt.Printf("stdout %s=%s\n", args[0], v)
		fmt.Fprintf(os.Stderr, "stderr %s=%s\n", args[0], v)
		return 0
	}
}

// shellQuote quotes argv for sh -c.
func shellQuote(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

// TestPath12_PtyMasking: an agent harness that runs every command on a
// pseudo-terminal of its own (script(1) here; creack/pty or Python's pty
// module are the same) makes phantom's stdout a terminal. phantom used to
// skip masking on a terminal, so the agent read inject values on the pty.
//
// Attacks: `phantom exec -- <print DATABASE_URL>` under script, with stdin
// empty and with keystrokes; then `--no-masking` under script without
// typing the confirmation (the harness answers "y" as agents do). The value
// must never be on the pty, --no-masking must be refused (exit 5, nothing
// run), and the refusal must be audited with the process chain that made
// the terminal. (A program that drives the pty can type the confirmation:
// that remaining path is the later `phantom agent` mode's; docs/security.md.)
func TestPath12_PtyMasking(t *testing.T) {
	if _, err := exec.LookPath("script"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("script(1) (bsdutils) is missing")
		}
		t.Skip("script(1) (bsdutils) is missing")
	}
	a := NewAgent(t, []string{"DATABASE_URL", "OPENAI_API_KEY"})
	db := a.Value("DATABASE_URL")
	onPTY := func(stdin string, args ...string) Result {
		cmd := shellQuote(append([]string{phantomBin}, args...))
		return a.Run(stdin, "script", "-qefc", cmd, "/dev/null")
	}

	r := onPTY("", append([]string{"exec", "--"}, Child("showvar", "DATABASE_URL")...)...)
	if r.Code != 0 || !strings.Contains(r.Stdout, "stdout DATABASE_URL=phm_") || !strings.Contains(r.Stdout, "stderr DATABASE_URL=phm_") {
		t.Fatalf("exec on a pty: exit %d\n%s", r.Code, r.Out())
	}
	a.AssertClean(r)

	r = onPTY("y\ny\n", append([]string{"exec", "--"}, Child("showvar", "DATABASE_URL")...)...)
	a.AssertClean(r)

	for _, typed := range []string{"", "y\n", "yes\n"} {
		r = onPTY(typed, append([]string{"exec", "--no-masking", "--"}, Child("showvar", "DATABASE_URL")...)...)
		if r.Code != 5 || strings.Contains(r.Stdout, "DATABASE_URL=") {
			t.Errorf("--no-masking on a self-made pty, typing %q: exit %d\n%s", typed, r.Code, r.Out())
		}
		a.AssertClean(r)
	}
	a.AssertAudited("exec.no-masking", "refused")
	a.AssertAudited("exec.no-masking", "script(")
	if strings.Contains(fmt.Sprint(a.Audit()), db) {
		t.Error("the audit log holds the value")
	}
}
