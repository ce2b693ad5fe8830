package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"phantomstack.dev/shared/fsx"
)

// These tests run the real phantom binary as a separate process: the way a
// user, a shell script or stack runs it.

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// phantomBinary builds ./cmd/phantom once per test run.
func phantomBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "phantom-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "phantom")
		cmd := exec.Command("go", "build", "-o", builtBin, "phantomstack.dev/phantom/cmd/phantom")
		cmd.Stderr = os.Stderr
		buildErr = cmd.Run()
	})
	if buildErr != nil {
		t.Fatalf("building phantom: %v", buildErr)
	}
	return builtBin
}

// sandbox is a project dir and PHANTOM_HOME with a minimal environment.
type sandbox struct {
	t    *testing.T
	bin  string
	dir  string
	home string
	env  []string
}

func newSandbox(t *testing.T, extraEnv ...string) *sandbox {
	t.Helper()
	root := t.TempDir()
	s := &sandbox{t: t, bin: phantomBinary(t), dir: filepath.Join(root, "app"), home: filepath.Join(root, "phantom-home")}
	os.MkdirAll(s.dir, 0o755)
	s.env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + filepath.Join(root, "home"),
		"PHANTOM_HOME=" + s.home,
		"NO_COLOR=1",
	}, extraEnv...)
	return s
}

func (s *sandbox) write(name, content string) {
	s.t.Helper()
	if err := os.WriteFile(filepath.Join(s.dir, name), []byte(content), 0o600); err != nil {
		s.t.Fatal(err)
	}
}

func (s *sandbox) read(name string) string {
	s.t.Helper()
	b, err := os.ReadFile(filepath.Join(s.dir, name))
	if err != nil {
		s.t.Fatal(err)
	}
	return string(b)
}

// run executes phantom with stdin and returns stdout, stderr and exit code.
func (s *sandbox) run(stdin string, args ...string) (string, string, int) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.bin, args...)
	cmd.Dir = s.dir
	cmd.Env = s.env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		s.t.Fatalf("run %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

func (s *sandbox) mustRun(stdin string, args ...string) string {
	s.t.Helper()
	out, errOut, code := s.run(stdin, args...)
	if code != 0 {
		s.t.Fatalf("phantom %v: exit %d\n%s", args, code, errOut)
	}
	return out
}

func (s *sandbox) names() []string {
	s.t.Helper()
	var list []ListEntry
	if err := json.Unmarshal([]byte(s.mustRun("", "list", "--json")), &list); err != nil {
		s.t.Fatal(err)
	}
	var out []string
	for _, e := range list {
		out = append(out, e.Name)
	}
	return out
}

// assertNoPlaintext greps every file under the project and PHANTOM_HOME.
func (s *sandbox) assertNoPlaintext(values ...string) {
	s.t.Helper()
	for _, root := range []string{s.dir, s.home} {
		filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			b, _ := os.ReadFile(path)
			for _, v := range values {
				if bytes.Contains(b, []byte(v)) {
					s.t.Errorf("plaintext %q found in %s", v, path)
				}
			}
			return nil
		})
	}
}

// TestParallelAdd: 20 concurrent `phantom add` processes all land.
func TestParallelAdd(t *testing.T) {
	s := newSandbox(t, "PHANTOM_VAULT_PASSPHRASE=parallel-pass-123")
	s.mustRun("", "init", "--yes")
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			name := "PARALLEL_" + string(rune('A'+i))
			_, errOut, code := s.run("value-parallel-"+name+"\n", "add", name, "--stdin")
			if code != 0 {
				errs <- name + ": " + errOut
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	got := s.names()
	if len(got) != n {
		t.Fatalf("%d secrets in the vault after %d parallel adds: %v", len(got), n, got)
	}
	out, errOut, code := s.run("", "audit", "verify")
	if code != 0 {
		t.Fatalf("audit verify after parallel adds: %s %s", out, errOut)
	}
	s.assertNoPlaintext("value-parallel-PARALLEL_A", "value-parallel-PARALLEL_T")
}

// TestNoSessionBusNoTTYFailsFast: without a keychain, a passphrase or a
// terminal phantom says what to set, and does not hang.
func TestNoSessionBusNoTTYFailsFast(t *testing.T) {
	s := newSandbox(t)
	s.write(".env", "OPENAI_API_KEY=sk-test-nobus-0123456789abcdef\n")
	start := time.Now()
	_, errOut, code := s.run("", "init", "--yes")
	if code != 3 {
		t.Fatalf("exit %d, want 3; stderr: %s", code, errOut)
	}
	if !strings.Contains(errOut, "PHANTOM_VAULT_PASSPHRASE") {
		t.Fatalf("error does not name PHANTOM_VAULT_PASSPHRASE: %s", errOut)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("took %v", d)
	}
	if !strings.Contains(s.read(".env"), "sk-test-nobus") {
		t.Fatal(".env changed although no vault could be created")
	}
	// With the passphrase set, the same command falls back to passphrase mode.
	s.env = append(s.env, "PHANTOM_VAULT_PASSPHRASE=fallback-pass-123")
	s.mustRun("", "init", "--yes")
	out := s.mustRun("", "status", "--json")
	if !strings.Contains(out, `"key_source": "passphrase"`) {
		t.Fatalf("status: %s", out)
	}
}

// TestLockedVaultWaitsThenNamesHolder: another process holds the vault lock;
// phantom waits the configured bound, then says who holds it (exit 3), and
// the vault is unchanged.
func TestLockedVaultWaitsThenNamesHolder(t *testing.T) {
	s := newSandbox(t, "PHANTOM_VAULT_PASSPHRASE=lock-pass-123", "PHANTOM_LOCK_TIMEOUT=300ms")
	s.write(".env", "OPENAI_API_KEY=sk-test-lock-0123456789abcdef\n")
	s.mustRun("", "init", "--yes")
	locks, _ := filepath.Glob(filepath.Join(s.home, "vaults", "*.lock"))
	if len(locks) != 1 {
		t.Fatalf("lock files: %v", locks)
	}
	holder, err := fsx.AcquireLock(locks[0], time.Second, "phantom add (held by the test)")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, errOut, code := s.run("new-value-123456\n", "add", "NEW_KEY", "--stdin")
	waited := time.Since(start)
	holder.Release()
	if code != 3 {
		t.Fatalf("exit %d, want 3: %s", code, errOut)
	}
	if !strings.Contains(errOut, "held by the test") || !strings.Contains(errOut, "pid ") {
		t.Fatalf("error does not say who holds the lock: %s", errOut)
	}
	if waited < 300*time.Millisecond {
		t.Fatalf("gave up after %v, before the 300ms bound", waited)
	}
	if names := s.names(); len(names) != 1 {
		t.Fatalf("vault changed while locked: %v", names)
	}
	// Once released, the same command works.
	s.mustRun("new-value-123456\n", "add", "NEW_KEY", "--stdin")
}
