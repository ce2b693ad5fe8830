package stack_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/rogpeppe/go-internal/testscript"
)

// actionlint is built from the pinned tools module (../tools, outside
// go.work so its dependencies never enter stack's graph), once per test
// process and only when a script asks for it.
var (
	actionlintOnce sync.Once
	actionlintBin  string
	actionlintErr  error
)

func buildActionlint() (string, error) {
	actionlintOnce.Do(func() {
		// `go tool -n` builds the tool into the build cache and prints its path.
		cmd := exec.Command("go", "tool", "-n", "actionlint")
		cmd.Dir = filepath.Join("..", "tools")
		cmd.Env = append(os.Environ(), "GOWORK=off")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			actionlintErr = &buildError{err: err, stderr: stderr.String()}
			return
		}
		actionlintBin = strings.TrimSpace(string(out))
	})
	return actionlintBin, actionlintErr
}

type buildError struct {
	err    error
	stderr string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.stderr }

// cmdActionlint: actionlint FILE... lints GitHub Actions workflows. shellcheck
// and pyflakes are turned off so the result is the same on every machine
// whether or not they are installed. A tool that cannot be built fails the
// script, in CI and locally alike: it never skips.
func cmdActionlint(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) == 0 {
		ts.Fatalf("usage: actionlint FILE...")
	}
	bin, err := buildActionlint()
	if err != nil {
		ts.Fatalf("cannot build actionlint from ../tools (it needs the Go module proxy once): %v", err)
	}
	files := make([]string, len(args))
	for i, a := range args {
		files[i] = ts.MkAbs(a)
	}
	cmd := exec.Command(bin, append([]string{"-no-color", "-shellcheck=", "-pyflakes="}, files...)...)
	out, err := cmd.CombinedOutput()
	ts.Logf("actionlint:\n%s", out)
	// actionlint exits 1 when it finds problems; anything else (2 bad usage,
	// 3 fatal) is a broken check, not a finding.
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		ts.Fatalf("running actionlint: %v", err)
	}
	switch {
	case code > 1:
		ts.Fatalf("actionlint failed to run (exit %d)", code)
	case neg && code == 0:
		ts.Fatalf("actionlint found no problem, want one")
	case !neg && code != 0:
		ts.Fatalf("actionlint found problems")
	}
}
