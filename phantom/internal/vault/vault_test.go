package vault

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zalando/go-keyring"
	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"

	"phantomstack.dev/shared/fsx"
	"phantomstack.dev/shared/token"
)

func TestRoundTripPassphrase(t *testing.T) {
	kr := newFake()
	o := opts(t, t.TempDir(), envPass, kr)
	v := mustCreate(t, o)
	if v.KeySource() != Passphrase || v.KeySource().String() != "passphrase" {
		t.Fatalf("key source %v", v.KeySource())
	}
	if v.KDF() != cheapKDF {
		t.Fatalf("KDF %v", v.KDF())
	}
	mustUpdate(t, v, add("OPENAI_API_KEY", "sk-secret-1"))
	mustUpdate(t, v, func(p *Payload) error {
		p.Secrets["OPENAI_API_KEY"].Origins = map[string]string{".env": `"sk-secret-1"`}
		return nil
	})
	tok := v.Payload().Secrets["OPENAI_API_KEY"].Token
	v.Close()
	if v.Payload() != nil {
		t.Fatal("payload survives Close")
	}
	wantErr(t, v.Update(add("X", "y"), nil), ErrClosed)

	w := mustOpen(t, o)
	defer w.Close()
	if got := value(t, w, "OPENAI_API_KEY"); got != "sk-secret-1" {
		t.Fatalf("value %q", got)
	}
	s := w.Payload().Secrets["OPENAI_API_KEY"]
	if s.Token != tok || !token.Is(tok) || s.Origins[".env"] != `"sk-secret-1"` || s.CreatedAt.IsZero() {
		t.Fatalf("secret %+v", s)
	}
	if kr.callCount() != 0 {
		t.Fatalf("passphrase vault touched the keyring %d times", kr.callCount())
	}

	// Permissions, location, no plaintext on disk.
	if w.Path() != filepath.Join(o.Home, "vaults", o.ProjectID+".vault") {
		t.Fatalf("path %s", w.Path())
	}
	st, _ := os.Stat(w.Path())
	dst, _ := os.Stat(vaultDir(o))
	if st.Mode().Perm() != 0o600 || dst.Mode().Perm() != 0o700 {
		t.Fatalf("modes file %v dir %v", st.Mode().Perm(), dst.Mode().Perm())
	}
	raw := readFile(t, w.Path())
	for _, needle := range []string{"sk-secret-1", testPass, "OPENAI_API_KEY", tok} {
		if bytes.Contains(raw, []byte(needle)) {
			t.Fatalf("vault file contains %q in plaintext", needle)
		}
	}

	// Prompt instead of the environment.
	o2 := o
	o2.Env = envOf(envNone)
	prompts := 0
	o2.Prompt = func(confirm bool) ([]byte, error) {
		prompts++
		if confirm {
			t.Error("open asked for confirmation")
		}
		return []byte(testPass), nil
	}
	x := mustOpen(t, o2)
	x.Close()
	if prompts != 1 {
		t.Fatalf("prompted %d times", prompts)
	}
	// Wrong passphrase three times from the prompt.
	prompts = 0
	o2.Prompt = func(bool) ([]byte, error) { prompts++; return []byte("nope"), nil }
	_, err := Open(o2)
	wantErr(t, err, ErrWrongPassphrase)
	if prompts != 3 {
		t.Fatalf("prompted %d times for a wrong passphrase, want 3", prompts)
	}
	// Wrong passphrase from the environment: one try.
	o3 := o
	o3.Env = envOf(map[string]string{EnvPassphrase: "wrong"})
	before := readFile(t, o.Home+"/vaults/"+o.ProjectID+".vault")
	_, err = Open(o3)
	wantErr(t, err, ErrWrongPassphrase)
	if !strings.Contains(err.Error(), "wrong passphrase") || !strings.Contains(err.Error(), EnvPassphrase) {
		t.Fatalf("message: %v", err)
	}
	if !bytes.Equal(before, readFile(t, w.Path())) {
		t.Fatal("failed open changed the file")
	}
}

func TestRoundTripKeychain(t *testing.T) {
	kr := newFake()
	o := opts(t, t.TempDir(), envKeychain, kr)
	v := mustCreate(t, o)
	if v.KeySource() != Keychain || v.KeySource().String() != "keychain" {
		t.Fatalf("key source %v", v.KeySource())
	}
	mustUpdate(t, v, add("STRIPE_SECRET_KEY", "sk_live_abc"))
	mustUpdate(t, v, add("DATABASE_URL", "postgres://u:p@h/db"))
	v.Close()
	want := []string{"phantom/vault-key:" + o.ProjectID}
	if got := kr.names(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("keychain items %v, want exactly %v", got, want)
	}
	item, _ := kr.get(KeychainService, KeychainAccount(o.ProjectID))
	raw := readFile(t, v.Path())
	key, _ := base64.StdEncoding.DecodeString(item)
	for _, needle := range [][]byte{[]byte("sk_live_abc"), []byte("STRIPE"), key, []byte(item)} {
		if bytes.Contains(raw, needle) {
			t.Fatalf("vault file contains %q", needle)
		}
	}
	w := mustOpen(t, o)
	defer w.Close()
	if value(t, w, "STRIPE_SECRET_KEY") != "sk_live_abc" || value(t, w, "DATABASE_URL") != "postgres://u:p@h/db" {
		t.Fatal("values differ")
	}
}

func TestRoundTripDefaultKDF(t *testing.T) {
	o := opts(t, t.TempDir(), envPass, nil)
	o.KDF = KDFParams{}
	v := mustCreate(t, o)
	mustUpdate(t, v, add("A", "1"))
	v.Close()
	w := mustOpen(t, o)
	defer w.Close()
	if w.KDF() != DefaultKDF || DefaultKDF != (KDFParams{Time: 3, MemoryKiB: 64 << 10, Threads: 1}) {
		t.Fatalf("KDF %v", w.KDF())
	}
	if value(t, w, "A") != "1" {
		t.Fatal("value")
	}
}

func TestSystemKeyringWithMock(t *testing.T) {
	keyring.MockInit()
	kr := SystemKeyring()
	if _, err := kr.Get("s", "u"); !errors.Is(err, ErrKeyringItemNotFound) {
		t.Fatalf("missing item: %v", err)
	}
	o := opts(t, t.TempDir(), envKeychain, nil) // nil Keyring: the system (mocked) one
	v := mustCreate(t, o)
	mustUpdate(t, v, add("K", "v"))
	v.Close()
	w := mustOpen(t, o)
	defer w.Close()
	if value(t, w, "K") != "v" || w.KeySource() != Keychain {
		t.Fatal("round trip through go-keyring mock")
	}
	keyring.MockInitWithError(errors.New("boom"))
	_, err := Open(o)
	wantErr(t, err, ErrKeychainUnavailable)
	if !strings.Contains(err.Error(), "boom") {
		t.Fatalf("reason missing: %v", err)
	}
}

func TestUpdateVisibleAcrossHandles(t *testing.T) {
	for _, env := range []map[string]string{envPass, envKeychain} {
		kr := newFake()
		o := opts(t, t.TempDir(), env, kr)
		mustCreate(t, o).Close()
		a := mustOpen(t, o)
		b := mustOpen(t, o)
		mustUpdate(t, a, add("A", "1"))
		var sawA bool
		mustUpdate(t, b, func(p *Payload) error {
			sawA = p.Secrets["A"] != nil
			return add("B", "2")(p)
		})
		if !sawA {
			t.Fatal("second handle's Update did not see the first handle's write")
		}
		if _, ok := a.Payload().Secrets["B"]; ok {
			t.Fatal("snapshot changed without an Update")
		}
		mustUpdate(t, a, func(*Payload) error { return nil })
		if value(t, a, "B") != "2" || value(t, b, "A") != "1" {
			t.Fatal("values")
		}
		a.Close()
		b.Close()
	}
}

func TestRekeyPassphraseToPassphrase(t *testing.T) {
	o := opts(t, t.TempDir(), envPass, newFake())
	v := mustCreate(t, o)
	mustUpdate(t, v, add("A", "1"))
	old := readFile(t, v.Path())
	if err := v.Rekey(Passphrase, []byte("new passphrase")); err != nil {
		t.Fatal(err)
	}
	mustUpdate(t, v, add("B", "2")) // the handle keeps working with the new key
	v.Close()
	_, err := Open(o)
	wantErr(t, err, ErrWrongPassphrase)
	o.Env = envOf(map[string]string{EnvPassphrase: "new passphrase"})
	w := mustOpen(t, o)
	defer w.Close()
	if value(t, w, "A") != "1" || value(t, w, "B") != "2" {
		t.Fatal("values lost in rekey")
	}
	// A new data key: the old file's wrapped key differs, and the old
	// passphrase cannot open the new file.
	nw := readFile(t, w.Path())
	if bytes.Equal(old[:passphraseHeaderLen], nw[:passphraseHeaderLen]) {
		t.Fatal("header unchanged by rekey")
	}
	wantErr(t, w.Rekey(Passphrase, nil), ErrEmptyPassphrase)
}

func TestRekeyPassphraseToKeychainAndBack(t *testing.T) {
	kr := newFake()
	env := map[string]string{EnvPassphrase: testPass, EnvDBusSession: "unix:path=/fake"}
	o := opts(t, t.TempDir(), env, kr)
	v := mustCreate(t, o) // passphrase wins when PHANTOM_VAULT_PASSPHRASE is set
	if v.KeySource() != Passphrase {
		t.Fatalf("source %v", v.KeySource())
	}
	mustUpdate(t, v, add("A", "1"))
	if err := v.Rekey(Keychain, nil); err != nil {
		t.Fatal(err)
	}
	if v.KeySource() != Keychain {
		t.Fatal("source not switched")
	}
	if n := len(kr.names()); n != 1 {
		t.Fatalf("%d keychain items, want 1", n)
	}
	mustUpdate(t, v, add("B", "2"))
	if err := v.Rekey(Keychain, nil); err == nil {
		t.Fatal("keychain→keychain rekey accepted")
	}
	// The passphrase no longer matters: the header says keychain.
	o2 := o
	o2.Env = envOf(map[string]string{EnvPassphrase: "anything", EnvDBusSession: "x"})
	w := mustOpen(t, o2)
	if value(t, w, "A") != "1" || value(t, w, "B") != "2" || w.KeySource() != Keychain {
		t.Fatal("keychain vault after rekey")
	}
	w.Close()

	// And back to a passphrase: the keychain item is removed after the write.
	if err := v.Rekey(Passphrase, []byte("pass two")); err != nil {
		t.Fatal(err)
	}
	if n := len(kr.names()); n != 0 {
		t.Fatalf("keychain items left: %v", kr.names())
	}
	v.Close()
	_, err := Open(o) // old passphrase
	wantErr(t, err, ErrWrongPassphrase)
	o.Env = envOf(map[string]string{EnvPassphrase: "pass two"})
	x := mustOpen(t, o)
	defer x.Close()
	if value(t, x, "A") != "1" || value(t, x, "B") != "2" || x.KeySource() != Passphrase {
		t.Fatal("passphrase vault after rekey back")
	}
}

func TestRekeyToKeychainSetFailsChangesNothing(t *testing.T) {
	kr := newFake()
	env := map[string]string{EnvPassphrase: testPass, EnvDBusSession: "x"}
	o := opts(t, t.TempDir(), env, kr)
	v := mustCreate(t, o)
	mustUpdate(t, v, add("A", "1"))
	before := readFile(t, v.Path())
	kr.setErr = errors.New("collection is locked")
	err := v.Rekey(Keychain, nil)
	wantErr(t, err, ErrKeychainUnavailable)
	if !bytes.Equal(before, readFile(t, v.Path())) || v.KeySource() != Passphrase {
		t.Fatal("failed rekey changed the vault")
	}
	mustUpdate(t, v, add("B", "2"))
	v.Close()
}

func TestKeychainToPassphraseDeleteFailureIsReported(t *testing.T) {
	kr := newFake()
	o := opts(t, t.TempDir(), envKeychain, kr)
	v := mustCreate(t, o)
	defer v.Close()
	kr.delErr = errors.New("denied")
	err := v.Rekey(Passphrase, []byte("p"))
	if err == nil || !strings.Contains(err.Error(), "could not be removed") {
		t.Fatalf("err = %v", err)
	}
	if v.KeySource() != Passphrase {
		t.Fatal("rekey did happen; the handle must reflect it")
	}
	o.Env = envOf(map[string]string{EnvPassphrase: "p"})
	mustOpen(t, o).Close()
}

func TestConcurrentRekeyDetected(t *testing.T) {
	kr := newFake()
	env := map[string]string{EnvPassphrase: testPass, EnvDBusSession: "x"}
	o := opts(t, t.TempDir(), env, kr)
	mustCreate(t, o).Close()
	a := mustOpen(t, o)
	b := mustOpen(t, o)
	defer a.Close()
	defer b.Close()
	if err := a.Rekey(Keychain, nil); err != nil {
		t.Fatal(err)
	}
	before := readFile(t, a.Path())
	err := b.Update(add("X", "1"), nil)
	wantErr(t, err, ErrKeyChanged)
	if !strings.Contains(err.Error(), "run the command again") {
		t.Fatalf("message: %v", err)
	}
	if !bytes.Equal(before, readFile(t, a.Path())) {
		t.Fatal("file changed")
	}
	// keychain → passphrase → keychain round trip on a: the header of b (keychain)
	// differs only in the key check, which must still be detected.
	c := mustOpen(t, o)
	defer c.Close()
	if err := a.Rekey(Passphrase, []byte("p2")); err != nil {
		t.Fatal(err)
	}
	if err := a.Rekey(Keychain, nil); err != nil {
		t.Fatal(err)
	}
	wantErr(t, c.Update(add("X", "1"), nil), ErrKeyChanged)
}

// corruptCases checks one damaged file: Open fails with want, an existing
// handle's Update fails with want, OpenOrCreate does not replace it, and the
// bytes on disk are unchanged.
func checkDamaged(t *testing.T, o Options, handle *Vault, damaged []byte, want ...error) {
	t.Helper()
	path := handle.Path()
	writeFile(t, path, damaged)
	match := func(err error) bool {
		for _, w := range want {
			if errors.Is(err, w) {
				return true
			}
		}
		return false
	}
	if _, err := Open(o); !match(err) {
		t.Fatalf("Open: error %v, want one of %v", err, want)
	}
	if _, _, err := OpenOrCreate(o); !match(err) {
		t.Fatalf("OpenOrCreate: error %v, want one of %v", err, want)
	}
	err := handle.Update(add("NEW", "x"), nil)
	if !match(err) && !errors.Is(err, ErrKeyChanged) {
		t.Fatalf("Update: error %v, want one of %v", err, want)
	}
	if got := readFile(t, path); !bytes.Equal(got, damaged) {
		t.Fatal("the damaged file was changed")
	}
}

func smallVault(t *testing.T, env map[string]string, kr Keyring) (Options, *Vault, []byte) {
	o := opts(t, t.TempDir(), env, kr)
	v := mustCreate(t, o)
	mustUpdate(t, v, add("K", "v"))
	return o, v, readFile(t, v.Path())
}

func TestEveryFlippedByteIsRejected(t *testing.T) {
	for _, env := range []map[string]string{envPass, envKeychain} {
		o, v, good := smallVault(t, env, newFake())
		t.Logf("%v vault: %d bytes", v.KeySource(), len(good))
		for off := range good {
			for _, mask := range []byte{0x01, 0xff} {
				bad := bytes.Clone(good)
				bad[off] ^= mask
				if off == 8 || off == 9 { // the version field: a higher number reads as "newer"
					checkDamaged(t, o, v, bad, ErrNewerVersion, ErrCorrupt)
				} else {
					checkDamaged(t, o, v, bad, ErrCorrupt)
				}
			}
		}
		writeFile(t, v.Path(), good)
		mustUpdate(t, v, add("STILL", "works"))
		v.Close()
	}
}

func TestTruncatedAtEveryLength(t *testing.T) {
	for _, env := range []map[string]string{envPass, envKeychain} {
		o, v, good := smallVault(t, env, newFake())
		for n := 0; n < len(good); n++ {
			checkDamaged(t, o, v, good[:n], ErrCorrupt)
		}
		// Appended garbage breaks authentication too.
		checkDamaged(t, o, v, append(bytes.Clone(good), 0), ErrCorrupt)
		v.Close()
	}
}

func TestZeroLengthAndBadMagic(t *testing.T) {
	o, v, good := smallVault(t, envPass, nil)
	defer v.Close()
	checkDamaged(t, o, v, nil, ErrCorrupt)
	_, err := Open(o)
	if !strings.Contains(err.Error(), "empty") || !strings.Contains(err.Error(), "restore it from a backup") {
		t.Fatalf("message: %v", err)
	}
	bad := bytes.Clone(good)
	copy(bad, "NOTVAULT")
	checkDamaged(t, o, v, bad, ErrCorrupt)
	checkDamaged(t, o, v, []byte("OPENAI_API_KEY=sk-123\n"), ErrCorrupt)
	_, err = Open(o)
	if !strings.Contains(err.Error(), "bad magic") {
		t.Fatalf("message: %v", err)
	}
	// Hostile size: more than the read bound.
	big := make([]byte, maxFileSize+10)
	copy(big, good)
	checkDamaged(t, o, v, big, ErrCorrupt)
}

func TestNewerVersion(t *testing.T) {
	o, v, good := smallVault(t, envPass, nil)
	defer v.Close()
	bad := bytes.Clone(good)
	binary.BigEndian.PutUint16(bad[8:], 2)
	checkDamaged(t, o, v, bad, ErrNewerVersion)
	_, err := Open(o)
	if !strings.Contains(err.Error(), "newer phantom") || !strings.Contains(err.Error(), "upgrade") || !strings.Contains(err.Error(), "version 2") {
		t.Fatalf("message: %v", err)
	}
	// Version 0 and an unknown key source are damage.
	bad = bytes.Clone(good)
	binary.BigEndian.PutUint16(bad[8:], 0)
	checkDamaged(t, o, v, bad, ErrCorrupt)
	bad = bytes.Clone(good)
	bad[10] = 9
	checkDamaged(t, o, v, fixSum(bad), ErrCorrupt)
}

func TestAbsurdKDFParamsRejectedBeforeArgon2(t *testing.T) {
	o, v, good := smallVault(t, envPass, nil)
	defer v.Close()
	cases := []struct {
		name string
		off  int
		val  []byte
	}{
		{"memory 4GiB+1KiB", 31, be32(maxKDFMemoryKiB + 1)},
		{"memory max uint32", 31, be32(^uint32(0))},
		{"memory below 8KiB/thread", 31, be32(7)},
		{"time 0", 27, be32(0)},
		{"time 101", 27, be32(101)},
		{"time max", 27, be32(^uint32(0))},
		{"threads 0", 35, []byte{0}},
		{"threads 65", 35, []byte{65}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bad := bytes.Clone(good)
			copy(bad[c.off:], c.val)
			bad = fixSum(bad) // a forger recomputes the checksum
			start := time.Now()
			checkDamaged(t, o, v, bad, ErrCorrupt)
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("rejection took %v: the KDF ran", d)
			}
			_, err := Open(o)
			if !strings.Contains(err.Error(), "key-derivation parameters") {
				t.Fatalf("message: %v", err)
			}
		})
	}
	// Plausible but different parameters (with a fixed checksum) fail as a
	// wrong passphrase would: the KEK differs. That is the forger's case.
	bad := bytes.Clone(good)
	copy(bad[27:], be32(2))
	checkDamaged(t, o, v, fixSum(bad), ErrWrongPassphrase)
}

func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func TestProjectIDMismatch(t *testing.T) {
	for _, env := range []map[string]string{envPass, envKeychain} {
		kr := newFake()
		home := t.TempDir()
		a := opts(t, home, env, kr)
		b := opts(t, home, env, kr)
		va := mustCreate(t, a)
		mustUpdate(t, va, add("A", "1"))
		va.Close()
		data := readFile(t, va.Path())
		pb, _ := Path(b)
		writeFile(t, pb, data)
		_, err := Open(b)
		wantErr(t, err, ErrWrongProject)
		if !strings.Contains(err.Error(), a.ProjectID) {
			t.Fatalf("message does not name the file's project: %v", err)
		}
		_, _, err = OpenOrCreate(b)
		wantErr(t, err, ErrWrongProject)
		if !bytes.Equal(readFile(t, pb), data) {
			t.Fatal("file changed")
		}
	}
}

func TestInvalidProjectID(t *testing.T) {
	home := t.TempDir()
	for _, id := range []string{"", "../../../../etc/passwd", "0123456789ABCDEF0123456789abcdef", "0123456789abcdef0123456789abcde", "0123456789abcdef0123456789abcdef0", "0123456789abcdef/123456789abcdef", "0123456789abcdef0123456789abcdeg"} {
		o := opts(t, home, envPass, nil)
		o.ProjectID = id
		_, err := Create(o)
		wantErr(t, err, ErrInvalidProjectID)
		_, err = Open(o)
		wantErr(t, err, ErrInvalidProjectID)
		if src, _ := Probe(o); src != NoKeySource {
			t.Fatal("probe accepted a bad id")
		}
	}
	if ents, _ := os.ReadDir(home); len(ents) != 0 {
		t.Fatalf("created %v", ents)
	}
}

func TestHomeNotWritable(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	writeFile(t, file, []byte("x"))
	o := opts(t, filepath.Join(file, "home"), envPass, nil)
	_, err := Create(o)
	wantErr(t, err, ErrHomeNotWritable)
	if !strings.Contains(err.Error(), "PHANTOM_HOME") {
		t.Fatalf("message: %v", err)
	}
	_, err = Open(o)
	wantErr(t, err, ErrNotFound)
	_, _, err = OpenOrCreate(o)
	wantErr(t, err, ErrHomeNotWritable)
	if !bytes.Equal(readFile(t, file), []byte("x")) {
		t.Fatal("file changed")
	}
}

func TestNotFoundAndExists(t *testing.T) {
	o := opts(t, t.TempDir(), envPass, nil)
	_, err := Open(o)
	wantErr(t, err, ErrNotFound)
	v, created, err := OpenOrCreate(o)
	if err != nil || !created {
		t.Fatalf("OpenOrCreate: %v %v", created, err)
	}
	mustUpdate(t, v, add("A", "1"))
	v.Close()
	before := readFile(t, v.Path())
	_, err = Create(o)
	wantErr(t, err, ErrExists)
	w, created, err := OpenOrCreate(o)
	if err != nil || created || value(t, w, "A") != "1" {
		t.Fatalf("second OpenOrCreate: %v %v", created, err)
	}
	w.Close()
	if !bytes.Equal(before, readFile(t, v.Path())) {
		t.Fatal("Create over an existing vault changed it")
	}
}

func TestNoKeySource(t *testing.T) {
	kr := newFake()
	o := opts(t, t.TempDir(), envNone, kr) // no D-Bus, no passphrase, no prompt
	start := time.Now()
	_, err := Create(o)
	wantErr(t, err, ErrNoKeySource)
	if !strings.Contains(err.Error(), "PHANTOM_VAULT_PASSPHRASE") {
		t.Fatalf("message does not name PHANTOM_VAULT_PASSPHRASE: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("took %v", d)
	}
	// A prompt that reports no terminal counts the same.
	o.Prompt = func(bool) ([]byte, error) { return nil, fmt.Errorf("stdin: %w", ErrNoTTY) }
	_, err = Create(o)
	wantErr(t, err, ErrNoKeySource)
	if kr.callCount() != 0 {
		t.Fatal("keyring called")
	}
	if _, err := os.Stat(filepath.Join(vaultDir(o), o.ProjectID+".vault")); err == nil {
		t.Fatal("a vault was created")
	}

	// Opening a passphrase vault without a passphrase or terminal.
	p := opts(t, t.TempDir(), envPass, kr)
	mustCreate(t, p).Close()
	p.Env = envOf(envNone)
	_, err = Open(p)
	wantErr(t, err, ErrNoKeySource)
	if !strings.Contains(err.Error(), "PHANTOM_VAULT_PASSPHRASE") {
		t.Fatalf("message: %v", err)
	}
	// A cancelled prompt is not "no key source".
	cancel := errors.New("cancelled")
	p.Prompt = func(bool) ([]byte, error) { return nil, cancel }
	_, err = Open(p)
	if !errors.Is(err, cancel) {
		t.Fatalf("err = %v", err)
	}
}

func TestHungKeychainDoesNotHang(t *testing.T) {
	kr := newFake()
	kr.hang = make(chan struct{})
	defer close(kr.hang)
	o := opts(t, t.TempDir(), envKeychain, kr)
	o.KeyringTimeout = 100 * time.Millisecond
	start := time.Now()
	_, err := Create(o)
	wantErr(t, err, ErrNoKeySource)
	if !strings.Contains(err.Error(), "did not answer") {
		t.Fatalf("message: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %v", d)
	}
	if n := kr.callCount(); n != 1 {
		t.Fatalf("%d keyring calls after a timeout, want 1 (probe once)", n)
	}

	// Opening a keychain vault with a hung keychain.
	good := newFake()
	k := opts(t, t.TempDir(), envKeychain, good)
	mustCreate(t, k).Close()
	k.Keyring = kr
	k.KeyringTimeout = 100 * time.Millisecond
	start = time.Now()
	_, err = Open(k)
	wantErr(t, err, ErrKeychainUnavailable)
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %v", d)
	}
}

func TestDBusEmptyNeverCallsKeyring(t *testing.T) {
	if !usesDBus {
		t.Skip("no D-Bus keychain on this OS")
	}
	kr := newFake()
	// A keychain vault made while D-Bus was there...
	k := opts(t, t.TempDir(), envKeychain, kr)
	mustCreate(t, k).Close()
	calls := kr.callCount()
	// ...cannot be opened without it, and the keyring is not even asked.
	k.Env = envOf(envNone)
	_, err := Open(k)
	wantErr(t, err, ErrKeychainUnavailable)
	if !strings.Contains(err.Error(), EnvDBusSession) {
		t.Fatalf("message: %v", err)
	}
	if src, why := Probe(k); src != Keychain || !strings.Contains(why, "not available") {
		t.Fatalf("probe %v %q", src, why)
	}

	// Creating: falls through to the prompt.
	o := opts(t, t.TempDir(), envNone, kr)
	o.Prompt = func(confirm bool) ([]byte, error) {
		if !confirm {
			t.Error("create did not ask for confirmation")
		}
		return []byte("typed-passphrase"), nil
	}
	v := mustCreate(t, o)
	if v.KeySource() != Passphrase {
		t.Fatalf("source %v", v.KeySource())
	}
	wantErr(t, v.Rekey(Keychain, nil), ErrKeychainUnavailable)
	v.Close()
	if src, _ := Probe(opts(t, t.TempDir(), envNone, kr)); src != NoKeySource {
		t.Fatalf("probe %v", src)
	}
	if n := kr.callCount(); n != calls {
		t.Fatalf("keyring called %d times with %s empty", n-calls, EnvDBusSession)
	}
}

func TestRequireKeychain(t *testing.T) {
	kr := newFake()
	for _, val := range []string{"1", "true", "TRUE", "yes", "anything"} {
		env := map[string]string{EnvRequireKeychain: val, EnvPassphrase: testPass}
		o := opts(t, t.TempDir(), env, kr)
		o.Prompt = func(bool) ([]byte, error) { return []byte("typed-passphrase"), nil }
		_, err := Create(o)
		wantErr(t, err, ErrKeychainRequired)
	}
	// Passphrase vault + requirement → refused, with the way out.
	p := opts(t, t.TempDir(), envPass, kr)
	pv := mustCreate(t, p)
	p.Env = envOf(map[string]string{EnvRequireKeychain: "1", EnvPassphrase: testPass, EnvDBusSession: "x"})
	_, err := Open(p)
	wantErr(t, err, ErrKeychainRequired)
	if !strings.Contains(err.Error(), "phantom vault rekey --to keychain") {
		t.Fatalf("message: %v", err)
	}
	pv.c.Env = p.Env
	wantErr(t, pv.Rekey(Passphrase, []byte("x")), ErrKeychainRequired)
	if err := pv.Rekey(Keychain, nil); err != nil { // moving into the keychain is allowed
		t.Fatal(err)
	}
	pv.Close()
	mustOpen(t, p).Close()

	// With the keychain reachable the passphrase variable is ignored.
	o := opts(t, t.TempDir(), map[string]string{EnvRequireKeychain: "1", EnvPassphrase: testPass, EnvDBusSession: "x"}, kr)
	v := mustCreate(t, o)
	if v.KeySource() != Keychain {
		t.Fatalf("source %v", v.KeySource())
	}
	v.Close()
	// "0" and "false" do not require.
	for _, val := range []string{"0", "false", "no", "off", ""} {
		o := opts(t, t.TempDir(), map[string]string{EnvRequireKeychain: val, EnvPassphrase: testPass}, kr)
		mustCreate(t, o).Close()
	}
}

func TestKeychainItemProblems(t *testing.T) {
	kr := newFake()
	o := opts(t, t.TempDir(), envKeychain, kr)
	v := mustCreate(t, o)
	mustUpdate(t, v, add("A", "1"))
	v.Close()
	good, _ := kr.get(KeychainService, KeychainAccount(o.ProjectID))

	kr.Delete(KeychainService, KeychainAccount(o.ProjectID))
	_, err := Open(o)
	wantErr(t, err, ErrKeyMissing)

	kr.set(KeychainService, KeychainAccount(o.ProjectID), "not base64!")
	_, err = Open(o)
	wantErr(t, err, ErrKeyMissing)

	kr.set(KeychainService, KeychainAccount(o.ProjectID), base64.StdEncoding.EncodeToString(newDataKey()))
	_, err = Open(o)
	wantErr(t, err, ErrKeyMismatch)

	kr.set(KeychainService, KeychainAccount(o.ProjectID), good)
	kr.getErr = errors.New("org.freedesktop.secrets was not provided by any .service files")
	_, err = Open(o)
	wantErr(t, err, ErrKeychainUnavailable)
	if !strings.Contains(err.Error(), "org.freedesktop.secrets") {
		t.Fatalf("reason missing: %v", err)
	}
	kr.getErr = nil
	mustOpen(t, o).Close()
}

func TestCreateKeychainSetFailsFallsBack(t *testing.T) {
	kr := newFake()
	kr.setErr = errors.New("failed to unlock correct collection")
	o := opts(t, t.TempDir(), envKeychain, kr)
	_, err := Create(o)
	wantErr(t, err, ErrNoKeySource)
	if !strings.Contains(err.Error(), "failed to unlock") {
		t.Fatalf("reason missing: %v", err)
	}
	o.Prompt = func(bool) ([]byte, error) { return []byte("typed-passphrase"), nil }
	v := mustCreate(t, o)
	defer v.Close()
	if v.KeySource() != Passphrase || len(kr.names()) != 0 {
		t.Fatalf("source %v items %v", v.KeySource(), kr.names())
	}
}

func TestCreateReusesValidKeychainItem(t *testing.T) {
	// Two PHANTOM_HOMEs, one project: the second vault must not overwrite the
	// first one's key.
	kr := newFake()
	a := opts(t, t.TempDir(), envKeychain, kr)
	b := a
	b.Home = t.TempDir()
	va := mustCreate(t, a)
	mustUpdate(t, va, add("A", "1"))
	va.Close()
	vb := mustCreate(t, b)
	vb.Close()
	if len(kr.names()) != 1 {
		t.Fatalf("items %v", kr.names())
	}
	mustOpen(t, a).Close()
	mustOpen(t, b).Close()
}

func TestLockContention(t *testing.T) {
	o := opts(t, t.TempDir(), envPass, nil)
	v := mustCreate(t, o)
	defer v.Close()
	before := readFile(t, v.Path())
	l, err := fsx.AcquireLock(filepath.Join(vaultDir(o), o.ProjectID+".lock"), time.Second, "phantom add HOLDER_TEST")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	v.c.LockTimeout = 150 * time.Millisecond
	start := time.Now()
	err = v.Update(add("A", "1"), nil)
	wantErr(t, err, ErrLocked)
	var le *fsx.LockError
	if !errors.As(err, &le) {
		t.Fatalf("no *fsx.LockError in %v", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "HOLDER_TEST") || !strings.Contains(msg, fmt.Sprintf("pid %d", os.Getpid())) {
		t.Fatalf("message does not name the holder: %v", msg)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("waited %v", d)
	}
	if !bytes.Equal(before, readFile(t, v.Path())) {
		t.Fatal("file changed")
	}
	l.Release()
	mustUpdate(t, v, add("A", "1"))
}

func TestBeforeCommitAndMutateErrorsKeepOldVault(t *testing.T) {
	o, v, good := smallVault(t, envPass, nil)
	defer v.Close()
	hookErr := errors.New("audit append failed")
	called := false
	err := v.Update(add("NEW", "x"), func() error {
		called = true
		// The hook runs before the new file is written (so the payload
		// can carry the position of the hook's audit event).
		if len(tempFiles(t, vaultDir(o))) != 0 {
			t.Error("a temp file exists during beforeCommit")
		}
		return hookErr
	})
	if !errors.Is(err, hookErr) || !called {
		t.Fatalf("err = %v", err)
	}
	if !bytes.Equal(good, readFile(t, v.Path())) {
		t.Fatal("vault changed after a failed beforeCommit")
	}
	if tf := tempFiles(t, vaultDir(o)); len(tf) != 0 {
		t.Fatalf("temp files left: %v", tf)
	}
	if _, ok := v.Payload().Secrets["NEW"]; ok {
		t.Fatal("snapshot has the uncommitted change")
	}
	mErr := errors.New("no such secret")
	if err := v.Update(func(*Payload) error { return mErr }, nil); !errors.Is(err, mErr) {
		t.Fatalf("err = %v", err)
	}
	// An invalid payload (no token) is refused, not written.
	err = v.Update(func(p *Payload) error { p.Secrets["BAD"] = &Secret{Value: []byte("x")}; return nil }, nil)
	if err == nil || !strings.Contains(err.Error(), "token") {
		t.Fatalf("err = %v", err)
	}
	err = v.Update(func(p *Payload) error {
		p.Secrets["DUP"] = &Secret{Token: p.Secrets["K"].Token}
		return nil
	}, nil)
	if err == nil {
		t.Fatal("duplicate token accepted")
	}
	if !bytes.Equal(good, readFile(t, v.Path())) {
		t.Fatal("vault changed")
	}
	w := mustOpen(t, o)
	defer w.Close()
	if secretNames(w.Payload())[0] != "K" || len(w.Payload().Secrets) != 1 {
		t.Fatal("content changed")
	}
}

func TestLeftoverTempFiles(t *testing.T) {
	o, v, _ := smallVault(t, envPass, nil)
	defer v.Close()
	dir := vaultDir(o)
	mine := filepath.Join(dir, "."+o.ProjectID+".vault.tmp-deadbeef0000")
	other := filepath.Join(dir, ".ffffffffffffffffffffffffffffffff.vault.tmp-deadbeef0000")
	writeFile(t, mine, []byte("PHMVAULT torn"))
	writeFile(t, other, []byte("PHMVAULT torn"))
	w := mustOpen(t, o) // ignored on open
	w.Close()
	mustUpdate(t, v, add("B", "2")) // cleaned on the next write
	if _, err := os.Stat(mine); !os.IsNotExist(err) {
		t.Fatal("leftover temp file not removed")
	}
	if _, err := os.Stat(other); err != nil {
		t.Fatal("another vault's temp file was removed")
	}
}

func TestProbe(t *testing.T) {
	kr := newFake()
	cases := []struct {
		env    map[string]string
		prompt bool
		want   KeySource
		reason string
	}{
		{envPass, false, Passphrase, "PHANTOM_VAULT_PASSPHRASE is set"},
		{envKeychain, false, Keychain, "keychain is reachable"},
		{envNone, true, Passphrase, "asked for on the terminal"},
		{envNone, false, NoKeySource, "no terminal"},
		{map[string]string{EnvRequireKeychain: "1", EnvPassphrase: "x"}, true, NoKeySource, "allows only the keychain"},
	}
	for _, c := range cases {
		o := opts(t, t.TempDir(), c.env, kr)
		if c.prompt {
			o.Prompt = func(bool) ([]byte, error) { t.Fatal("Probe prompted"); return nil, nil }
		}
		src, why := Probe(o)
		if src != c.want || !strings.Contains(why, c.reason) {
			t.Errorf("Probe(%v) = %v %q, want %v %q", c.env, src, why, c.want, c.reason)
		}
		if _, err := os.Stat(vaultDir(o)); err == nil {
			t.Error("Probe created the vault directory")
		}
	}
	// Existing vaults: the header decides.
	o := opts(t, t.TempDir(), envKeychain, kr)
	mustCreate(t, o).Close()
	o.Env = envOf(map[string]string{EnvDBusSession: "x", EnvPassphrase: "p"})
	if src, _ := Probe(o); src != Keychain {
		t.Fatalf("probe %v", src)
	}
	p := opts(t, t.TempDir(), envPass, kr)
	mustCreate(t, p).Close()
	if src, why := Probe(p); src != Passphrase || !strings.Contains(why, "passphrase-protected") {
		t.Fatalf("probe %v %q", src, why)
	}
}

func TestEmptyPromptedPassphraseRefused(t *testing.T) {
	o := opts(t, t.TempDir(), envNone, nil)
	o.Prompt = func(bool) ([]byte, error) { return nil, nil }
	_, err := Create(o)
	wantErr(t, err, ErrEmptyPassphrase)
}

func TestErrorMessages(t *testing.T) {
	for _, e := range []error{ErrNotFound, ErrExists, ErrInvalidProjectID, ErrCorrupt, ErrWrongPassphrase, ErrNewerVersion, ErrWrongProject, ErrKeychainUnavailable, ErrKeyMissing, ErrKeyMismatch, ErrNoKeySource, ErrKeychainRequired, ErrEmptyPassphrase, ErrLocked, ErrKeyChanged, ErrHomeNotWritable, ErrHardened, ErrWrongKey} {
		s := e.Error()
		if !strings.Contains(s, "; ") {
			t.Errorf("%q does not say what to do", s)
		}
	}
	if ErrTampered != ErrCorrupt {
		t.Fatal("ErrTampered")
	}
	e := &Error{Kind: ErrCorrupt, Path: "/h/vaults/x.vault", Detail: "header checksum mismatch"}
	want := "vault /h/vaults/x.vault: the vault file is damaged or was modified (header checksum mismatch); restore it from a backup/sync; nothing was changed"
	if e.Error() != want {
		t.Fatalf("got  %s\nwant %s", e.Error(), want)
	}
}

func TestPayloadStrictJSON(t *testing.T) {
	tok := token.New()
	ok := `{"version":1,"secrets":{"A":{"value":"eA==","token":"` + tok + `","created_at":"2024-01-01T00:00:00Z","updated_at":"2024-01-01T00:00:00Z"}}}`
	if _, err := parsePayload([]byte(ok)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		in   string
		want error
	}{
		{`{"version":3,"secrets":{}}`, ErrNewerVersion},
		{`{"version":1,"secrets":{},"approvals":{"route:x":{"hash":"h","approved_at":"2026-01-01T00:00:00Z"}}}`, ErrCorrupt},
		{`{"version":2,"secrets":{},"approvals":{"route:x":null}}`, ErrCorrupt},
		{`{"version":2,"secrets":{},"approvals":{"route:x":{"hash":""}}}`, ErrCorrupt},
		{`{"version":2,"secrets":{},"audit":{"log_id":"a","seq":1,"mac":"m","extra":1}}`, ErrCorrupt},
		{`{"version":0,"secrets":{}}`, ErrCorrupt},
		{`{"secrets":{}}`, ErrCorrupt},
		{`{"version":1}`, ErrCorrupt},
		{`{"version":1,"secrets":{},"extra":1}`, ErrCorrupt},
		{`{"version":1,"secrets":{}} {}`, ErrCorrupt},
		{`{"version":1,"secrets":{"A":null}}`, ErrCorrupt},
		{`{"version":1,"secrets":{"A":{"value":"eA==","token":"phm_x"}}}`, ErrCorrupt},
		{`{"version":1,"secrets":{"":{"value":"eA==","token":"` + tok + `"}}}`, ErrCorrupt},
		{`{"version":1,"secrets":{"A":{"token":"` + tok + `"},"B":{"token":"` + tok + `"}}}`, ErrCorrupt},
		{`{"version":1,"secrets":{"A":{"token":"` + tok + `","color":"red"}}}`, ErrCorrupt},
		{`[]`, ErrCorrupt},
		{``, ErrCorrupt},
	} {
		p, err := parsePayload([]byte(c.in))
		if p != nil || !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.in, err, c.want)
		}
	}
}

// TestRealKeychain runs against a real Secret Service: it re-runs itself
// inside dbus-run-session with an unlocked gnome-keyring in a throwaway
// keyring directory (recipe: study-dependencies.md §2).
func TestRealKeychain(t *testing.T) {
	if os.Getenv("PHANTOM_TEST_REAL_KEYCHAIN") != "1" {
		for _, tool := range []string{"dbus-run-session", "gnome-keyring-daemon"} {
			if _, err := exec.LookPath(tool); err != nil {
				if os.Getenv("CI") != "" {
					t.Fatalf("%s not installed: .ci/run must install dbus-daemon gnome-keyring", tool)
				}
				t.Skipf("%s not installed (apt-get install dbus-daemon gnome-keyring); .ci/run installs it", tool)
			}
		}
		xdg := t.TempDir()
		script := `printf %s vault-test-pass | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1
exec "$0" -test.run='^TestRealKeychain$' -test.count=1 -test.v`
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "dbus-run-session", "--", "sh", "-c", script, os.Args[0])
		cmd.Env = append(os.Environ(), "PHANTOM_TEST_REAL_KEYCHAIN=1", "XDG_DATA_HOME="+xdg, "XDG_RUNTIME_DIR="+xdg)
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestRealKeychain") {
			t.Fatalf("real keychain run failed: %v\n%s", err, out)
		}
		t.Logf("under dbus-run-session + gnome-keyring:\n%s", out)
		return
	}
	o := opts(t, t.TempDir(), map[string]string{EnvDBusSession: os.Getenv(EnvDBusSession)}, SystemKeyring())
	o.KeyringTimeout = 10 * time.Second
	v := mustCreate(t, o)
	if v.KeySource() != Keychain {
		t.Fatalf("source %v", v.KeySource())
	}
	defer keyring.Delete(KeychainService, KeychainAccount(o.ProjectID))
	mustUpdate(t, v, add("A", "1"))
	v.Close()
	w := mustOpen(t, o)
	if value(t, w, "A") != "1" {
		t.Fatal("value")
	}
	if err := w.Rekey(Passphrase, []byte("p")); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if _, err := keyring.Get(KeychainService, KeychainAccount(o.ProjectID)); !errors.Is(err, keyring.ErrNotFound) {
		t.Fatalf("item still there: %v", err)
	}
}

// TestFileLayout pins the documented byte layout (package doc) by decoding a
// file by hand, without the package's parser.
func TestFileLayout(t *testing.T) {
	kr := newFake()
	o := opts(t, t.TempDir(), envPass, kr)
	v := mustCreate(t, o)
	mustUpdate(t, v, add("A", "1"))
	v.Close()
	f := readFile(t, v.Path())
	pid, _ := hex.DecodeString(o.ProjectID)
	if string(f[0:8]) != "PHMVAULT" || binary.BigEndian.Uint16(f[8:10]) != 1 || f[10] != 2 || !bytes.Equal(f[11:27], pid) {
		t.Fatalf("prefix % x", f[:27])
	}
	if binary.BigEndian.Uint32(f[27:31]) != 1 || binary.BigEndian.Uint32(f[31:35]) != 64 || f[35] != 1 {
		t.Fatalf("kdf % x", f[27:36])
	}
	sum := sha256.Sum256(f[:112])
	if !bytes.Equal(sum[:8], f[112:120]) {
		t.Fatal("checksum at 112")
	}
	kek := argon2.IDKey([]byte(testPass), f[36:52], 1, 64, 1, 32)
	a, _ := chacha20poly1305.New(kek)
	dk, err := a.Open(nil, f[52:64], f[64:112], f[:52])
	if err != nil {
		t.Fatal("wrapped key at 52..111 with aad 0..51:", err)
	}
	a, _ = chacha20poly1305.New(dk)
	plain, err := a.Open(nil, f[120:132], f[132:], f[:132])
	if err != nil {
		t.Fatal("payload at 120.. with aad 0..131:", err)
	}
	if !strings.HasPrefix(string(plain), `{"version":2,"secrets":{"A":{"value":"MQ==","token":"phm_`) {
		t.Fatalf("payload %s", plain)
	}

	k := opts(t, t.TempDir(), envKeychain, kr)
	v = mustCreate(t, k)
	v.Close()
	f = readFile(t, v.Path())
	item, _ := kr.get(KeychainService, KeychainAccount(k.ProjectID))
	dk, _ = base64.StdEncoding.DecodeString(item)
	m := hmac.New(sha256.New, dk)
	m.Write([]byte("phantom vault key check v1"))
	if f[10] != 1 || !bytes.Equal(m.Sum(nil)[:16], f[27:43]) {
		t.Fatal("key check at 27..42")
	}
	sum = sha256.Sum256(f[:43])
	if !bytes.Equal(sum[:8], f[43:51]) {
		t.Fatal("checksum at 43")
	}
	a, _ = chacha20poly1305.New(dk)
	if plain, err = a.Open(nil, f[51:63], f[63:], f[:63]); err != nil || string(plain) != `{"version":2,"secrets":{}}` {
		t.Fatalf("keychain payload: %v %s", err, plain)
	}
}

// TestPayloadV1ReadAndUpgraded: a version 1 payload (before approvals and
// the audit mark) is read, and written back as version 2 with both kept.
func TestPayloadV1ReadAndUpgraded(t *testing.T) {
	tok := "phm_" + strings.Repeat("ab", 32)
	p, err := parsePayload([]byte(`{"version":1,"secrets":{"A":{"value":"eA==","token":"` + tok + `"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if p.Approvals != nil || p.Audit != nil || string(p.Secrets["A"].Value) != "x" {
		t.Fatalf("v1 payload read as %+v", p)
	}
	p.Approvals = map[string]*Approval{"route:x": {Hash: "sha256:1", Detail: "route x"}}
	p.Audit = &AuditMark{LogID: "L", Seq: 7, MAC: "m"}
	b, err := encodePayload(p)
	if err != nil {
		t.Fatal(err)
	}
	q, err := parsePayload(b)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), `{"version":2,`) || q.Approvals["route:x"].Hash != "sha256:1" || *q.Audit != *p.Audit {
		t.Fatalf("round trip: %s", b)
	}
	c := q.clone()
	c.Approvals["route:x"].Hash = "changed"
	c.Audit.Seq = 8
	if q.Approvals["route:x"].Hash != "sha256:1" || q.Audit.Seq != 7 {
		t.Fatal("clone shares approvals or the audit mark")
	}
}

// Every write stores the mark Options.Mark returns, computed after
// beforeCommit (the audit append) so the payload names its own event.
func TestAuditMarkStoredOnEveryWrite(t *testing.T) {
	o := opts(t, t.TempDir(), envPass, nil)
	var order []string
	seq := uint64(0)
	o.Mark = func(old *AuditMark) *AuditMark {
		order = append(order, "mark")
		m := &AuditMark{LogID: "L", Seq: seq, MAC: fmt.Sprint("mac", seq), AnchorSeq: 1, AnchorKey: strings.Repeat("ab", 32)}
		if old != nil {
			m.AnchorSeq = old.AnchorSeq
		}
		return m
	}
	v := mustCreate(t, o)
	defer v.Close()
	if m := v.Payload().Audit; m == nil || m.Seq != 0 {
		t.Fatalf("create: mark %+v", m)
	}
	order = nil
	if err := v.Update(add("A", "1"), func() error { order = append(order, "hook"); seq = 5; return nil }); err != nil {
		t.Fatal(err)
	}
	if strings.Join(order, ",") != "hook,mark" {
		t.Fatalf("order %v", order)
	}
	v2, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	if m := v2.Payload().Audit; m == nil || m.Seq != 5 || m.MAC != "mac5" || m.AnchorKey == "" {
		t.Fatalf("reopened: mark %+v", m)
	}
	v2.Close()
	seq = 9
	if err := v.Rekey(Passphrase, []byte("another passphrase")); err != nil {
		t.Fatal(err)
	}
	if m := v.Payload().Audit; m == nil || m.Seq != 9 {
		t.Fatalf("rekey: mark %+v", m)
	}
	// No hook: the stored mark stays.
	o.Mark = nil
	o.Env = func(k string) string {
		if k == EnvPassphrase {
			return "another passphrase"
		}
		return ""
	}
	v3, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	defer v3.Close()
	mustUpdate(t, v3, add("B", "2"))
	if m := v3.Payload().Audit; m == nil || m.Seq != 9 {
		t.Fatalf("no hook: mark %+v", m)
	}
}

// TestNewVaultPassphraseMinimum: a new vault refuses a passphrase shorter
// than MinPassphraseLen, from the environment or the prompt, and creates
// nothing; an existing vault still opens with a short one it already has.
func TestNewVaultPassphraseMinimum(t *testing.T) {
	kr := newFake()
	for _, tc := range []struct {
		name   string
		env    map[string]string
		prompt string
	}{
		{"env", map[string]string{EnvPassphrase: "seven77"}, ""},
		{"prompt", map[string]string{}, "seven77"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			home := t.TempDir()
			o := opts(t, home, tc.env, kr)
			if tc.prompt != "" {
				o.Prompt = func(bool) ([]byte, error) { return []byte(tc.prompt), nil }
			}
			_, err := Create(o)
			wantErr(t, err, ErrShortPassphrase)
			if _, err := os.Stat(filepath.Join(home, "vaults")); err == nil {
				entries, _ := os.ReadDir(filepath.Join(home, "vaults"))
				for _, e := range entries {
					if strings.HasSuffix(e.Name(), ".vault") {
						t.Fatalf("a vault was created: %s", e.Name())
					}
				}
			}
			if src, why := Probe(o); tc.prompt == "" && (src != NoKeySource || !strings.Contains(why, "shorter than 8")) {
				t.Fatalf("probe %v %q", src, why)
			}
		})
	}
}

// TestWrongPassphraseAnnouncedBeforeRetry: each wrong typed passphrase is
// reported through WrongPassphrase with the tries left, before the next ask.
func TestWrongPassphraseAnnouncedBeforeRetry(t *testing.T) {
	kr := newFake()
	o := opts(t, t.TempDir(), envPass, kr)
	mustCreate(t, o).Close()
	o.Env = envOf(map[string]string{})
	var got []int
	asked := 0
	o.Prompt = func(bool) ([]byte, error) { asked++; return []byte("not-the-one"), nil }
	o.WrongPassphrase = func(left int) { got = append(got, left) }
	_, err := Open(o)
	wantErr(t, err, ErrWrongPassphrase)
	if asked != 3 || fmt.Sprint(got) != "[2 1]" {
		t.Fatalf("asked %d times, told %v", asked, got)
	}
}
