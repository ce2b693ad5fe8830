package stack_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"phantomstack.dev/shared/interrupt"
	"phantomstack.dev/stack/internal/cli"
)

// TestMain lets the test binary act as the stack command inside scripts: the
// real CLI, in-process, so coverage counts.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"stack": func() {
			ctx, stop := interrupt.NotifyContext(context.Background()) // as cmd/stack does
			code := cli.Main(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
			stop()
			os.Exit(code)
		},
		"fakebrowser": fakeBrowserMain,
	})
}

// TestScripts runs testdata/script/*.txtar end to end, with the real
// phantom binary built from this repository on PATH (scripts that test
// "phantom missing" take it off), and a fake upstream on loopback that
// accepts API keys starting with "sk-good".
func TestScripts(t *testing.T) {
	phantomDir := buildPhantom(t)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if key == "" {
			key = r.Header.Get("X-Api-Key")
		}
		revokedMu.Lock()
		revoked := revokedKeys[key]
		revokedMu.Unlock()
		if !strings.HasPrefix(key, "sk-good") || revoked {
			http.Error(w, `{"error":"invalid key"}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"data":[]}`)
	}))
	t.Cleanup(api.Close)
	t.Cleanup(cleanupBun)
	t.Cleanup(cleanupStripeMCP)
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Setup: func(e *testscript.Env) error {
			e.Setenv("NO_COLOR", "1")
			e.Setenv("HOME", filepath.Join(e.WorkDir, "home"))
			e.Setenv("PHANTOM_HOME", filepath.Join(e.WorkDir, "phantom-home"))
			e.Setenv("STACK_HOME", filepath.Join(e.WorkDir, "stack-home")) // the project registry
			e.Setenv("PHANTOM_VAULT_PASSPHRASE", "stack-test-passphrase")
			setupAWSFake(e)
			setupVercelFake(e)
			setupSupaFake(e)
			e.Setenv("PHANTOM_DIR", phantomDir)
			e.Setenv("FAKE_API", api.URL)
			e.Setenv("PATH_WITHOUT_PHANTOM", e.Getenv("PATH"))
			e.Setenv("PATH", phantomDir+string(os.PathListSeparator)+e.Getenv("PATH"))
			for _, p := range []string{"OPENAI", "ANTHROPIC", "STRIPE", "RESEND", "GITHUB"} {
				e.Setenv("STACK_"+p+"_API_URL", api.URL)
			}
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"actionlint":   cmdActionlint,
			"exits":        cmdExits,
			"noplaintext":  cmdNoPlaintext,
			"revokekey":    cmdRevokeKey,
			"awsfake":      cmdAWSFake,
			"vercelfake":   cmdVercelFake,
			"supafake":     cmdSupaFake,
			"needbun":      cmdNeedBun,
			"needstripe":   cmdNeedStripeMCP,
			"waitgrep":     cmdWaitGrep,
			"phantomtrust": cmdPhantomTrust,
		},
	})
}

// buildPhantom builds the real phantom CLI from this repository.
func buildPhantom(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "phantom"), "./phantom/cmd/phantom")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building phantom: %v\n%s", err, out)
	}
	return dir
}

// cmdExits runs a program and asserts its exact exit code:
//
//	exits 2 stack bogus
//
// Its stdout and stderr are then available to the stdout/stderr commands.
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits CODE program [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: bad code %q", args[0])
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("exits: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with %d, want %d", args[1], got, want)
	}
}

// cmdNoPlaintext: noplaintext VALUE DIR... fails if VALUE appears in any file
// under the directories.
func cmdNoPlaintext(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: noplaintext VALUE DIR...")
	}
	n := 0
	for _, dir := range args[1:] {
		filepath.WalkDir(ts.MkAbs(dir), func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			n++
			if b, _ := os.ReadFile(p); strings.Contains(string(b), args[0]) {
				ts.Fatalf("plaintext value found in %s", p)
			}
			return nil
		})
	}
	if n == 0 {
		ts.Fatalf("noplaintext checked no files")
	}
}

var (
	revokedMu   sync.Mutex
	revokedKeys = map[string]bool{}
)

// cmdRevokeKey: revokekey KEY makes the fake upstream reject KEY from now
// on, as a provider does when a key is revoked.
func cmdRevokeKey(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: revokekey KEY")
	}
	revokedMu.Lock()
	defer revokedMu.Unlock()
	revokedKeys[args[0]] = true
}
