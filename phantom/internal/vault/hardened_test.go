package vault

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"
)

// typing returns a Prompt that types pw, as a person at the terminal would,
// and counts how often it was asked.
func typing(pw string, asked *int) func(bool) ([]byte, error) {
	return func(bool) ([]byte, error) {
		*asked++
		return []byte(pw), nil
	}
}

// noPrompt fails the test when the vault asks for a passphrase.
func noPrompt(t *testing.T) func(bool) ([]byte, error) {
	return func(bool) ([]byte, error) {
		t.Error("the vault prompted for a passphrase")
		return nil, ErrNoTTY
	}
}

// hardenedVault makes a passphrase vault holding A=1 and hardens it with
// testPass. The returned options have no passphrase in the environment and
// a prompt that types testPass.
func hardenedVault(t *testing.T, kr Keyring) (Options, *Vault) {
	t.Helper()
	o := opts(t, t.TempDir(), envPass, kr)
	v := mustCreate(t, o)
	mustUpdate(t, v, add("A", "1"))
	if err := v.Rekey(Hardened, []byte(testPass)); err != nil {
		t.Fatalf("harden: %v", err)
	}
	o.Env = envOf(envNone)
	var asked int
	o.Prompt = typing(testPass, &asked)
	return o, v
}

func TestHardenedOpensWithTypedPassphrase(t *testing.T) {
	kr := newFake()
	o, v := hardenedVault(t, kr)
	defer v.Close()
	if v.KeySource() != Hardened || Hardened.String() != "hardened" {
		t.Fatalf("source %v", v.KeySource())
	}
	if got := PeekKeySource(v.Path()); got != Hardened {
		t.Fatalf("PeekKeySource = %v", got)
	}
	raw := readFile(t, v.Path())
	if raw[10] != 3 || len(raw) < passphraseHeaderLen+minTail {
		t.Fatalf("key source byte %d", raw[10])
	}
	asked := 0
	o.Prompt = typing(testPass, &asked)
	w := mustOpen(t, o)
	defer w.Close()
	if asked != 1 || w.KeySource() != Hardened || value(t, w, "A") != "1" {
		t.Fatalf("asked %d, source %v", asked, w.KeySource())
	}
	mustUpdate(t, w, add("B", "2")) // writes keep the hardened header
	if PeekKeySource(w.Path()) != Hardened {
		t.Fatal("a write changed the key source")
	}
	if kr.callCount() != 0 {
		t.Fatalf("a hardened vault touched the keychain %d times", kr.callCount())
	}

	// Wrong typed passphrase: three tries, then ErrWrongPassphrase.
	asked = 0
	o.Prompt = typing("not the passphrase", &asked)
	_, err := Open(o)
	wantErr(t, err, ErrWrongPassphrase)
	if asked != 3 {
		t.Fatalf("asked %d times", asked)
	}
}

// TestHardenedRefusesEnvPassphrase: the right passphrase in either variable
// is refused before it is read or tried, with why and what to do, and the
// prompt is not used as a fallback (the variable would then mislead).
func TestHardenedRefusesEnvPassphrase(t *testing.T) {
	o, v := hardenedVault(t, newFake())
	defer v.Close()
	before := readFile(t, v.Path())
	passFile := filepath.Join(t.TempDir(), "pass")
	writeFile(t, passFile, []byte(testPass+"\n"))
	for _, env := range []map[string]string{
		{EnvPassphrase: testPass},
		{EnvPassphraseFile: passFile},
		{EnvPassphraseFile: filepath.Join(t.TempDir(), "missing")}, // refused before it is read
	} {
		o := o
		o.Env = envOf(env)
		o.Prompt = noPrompt(t)
		_, err := Open(o)
		wantErr(t, err, ErrHardened)
		wantErr(t, err, ErrPassphraseSource)
		msg := err.Error()
		for name := range env {
			if !strings.Contains(msg, name+" is set") {
				t.Errorf("message does not name %s: %s", name, msg)
			}
		}
		for _, want := range []string{"hardened", "typed at that moment", "phantom unlock", "no file or variable", "unset PHANTOM_VAULT_PASSPHRASE and PHANTOM_VAULT_PASSPHRASE_FILE", "CI uses a non-hardened copy", v.Path()} {
			if !strings.Contains(msg, want) {
				t.Errorf("message lacks %q: %s", want, msg)
			}
		}
		if strings.Contains(msg, testPass) {
			t.Fatal("the message holds the passphrase")
		}
		_, _, err = OpenOrCreate(o)
		wantErr(t, err, ErrHardened)
		if src, why := Probe(o); src != Hardened || !strings.Contains(why, "refused") {
			t.Errorf("Probe = %v %q", src, why)
		}
	}
	// No variable and no terminal: the hardened message, not the advice to
	// set PHANTOM_VAULT_PASSPHRASE.
	o.Prompt = nil
	_, err := Open(o)
	wantErr(t, err, ErrHardened)
	wantErr(t, err, ErrNoKeySource)
	if !strings.Contains(err.Error(), "no terminal") || strings.Contains(err.Error(), "set PHANTOM_VAULT_PASSPHRASE_FILE or") {
		t.Fatalf("message: %v", err)
	}
	if src, why := Probe(o); src != Hardened || !strings.Contains(why, "no terminal") {
		t.Errorf("Probe = %v %q", src, why)
	}
	if !bytes.Equal(before, readFile(t, v.Path())) {
		t.Fatal("a refused open changed the file")
	}
	// A plain passphrase vault still takes the variable (the refusal is
	// hardened-only).
	p := opts(t, t.TempDir(), envPass, nil)
	mustCreate(t, p).Close()
	mustOpen(t, p).Close()
}

func TestHardenedRequireKeychain(t *testing.T) {
	o, v := hardenedVault(t, newFake())
	defer v.Close()
	o.Env = envOf(map[string]string{EnvRequireKeychain: "1", EnvDBusSession: "x"})
	_, err := Open(o)
	wantErr(t, err, ErrKeychainRequired)
	if !strings.Contains(err.Error(), "hardened") {
		t.Fatalf("message: %v", err)
	}
	if src, why := Probe(o); src != Hardened || !strings.Contains(why, EnvRequireKeychain) {
		t.Fatalf("Probe = %v %q", src, why)
	}
	_, err = OpenWithKey(o, v.DataKey())
	wantErr(t, err, ErrKeychainRequired)

	// Hardening is refused under the requirement: the result would not open.
	p := opts(t, t.TempDir(), envPass, nil)
	pv := mustCreate(t, p)
	defer pv.Close()
	before := readFile(t, pv.Path())
	pv.c.Env = envOf(map[string]string{EnvRequireKeychain: "1", EnvPassphrase: testPass})
	wantErr(t, pv.Rekey(Hardened, []byte(testPass)), ErrKeychainRequired)
	if !bytes.Equal(before, readFile(t, pv.Path())) {
		t.Fatal("a refused harden changed the file")
	}
}

// TestSourceByteSwapFails: editing the key-source byte between passphrase
// and hardened (with the checksum recomputed, as a forger would) never
// yields a vault that opens, whatever the key comes from.
func TestSourceByteSwapFails(t *testing.T) {
	kr := newFake()
	ho, hv := hardenedVault(t, kr)
	defer hv.Close()
	po := opts(t, t.TempDir(), envPass, kr)
	pv := mustCreate(t, po)
	mustUpdate(t, pv, add("A", "1"))
	defer pv.Close()

	for _, tc := range []struct {
		name string
		o    Options
		v    *Vault
		to   KeySource
	}{
		{"hardened to passphrase", ho, hv, Passphrase},
		{"passphrase to hardened", po, pv, Hardened},
	} {
		t.Run(tc.name, func(t *testing.T) {
			good := readFile(t, tc.v.Path())
			defer writeFile(t, tc.v.Path(), good)
			swapped := bytes.Clone(good)
			swapped[10] = byte(tc.to)
			for _, fix := range []bool{false, true} {
				bad := swapped
				if fix {
					bad = fixSum(swapped)
				}
				if fix { // the wrap itself binds the byte, not only the payload
					h, _, err := parseHeader(bad)
					if err != nil {
						t.Fatal(err)
					}
					if k, err := unwrapPassphrase(h, []byte(testPass)); !errors.Is(err, ErrWrongPassphrase) {
						t.Fatalf("the data key unwraps after the swap (%x, %v)", k, err)
					}
				}
				writeFile(t, tc.v.Path(), bad)
				if PeekKeySource(tc.v.Path()) != tc.to {
					t.Fatal("the swap did not take")
				}
				for _, env := range []map[string]string{envNone, envPass} {
					o := tc.o
					o.Env = envOf(env)
					asked := 0
					o.Prompt = typing(testPass, &asked)
					v, err := Open(o)
					if err == nil {
						v.Close()
						t.Fatalf("fix=%v env=%v: the swapped file opened", fix, env)
					}
					if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrWrongPassphrase) && !errors.Is(err, ErrHardened) {
						t.Fatalf("fix=%v env=%v: error %v", fix, env, err)
					}
					if !fix && !errors.Is(err, ErrCorrupt) {
						t.Fatalf("checksum not checked first: %v", err)
					}
				}
				o := tc.o
				o.Env = envOf(envNone)
				if v, err := OpenWithKey(o, tc.v.DataKey()); err == nil {
					v.Close()
					t.Fatalf("fix=%v: the swapped file opened with the data key", fix)
				} else if !errors.Is(err, ErrWrongKey) && !errors.Is(err, ErrCorrupt) {
					t.Fatalf("OpenWithKey: %v", err)
				}
				if err := tc.v.Update(add("X", "y"), nil); err == nil {
					t.Fatal("Update wrote over the swapped file")
				}
			}
		})
	}
}

// TestHardenedFileLayout decodes a hardened file by hand: the passphrase
// layout, key source 3, and a wrap whose associated data holds that byte.
func TestHardenedFileLayout(t *testing.T) {
	_, v := hardenedVault(t, nil)
	defer v.Close()
	f := readFile(t, v.Path())
	if f[10] != 3 {
		t.Fatalf("key source %d", f[10])
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
	if !bytes.Equal(dk, v.DataKey()) {
		t.Fatal("unwrapped key is not the data key")
	}
	aad := bytes.Clone(f[:52])
	aad[10] = 2
	if _, err := a.Open(nil, f[52:64], f[64:112], aad); err == nil {
		t.Fatal("the wrap opens with key source 2 in its associated data")
	}
}

// testKeySources makes one vault of each key source, each holding K=<source>.
func testKeySources(t *testing.T, kr *fakeKeyring) map[KeySource]Options {
	t.Helper()
	out := map[KeySource]Options{}
	k := opts(t, t.TempDir(), envKeychain, kr)
	kv := mustCreate(t, k)
	mustUpdate(t, kv, add("K", "keychain"))
	kv.Close()
	out[Keychain] = k
	p := opts(t, t.TempDir(), envPass, kr)
	pv := mustCreate(t, p)
	mustUpdate(t, pv, add("K", "passphrase"))
	pv.Close()
	out[Passphrase] = p
	h, hv := hardenedVault(t, kr)
	mustUpdate(t, hv, add("K", "hardened"))
	hv.Close()
	out[Hardened] = h
	return out
}

func TestOpenWithKey(t *testing.T) {
	kr := newFake()
	vaults := testKeySources(t, kr)
	keys := map[KeySource][]byte{}
	for src, o := range vaults {
		v := mustOpen(t, o)
		keys[src] = v.DataKey()
		v.Close()
	}
	for src, o := range vaults {
		t.Run(src.String(), func(t *testing.T) {
			// No prompt, no keychain, and a wrong passphrase in the
			// environment that must be neither used nor refused.
			ko := o
			ko.Prompt = noPrompt(t)
			ko.Env = envOf(map[string]string{EnvPassphrase: "wrong", EnvDBusSession: "x"})
			calls := kr.callCount()
			key := bytes.Clone(keys[src])
			v, err := OpenWithKey(ko, key)
			if err != nil {
				t.Fatal(err)
			}
			wipe(key) // the handle keeps its own copy
			if kr.callCount() != calls {
				t.Fatal("OpenWithKey called the keychain")
			}
			if v.KeySource() != src || value(t, v, "K") != src.String() {
				t.Fatalf("source %v", v.KeySource())
			}
			mustUpdate(t, v, add("VIA_KEY", "x"))
			if !bytes.Equal(v.DataKey(), keys[src]) {
				t.Fatal("DataKey differs")
			}
			// A re-key, or even a harden, is a human operation.
			before := readFile(t, v.Path())
			for _, to := range []KeySource{Keychain, Passphrase, Hardened} {
				err := v.Rekey(to, []byte("a new passphrase"))
				if err == nil || !strings.Contains(err.Error(), "cannot re-key") {
					t.Fatalf("Rekey(%v) on an OpenWithKey handle: %v", to, err)
				}
			}
			if !bytes.Equal(before, readFile(t, v.Path())) {
				t.Fatal("a refused rekey changed the file")
			}
			v.Close()
			w := mustOpen(t, o)
			if value(t, w, "VIA_KEY") != "x" {
				t.Fatal("the write through the key did not land")
			}
			w.Close()
			calls = kr.callCount()

			// Wrong keys: random, another vault's, the wrong length.
			for name, bad := range map[string][]byte{
				"random":        newDataKey(),
				"other vault's": keys[(src%3)+1],
				"short":         keys[src][:16],
				"empty":         nil,
			} {
				_, err := OpenWithKey(ko, bad)
				wantErr(t, err, ErrWrongKey)
				if !strings.Contains(err.Error(), "phantom unlock") {
					t.Errorf("%s key: message %v", name, err)
				}
			}
			if kr.callCount() != calls {
				t.Fatal("OpenWithKey called the keychain")
			}
		})
	}
	// The vault was re-keyed since the key was taken.
	o := vaults[Passphrase]
	v := mustOpen(t, o)
	if err := v.Rekey(Passphrase, []byte(testPass)); err != nil {
		t.Fatal(err)
	}
	v.Close()
	_, err := OpenWithKey(o, keys[Passphrase])
	wantErr(t, err, ErrWrongKey)
	// Not there, another project's file: the usual errors.
	_, err = OpenWithKey(opts(t, t.TempDir(), envNone, kr), keys[Passphrase])
	wantErr(t, err, ErrNotFound)
	other := opts(t, o.Home, envNone, kr)
	os.MkdirAll(vaultDir(other), 0o700)
	writeFile(t, filepath.Join(vaultDir(other), other.ProjectID+".vault"), readFile(t, filepath.Join(vaultDir(o), o.ProjectID+".vault")))
	_, err = OpenWithKey(other, keys[Passphrase])
	wantErr(t, err, ErrWrongProject)
}

// TestOpenWithKeyRunsNoKDF: a header asking for the largest Argon2 the
// parser allows (4 GiB, 100 passes) opens at once with the data key.
func TestOpenWithKeyRunsNoKDF(t *testing.T) {
	o := opts(t, t.TempDir(), envNone, nil)
	c, err := newConfig(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.mkdir(); err != nil {
		t.Fatal(err)
	}
	key := newDataKey()
	kek := newDataKey() // not derived: nothing here runs Argon2 either
	huge := KDFParams{Time: maxKDFTime, MemoryKiB: maxKDFMemoryKiB, Threads: 1}
	for _, src := range []KeySource{Passphrase, Hardened} {
		h, err := newPassphraseHeader(src, c.project, huge, make([]byte, saltLen), kek, key)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.commit(h, key, &Payload{Secrets: map[string]*Secret{}}, nil); err != nil {
			t.Fatal(err)
		}
		o.Prompt = noPrompt(t)
		v, err := OpenWithKey(o, key)
		if err != nil {
			t.Fatal(err)
		}
		if v.KeySource() != src || v.KDF() != huge {
			t.Fatalf("%v %v", v.KeySource(), v.KDF())
		}
		mustUpdate(t, v, add("A", "1"))
		v.Close()
	}
}

// TestOpenWithKeyDamagedKeychainPayload: with the key check matching, a
// failed payload is damage, not a wrong key.
func TestOpenWithKeyDamagedKeychainPayload(t *testing.T) {
	kr := newFake()
	o, v, good := smallVault(t, envKeychain, kr)
	defer v.Close()
	bad := bytes.Clone(good)
	bad[len(bad)-1] ^= 1
	writeFile(t, v.Path(), bad)
	_, err := OpenWithKey(o, v.DataKey())
	wantErr(t, err, ErrCorrupt)
}

func TestDataKeyAndProof(t *testing.T) {
	kr := newFake()
	o := opts(t, t.TempDir(), envKeychain, kr)
	v := mustCreate(t, o)
	defer v.Close()
	key := v.DataKey()
	item, _ := kr.get(KeychainService, KeychainAccount(o.ProjectID))
	if want, _ := decodeItem(item); !bytes.Equal(key, want) {
		t.Fatal("DataKey is not the keychain's key")
	}
	key[0] ^= 0xff // a copy: changing it changes nothing
	mustUpdate(t, v, add("A", "1"))
	mustOpen(t, o).Close()
	key[0] ^= 0xff

	nonce := make([]byte, 32)
	rand.Read(nonce)
	m := hmac.New(sha256.New, key)
	m.Write([]byte("phantom agent proof v1"))
	m.Write(nonce)
	want := m.Sum(nil)
	if got := v.Proof(nonce); !bytes.Equal(got, want) || !bytes.Equal(Proof(key, nonce), want) {
		t.Fatalf("Proof = %x, want %x", got, want)
	}
	if !CheckProof(key, nonce, want) || !v.CheckProof(nonce, want) {
		t.Fatal("a right proof is refused")
	}
	other := bytes.Clone(nonce)
	other[0] ^= 1
	bent := bytes.Clone(want)
	bent[31] ^= 1
	for name, ok := range map[string]bool{
		"wrong mac":       CheckProof(key, nonce, bent),
		"other nonce":     CheckProof(key, other, want),
		"other key":       CheckProof(newDataKey(), nonce, want),
		"truncated mac":   CheckProof(key, nonce, want[:16]),
		"empty mac":       CheckProof(key, nonce, nil),
		"key check label": CheckProof(key, []byte("phantom vault key check v1"), keyCheck(key)),
	} {
		if ok {
			t.Errorf("%s accepted", name)
		}
	}
	// A short nonce could be answered once and replayed: refused even with
	// the right HMAC.
	short := nonce[:MinProofNonce-1]
	m = hmac.New(sha256.New, key)
	m.Write([]byte("phantom agent proof v1"))
	m.Write(short)
	if Proof(key, short) != nil || CheckProof(key, short, m.Sum(nil)) || CheckProof(key, nil, nil) {
		t.Fatal("a short nonce is accepted")
	}
	if Proof(key[:16], nonce) != nil {
		t.Fatal("a short key gives a proof")
	}
	v.Close()
	if v.DataKey() != nil || v.Proof(nonce) != nil || v.CheckProof(nonce, want) {
		t.Fatal("a closed vault still uses its key")
	}
}

// orderedKeyring runs onDelete before deleting, so a test can see what is
// on disk at that moment.
type orderedKeyring struct {
	*fakeKeyring
	onDelete func()
}

func (k *orderedKeyring) Delete(service, user string) error {
	if k.onDelete != nil {
		k.onDelete()
	}
	return k.fakeKeyring.Delete(service, user)
}

// TestHardenFromKeychain: the keychain item is deleted only once the new,
// hardened file is in place and opens with the passphrase; afterwards there
// is no item and the vault opens with the typed passphrase only.
func TestHardenFromKeychain(t *testing.T) {
	kr := &orderedKeyring{fakeKeyring: newFake()}
	o := opts(t, t.TempDir(), envKeychain, kr)
	v := mustCreate(t, o)
	defer v.Close()
	mustUpdate(t, v, add("A", "1"))
	oldKey := v.DataKey()
	deletes := 0
	kr.onDelete = func() {
		deletes++
		if src := PeekKeySource(v.Path()); src != Hardened {
			t.Errorf("the keychain item was deleted while the file says %v", src)
		}
		ho := o
		ho.Env = envOf(envNone)
		asked := 0
		ho.Prompt = typing("hardened passphrase", &asked)
		w, err := Open(ho)
		if err != nil {
			t.Errorf("the keychain item was deleted before the new file opens: %v", err)
			return
		}
		if value(t, w, "A") != "1" {
			t.Error("values lost")
		}
		w.Close()
	}
	if err := v.Rekey(Hardened, []byte("hardened passphrase")); err != nil {
		t.Fatal(err)
	}
	if deletes != 1 {
		t.Fatalf("%d keychain deletes, want 1", deletes)
	}
	if n := kr.names(); len(n) != 0 {
		t.Fatalf("keychain items left: %v", n)
	}
	if v.KeySource() != Hardened {
		t.Fatalf("handle source %v", v.KeySource())
	}
	mustUpdate(t, v, add("B", "2")) // the handle keeps working
	if _, err := OpenWithKey(o, oldKey); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("the old data key still opens it: %v", err)
	}
	_, err := Open(o) // keychain env, no passphrase, no prompt
	wantErr(t, err, ErrHardened)

	// The delete fails: reported, and the vault is hardened all the same.
	kr2 := newFake()
	o2 := opts(t, t.TempDir(), envKeychain, kr2)
	v2 := mustCreate(t, o2)
	defer v2.Close()
	kr2.delErr = errors.New("denied")
	err = v2.Rekey(Hardened, []byte("hardened passphrase"))
	if err == nil || !strings.Contains(err.Error(), "could not be removed") || !strings.Contains(err.Error(), "hardened") {
		t.Fatalf("err = %v", err)
	}
	if v2.KeySource() != Hardened || PeekKeySource(v2.Path()) != Hardened {
		t.Fatal("the harden did not happen")
	}
}

// TestHardenFromKeychainFailureKeepsItem: when the new file cannot be
// written the keychain item and the old file stay.
func TestHardenFromKeychainFailureKeepsItem(t *testing.T) {
	kr := newFake()
	o := opts(t, t.TempDir(), envKeychain, kr)
	v := mustCreate(t, o)
	defer v.Close()
	mustUpdate(t, v, add("A", "1"))
	before := readFile(t, v.Path())
	// A lock held elsewhere: Rekey fails before writing.
	o.LockTimeout = 50 * 1e6
	v.c.LockTimeout = o.LockTimeout
	l, err := v.c.lock()
	if err != nil {
		t.Fatal(err)
	}
	err = v.Rekey(Hardened, []byte("hardened passphrase"))
	l.Release()
	wantErr(t, err, ErrLocked)
	if len(kr.names()) != 1 || !bytes.Equal(before, readFile(t, v.Path())) || v.KeySource() != Keychain {
		t.Fatal("a failed harden changed something")
	}
	// A file that changed under the handle (another process re-keyed): no
	// write and no delete either.
	w := mustOpen(t, o)
	if err := w.Rekey(Keychain, nil); err == nil {
		t.Fatal("keychain to keychain accepted")
	}
	w.Close()
	writeFile(t, v.Path(), fixSum(append(bytes.Clone(before[:len(before)-1]), before[len(before)-1]^1)))
	if err := v.Rekey(Hardened, []byte("hardened passphrase")); err == nil {
		t.Fatal("harden over a damaged file succeeded")
	}
	if len(kr.names()) != 1 {
		t.Fatal("the keychain item was deleted though nothing was written")
	}
}

// TestHardenFromPassphrase: a new data key wrapped with the given
// passphrase; no keychain call, and a keychain item for the project (another
// home's vault of the same project may use it) is left alone.
func TestHardenFromPassphrase(t *testing.T) {
	kr := newFake()
	o := opts(t, t.TempDir(), envPass, kr)
	v := mustCreate(t, o)
	defer v.Close()
	mustUpdate(t, v, add("A", "1"))
	kr.set(KeychainService, KeychainAccount(o.ProjectID), "not ours to delete")
	oldKey := v.DataKey()
	calls := kr.callCount()
	if err := v.Rekey(Hardened, []byte(testPass)); err != nil {
		t.Fatal(err)
	}
	if kr.callCount() != calls || len(kr.names()) != 1 {
		t.Fatal("harden from a passphrase touched the keychain")
	}
	if _, err := OpenWithKey(o, oldKey); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("the old data key still opens it: %v", err)
	}
	_, err := Open(o) // the same passphrase, from the environment
	wantErr(t, err, ErrHardened)
	o.Env = envOf(envNone)
	asked := 0
	o.Prompt = typing(testPass, &asked)
	w := mustOpen(t, o)
	defer w.Close()
	if value(t, w, "A") != "1" || w.KeySource() != Hardened {
		t.Fatal("hardened vault")
	}
	wantErr(t, w.Rekey(Hardened, nil), ErrEmptyPassphrase)
}

// TestSoften: hardened → passphrase with a new passphrase (the variable
// works again); hardened → hardened changes the passphrase; hardened →
// keychain from a handle unlocked by the typed passphrase.
func TestSoften(t *testing.T) {
	kr := newFake()
	o, v := hardenedVault(t, kr)
	defer v.Close()

	if err := v.Rekey(Hardened, []byte("second passphrase")); err != nil {
		t.Fatal(err)
	}
	_, err := Open(o) // types testPass
	wantErr(t, err, ErrWrongPassphrase)
	asked := 0
	o.Prompt = typing("second passphrase", &asked)
	mustOpen(t, o).Close()

	w := mustOpen(t, o) // a handle unlocked by the typed passphrase
	if err := w.Rekey(Passphrase, []byte("soft passphrase")); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if PeekKeySource(v.Path()) != Passphrase {
		t.Fatal("not softened")
	}
	po := o
	po.Env = envOf(map[string]string{EnvPassphrase: "soft passphrase"})
	po.Prompt = noPrompt(t)
	x := mustOpen(t, po)
	if value(t, x, "A") != "1" || x.KeySource() != Passphrase {
		t.Fatal("softened vault")
	}
	// Harden again, then straight to the keychain.
	if err := x.Rekey(Hardened, []byte(testPass)); err != nil {
		t.Fatal(err)
	}
	x.Close()
	o.Prompt = typing(testPass, &asked)
	o.Env = envOf(envKeychain)
	y := mustOpen(t, o)
	if err := y.Rekey(Keychain, nil); err != nil {
		t.Fatal(err)
	}
	y.Close()
	ko := o
	ko.Prompt = noPrompt(t)
	z := mustOpen(t, ko)
	defer z.Close()
	if z.KeySource() != Keychain || value(t, z, "A") != "1" || len(kr.names()) != 1 {
		t.Fatalf("keychain vault: %v %v", z.KeySource(), kr.names())
	}
}

// TestEveryFlippedByteIsRejectedHardened: as TestEveryFlippedByteIsRejected,
// for a hardened vault opened with the typed passphrase.
func TestEveryFlippedByteIsRejectedHardened(t *testing.T) {
	o, v := hardenedVault(t, nil)
	defer v.Close()
	good := readFile(t, v.Path())
	for off := range good {
		for _, mask := range []byte{0x01, 0xff} {
			bad := bytes.Clone(good)
			bad[off] ^= mask
			if off == 8 || off == 9 {
				checkDamaged(t, o, v, bad, ErrNewerVersion, ErrCorrupt)
			} else {
				checkDamaged(t, o, v, bad, ErrCorrupt)
			}
		}
	}
	writeFile(t, v.Path(), good)
	mustUpdate(t, v, add("STILL", "works"))
}
