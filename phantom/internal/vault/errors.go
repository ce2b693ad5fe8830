package vault

import (
	"errors"
	"strings"
)

// sentinel is an error kind with a message in two parts: what happened, and
// what the user can do about it. *Error places its detail between the two.
type sentinel struct {
	what string
	todo string
}

func (s *sentinel) Error() string {
	if s.todo == "" {
		return s.what
	}
	return s.what + "; " + s.todo
}

func newSentinel(what, todo string) error { return &sentinel{what: what, todo: todo} }

// Sentinel errors. Every error this package returns for a known situation is
// an *Error whose Kind is one of these, so callers test with errors.Is.
var (
	// ErrNotFound: there is no vault file for this project yet.
	ErrNotFound = newSentinel("no vault exists for this project yet",
		"it is created by the first `phantom init` or `phantom add`")

	// ErrExists: Create found a vault already there.
	ErrExists = newSentinel("a vault for this project already exists",
		"open it instead; nothing was changed")

	// ErrInvalidProjectID: the project id is not 32 lowercase hex characters.
	ErrInvalidProjectID = newSentinel("invalid project id",
		"[phantom] project_id in .phantom.toml must be 32 lowercase hex characters (128 bits)")

	// ErrCorrupt: bad magic, truncated or empty file, header checksum or
	// payload authentication failure, malformed payload.
	ErrCorrupt = newSentinel("the vault file is damaged or was modified",
		"restore it from a backup/sync; nothing was changed")

	// ErrTampered is the same error as ErrCorrupt: from the bytes alone the
	// two cannot be told apart.
	ErrTampered = ErrCorrupt

	// ErrWrongPassphrase: the passphrase-wrapped data key did not open.
	ErrWrongPassphrase = newSentinel("wrong passphrase: the vault key could not be unlocked",
		"check PHANTOM_VAULT_PASSPHRASE (or the file PHANTOM_VAULT_PASSPHRASE_FILE names) or type the passphrase again; nothing was changed")

	// ErrNewerVersion: the file (or its payload) uses a newer format.
	ErrNewerVersion = newSentinel("the vault file was written by a newer phantom",
		"upgrade phantom to open it; nothing was changed")

	// ErrWrongProject: the header names another project (file copied or renamed).
	ErrWrongProject = newSentinel("the vault file belongs to a different project",
		"it was copied or renamed from another project's vault; put it back or restore this project's vault from a backup/sync; nothing was changed")

	// ErrKeychainUnavailable: the vault key is (or should go) in the OS
	// keychain and the keychain cannot be reached.
	ErrKeychainUnavailable = newSentinel("the OS keychain is not available",
		"unlock the keychain or start a Secret Service (on Linux: gnome-keyring or KeePassXC on the session D-Bus, with DBUS_SESSION_BUS_ADDRESS set) and try again; nothing was changed")

	// ErrKeyMissing: the keychain answers but holds no (valid) key item for
	// this project.
	ErrKeyMissing = newSentinel("the OS keychain has no key for this vault",
		"the item (service \"phantom\", account \"vault-key:<project_id>\") was deleted, or this is another machine; restore the item, or restore a passphrase-protected copy of the vault; nothing was changed")

	// ErrKeyMismatch: the keychain item holds a key, but not the one this
	// vault file was written with.
	ErrKeyMismatch = newSentinel("the key in the OS keychain does not belong to this vault file",
		"the file was restored from an older copy, or another vault for this project replaced the keychain item; restore the matching file or keychain item; nothing was changed")

	// ErrNoKeySource: no keychain, no PHANTOM_VAULT_PASSPHRASE(_FILE) and no terminal.
	ErrNoKeySource = newSentinel("no way to get the vault key",
		"set PHANTOM_VAULT_PASSPHRASE_FILE or PHANTOM_VAULT_PASSPHRASE (CI, headless machines) or run phantom in a terminal to type a passphrase")

	// ErrKeychainRequired: PHANTOM_REQUIRE_KEYCHAIN refuses a non-keychain key source.
	ErrKeychainRequired = newSentinel("PHANTOM_REQUIRE_KEYCHAIN is set, so only the OS keychain may hold the vault key",
		"make the keychain available; a passphrase vault moves with `PHANTOM_REQUIRE_KEYCHAIN=0 phantom vault rekey --to keychain`")

	// ErrEmptyPassphrase: a new passphrase was empty.
	ErrEmptyPassphrase = newSentinel("the passphrase is empty", "choose a non-empty passphrase")

	// ErrShortPassphrase: a new vault's passphrase (typed, or from
	// PHANTOM_VAULT_PASSPHRASE(_FILE)) is shorter than MinPassphraseLen.
	ErrShortPassphrase = newSentinel("the passphrase for a new vault is shorter than 8 characters",
		"choose a longer one (as `phantom vault rekey` requires); no vault was created")

	// ErrLocked: another process holds the vault lock past the wait bound.
	// The *Error also wraps the *fsx.LockError, which names the holder.
	ErrLocked = newSentinel("the vault is busy",
		"another phantom command is writing it; wait for it to finish (or stop it) and try again; nothing was changed")

	// ErrKeyChanged: another process re-keyed the vault after this handle was opened.
	ErrKeyChanged = newSentinel("the vault was re-keyed by another phantom command after this one opened it",
		"run the command again; nothing was changed")

	// ErrHardened: a hardened vault was to be opened with a passphrase from
	// PHANTOM_VAULT_PASSPHRASE(_FILE), or with no terminal to type it on.
	// The *Error also wraps ErrPassphraseSource (a variable was set) or
	// ErrNoKeySource (no terminal), so callers that map those keep working.
	ErrHardened = newSentinel("this vault is hardened: it opens only with its passphrase typed at that moment, or through the agent `phantom unlock` starts, so that no file or variable a program can write stands in for you",
		"unset PHANTOM_VAULT_PASSPHRASE and PHANTOM_VAULT_PASSPHRASE_FILE and run the command in your own terminal, or run `phantom unlock` there first; CI uses a non-hardened copy of the vault with its own passphrase; nothing was changed")

	// ErrWrongKey: OpenWithKey was given a data key that does not open the
	// vault file (another vault's key, or the vault was re-keyed or
	// replaced since the key was taken).
	ErrWrongKey = newSentinel("the vault key held in memory does not open the vault file",
		"the vault was re-keyed, replaced or restored since it was unlocked; run `phantom unlock` again; nothing was changed")

	// ErrHomeNotWritable: the vault directory or files cannot be created.
	ErrHomeNotWritable = newSentinel("cannot write in the phantom home directory",
		"check PHANTOM_HOME (default ~/.phantom): it must be a directory you can write")

	// ErrNoTTY is what a Prompt function returns (or wraps) when there is no
	// terminal to ask on. A nil Prompt means the same.
	ErrNoTTY = errors.New("no interactive terminal")

	// ErrKeyringItemNotFound is what a Keyring returns for a missing item.
	// (go-keyring's keyring.ErrNotFound is accepted too.)
	ErrKeyringItemNotFound = errors.New("keyring item not found")

	// ErrClosed is returned by methods of a closed Vault.
	ErrClosed = errors.New("vault: use of a closed vault")
)

// Error is the error type of this package: a sentinel Kind, the vault path, a
// detail that says what exactly was found, and an optional cause.
type Error struct {
	Kind   error  // one of the Err* sentinels
	Path   string // the vault file, when known
	Detail string // e.g. "header checksum mismatch"
	Err    error  // underlying cause, e.g. *fsx.LockError or a keyring error
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Path != "" {
		b.WriteString("vault ")
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	s, ok := e.Kind.(*sentinel)
	if ok {
		b.WriteString(s.what)
	} else if e.Kind != nil {
		b.WriteString(e.Kind.Error())
	}
	if e.Detail != "" {
		b.WriteString(" (")
		b.WriteString(e.Detail)
		b.WriteString(")")
	}
	if ok && s.todo != "" {
		b.WriteString("; ")
		b.WriteString(s.todo)
	}
	return b.String()
}

// Unwrap exposes both the sentinel and the cause to errors.Is / errors.As.
func (e *Error) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Kind, e.Err}
	}
	return []error{e.Kind}
}

func errf(kind error, detail string) *Error { return &Error{Kind: kind, Detail: detail} }

func errWrap(kind error, detail string, cause error) *Error {
	return &Error{Kind: kind, Detail: detail, Err: cause}
}

// withPath sets the path on an *Error that has none; other errors pass through.
func withPath(err error, path string) error {
	var e *Error
	if errors.As(err, &e) && e.Path == "" {
		e.Path = path
	}
	return err
}
