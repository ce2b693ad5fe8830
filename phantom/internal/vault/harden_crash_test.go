package vault

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

const childKeyring = "VAULT_TEST_KEYRING"

// fileKeyring is a Keyring kept in a JSON file, replaced atomically on every
// change, so a keychain survives the SIGKILL of the process using it.
type fileKeyring struct{ path string }

func (k fileKeyring) load() (map[string]string, error) {
	m := map[string]string{}
	b, err := os.ReadFile(k.path)
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, err
	}
	return m, json.Unmarshal(b, &m)
}

func (k fileKeyring) store(m map[string]string) error {
	b, _ := json.Marshal(m)
	tmp := k.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, k.path)
}

func (k fileKeyring) Get(service, user string) (string, error) {
	m, err := k.load()
	if err != nil {
		return "", err
	}
	v, ok := m[service+"/"+user]
	if !ok {
		return "", ErrKeyringItemNotFound
	}
	return v, nil
}

func (k fileKeyring) Set(service, user, pass string) error {
	m, err := k.load()
	if err != nil {
		return err
	}
	m[service+"/"+user] = pass
	return k.store(m)
}

func (k fileKeyring) Delete(service, user string) error {
	m, err := k.load()
	if err != nil {
		return err
	}
	if _, ok := m[service+"/"+user]; !ok {
		return ErrKeyringItemNotFound
	}
	delete(m, service+"/"+user)
	return k.store(m)
}

// hardenOptions open the vault of TestCrashDuringHarden: the keychain is the
// file keyring, and a hardened vault's passphrase is typed.
func hardenOptions(home, pid, keyringPath string) Options {
	return Options{
		Home:      home,
		ProjectID: pid,
		Env: func(k string) string {
			if k == EnvDBusSession {
				return "unix:path=/fake/bus"
			}
			return ""
		},
		Keyring:     fileKeyring{keyringPath},
		Prompt:      func(bool) ([]byte, error) { return []byte(childPass), nil },
		KDF:         cheapKDF,
		LockTimeout: 60 * time.Second,
		Owner:       "vault-test child",
	}
}

// childHardener hardens the vault and moves it back to the keychain, over
// and over, until killed (or 30 s).
func childHardener() int {
	v, err := Open(hardenOptions(os.Getenv(childHome), os.Getenv(childProject), os.Getenv(childKeyring)))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		return 2
	}
	fmt.Println("ready")
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		to := Hardened
		if v.KeySource() == Hardened {
			to = Keychain
		}
		if err := v.Rekey(to, []byte(childPass)); err != nil {
			fmt.Fprintln(os.Stderr, "child rekey:", err)
			return 2
		}
	}
	return 0
}

// TestCrashDuringHarden SIGKILLs a process that moves a vault between the
// keychain and hardened, many times. After every kill the vault must open:
// a keychain header always has its keychain item (the item is deleted only
// after the hardened file is in place, and written before a keychain file
// is), and a hardened one opens with the typed passphrase.
func TestCrashDuringHarden(t *testing.T) {
	const kills = 25
	home, pid := t.TempDir(), newPID(t)
	krPath := filepath.Join(t.TempDir(), "keyring.json")
	po := hardenOptions(home, pid, krPath)
	v := mustCreate(t, po)
	mustUpdate(t, v, add("A", "1"))
	v.Close()

	deadline := time.Now().Add(3 * time.Minute)
	seen := map[KeySource]int{}
	leftovers := 0
	for i := 0; i < kills; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("time bound reached after %d kills", i)
		}
		cmd := childCmd(t, home, pid, childEnv+"=hardener", childKeyring+"="+krPath)
		killWhenReady(t, cmd)

		w, err := Open(po)
		if err != nil {
			t.Fatalf("kill %d: the vault does not open: %v", i, err)
		}
		if value(t, w, "A") != "1" {
			t.Fatalf("kill %d: value lost", i)
		}
		src := w.KeySource()
		seen[src]++
		if _, err := po.Keyring.Get(KeychainService, KeychainAccount(pid)); src == Hardened && err == nil {
			// Killed while moving to the keychain (its item is written
			// before the file), or between a harden's rename and its delete.
			leftovers++
		}
		w.Close()
	}
	t.Logf("after %d kills: %v; %d left a keychain item beside a hardened file", kills, seen, leftovers)
}
