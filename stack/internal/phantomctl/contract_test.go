package phantomctl

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"phantomstack.dev/shared/exitcode"
)

// The contract test runs this package against the real phantom binary built
// from this repository, for every call of the docs/architecture.md §6 table.

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

func realPhantom(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "stack-phantom-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "phantom")
		// The workspace root is two levels above this module's directory.
		cmd := exec.Command("go", "build", "-o", builtBin, "./phantom/cmd/phantom")
		cmd.Dir = filepath.Join("..", "..", "..")
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = errors.New(string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("building phantom: %v", buildErr)
	}
	return builtBin
}

// shim wraps the real phantom in a script that logs every argv, so the test
// can prove no value ever travels on a command line.
func shim(t *testing.T, real string) (bin, log string) {
	t.Helper()
	dir := t.TempDir()
	log = filepath.Join(dir, "argv.log")
	bin = filepath.Join(dir, "phantom")
	script := "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '" + log + "'\nexec '" + real + "' \"$@\"\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin, log
}

func client(t *testing.T) (*Client, string, string) {
	t.Helper()
	bin, log := shim(t, realPhantom(t))
	root := t.TempDir()
	dir := filepath.Join(root, "app")
	os.MkdirAll(dir, 0o755)
	home := filepath.Join(root, "phantom-home")
	var stderr bytes.Buffer
	c := &Client{Bin: bin, Dir: dir, Stderr: &stderr, Env: []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + root, "PHANTOM_HOME=" + home,
		"PHANTOM_VAULT_PASSPHRASE=contract-test-pass", "NO_COLOR=1",
	}}
	return c, log, home
}

func TestContractAgainstRealPhantom(t *testing.T) {
	ctx := context.Background()
	c, log, home := client(t)
	const value = "sk-contract-REAL-0123456789abcdef"

	v, err := c.Check(ctx)
	if err != nil || v.Protocol != Protocol {
		t.Fatalf("version: %+v %v", v, err)
	}
	if err := c.EnsureInit(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(c.Dir, ".phantom.toml")); err != nil {
		t.Fatal("init --yes wrote no .phantom.toml")
	}
	if err := c.EnsureInit(ctx); err != nil { // idempotent
		t.Fatal(err)
	}
	if err := c.Add(ctx, "OPENAI_API_KEY", []byte(value), ".env.local"); err != nil {
		t.Fatal(err)
	}
	if err := c.Add(ctx, "STRIPE_SECRET_KEY", []byte("sk_test_contract_0123456789"), ""); err != nil {
		t.Fatal(err)
	}
	// stack's own sign-in token: deny, so no app under exec receives it.
	if err := c.AddPolicy(ctx, "STACK_CONTRACT_TOKEN", []byte("contract-login-token-0123"), "deny"); err != nil {
		t.Fatal(err)
	}
	es, err := c.List(ctx)
	if err != nil || len(es) != 3 || es[0].Name != "OPENAI_API_KEY" || es[0].Policy != "proxy" || es[0].Route != "openai" {
		t.Fatalf("list: %+v %v", es, err)
	}
	if i := slices.IndexFunc(es, func(e Entry) bool { return e.Name == "STACK_CONTRACT_TOKEN" }); i < 0 || es[i].Policy != "deny" {
		t.Fatalf("policy of STACK_CONTRACT_TOKEN: %+v", es)
	}
	if err := c.Remove(ctx, "STACK_CONTRACT_TOKEN", ""); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(c.Dir, ".env.local"))
	if !strings.HasPrefix(string(b), "OPENAI_API_KEY=phm_") {
		t.Fatalf(".env.local: %q", b)
	}
	os.WriteFile(filepath.Join(c.Dir, ".env.local"), []byte("# keep me\nOTHER=1\n"), 0o600)
	if err := c.Sync(ctx, ".env.local"); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(filepath.Join(c.Dir, ".env.local"))
	if !strings.Contains(string(b), "# keep me\nOTHER=1\n") || !strings.Contains(string(b), "STRIPE_SECRET_KEY=phm_") {
		t.Fatalf("sync: %q", b)
	}
	var out bytes.Buffer
	code, err := c.Exec(ctx, []string{".env.local"}, []string{"sh", "-c", "echo ${#OPENAI_API_KEY}; exit 3"}, nil, &out, &out)
	if err != nil || code != 3 || strings.TrimSpace(out.String()) != "68" {
		t.Fatalf("exec: %d %v %q", code, err, out.String())
	}
	if err := c.Remove(ctx, "STRIPE_SECRET_KEY", ".env.local"); err != nil {
		t.Fatal(err)
	}
	if err := c.Remove(ctx, "STRIPE_SECRET_KEY", ""); err != nil {
		t.Fatalf("removing a missing name: %v", err)
	}
	if es, _ := c.List(ctx); len(es) != 1 {
		t.Fatalf("after remove: %+v", es)
	}

	// Exit codes become errors that say what happened.
	bad := *c
	bad.Env = append(append([]string{}, c.Env...), "PHANTOM_VAULT_PASSPHRASE=wrong-passphrase")
	_, err = bad.List(ctx)
	var ce *CallError
	if !errors.As(err, &ce) || ce.Code != exitcode.Unavailable || !strings.Contains(err.Error(), "PHANTOM_VAULT_PASSPHRASE") {
		t.Fatalf("wrong passphrase: %v", err)
	}

	// No value in any argv, on disk outside the vault, or in what phantom
	// printed.
	argv, _ := os.ReadFile(log)
	if len(argv) == 0 || strings.Contains(string(argv), value) {
		t.Fatalf("argv log:\n%s", argv)
	}
	for _, root := range []string{c.Dir, home} {
		filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				if b, _ := os.ReadFile(p); bytes.Contains(b, []byte(value)) {
					t.Errorf("value found in %s", p)
				}
			}
			return nil
		})
	}
	if s := c.Stderr.(*bytes.Buffer).String(); strings.Contains(s, value) {
		t.Fatal("value on phantom's stderr")
	}
}

func TestFind(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	if _, err := Find(env(map[string]string{"PHANTOM_BIN": "/nonexistent/phantom"})); !errors.Is(err, ErrNotInstalled) || !strings.Contains(err.Error(), "Phantom is not installed. Install it first:") {
		t.Fatalf("missing PHANTOM_BIN: %v", err)
	}
	bin := realPhantom(t)
	if got, err := Find(env(map[string]string{"PHANTOM_BIN": bin})); err != nil || got != bin {
		t.Fatalf("PHANTOM_BIN: %q %v", got, err)
	}
	t.Setenv("PATH", t.TempDir())
	if _, err := Find(env(nil)); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("no phantom on PATH: %v", err)
	}
}

func TestCheckRefusesWrongProtocolOrNotPhantom(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ out, want string }{
		{`{"version":"9.0.0","protocol":2,"capabilities":[]}`, "speaks protocol 2"},
		{`{"version":"0.1.0","protocol":1,"capabilities":["add-stdin"]}`, "too old for this stack"},
		{`hello`, "does not look like phantom"},
	} {
		bin := filepath.Join(dir, "phantom")
		os.WriteFile(bin, []byte("#!/bin/sh\necho '"+tc.out+"'\n"), 0o755)
		_, err := (&Client{Bin: bin, Dir: dir}).Check(context.Background())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", tc.out, err)
		}
	}
}
