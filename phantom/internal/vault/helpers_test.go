package vault

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"phantomstack.dev/shared/token"
)

// cheapKDF keeps tests fast; one test uses DefaultKDF.
var cheapKDF = KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}

const testPass = "correct horse battery staple"

func newPID(t testing.TB) string {
	t.Helper()
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// envOf returns an Env function reading only from m (never the real environment).
func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

var (
	envPass     = map[string]string{EnvPassphrase: testPass}
	envKeychain = map[string]string{EnvDBusSession: "unix:path=/fake/bus"}
	envNone     = map[string]string{}
)

func opts(t testing.TB, home string, env map[string]string, kr Keyring) Options {
	t.Helper()
	return Options{
		Home:           home,
		ProjectID:      newPID(t),
		Env:            envOf(env),
		Keyring:        kr,
		KDF:            cheapKDF,
		LockTimeout:    5 * time.Second,
		KeyringTimeout: time.Second,
		Owner:          "vault-test",
	}
}

// fakeKeyring is an in-memory Keyring that counts calls and can fail or hang.
type fakeKeyring struct {
	mu     sync.Mutex
	items  map[string]string
	calls  int
	getErr error
	setErr error
	delErr error
	hang   chan struct{} // when non-nil, every call blocks until it is closed
}

func newFake() *fakeKeyring { return &fakeKeyring{items: map[string]string{}} }

func (f *fakeKeyring) enter() {
	f.mu.Lock()
	f.calls++
	h := f.hang
	f.mu.Unlock()
	if h != nil {
		<-h
	}
}

func (f *fakeKeyring) Get(service, user string) (string, error) {
	f.enter()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.getErr != nil {
		return "", f.getErr
	}
	v, ok := f.items[service+"\x00"+user]
	if !ok {
		return "", ErrKeyringItemNotFound
	}
	return v, nil
}

func (f *fakeKeyring) Set(service, user, pass string) error {
	f.enter()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.setErr != nil {
		return f.setErr
	}
	f.items[service+"\x00"+user] = pass
	return nil
}

func (f *fakeKeyring) Delete(service, user string) error {
	f.enter()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.delErr != nil {
		return f.delErr
	}
	k := service + "\x00" + user
	if _, ok := f.items[k]; !ok {
		return ErrKeyringItemNotFound
	}
	delete(f.items, k)
	return nil
}

func (f *fakeKeyring) names() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for k := range f.items {
		out = append(out, strings.ReplaceAll(k, "\x00", "/"))
	}
	sort.Strings(out)
	return out
}

func (f *fakeKeyring) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func (f *fakeKeyring) set(service, user, v string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.items[service+"\x00"+user] = v
}

func (f *fakeKeyring) get(service, user string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.items[service+"\x00"+user]
	return v, ok
}

// add returns an Update mutation that stores name=value with a fresh token.
func add(name, value string) func(*Payload) error {
	return func(p *Payload) error {
		now := time.Now().UTC()
		s := p.Secrets[name]
		if s == nil {
			s = &Secret{Token: token.New(), CreatedAt: now}
			p.Secrets[name] = s
		}
		s.Value = []byte(value)
		s.UpdatedAt = now
		return nil
	}
}

func mustCreate(t testing.TB, o Options) *Vault {
	t.Helper()
	v, err := Create(o)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return v
}

func mustOpen(t testing.TB, o Options) *Vault {
	t.Helper()
	v, err := Open(o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return v
}

func mustUpdate(t testing.TB, v *Vault, m func(*Payload) error) {
	t.Helper()
	if err := v.Update(m, nil); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func value(t testing.TB, v *Vault, name string) string {
	t.Helper()
	s := v.Payload().Secrets[name]
	if s == nil {
		t.Fatalf("secret %s missing; have %v", name, secretNames(v.Payload()))
	}
	return string(s.Value)
}

func secretNames(p *Payload) []string {
	var out []string
	for k := range p.Secrets {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func wantErr(t testing.TB, err, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("error = %v, want %v", err, kind)
	}
}

// tempFiles lists leftover temporary files in dir.
func tempFiles(t testing.TB, dir string) []string {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	var out []string
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			out = append(out, e.Name())
		}
	}
	return out
}

func vaultDir(o Options) string { return filepath.Join(o.Home, "vaults") }

// fixSum recomputes the header checksum of a (mutated) vault file, so a test
// or the fuzzer can reach the checks behind it, as a deliberate forger could.
func fixSum(data []byte) []byte {
	if len(data) <= 10 {
		return data
	}
	hl := headerLen(KeySource(data[10]))
	if hl == 0 || len(data) < hl {
		return data
	}
	d := bytes.Clone(data)
	copy(d[hl-sumLen:hl], headerSum(d[:hl-sumLen]))
	return d
}
