//go:build linux

package redteam

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHardenedKeychain: the hardened run's keychain path. The attacker's
// first move on a keychain vault is to ask the unlocked Secret Service for
// the vault key (secret-tool, as the same uid) and decrypt the file itself.
// A real Secret Service (gnome-keyring in its own D-Bus session, unlocked,
// as an ordinary user) holds the key of a keychain vault; the person
// hardens the vault on their terminal; from then on the keychain has no
// item for it — before and after `phantom unlock` — and a command without
// the agent does not fall back to the keychain.
func TestHardenedKeychain(t *testing.T) {
	needTools(t, "dbus-run-session", "gnome-keyring-daemon", "secret-tool")
	ua := NewUserAgent(t, []string{"OPENAI_API_KEY", "STRIPE_SECRET_KEY"})
	root := filepath.Dir(ua.Dir)
	xdg := filepath.Join(root, "xdg")
	if err := os.Mkdir(xdg, 0o700); err != nil {
		t.Fatal(err)
	}
	os.Chown(xdg, ua.UID, ua.GID)
	ua.Env = append(ua.Env, "XDG_DATA_HOME="+xdg, "XDG_RUNTIME_DIR="+xdg)

	// The session: a bus, and gnome-keyring unlocked on it, as the user.
	// Its shell writes the bus address and its pid (exec keeps it for
	// sleep); killing that ends dbus-run-session, which ends the bus.
	argv := ua.argv("dbus-run-session", "--", "sh", "-c",
		`printf %s redteam-keyring-pass | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1
echo "$$" > "$XDG_RUNTIME_DIR/session.pid"
echo "$DBUS_SESSION_BUS_ADDRESS" > "$XDG_RUNTIME_DIR/bus.tmp" && mv "$XDG_RUNTIME_DIR/bus.tmp" "$XDG_RUNTIME_DIR/bus"
exec sleep 300`)
	// Not CommandContext: its cancel would SIGKILL dbus-run-session
	// before the cleanup below, orphaning the bus and the keyring daemon.
	session := exec.Command(argv[0], argv[1:]...)
	session.Env = ua.Env
	if err := session.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if b, err := os.ReadFile(filepath.Join(xdg, "session.pid")); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				syscall.Kill(pid, syscall.SIGTERM)
			}
		}
		done := make(chan struct{})
		go func() { session.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			session.Process.Kill()
		}
	})
	waitFile(t, filepath.Join(xdg, "bus"), 30*time.Second)
	bus, _ := os.ReadFile(filepath.Join(xdg, "bus"))
	ua.Env = append(ua.Env, "DBUS_SESSION_BUS_ADDRESS="+strings.TrimSpace(string(bus)))

	items := func() int {
		t.Helper()
		r := ua.RunAs("", "secret-tool", "search", "--all", "service", "phantom")
		ua.AssertClean(r)
		return strings.Count(r.Out(), "attribute.username = vault-key:")
	}
	// The vault moves to the keychain (the person's choice, with the
	// passphrase): one item.
	if r := ua.Phantom("", "vault", "rekey", "--to", "keychain"); r.Code != 0 {
		t.Fatalf("rekey --to keychain: exit %d\n%s", r.Code, r.Out())
	}
	if n := items(); n != 1 {
		t.Fatalf("keychain items after rekey --to keychain: %d, want 1 (is the keychain reachable?)", n)
	}
	ua.Env = withoutEnv(ua.Env, "PHANTOM_VAULT_PASSPHRASE")
	if r := ua.Phantom("", "list"); r.Code != 0 {
		t.Fatalf("list from the keychain: exit %d\n%s", r.Code, r.Out())
	}

	// The person hardens it on their terminal, choosing the passphrase.
	r := ua.Human([]humanStep{{Expect: "Vault passphrase:", Send: Passphrase}, {Expect: "Repeat passphrase:", Send: Passphrase}}, "vault", "harden")
	if r.Code != 0 || !strings.Contains(r.Stdout, "Hardened") {
		t.Fatalf("vault harden on the person's terminal: exit %d\n%s", r.Code, r.Stdout)
	}
	if n := items(); n != 0 {
		t.Errorf("the keychain still holds %d item(s) for the hardened vault", n)
	}
	// No agent yet: the keychain is reachable and unlocked, and the vault
	// does not use it.
	r = ua.Phantom("", "list")
	if r.Code == 0 || !strings.Contains(r.Out(), "hardened") {
		t.Errorf("list of a hardened vault with the keychain unlocked and no agent: exit %d\n%s", r.Code, r.Out())
	}
	ua.AssertClean(r)
	ua.AssertAudited("vault.open", "refused")

	// The person unlocks; the agent serves, and the keychain stays empty.
	r = ua.Human([]humanStep{{Expect: "Vault passphrase:", Send: Passphrase}}, "unlock", "--json")
	var u unlockResult
	if i := strings.Index(r.Stdout, "{"); r.Code != 0 || i < 0 || json.Unmarshal([]byte(r.Stdout[i:strings.LastIndex(r.Stdout, "}")+1]), &u) != nil || u.PID <= 0 {
		t.Fatalf("unlock on the person's terminal: exit %d\n%s", r.Code, r.Stdout)
	}
	t.Cleanup(func() { syscall.Kill(u.PID, syscall.SIGKILL) })
	if r := ua.Phantom("", "list"); r.Code != 0 || !strings.Contains(r.Stdout, "OPENAI_API_KEY") {
		t.Errorf("list through the agent: exit %d\n%s", r.Code, r.Out())
	}
	if n := items(); n != 0 {
		t.Errorf("the keychain holds %d item(s) after unlock", n)
	}
	AssertNoValueInTree(t, xdg, ua.Values()...)
}
