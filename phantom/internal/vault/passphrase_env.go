package vault

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"os"
)

// EnvPassphraseFile names a file that holds the vault passphrase, for CI
// and services that keep secrets in files (docs/phantom.md, Environment).
const EnvPassphraseFile = "PHANTOM_VAULT_PASSPHRASE_FILE"

// maxPassphraseFile bounds what a passphrase file may hold.
const maxPassphraseFile = 64 << 10

// ErrPassphraseSource: PHANTOM_VAULT_PASSPHRASE_FILE cannot be used, or it
// and PHANTOM_VAULT_PASSPHRASE disagree. The *Error's detail says why.
var ErrPassphraseSource = newSentinel("the vault passphrase from the environment cannot be used",
	"fix what is named above and retry; nothing was changed")

// PassphraseFromEnv returns the passphrase the environment gives:
// PHANTOM_VAULT_PASSPHRASE, or the content of PHANTOM_VAULT_PASSPHRASE_FILE
// with one trailing newline removed. from names the source for messages.
// pw is nil (and err nil) when neither is set; the caller wipes pw.
//
// The file must be a regular file or a pipe that only its owner may read or
// write (mode 0600 or stricter): another user able to read it has the key,
// and one able to write it would choose the passphrase of a new vault. When
// both variables are set they must agree, so a stale one is never used by
// accident.
func PassphraseFromEnv(env func(string) string) (pw []byte, from string, err error) {
	path := env(EnvPassphraseFile)
	direct := env(EnvPassphrase)
	if path == "" {
		if direct == "" {
			return nil, "", nil
		}
		return []byte(direct), EnvPassphrase, nil
	}
	from = EnvPassphraseFile + " (" + path + ")"
	pw, err = readPassphraseFile(path)
	if err != nil {
		return nil, from, err
	}
	if direct != "" && subtle.ConstantTimeCompare(pw, []byte(direct)) != 1 {
		wipe(pw)
		return nil, from, errf(ErrPassphraseSource, EnvPassphrase+" and "+EnvPassphraseFile+" are both set and differ; unset one of them")
	}
	return pw, from, nil
}

func readPassphraseFile(path string) ([]byte, error) {
	bad := func(why string) error {
		return errf(ErrPassphraseSource, fmt.Sprintf("%s=%s %s", EnvPassphraseFile, path, why))
	}
	f, err := os.Open(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, bad(fmt.Sprintf("cannot be read: %v", err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, bad(fmt.Sprintf("cannot be read: %v", err))
	}
	switch m := st.Mode(); {
	case !m.IsRegular() && m.Type() != os.ModeNamedPipe:
		return nil, bad("is not a regular file or a pipe")
	case m.Perm()&0o077 != 0:
		return nil, bad(sharedFileProblem(m, path))
	}
	buf := make([]byte, 0, 256)
	for len(buf) <= maxPassphraseFile {
		if len(buf) == cap(buf) {
			bigger := make([]byte, len(buf), 2*cap(buf))
			copy(bigger, buf)
			wipe(buf)
			buf = bigger
		}
		n, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			wipe(buf)
			return nil, bad(fmt.Sprintf("cannot be read: %v", err))
		}
	}
	if len(buf) > maxPassphraseFile {
		wipe(buf)
		return nil, bad(fmt.Sprintf("holds more than %d KiB; it should hold the passphrase only", maxPassphraseFile>>10))
	}
	// One trailing newline is what `echo` and editors add; it is not part
	// of the passphrase. Anything else is kept as it is.
	pw := buf
	if bytes.HasSuffix(pw, []byte("\r\n")) {
		pw = pw[:len(pw)-2]
	} else if bytes.HasSuffix(pw, []byte("\n")) {
		pw = pw[:len(pw)-1]
	}
	if len(pw) == 0 {
		wipe(buf)
		return nil, bad("is empty")
	}
	return pw, nil
}

// envPassphraseSet reports whether the environment names a passphrase.
func (c *config) envPassphraseSet() bool {
	return c.env(EnvPassphrase) != "" || c.env(EnvPassphraseFile) != ""
}
