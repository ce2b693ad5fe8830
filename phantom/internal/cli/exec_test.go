//go:build unix

package cli

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestExecForwardsSignals: a signal sent to phantom reaches the child, and
// phantom exits with the status the child chose.
func TestExecForwardsSignals(t *testing.T) {
	s := newSandbox(t, "PHANTOM_VAULT_PASSPHRASE=signal-test-pass")
	const dbURL = "postgres://u:SIGNALPASS@db/app"
	s.write(".env", "DATABASE_URL="+dbURL+"\n")
	s.mustRun("", "init", "--yes")
	for _, tc := range []struct {
		sig  syscall.Signal
		name string
		code int
	}{
		{syscall.SIGTERM, "TERM", 3},
		{syscall.SIGINT, "INT", 4},
		{syscall.SIGHUP, "HUP", 5},
		{syscall.SIGUSR1, "USR1", 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			script := `trap 'echo "got ` + tc.name + ` ${#DATABASE_URL}"; exit ` + string(rune('0'+tc.code)) + `' ` + tc.name + `
echo ready
i=0; while [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done; exit 99`
			cmd := exec.CommandContext(ctx, s.bin, "exec", "--", "sh", "-c", script)
			cmd.Dir = s.dir
			cmd.Env = s.env
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(out)
			line, err := br.ReadString('\n')
			if err != nil || line != "ready\n" {
				t.Fatalf("child did not start: %q %v", line, err)
			}
			if err := cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			rest, _ := br.ReadString('\n')
			err = cmd.Wait()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
			if code != tc.code {
				t.Fatalf("exit %d, want %d (output %q)", code, tc.code, rest)
			}
			// The child had the real value (inject); its length proves it.
			if want := fmt.Sprintf("got %s %d\n", tc.name, len(dbURL)); rest != want {
				t.Fatalf("child said %q, want %q", rest, want)
			}
		})
	}
}

// TestExecStdoutOnlyChild: with nothing wrong and no -v, phantom writes
// nothing of its own on either stream.
func TestExecStdoutOnlyChild(t *testing.T) {
	s := newSandbox(t, "PHANTOM_VAULT_PASSPHRASE=quiet-test-pass")
	s.write(".env", "OPENAI_API_KEY=sk-proj-quiet-0123456789abcdef\nPLAIN=1\n")
	s.mustRun("", "init", "--yes")
	out, errOut, code := s.run("", "exec", "--", "sh", "-c", "echo child-out; echo child-err >&2")
	if code != 0 || out != "child-out\n" || errOut != "child-err\n" {
		t.Fatalf("exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
	_, errOut, _ = s.run("", "exec", "-v", "--", "true")
	if !strings.Contains(errOut, "proxy on 127.0.0.1:") || !strings.Contains(errOut, "openai") {
		t.Fatalf("-v said %q", errOut)
	}
}
