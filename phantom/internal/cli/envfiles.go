package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

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
	// target is the file Path resolves to (through symlinks) when it was
	// loaded; save writes there, so a link swapped in between is not
	// followed somewhere else.
	target string
	// outside: Path names a file inside the project, but a symlink takes it
	// out of the project directory.
	outside bool
}

// MaxEnvFileSize is the largest env file phantom reads (docs/phantom.md):
// generous for any real .env (100,000 lines of settings are under 3 MiB)
// while a file that is really a log or a disk image cannot fill memory.
const MaxEnvFileSize = 16 << 20

// loadEnvFile reads path; a missing file loads as empty with Exists false.
// Only a regular file of at most MaxEnvFileSize is read: a FIFO would block
// (it is never opened), a device such as /dev/zero would never end.
func loadEnvFile(p *Project, path string) (*envFile, error) {
	abs := p.Abs(path)
	e := &envFile{Path: abs, Rel: p.Rel(abs)}
	fi, err := os.Stat(abs) // through symlinks; never opens the file
	switch {
	case errors.Is(err, fs.ErrNotExist):
		e.File = dotenv.Parse(nil)
		return e, nil
	case err != nil:
		return nil, fmt.Errorf("cannot read %s: %w", path, err)
	}
	if err := checkEnvFileInfo(e.Rel, fi); err != nil {
		return nil, err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", path, err)
	}
	e.target = real
	if !filepath.IsAbs(e.Rel) {
		root, err := filepath.EvalSymlinks(p.Dir)
		if err != nil {
			root = p.Dir
		}
		if r, err := filepath.Rel(root, real); err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
			e.outside = true
		}
	}
	// O_NONBLOCK: if a FIFO was swapped in after the Stat, opening it does
	// not wait for a writer; the Stat of the open file then refuses it.
	fh, err := os.OpenFile(real, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", path, err)
	}
	defer fh.Close()
	if fi, err = fh.Stat(); err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", path, err)
	}
	if err := checkEnvFileInfo(e.Rel, fi); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(fh, MaxEnvFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", path, err)
	}
	if len(b) > MaxEnvFileSize {
		return nil, envFileTooLarge(e.Rel)
	}
	e.File, e.Exists = dotenv.Parse(b), true
	return e, nil
}

// checkEnvFileInfo refuses what loadEnvFile must not read.
func checkEnvFileInfo(rel string, fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() {
		kind := "not a regular file"
		switch m := fi.Mode(); {
		case m.IsDir():
			kind = "a directory"
		case m&fs.ModeNamedPipe != 0:
			kind = "a named pipe (FIFO)"
		case m&fs.ModeSocket != 0:
			kind = "a socket"
		case m&fs.ModeDevice != 0:
			kind = "a device"
		}
		return exitcode.Errorf(exitcode.Refused, "%s is %s; phantom reads and writes env files only when they are regular files. Nothing was changed; replace %s with a regular file, or leave it out of env_files in %s.", rel, kind, rel, ConfigFile)
	}
	if fi.Size() > MaxEnvFileSize {
		return envFileTooLarge(rel)
	}
	return nil
}

func envFileTooLarge(rel string) error {
	return exitcode.Errorf(exitcode.Refused, "%s is larger than %d MiB, the most phantom reads as an env file; it is probably not one. Nothing was changed.", rel, MaxEnvFileSize>>20)
}

// loadEnvFileToWrite is loadEnvFile for a command that will write the file:
// a file inside the project that a symlink takes outside it is refused
// unless --follow-symlinks was given, so a link planted in the project
// cannot make phantom write tokens (or, for unprotect, real values) into a
// file elsewhere.
func (f *Factory) loadEnvFileToWrite(p *Project, path string) (*envFile, error) {
	e, err := loadEnvFile(p, path)
	if err != nil {
		return nil, err
	}
	if e.outside && !f.FollowSymlinks {
		return nil, exitcode.Errorf(exitcode.Refused, "%s is a symlink to %s, outside the project %s, so %s would write there. Nothing was changed. If that is the file you mean, run the same command again with --follow-symlinks.", e.Rel, e.target, p.Dir, f.Command)
	}
	return e, nil
}

// addFollowSymlinksFlag adds --follow-symlinks to a command that writes env
// files.
func addFollowSymlinksFlag(cmd *cobra.Command, f *Factory) {
	cmd.Flags().BoolVar(&f.FollowSymlinks, "follow-symlinks", false, "write an env file even when a symlink takes it outside the project")
}

// save writes the file atomically. A symlinked env file is written through
// its link (to the file it named when it was loaded) so the link survives;
// a new file gets mode 0600.
func (e *envFile) save() error {
	target := e.Path
	if e.target != "" {
		target = e.target
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
