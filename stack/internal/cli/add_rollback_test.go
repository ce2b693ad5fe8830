package cli

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"phantomstack.dev/providers"
)

// multiSlot is a provider whose Materialize yields three secrets, so a
// phantom failure can land in the middle of storing them.
type multiSlot struct{}

var multiSlots = []string{"MULTI_A_KEY", "MULTI_B_KEY", "MULTI_C_KEY"}

func (multiSlot) Info() providers.Info {
	var sl []providers.Slot
	for _, n := range multiSlots {
		sl = append(sl, providers.Slot{Name: n, Secret: true})
	}
	return providers.Info{Name: "multi", DisplayName: "Multi", Category: "test", Auth: providers.AuthToken, Slots: sl}
}
func (multiSlot) Login(context.Context, providers.Env, providers.LoginRequest) (*providers.Credential, error) {
	return &providers.Credential{Slot: "MULTI_LOGIN", Value: []byte("login")}, nil
}
func (multiSlot) Provision(context.Context, providers.Env, *providers.Credential, providers.ProvisionRequest) (providers.Resource, error) {
	return providers.Resource{ID: "res-1"}, nil
}
func (multiSlot) Materialize(context.Context, providers.Env, *providers.Credential, providers.Resource) (*providers.Materialized, error) {
	m := &providers.Materialized{}
	for _, n := range multiSlots {
		m.Values = append(m.Values, providers.Value{Slot: n, Value: []byte("multi-secret-value-" + n)})
	}
	return m, nil
}
func (multiSlot) Healthcheck(context.Context, providers.Env, providers.Resource, providers.SecretSource) providers.Health {
	return providers.Health{Status: providers.StatusOK}
}
func (multiSlot) Deprovision(context.Context, providers.Env, *providers.Credential, providers.Resource) error {
	return nil
}

var (
	phantomOnce     sync.Once
	phantomBin      string
	phantomBuildErr error
)

func buildPhantomBin(t *testing.T) string {
	t.Helper()
	phantomOnce.Do(func() {
		dir, err := os.MkdirTemp("", "stack-cli-phantom-")
		if err != nil {
			phantomBuildErr = err
			return
		}
		phantomBin = filepath.Join(dir, "phantom")
		cmd := exec.Command("go", "build", "-o", phantomBin, "./phantom/cmd/phantom")
		cmd.Dir = filepath.Join("..", "..", "..")
		if out, err := cmd.CombinedOutput(); err != nil {
			phantomBuildErr = &exec.Error{Name: string(out), Err: err}
		}
	})
	if phantomBuildErr != nil {
		t.Fatalf("building phantom: %v", phantomBuildErr)
	}
	return phantomBin
}

// TestAddRollsBackWhenPhantomFailsMidway: the 2nd `phantom add` of a
// three-slot provider fails; the 1st value is removed again, and
// .stack.toml and .env.local are byte for byte what they were.
func TestAddRollsBackWhenPhantomFailsMidway(t *testing.T) {
	real := buildPhantomBin(t)
	root := t.TempDir()
	dir := filepath.Join(root, "app")
	os.MkdirAll(dir, 0o755)
	log := filepath.Join(root, "argv.log")
	shim := filepath.Join(root, "phantom")
	os.WriteFile(shim, []byte(`#!/bin/sh
printf '%s\n' "$*" >> '`+log+`'
if [ "$1" = add ]; then
	n=$(( $(cat '`+log+`.adds' 2>/dev/null || echo 0) + 1 ))
	echo "$n" > '`+log+`.adds'
	[ "$n" -eq 2 ] && { echo "shim: refusing add #2" >&2; exit 1; }
fi
exec '`+real+`' "$@"
`), 0o755)
	t.Setenv("HOME", root)
	t.Setenv("PHANTOM_HOME", filepath.Join(root, "phantom-home"))
	t.Setenv("STACK_HOME", filepath.Join(root, "stack-home"))
	t.Setenv("PHANTOM_VAULT_PASSPHRASE", "rollback-test-pass")
	t.Chdir(dir)

	f := newTestFactory(t)
	reg, err := DefaultRegistry()
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(multiSlot{}); err != nil {
		t.Fatal(err)
	}
	f.Providers = reg
	f.Env = func(k string) string {
		if k == "PHANTOM_BIN" {
			return shim
		}
		return os.Getenv(k)
	}
	if r := run(t, f, "init"); r.code != 0 {
		t.Fatalf("init: %+v", r)
	}
	os.WriteFile(filepath.Join(dir, ".env.local"), []byte("# mine\nPORT=3000\n"), 0o600)
	toml0, _ := os.ReadFile(filepath.Join(dir, ".stack.toml"))
	env0, _ := os.ReadFile(filepath.Join(dir, ".env.local"))

	f.pc = nil
	r := run(t, f, "add", "multi")
	if r.code != 1 || !strings.Contains(r.errOut, "shim: refusing add #2") || !strings.Contains(r.errOut, "Nothing was added") {
		t.Fatalf("add: exit %d\n%s", r.code, r.errOut)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, ".stack.toml")); !bytes.Equal(b, toml0) {
		t.Fatalf(".stack.toml changed:\n%s", b)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, ".env.local")); !bytes.Equal(b, env0) {
		t.Fatalf(".env.local changed:\n%s", b)
	}
	out, err := exec.Command(real, "list", "--json").Output()
	if err != nil {
		t.Fatalf("phantom list: %v", err)
	}
	for _, n := range multiSlots {
		if strings.Contains(string(out), n) {
			t.Fatalf("%s left in the vault: %s", n, out)
		}
	}
	argv, _ := os.ReadFile(log)
	for _, want := range []string{"add MULTI_A_KEY --stdin\n", "add MULTI_B_KEY --stdin\n", "remove MULTI_A_KEY --env-file .env.local\n"} {
		if !strings.Contains(string(argv), want) {
			t.Fatalf("argv log lacks %q:\n%s", want, argv)
		}
	}
	if strings.Contains(string(argv), "MULTI_C_KEY") || strings.Contains(string(argv), "multi-secret-value") {
		t.Fatalf("argv log:\n%s", argv)
	}
}
