package vault

import (
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/zalando/go-keyring"
)

// KeySource says what holds a vault's data key.
type KeySource uint8

const (
	// NoKeySource is the zero value: nothing usable.
	NoKeySource KeySource = 0
	// Keychain: the data key is an OS keychain item.
	Keychain KeySource = 1
	// Passphrase: the data key is wrapped with an Argon2id-derived key.
	Passphrase KeySource = 2
	// Hardened: wrapped like Passphrase, but the passphrase must be typed at
	// the moment the vault is opened (Options.Prompt) or the caller already
	// holds the data key (OpenWithKey, the agent `phantom unlock` starts).
	// PHANTOM_VAULT_PASSPHRASE(_FILE) is refused for it: a variable or file
	// any process of the user's can set must not stand in for the person
	// (docs/decisions.md, hardened vaults).
	Hardened KeySource = 3
)

// wrapped reports whether the source keeps the data key wrapped with a
// passphrase in the header (the passphrase header layout).
func (k KeySource) wrapped() bool { return k == Passphrase || k == Hardened }

func (k KeySource) String() string {
	switch k {
	case Keychain:
		return "keychain"
	case Passphrase:
		return "passphrase"
	case Hardened:
		return "hardened"
	case NoKeySource:
		return "none"
	}
	return fmt.Sprintf("KeySource(%d)", uint8(k))
}

// Environment variables this package reads (through Options.Env).
const (
	EnvPassphrase      = "PHANTOM_VAULT_PASSPHRASE"
	EnvRequireKeychain = "PHANTOM_REQUIRE_KEYCHAIN"
	EnvDBusSession     = "DBUS_SESSION_BUS_ADDRESS"
)

// KeychainService is the keychain service name of vault key items; the
// account is KeychainAccount(projectID). One item per project, and its name
// reveals no secret names.
const KeychainService = "phantom"

// KeychainAccount is the keychain account of a project's vault key item.
func KeychainAccount(projectID string) string { return "vault-key:" + projectID }

// KDFParams are Argon2id parameters for passphrase vaults.
type KDFParams struct {
	Time      uint32 // iterations
	MemoryKiB uint32 // memory in KiB
	Threads   uint8  // parallelism
}

// DefaultKDF is used for new passphrase vaults when Options.KDF is zero:
// t=3, m=64 MiB, p=1 (about 120 ms on a 2-core machine).
var DefaultKDF = KDFParams{Time: 3, MemoryKiB: 64 << 10, Threads: 1}

func (p KDFParams) validate() error {
	switch {
	case p.Time < 1 || p.Time > maxKDFTime:
		return fmt.Errorf("time %d is outside 1..%d", p.Time, maxKDFTime)
	case p.Threads < 1 || p.Threads > maxKDFThreads:
		return fmt.Errorf("threads %d is outside 1..%d", p.Threads, maxKDFThreads)
	case p.MemoryKiB > maxKDFMemoryKiB:
		return fmt.Errorf("memory %d KiB is more than 4 GiB", p.MemoryKiB)
	case p.MemoryKiB < 8*uint32(p.Threads):
		return fmt.Errorf("memory %d KiB is less than 8 KiB per thread", p.MemoryKiB)
	}
	return nil
}

func (p KDFParams) String() string {
	return fmt.Sprintf("argon2id t=%d m=%dKiB p=%d", p.Time, p.MemoryKiB, p.Threads)
}

// Keyring is the part of an OS keychain the vault uses. Get returns
// ErrKeyringItemNotFound (or go-keyring's keyring.ErrNotFound) for a missing
// item. The vault bounds every call with Options.KeyringTimeout, so an
// implementation may block.
type Keyring interface {
	Get(service, user string) (string, error)
	Set(service, user, pass string) error
	Delete(service, user string) error
}

// SystemKeyring returns the OS keychain through zalando/go-keyring (macOS
// Keychain, Windows Credential Manager, Secret Service over D-Bus elsewhere).
// It translates keyring.ErrNotFound into ErrKeyringItemNotFound.
func SystemKeyring() Keyring { return systemKeyring{} }

type systemKeyring struct{}

func translate(err error) error {
	if errors.Is(err, keyring.ErrNotFound) {
		return ErrKeyringItemNotFound
	}
	return err
}

func (systemKeyring) Get(service, user string) (string, error) {
	s, err := keyring.Get(service, user)
	return s, translate(err)
}

func (systemKeyring) Set(service, user, pass string) error {
	return translate(keyring.Set(service, user, pass))
}

func (systemKeyring) Delete(service, user string) error {
	return translate(keyring.Delete(service, user))
}

func isItemNotFound(err error) bool {
	return errors.Is(err, ErrKeyringItemNotFound) || errors.Is(err, keyring.ErrNotFound)
}

// usesDBus reports whether go-keyring talks to the Secret Service over D-Bus
// on this OS (everything but macOS and Windows).
var usesDBus = runtime.GOOS != "darwin" && runtime.GOOS != "windows"

// keychainBlocked returns why the keychain must not even be tried, or "".
// With DBUS_SESSION_BUS_ADDRESS empty, godbus would auto-launch a session bus
// through dbus-launch (when dbus-x11 is installed) and leave a dbus-daemon and
// a gnome-keyring-daemon running after phantom exits, so phantom never calls
// go-keyring then.
func (c *config) keychainBlocked() string {
	if usesDBus && c.env(EnvDBusSession) == "" {
		return EnvDBusSession + " is empty, so there is no D-Bus session to reach a Secret Service (phantom does not start one)"
	}
	return ""
}

type krResult struct {
	s   string
	err error
}

// keyringCall runs fn with the keyring timeout. After a timeout the keychain
// counts as unavailable for the rest of this config's life (the stuck call
// keeps its goroutine; a CLI process exits soon after).
func (c *config) keyringCall(op string, fn func() (string, error)) (string, error) {
	if c.krDead != nil {
		return "", c.krDead
	}
	ch := make(chan krResult, 1)
	go func() {
		s, err := fn()
		ch <- krResult{s, err}
	}()
	t := time.NewTimer(c.KeyringTimeout)
	defer t.Stop()
	select {
	case r := <-ch:
		return r.s, r.err
	case <-t.C:
		c.krDead = fmt.Errorf("the keychain did not answer a %s within %s", op, c.KeyringTimeout)
		return "", c.krDead
	}
}

func (c *config) krGet() (string, error) {
	return c.keyringCall("read", func() (string, error) { return c.Keyring.Get(KeychainService, c.account()) })
}

func (c *config) krSet(v string) error {
	_, err := c.keyringCall("write", func() (string, error) { return "", c.Keyring.Set(KeychainService, c.account(), v) })
	return err
}

func (c *config) krDelete() error {
	_, err := c.keyringCall("delete", func() (string, error) { return "", c.Keyring.Delete(KeychainService, c.account()) })
	return err
}

func (c *config) account() string { return KeychainAccount(c.ProjectID) }

func decodeItem(s string) ([]byte, bool) {
	k, err := base64.StdEncoding.Strict().DecodeString(strings.TrimSpace(s))
	if err != nil || len(k) != keyLen {
		wipe(k)
		return nil, false
	}
	return k, true
}

// keychainReachable probes the keychain once (a side-effect-free read).
func (c *config) keychainReachable() (bool, string) {
	if r := c.keychainBlocked(); r != "" {
		return false, r
	}
	_, err := c.krGet()
	if err == nil || isItemNotFound(err) {
		return true, ""
	}
	return false, err.Error()
}

// keychainKey fetches this project's data key from the keychain for opening.
func (c *config) keychainKey() ([]byte, error) {
	if r := c.keychainBlocked(); r != "" {
		return nil, errf(ErrKeychainUnavailable, r)
	}
	s, err := c.krGet()
	if isItemNotFound(err) {
		return nil, errf(ErrKeyMissing, "")
	}
	if err != nil {
		return nil, errWrap(ErrKeychainUnavailable, err.Error(), err)
	}
	k, ok := decodeItem(s)
	if !ok {
		return nil, errf(ErrKeyMissing, "the keychain item does not hold a phantom vault key")
	}
	return k, nil
}

// keychainKeyForNew returns the data key a vault that is moving into the
// keychain will use. An item that already holds a valid key is reused, never
// overwritten: another vault of the same project (another PHANTOM_HOME, or an
// interrupted earlier attempt) may depend on it. Otherwise a new random key is
// stored; set reports that, so a failed write can remove it again.
// Must be called under the vault lock.
func (c *config) keychainKeyForNew() (key []byte, set bool, err error) {
	if r := c.keychainBlocked(); r != "" {
		return nil, false, errf(ErrKeychainUnavailable, r)
	}
	s, err := c.krGet()
	if err == nil {
		if k, ok := decodeItem(s); ok {
			return k, false, nil
		}
		// Not a phantom key: it cannot be protecting any vault; replace it.
	} else if !isItemNotFound(err) {
		return nil, false, errWrap(ErrKeychainUnavailable, err.Error(), err)
	}
	key = newDataKey()
	if err := c.krSet(base64.StdEncoding.EncodeToString(key)); err != nil {
		wipe(key)
		return nil, false, errWrap(ErrKeychainUnavailable, err.Error(), err)
	}
	return key, true, nil
}

// requireKeychain reads PHANTOM_REQUIRE_KEYCHAIN. It fails closed: any
// non-empty value other than 0/false/no/off requires the keychain.
func (c *config) requireKeychain() bool {
	v := strings.ToLower(strings.TrimSpace(c.env(EnvRequireKeychain)))
	switch v {
	case "", "0", "false", "no", "off":
		return false
	}
	return true
}

// promptPassphrase asks through Options.Prompt. A nil Prompt or one that
// returns ErrNoTTY means there is no terminal (noTTY is true).
func (c *config) promptPassphrase(confirm bool) (pw []byte, noTTY bool, err error) {
	if c.Prompt == nil {
		return nil, true, nil
	}
	pw, err = c.Prompt(confirm)
	if errors.Is(err, ErrNoTTY) {
		return nil, true, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("vault: read passphrase: %w", err)
	}
	return pw, false, nil
}

// MinPassphraseLen is the shortest passphrase a new vault accepts, typed or
// from the environment, the same minimum `phantom vault rekey` applies to a
// new passphrase. Existing vaults open with whatever passphrase they have.
const MinPassphraseLen = 8

// checkNewPassphrase refuses a passphrase too short for a new vault; from
// names where it came from for the message.
func checkNewPassphrase(pw []byte, from string) error {
	switch {
	case len(pw) == 0:
		return errf(ErrEmptyPassphrase, from)
	case len(pw) < MinPassphraseLen:
		return errf(ErrShortPassphrase, from)
	}
	return nil
}

// chooseNewSource picks the key source of a vault being created (docs/architecture.md
// §3): PHANTOM_VAULT_PASSPHRASE (or _FILE), else the keychain if reachable, else a
// prompted passphrase, else ErrNoKeySource. PHANTOM_REQUIRE_KEYCHAIN allows
// only the keychain. noKeychain carries the reason when the keychain already
// failed. For Passphrase the returned passphrase is a copy the caller wipes.
func (c *config) chooseNewSource(noKeychain string) (KeySource, []byte, error) {
	req := c.requireKeychain()
	if !req {
		pw, from, err := PassphraseFromEnv(c.env)
		if err != nil {
			return NoKeySource, nil, err
		}
		if pw != nil {
			if err := checkNewPassphrase(pw, "from "+from); err != nil {
				wipe(pw)
				return NoKeySource, nil, err
			}
			return Passphrase, pw, nil
		}
	}
	reason := noKeychain
	if reason == "" {
		ok, r := c.keychainReachable()
		if ok {
			return Keychain, nil, nil
		}
		reason = r
	}
	if req {
		return NoKeySource, nil, errf(ErrKeychainRequired, "the keychain is not available: "+reason)
	}
	pw, noTTY, err := c.promptPassphrase(true)
	if err != nil {
		return NoKeySource, nil, err
	}
	if noTTY {
		return NoKeySource, nil, errf(ErrNoKeySource, "no OS keychain ("+reason+"), neither "+EnvPassphrase+" nor "+EnvPassphraseFile+" is set, and there is no terminal to ask for a passphrase")
	}
	if err := checkNewPassphrase(pw, "typed at the prompt"); err != nil {
		wipe(pw)
		return NoKeySource, nil, err
	}
	return Passphrase, pw, nil
}

// Probe reports which key source the vault would use and why, without
// prompting and without writing anything: for an existing vault its header
// decides; for a new one the creation rules apply. A nil Options.Prompt
// counts as "no terminal". NoKeySource means nothing usable.
func Probe(opts Options) (KeySource, string) {
	c, err := newConfig(opts)
	if err != nil {
		return NoKeySource, err.Error()
	}
	data, err := c.readFile()
	if err == nil {
		h, _, err := parseHeader(data)
		if err != nil {
			return NoKeySource, withPath(err, c.path).Error()
		}
		switch h.source {
		case Keychain:
			if ok, r := c.keychainReachable(); !ok {
				return Keychain, "the vault's key is in the OS keychain, but the keychain is not available: " + r
			}
			return Keychain, "the vault's key is in the OS keychain, which is reachable"
		case Hardened:
			switch {
			case c.requireKeychain():
				return Hardened, "the vault is hardened (its passphrase is typed each time), but " + EnvRequireKeychain + " refuses every passphrase"
			case c.envPassphraseSet():
				return Hardened, "the vault is hardened: " + EnvPassphrase + " and " + EnvPassphraseFile + " are refused for it; unset them and type the passphrase on your terminal, or run `phantom unlock` there"
			case c.Prompt != nil:
				return Hardened, "the vault is hardened; the passphrase will be asked for on the terminal"
			}
			return Hardened, "the vault is hardened: it opens only with its passphrase typed on a terminal or through `phantom unlock`, and there is no terminal"
		default:
			switch {
			case c.requireKeychain():
				return Passphrase, "the vault is passphrase-protected, but " + EnvRequireKeychain + " refuses that; move it with `PHANTOM_REQUIRE_KEYCHAIN=0 phantom vault rekey --to keychain`"
			case c.envPassphraseSet():
				pw, from, err := PassphraseFromEnv(c.env)
				wipe(pw)
				if err != nil {
					return Passphrase, "the vault is passphrase-protected, but " + err.Error()
				}
				return Passphrase, "the vault is passphrase-protected; the passphrase comes from " + from
			case c.Prompt != nil:
				return Passphrase, "the vault is passphrase-protected; the passphrase will be asked for on the terminal"
			}
			return Passphrase, "the vault is passphrase-protected, but neither " + EnvPassphrase + " nor " + EnvPassphraseFile + " is set and there is no terminal"
		}
	}
	if !errors.Is(err, ErrNotFound) {
		return NoKeySource, err.Error()
	}
	req := c.requireKeychain()
	if !req && c.envPassphraseSet() {
		pw, from, err := PassphraseFromEnv(c.env)
		if err == nil {
			err = checkNewPassphrase(pw, "from "+from)
		}
		wipe(pw)
		if err != nil {
			return NoKeySource, "no vault yet; " + err.Error()
		}
		return Passphrase, "no vault yet; " + from + " is set, so a new vault uses that passphrase"
	}
	ok, r := c.keychainReachable()
	switch {
	case ok:
		return Keychain, "no vault yet; the OS keychain is reachable, so a new vault keeps its key there"
	case req:
		return NoKeySource, "no vault yet; " + EnvRequireKeychain + " allows only the keychain, which is not available: " + r
	case c.Prompt != nil:
		return Passphrase, "no vault yet; no OS keychain (" + r + "), so a passphrase will be asked for on the terminal"
	}
	return NoKeySource, "no vault yet; no OS keychain (" + r + "), neither " + EnvPassphrase + " nor " + EnvPassphraseFile + " is set, and there is no terminal"
}
