package cli

import (
	"errors"

	"phantomstack.dev/phantom/internal/vault"
	"phantomstack.dev/shared/exitcode"
)

// vaultError gives vault errors their exit code (docs/phantom.md, "Exit
// codes"); the vault's own messages already say what happened and what to do.
func vaultError(err error) error {
	switch {
	case err == nil:
		return nil
	case exitcode.Code(err) != exitcode.Failure:
		return err
	case errors.Is(err, vault.ErrShortPassphrase), errors.Is(err, vault.ErrEmptyPassphrase):
		return exitcode.New(exitcode.Usage, err)
	case errors.Is(err, vault.ErrNotFound):
		return exitcode.New(exitcode.NotFound, err)
	case errors.Is(err, vault.ErrLocked),
		errors.Is(err, vault.ErrWrongPassphrase),
		errors.Is(err, vault.ErrPassphraseSource),
		errors.Is(err, vault.ErrNoKeySource),
		errors.Is(err, vault.ErrKeychainUnavailable),
		errors.Is(err, vault.ErrKeyMissing):
		return exitcode.New(exitcode.Unavailable, err)
	}
	return err
}

// describeSource names a key source for people.
func describeSource(k vault.KeySource) string {
	switch k {
	case vault.Keychain:
		return "OS keychain"
	case vault.Passphrase:
		return "passphrase"
	case vault.Hardened:
		return "passphrase typed each time (hardened)"
	}
	return k.String()
}
