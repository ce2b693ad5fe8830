package vault

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"phantomstack.dev/shared/fsx"
)

const projectIDLen = 16

// Defaults for Options.
const (
	DefaultLockTimeout    = 10 * time.Second
	DefaultKeyringTimeout = 3 * time.Second
)

// Options configures Open, Create, OpenOrCreate and Probe.
type Options struct {
	Home      string // PHANTOM_HOME; the vault lives in Home/vaults
	ProjectID string // 32 lowercase hex characters

	// Env reads the environment (PHANTOM_VAULT_PASSPHRASE(_FILE),
	// PHANTOM_REQUIRE_KEYCHAIN, DBUS_SESSION_BUS_ADDRESS). nil: os.Getenv.
	Env func(string) string
	// Keyring is the OS keychain. nil: SystemKeyring().
	Keyring Keyring
	// Prompt asks for a passphrase on the terminal; with confirm it must ask
	// twice and return only a matching pair. It returns ErrNoTTY (or nil
	// Prompt) when there is no terminal. The vault wipes the returned slice.
	Prompt func(confirm bool) ([]byte, error)
	// WrongPassphrase, if set, is called when a typed passphrase did not
	// unlock the vault and Prompt is about to ask again, with the number of
	// tries left, so the prompt can say the last one was wrong.
	WrongPassphrase func(triesLeft int)

	LockTimeout    time.Duration // bounded wait for the vault lock; 0: 10s
	KeyringTimeout time.Duration // bound on every keychain call; 0: 3s
	KDF            KDFParams     // Argon2id parameters for new passphrase wraps; zero: DefaultKDF
	Owner          string        // describes this process to lock waiters; "": the program name

	// Mark returns the audit mark to store with a write, given the one the
	// vault holds (nil: none). Every write (Create, Update, Rekey) calls it
	// under the vault lock after beforeCommit — which appends the write's
	// audit event — and before encrypting, so the payload records the
	// position of its own event. nil Mark: the stored mark is kept.
	Mark func(old *AuditMark) *AuditMark
}

// config is validated, defaulted Options plus per-call state.
type config struct {
	Options
	project  [projectIDLen]byte
	dir      string
	path     string
	lockPath string
	krDead   error // sticky: the keychain timed out once
}

func validProjectID(id string) bool {
	if len(id) != 2*projectIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func newConfig(o Options) (*config, error) {
	if !validProjectID(o.ProjectID) {
		return nil, errf(ErrInvalidProjectID, fmt.Sprintf("got %q", o.ProjectID))
	}
	if o.Home == "" {
		return nil, errf(ErrHomeNotWritable, "no home directory given")
	}
	if o.Env == nil {
		o.Env = os.Getenv
	}
	if o.Keyring == nil {
		o.Keyring = SystemKeyring()
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = DefaultLockTimeout
	}
	if o.KeyringTimeout <= 0 {
		o.KeyringTimeout = DefaultKeyringTimeout
	}
	if o.KDF == (KDFParams{}) {
		o.KDF = DefaultKDF
	}
	if err := o.KDF.validate(); err != nil {
		return nil, fmt.Errorf("vault: invalid KDF parameters: %w", err)
	}
	if o.Owner == "" {
		o.Owner = filepath.Base(os.Args[0])
	}
	c := &config{Options: o}
	hex.Decode(c.project[:], []byte(o.ProjectID))
	c.dir = filepath.Join(o.Home, "vaults")
	c.path = filepath.Join(c.dir, o.ProjectID+".vault")
	c.lockPath = filepath.Join(c.dir, o.ProjectID+".lock")
	return c, nil
}

func (c *config) env(k string) string { return c.Env(k) }

// Path returns where the vault file for opts is (or would be).
func Path(opts Options) (string, error) {
	c, err := newConfig(opts)
	if err != nil {
		return "", err
	}
	return c.path, nil
}

// readFile reads the vault file with a size bound. A missing file (or a
// missing/non-directory path component) is ErrNotFound.
func (c *config) readFile() ([]byte, error) {
	f, err := os.Open(c.path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil, &Error{Kind: ErrNotFound, Path: c.path}
		}
		return nil, fmt.Errorf("vault: read %s: %w", c.path, err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > maxFileSize {
		return nil, &Error{Kind: ErrCorrupt, Path: c.path, Detail: fmt.Sprintf("the file is %d bytes, more than the %d MiB limit", st.Size(), maxFileSize>>20)}
	}
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("vault: read %s: %w", c.path, err)
	}
	return b, nil
}

func (c *config) exists() (bool, error) {
	_, err := os.Lstat(c.path)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return false, fmt.Errorf("vault: %w", err)
}

func (c *config) mkdir() error {
	if err := fsx.MkdirPrivate(c.dir); err != nil {
		return &Error{Kind: ErrHomeNotWritable, Path: c.path, Detail: err.Error(), Err: err}
	}
	return nil
}

func (c *config) lock() (*fsx.Lock, error) {
	l, err := fsx.AcquireLock(c.lockPath, c.LockTimeout, c.Owner)
	if err != nil {
		var le *fsx.LockError
		if errors.As(err, &le) {
			return nil, &Error{Kind: ErrLocked, Path: c.path, Detail: le.Error(), Err: le}
		}
		return nil, &Error{Kind: ErrHomeNotWritable, Path: c.path, Detail: err.Error(), Err: err}
	}
	return l, nil
}

// tempPrefix is the name prefix of fsx.CreateTemp files for this vault.
func (c *config) tempPrefix() string { return "." + c.ProjectID + ".vault.tmp-" }

// cleanTemps removes temporary files left by crashed writers. Only call it
// under the lock: every writer holds the lock while its temp file exists.
func (c *config) cleanTemps() {
	ents, err := os.ReadDir(c.dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if n := e.Name(); strings.HasPrefix(n, c.tempPrefix()) && fsx.IsTemp(n) {
			os.Remove(filepath.Join(c.dir, n))
		}
	}
}

// commit runs beforeCommit, stores the audit mark (Options.Mark), encrypts p
// and atomically replaces the vault file: temp file, fsync, rename, fsync
// dir. renamed reports whether the new file is in place (it can be, with a
// non-nil error, when the directory sync fails). Must be called under the
// lock.
//
// beforeCommit (the audit append) runs before the file is written so the
// payload can carry the position of its own event. A crash or a write error
// after it and before the rename leaves an audit event for a write that did
// not happen, never a write without its event (docs/phantom.md, the audit
// log).
func (c *config) commit(h *header, key []byte, p *Payload, beforeCommit func() error) (renamed bool, err error) {
	if err := p.validate(); err != nil {
		return false, fmt.Errorf("vault: refusing to write an invalid payload: %w", err)
	}
	if beforeCommit != nil {
		if err := beforeCommit(); err != nil {
			return false, err
		}
	}
	if c.Mark != nil {
		p.Audit = c.Mark(p.Audit)
	}
	plain, err := encodePayload(p)
	if err != nil {
		return false, err
	}
	file, err := sealFile(h, key, plain)
	wipe(plain)
	if err != nil {
		return false, err
	}
	if len(file) > maxFileSize {
		return false, fmt.Errorf("vault: the vault would be %d bytes, more than the %d MiB limit; nothing was changed", len(file), maxFileSize>>20)
	}
	c.cleanTemps()
	tmp, err := fsx.CreateTemp(c.dir, c.ProjectID+".vault", 0o600)
	if err != nil {
		return false, &Error{Kind: ErrHomeNotWritable, Path: c.path, Detail: err.Error(), Err: err}
	}
	name := tmp.Name()
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(name)
		}
	}()
	if _, err := tmp.Write(file); err != nil {
		return false, fmt.Errorf("vault: write %s: %w; the old vault is unchanged", name, err)
	}
	if err := tmp.Sync(); err != nil {
		return false, fmt.Errorf("vault: sync %s: %w; the old vault is unchanged", name, err)
	}
	if err := tmp.Close(); err != nil {
		return false, fmt.Errorf("vault: close %s: %w; the old vault is unchanged", name, err)
	}
	if err := os.Rename(name, c.path); err != nil {
		return false, fmt.Errorf("vault: replace %s: %w; the old vault is unchanged", c.path, err)
	}
	done = true
	if err := fsx.SyncDir(c.dir); err != nil {
		return true, fmt.Errorf("vault: the vault was written, but %w; it may not survive a power loss", err)
	}
	return true, nil
}

func newDataKey() []byte {
	k := make([]byte, keyLen)
	rand.Read(k)
	return k
}

// Vault is an opened vault: its data key (held in memory until Close) and a
// snapshot of its payload. Methods are safe for concurrent use; writes from
// other processes are coordinated through the lock file.
type Vault struct {
	mu      sync.Mutex
	c       *config
	hdr     *header
	key     []byte
	payload *Payload
	closed  bool
	// fromKey: opened by OpenWithKey, with a key the caller already held
	// rather than one this process unlocked; such a handle cannot Rekey.
	fromKey bool
}

// Open opens an existing vault. The header decides the key source: a
// keychain vault reads the keychain item; a passphrase vault uses
// PHANTOM_VAULT_PASSPHRASE (or PHANTOM_VAULT_PASSPHRASE_FILE) if set, else Prompt (up to three tries), else
// ErrNoKeySource. It costs at most one KDF per try and takes no lock: writers
// replace the file atomically, so a reader sees the old or the new vault.
func Open(opts Options) (*Vault, error) {
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	return c.open()
}

func (c *config) open() (*Vault, error) {
	data, err := c.readFile()
	if err != nil {
		return nil, err
	}
	h, p, key, err := decodeFile(data, c.project, c.unlockForOpen)
	if err != nil {
		return nil, withPath(err, c.path)
	}
	return &Vault{c: c, hdr: h, key: key, payload: p}, nil
}

// passphraseTries is how often Open asks for a typed passphrase.
const passphraseTries = 3

func (c *config) unlockForOpen(h *header) ([]byte, error) {
	if h.source == Keychain {
		return c.keychainKey()
	}
	if c.requireKeychain() {
		if h.source == Hardened {
			return nil, errf(ErrKeychainRequired, "this vault is hardened: protected by a passphrase typed on the terminal")
		}
		return nil, errf(ErrKeychainRequired, "this vault is protected by a passphrase")
	}
	if h.source == Hardened {
		return c.unlockHardened(h)
	}
	pw, from, err := PassphraseFromEnv(c.env)
	if err != nil {
		return nil, err
	}
	if pw != nil {
		defer wipe(pw)
		k, err := unwrapPassphrase(h, pw)
		if err != nil && errors.Is(err, ErrWrongPassphrase) {
			return nil, errf(ErrWrongPassphrase, "from "+from)
		}
		return k, err
	}
	return c.promptUnlock(h)
}

// unlockHardened opens a hardened vault's key with a typed passphrase only.
// A passphrase from the environment is refused before it is read, even when
// it is right: whatever can set a variable or write a file in the user's
// name (an AI agent, a script) could then open the vault, and the typed
// passphrase is the proof that a person is there (docs/decisions.md).
func (c *config) unlockHardened(h *header) ([]byte, error) {
	for _, name := range []string{EnvPassphrase, EnvPassphraseFile} {
		if c.env(name) != "" {
			return nil, errWrap(ErrHardened, name+" is set", ErrPassphraseSource)
		}
	}
	return c.promptUnlock(h)
}

// promptUnlock asks for the passphrase of a passphrase or hardened vault on
// the terminal, up to passphraseTries times.
func (c *config) promptUnlock(h *header) ([]byte, error) {
	var last error
	for try := 0; try < passphraseTries; try++ {
		if last != nil && c.WrongPassphrase != nil {
			c.WrongPassphrase(passphraseTries - try)
		}
		pw, noTTY, err := c.promptPassphrase(false)
		if err != nil {
			return nil, err
		}
		if noTTY {
			if last != nil {
				return nil, last
			}
			if h.source == Hardened {
				return nil, errWrap(ErrHardened, "there is no terminal to type the passphrase on", ErrNoKeySource)
			}
			return nil, errf(ErrNoKeySource, "this vault is passphrase-protected; neither "+EnvPassphrase+" nor "+EnvPassphraseFile+" is set and there is no terminal to ask for the passphrase")
		}
		k, err := unwrapPassphrase(h, pw)
		wipe(pw)
		if err == nil {
			return k, nil
		}
		if !errors.Is(err, ErrWrongPassphrase) {
			return nil, err
		}
		last = err
	}
	return nil, errf(ErrWrongPassphrase, fmt.Sprintf("%d typed passphrases did not unlock it", passphraseTries))
}

// Create creates a new, empty vault (ErrExists if one is there), choosing
// the key source by docs/architecture.md §3: PHANTOM_VAULT_PASSPHRASE, else the
// keychain if reachable, else a prompted passphrase, else ErrNoKeySource.
func Create(opts Options) (*Vault, error) {
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	return c.create()
}

func (c *config) create() (*Vault, error) {
	if err := c.mkdir(); err != nil {
		return nil, err
	}
	if ok, err := c.exists(); err != nil || ok {
		if err != nil {
			return nil, err
		}
		return nil, &Error{Kind: ErrExists, Path: c.path}
	}
	src, pw, err := c.chooseNewSource("")
	if err != nil {
		return nil, withPath(err, c.path)
	}
	for {
		var (
			h   *header
			key []byte
		)
		if src == Passphrase {
			// Derive before taking the lock, so waiters are not held up by the KDF.
			key = newDataKey()
			h, err = c.passphraseHeader(Passphrase, pw, key)
			wipe(pw)
			if err != nil {
				wipe(key)
				return nil, err
			}
		}
		l, err := c.lock()
		if err != nil {
			wipe(key)
			return nil, err
		}
		if ok, err := c.exists(); err != nil || ok {
			l.Release()
			wipe(key)
			if err != nil {
				return nil, err
			}
			return nil, &Error{Kind: ErrExists, Path: c.path}
		}
		var setItem bool
		if src == Keychain {
			key, setItem, err = c.keychainKeyForNew()
			if err != nil {
				// Reachable for a read but refusing a write (e.g. a locked
				// collection): fall back like an unreachable keychain.
				l.Release()
				reason := err.Error()
				var e *Error
				if errors.As(err, &e) && e.Detail != "" {
					reason = e.Detail
				}
				src, pw, err = c.chooseNewSource(reason)
				if err != nil {
					return nil, withPath(err, c.path)
				}
				continue
			}
			h = newKeychainHeader(c.project, key)
		}
		p := &Payload{Secrets: map[string]*Secret{}}
		renamed, err := c.commit(h, key, p, nil)
		if !renamed && setItem {
			c.krDelete() // best effort: do not leave a key for a vault that does not exist
		}
		l.Release()
		if !renamed {
			wipe(key)
			return nil, withPath(err, c.path)
		}
		v := &Vault{c: c, hdr: h, key: key, payload: p}
		return v, err
	}
}

// passphraseHeader derives a KEK from pw with fresh salt and wraps key in a
// header of source src (Passphrase or Hardened).
func (c *config) passphraseHeader(src KeySource, pw, key []byte) (*header, error) {
	salt := make([]byte, saltLen)
	rand.Read(salt)
	kek := deriveKEK(pw, salt, c.KDF)
	defer wipe(kek)
	return newPassphraseHeader(src, c.project, c.KDF, salt, kek, key)
}

// OpenOrCreate opens the vault, creating it when there is none. created
// reports which happened. A damaged vault is never replaced.
func OpenOrCreate(opts Options) (v *Vault, created bool, err error) {
	c, err := newConfig(opts)
	if err != nil {
		return nil, false, err
	}
	v, err = c.open()
	if !errors.Is(err, ErrNotFound) {
		return v, false, err
	}
	v, err = c.create()
	if errors.Is(err, ErrExists) { // another process won the race
		v, err = c.open()
		return v, false, err
	}
	return v, err == nil || v != nil, err
}

// Path is the vault file.
func (v *Vault) Path() string { return v.c.path }

// ProjectID is the vault's project id.
func (v *Vault) ProjectID() string { return v.c.ProjectID }

// KeySource says what holds the data key.
func (v *Vault) KeySource() KeySource {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.hdr.source
}

// KDF returns the Argon2id parameters of a passphrase vault (zero otherwise).
func (v *Vault) KDF() KDFParams {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.hdr.kdf
}

// Payload returns the snapshot decrypted at Open, or committed by the last
// Update or Rekey of this handle. It is shared, not copied: treat it as
// read-only (change the vault through Update). Other processes' writes show
// up after this handle's next Update.
func (v *Vault) Payload() *Payload {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.payload
}

// Update changes the vault under the exclusive lock (bounded wait, ErrLocked
// naming the holder): it re-reads and decrypts the current file (another
// process may have written since Open), applies mutate, encrypts with a fresh
// nonce under the same data key and header (no KDF): it calls beforeCommit
// (an error there leaves the old vault intact), stores Options.Mark's audit
// mark, writes and fsyncs a temp file, renames it over the vault and fsyncs
// the directory.
// If another process re-keyed the vault since Open, Update fails with
// ErrKeyChanged. After success Payload returns the new content.
func (v *Vault) Update(mutate func(p *Payload) error, beforeCommit func() error) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return ErrClosed
	}
	l, err := v.c.lock()
	if err != nil {
		return err
	}
	defer l.Release()
	p, err := v.reread()
	if err != nil {
		return err
	}
	if err := mutate(p); err != nil {
		return err
	}
	renamed, err := v.c.commit(v.hdr, v.key, p, beforeCommit)
	if renamed {
		v.payload = p
	}
	return withPath(err, v.c.path)
}

// reread decrypts the current file with the in-memory key. Must hold the lock.
func (v *Vault) reread() (*Payload, error) {
	data, err := v.c.readFile()
	if err != nil {
		return nil, err
	}
	_, p, key, err := decodeFile(data, v.c.project, func(h *header) ([]byte, error) {
		if !bytes.Equal(h.raw, v.hdr.raw) {
			d := "its key header changed"
			if h.source != v.hdr.source {
				d += " from " + v.hdr.source.String() + " to " + h.source.String()
			}
			return nil, errf(ErrKeyChanged, d)
		}
		return bytes.Clone(v.key), nil
	})
	if err != nil {
		return nil, withPath(err, v.c.path)
	}
	wipe(key)
	return p, nil
}

// Rekey moves the vault to a new data key held by the key source to, under
// the lock. Every move generates a new data key, so whoever held the old one
// (a process that opened the vault before) cannot read what is written
// after.
//
//   - to Passphrase or Hardened: newPassphrase (required, wiped) wraps the
//     new key. From Passphrase this changes the passphrase; Passphrase →
//     Hardened hardens, Hardened → Passphrase softens, Hardened → Hardened
//     changes the passphrase of a hardened vault. From Keychain the keychain
//     item is deleted after the new file is durable (a hardened vault has
//     no keychain item); if the directory sync fails the item is kept.
//     PHANTOM_REQUIRE_KEYCHAIN refuses both (a vault it cannot open).
//   - to Keychain: the key is stored in the keychain before the new file
//     replaces the old one (if that fails nothing changes). Allowed from a
//     hardened vault too: this handle was unlocked with the passphrase typed
//     at that moment, which is the proof a hardened vault asks for.
//
// The caller decides who may re-key (the CLI's rules, docs/phantom.md): the
// package only refuses a handle from OpenWithKey, whose key was unlocked by
// another process (the agent) and so proves no one's presence here.
func (v *Vault) Rekey(to KeySource, newPassphrase []byte) error {
	defer wipe(newPassphrase)
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return ErrClosed
	}
	c := v.c
	from := v.hdr.source
	if v.fromKey {
		return fmt.Errorf("vault %s: this handle was opened with a key held in memory (OpenWithKey), which shows no one typed the passphrase here, so it cannot re-key the vault; open it with its passphrase or the keychain and re-key that; nothing was changed", c.path)
	}
	var (
		h   *header
		key []byte
		err error
	)
	switch to {
	case Passphrase, Hardened:
		if c.requireKeychain() {
			return &Error{Kind: ErrKeychainRequired, Path: c.path, Detail: "re-keying to a " + to.String() + " passphrase is refused"}
		}
		if len(newPassphrase) == 0 {
			return &Error{Kind: ErrEmptyPassphrase, Path: c.path}
		}
		key = newDataKey()
		if h, err = c.passphraseHeader(to, newPassphrase, key); err != nil {
			wipe(key)
			return err
		}
	case Keychain:
		if from == Keychain {
			return fmt.Errorf("vault %s: the vault already keeps its key in the keychain; nothing was changed", c.path)
		}
		if r := c.keychainBlocked(); r != "" {
			return &Error{Kind: ErrKeychainUnavailable, Path: c.path, Detail: r}
		}
	default:
		return fmt.Errorf("vault: cannot re-key to %v", to)
	}
	l, err := c.lock()
	if err != nil {
		wipe(key)
		return err
	}
	defer l.Release()
	p, err := v.reread()
	if err != nil {
		wipe(key)
		return err
	}
	var setItem bool
	if to == Keychain {
		key, setItem, err = c.keychainKeyForNew()
		if err != nil {
			return withPath(err, c.path)
		}
		h = newKeychainHeader(c.project, key)
	}
	renamed, err := c.commit(h, key, p, nil)
	if !renamed {
		if setItem {
			c.krDelete()
		}
		wipe(key)
		return withPath(err, c.path)
	}
	wipe(v.key)
	v.hdr, v.key, v.payload = h, key, p
	if err != nil { // renamed, but the directory sync failed: keep the old item
		return err
	}
	// Only now, with the new file durable, may the old key go: a crash
	// before this point leaves the old file, which needs the item.
	if from == Keychain && to != Keychain {
		if derr := c.krDelete(); derr != nil && !isItemNotFound(derr) {
			return fmt.Errorf("vault %s: re-keyed to a %s passphrase, but the old keychain item (service %q, account %q) could not be removed: %w; remove it with your keychain tool",
				c.path, to, KeychainService, c.account(), derr)
		}
	}
	return nil
}

// Close wipes the data key and the snapshot's secret values held by this
// handle. The handle cannot be used afterwards.
func (v *Vault) Close() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return nil
	}
	v.closed = true
	wipe(v.key)
	v.key = nil
	wipePayload(v.payload)
	v.payload = nil
	return nil
}

// PeekKeySource reports which key source a vault file says it uses, without
// unlocking it (for `phantom status` when the key is not at hand).
func PeekKeySource(path string) KeySource {
	f, err := os.Open(path)
	if err != nil {
		return NoKeySource
	}
	defer f.Close()
	b := make([]byte, 11)
	if _, err := io.ReadFull(f, b); err != nil || string(b[:8]) != "PHMVAULT" {
		return NoKeySource
	}
	switch src := KeySource(b[10]); src {
	case Keychain, Passphrase, Hardened:
		return src
	}
	return NoKeySource
}
