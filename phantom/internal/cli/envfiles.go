package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"phantomstack.dev/phantom/internal/vault"
	"phantomstack.dev/shared/dotenv"
	"phantomstack.dev/shared/exitcode"
	"phantomstack.dev/shared/fsx"
	"phantomstack.dev/shared/token"
)

// envFile is one .env-style file loaded for editing.
type envFile struct {
	Path   string // absolute
	Rel    string // as shown to the user and used as the origin key
	File   *dotenv.File
	Exists bool
}

// loadEnvFile reads path; a missing file loads as empty with Exists false.
func loadEnvFile(p *Project, path string) (*envFile, error) {
	abs := p.Abs(path)
	b, err := os.ReadFile(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &envFile{Path: abs, Rel: p.Rel(abs), File: dotenv.Parse(nil)}, nil
	case err != nil:
		return nil, fmt.Errorf("cannot read %s: %w", path, err)
	}
	return &envFile{Path: abs, Rel: p.Rel(abs), File: dotenv.Parse(b), Exists: true}, nil
}

// save writes the file atomically. A symlinked env file is written through
// its link so the link survives; a new file gets mode 0600.
func (e *envFile) save() error {
	target := e.Path
	if resolved, err := filepath.EvalSymlinks(e.Path); err == nil {
		target = resolved
	}
	var perm os.FileMode
	if !e.Exists {
		perm = 0o600
	}
	if err := fsx.WriteFileAtomic(target, e.File.Bytes(), perm); err != nil {
		return exitcode.Errorf(exitcode.Failure, "could not write %s: %v\nThe file was left as it was.", e.Rel, rootCause(err))
	}
	e.Exists = true
	return nil
}

// warnProblems prints parse problems with the file name.
func (f *Factory) warnProblems(e *envFile) {
	for _, pr := range e.File.Problems {
		f.IO.Warnf("%s:%d: %s", e.Rel, pr.Line, pr.Msg)
	}
}

// originKey names one occurrence of a key in one file, so duplicates keep
// their own original text.
func originKey(rel string, occurrence int) string {
	if occurrence <= 1 {
		return rel
	}
	return rel + "#" + strconv.Itoa(occurrence)
}

// tokenIndex maps every token in the vault to its secret name.
func tokenIndex(p *vault.Payload) map[string]string {
	m := make(map[string]string, len(p.Secrets))
	for name, s := range p.Secrets {
		m[s.Token] = name
	}
	return m
}

// setToken writes tok as KEY's value, appending the key when absent.
func setToken(e *envFile, key, tok string) (appended bool) {
	if e.File.Set(key, tok) {
		return false
	}
	e.File.Append(key, tok)
	return true
}

// newToken issues a fresh placeholder.
var newToken = token.New

// isToken reports whether v is a phm token.
func isToken(v string) bool { return token.Is(v) }

func isAbs(p string) bool         { return filepath.IsAbs(p) }
func joinPath(a, b string) string { return filepath.Join(a, b) }
