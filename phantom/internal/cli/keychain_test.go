package cli

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRealKeychain runs phantom against a real Secret Service: gnome-keyring
// under its own dbus-run-session, in a throwaway keyring directory
// (recipe: study-dependencies.md §2). .ci/run installs the three tools; on a
// developer machine without them the test says what to install.
func TestRealKeychain(t *testing.T) {
	for _, tool := range []string{"dbus-run-session", "gnome-keyring-daemon", "secret-tool"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s not installed: .ci/run must install dbus-daemon gnome-keyring libsecret-tools", tool)
			}
			t.Skipf("%s not installed (apt-get install dbus-daemon gnome-keyring libsecret-tools); .ci/run installs it", tool)
		}
	}
	bin := phantomBinary(t)
	root := t.TempDir()
	script := `
set -eu
printf %s keyring-test-pass | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1
unset PHANTOM_VAULT_PASSPHRASE
cd "$ROOT/a"
phantom init --yes >/dev/null 2>"$ROOT/init-a.err"
phantom status --json > "$ROOT/status-a.json"
printf 'added-through-keychain-999\n' | phantom add EXTRA_API_KEY --stdin 2>/dev/null
phantom list --json > "$ROOT/list-a.json"
cd "$ROOT/b"
phantom init --yes >/dev/null 2>&1
secret-tool search --all service phantom > "$ROOT/items.txt" 2>&1 || true
# a script cannot move a keychain vault to a passphrase it chose...
if printf 'rekey-pass-123456\n' | phantom vault rekey --to passphrase --stdin >/dev/null 2>"$ROOT/rekey-stdin.err"; then echo "rekey --stdin from the keychain was allowed" >&2; exit 1; fi
# ...a person at a terminal can (script(1) gives the command a pty): the
# keychain item goes, and comes back with the rekey to the keychain
printf 'rekey-pass-123456\nrekey-pass-123456\n' | script -qec 'phantom vault rekey --to passphrase' /dev/null >"$ROOT/rekey-pty.out" 2>&1
secret-tool search --all service phantom > "$ROOT/items-after-rekey.txt" 2>&1 || true
PHANTOM_VAULT_PASSPHRASE=rekey-pass-123456 phantom list --json > "$ROOT/list-b-pass.json"
PHANTOM_VAULT_PASSPHRASE=rekey-pass-123456 phantom vault rekey --to keychain >/dev/null 2>&1
phantom list --json > "$ROOT/list-b.json"
secret-tool search --all service phantom > "$ROOT/items-final.txt" 2>&1 || true
`
	for _, d := range []string{"a", "b"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	os.WriteFile(filepath.Join(root, "a", ".env"), []byte("OPENAI_API_KEY=sk-test-keychain-a-0123456789\n"), 0o600)
	os.WriteFile(filepath.Join(root, "b", ".env"), []byte("STRIPE_SECRET_KEY=sk_test_keychain_b_0123456789\n"), 0o600)
	os.MkdirAll(filepath.Join(root, "xdg"), 0o700)

	cmd := exec.Command("dbus-run-session", "--", "sh", "-c", script)
	cmd.Env = []string{
		"PATH=" + filepath.Dir(bin) + ":" + os.Getenv("PATH"),
		"HOME=" + filepath.Join(root, "home"),
		"XDG_DATA_HOME=" + filepath.Join(root, "xdg"),
		"XDG_RUNTIME_DIR=" + filepath.Join(root, "xdg"),
		"PHANTOM_HOME=" + filepath.Join(root, "phantom-home"),
		"ROOT=" + root,
		"NO_COLOR=1",
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("keychain session failed: %v\n%s\ninit-a: %s", err, out, readFile(root, "init-a.err"))
	}
	if s := readFile(root, "status-a.json"); !strings.Contains(s, `"key_source": "keychain"`) {
		t.Fatalf("project a is not in keychain mode: %s", s)
	}
	if s := readFile(root, "list-a.json"); !strings.Contains(s, "OPENAI_API_KEY") || !strings.Contains(s, "EXTRA_API_KEY") {
		t.Fatalf("list a: %s", s)
	}
	// Exactly one item per project, named by project id only.
	items := readFile(root, "items.txt")
	if n := strings.Count(items, "attribute.username = vault-key:"); n != 2 {
		t.Fatalf("want 2 keychain items (one per project), found %d:\n%s", n, items)
	}
	for _, leak := range []string{"OPENAI_API_KEY", "STRIPE_SECRET_KEY", "EXTRA_API_KEY", "sk-test", "sk_test"} {
		if strings.Contains(items, "attribute") && strings.Contains(strings.Join(attrLines(items), "\n"), leak) {
			t.Fatalf("keychain item metadata reveals %q:\n%s", leak, items)
		}
	}
	if !strings.Contains(readFile(root, "rekey-stdin.err"), "needs you at a terminal") {
		t.Fatalf("rekey --stdin from the keychain: %s", readFile(root, "rekey-stdin.err"))
	}
	if n := strings.Count(readFile(root, "items-after-rekey.txt"), "attribute.username = vault-key:"); n != 1 {
		t.Fatalf("after rekey to passphrase want 1 item, found %d\n%s", n, readFile(root, "rekey-pty.out"))
	}
	if s := readFile(root, "list-b-pass.json"); !strings.Contains(s, "STRIPE_SECRET_KEY") {
		t.Fatalf("list b with passphrase: %s", s)
	}
	if s := readFile(root, "list-b.json"); !strings.Contains(s, "STRIPE_SECRET_KEY") {
		t.Fatalf("list b back in keychain: %s", s)
	}
	if n := strings.Count(readFile(root, "items-final.txt"), "attribute.username = vault-key:"); n != 2 {
		t.Fatalf("after rekey back want 2 items, found %d", n)
	}
	// Nothing in plaintext on disk (the keyring files are encrypted too).
	s := &sandbox{t: t, dir: root, home: filepath.Join(root, "phantom-home")}
	s.assertNoPlaintext("sk-test-keychain-a-0123456789", "sk_test_keychain_b_0123456789", "added-through-keychain-999")
}

func attrLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, "attribute.") || strings.HasPrefix(l, "label") {
			out = append(out, l)
		}
	}
	return out
}

func readFile(dir, name string) string {
	b, _ := os.ReadFile(filepath.Join(dir, name))
	return string(b)
}

// TestKeychainUnavailableFallsBack: a session bus whose Secret Service cannot
// be unlocked (gnome-keyring auto-started by D-Bus activation with no login
// keyring), and a bus address that points nowhere. Either way phantom must
// not hang: without a passphrase it stops at once with an error naming
// PHANTOM_VAULT_PASSPHRASE; with one it uses the passphrase source.
func TestKeychainUnavailableFallsBack(t *testing.T) {
	if _, err := exec.LookPath("dbus-run-session"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("dbus-run-session not installed: .ci/run must install dbus-daemon")
		}
		t.Skip("dbus-run-session not installed (apt-get install dbus-daemon); .ci/run installs it")
	}
	bin := phantomBinary(t)
	for _, tc := range []struct {
		name string
		wrap []string
		bus  string
	}{
		{name: "locked-secret-service", wrap: []string{"dbus-run-session", "--"}},
		{name: "dead-bus", bus: "unix:path=/nonexistent/phantom-test-bus"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			os.WriteFile(filepath.Join(root, ".env"), []byte("OPENAI_API_KEY=sk-test-fallback-0123456789abcdef\n"), 0o600)
			run := func(extra ...string) (string, error) {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				argv := append(append([]string{}, tc.wrap...), bin, "init", "--yes")
				cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
				cmd.Dir = root
				cmd.Env = append([]string{
					"PATH=" + os.Getenv("PATH"),
					"HOME=" + filepath.Join(root, "home"),
					"XDG_DATA_HOME=" + filepath.Join(root, "xdg"),
					"XDG_RUNTIME_DIR=" + filepath.Join(root, "xdg"),
					"PHANTOM_HOME=" + filepath.Join(root, "phantom-home"),
					"NO_COLOR=1",
				}, extra...)
				if tc.bus != "" {
					cmd.Env = append(cmd.Env, "DBUS_SESSION_BUS_ADDRESS="+tc.bus)
				}
				out, err := cmd.CombinedOutput()
				if ctx.Err() != nil {
					t.Fatalf("phantom init hung with no usable keychain:\n%s", out)
				}
				return string(out), err
			}
			out, err := run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 3 {
				t.Fatalf("without a passphrase: %v, want exit 3\n%s", err, out)
			}
			if !strings.Contains(out, "PHANTOM_VAULT_PASSPHRASE") {
				t.Fatalf("the error does not say what to do:\n%s", out)
			}
			if b, _ := os.ReadFile(filepath.Join(root, ".env")); !strings.Contains(string(b), "sk-test-fallback") {
				t.Fatalf("a failed init changed .env:\n%s", b)
			}
			out, err = run("PHANTOM_VAULT_PASSPHRASE=fallback-pass-123")
			if err != nil {
				t.Fatalf("with PHANTOM_VAULT_PASSPHRASE: %v\n%s", err, out)
			}
			if b, _ := os.ReadFile(filepath.Join(root, ".env")); strings.Contains(string(b), "sk-test-fallback") || !strings.Contains(string(b), "phm_") {
				t.Fatalf(".env not protected:\n%s", b)
			}
		})
	}
}
