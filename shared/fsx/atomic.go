// Package fsx holds the file-system primitives every write in the project goes
// through: crash-safe atomic replacement and advisory file locks.
package fsx

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
)

// WriteFileAtomic replaces path with data so that a crash at any instant leaves
// either the old file or the new one, never a torn mix: write a temporary file
// in the same directory, fsync it, rename it over path, fsync the directory.
//
// When path already exists its permission bits are kept unless perm is
// non-zero; a new file gets perm (0600 when perm is zero).
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	if perm == 0 {
		perm = 0o600
		if st, err := os.Stat(path); err == nil {
			perm = st.Mode().Perm()
		}
	}
	tmp, err := CreateTemp(dir, filepath.Base(path), perm)
	if err != nil {
		return err
	}
	name := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(name)
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", name, err)
	}
	if err := os.Rename(name, path); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	ok = true
	return SyncDir(dir)
}

// CreateTemp creates a new hidden temporary file next to base in dir, named
// ".<base>.tmp-<random>", opened for writing with the given mode. The caller
// must rename or remove it.
func CreateTemp(dir, base string, perm os.FileMode) (*os.File, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	name := filepath.Join(dir, "."+base+".tmp-"+hex.EncodeToString(b[:]))
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return nil, fmt.Errorf("create temporary file in %s: %w", dir, err)
	}
	// OpenFile's mode is filtered by the umask; the caller asked for exactly perm.
	if err := f.Chmod(perm); err != nil {
		f.Close()
		os.Remove(name)
		return nil, err
	}
	return f, nil
}

// IsTemp reports whether a directory entry name is one of CreateTemp's files.
func IsTemp(name string) bool {
	return len(name) > 0 && name[0] == '.' && containsTmp(name)
}

func containsTmp(s string) bool {
	for i := 0; i+5 <= len(s); i++ {
		if s[i:i+5] == ".tmp-" {
			return true
		}
	}
	return false
}

// MkdirPrivate creates dir (and parents) with mode 0700 and tightens an
// existing dir that is group- or world-accessible.
func MkdirPrivate(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	st, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return os.Chmod(dir, 0o700)
	}
	return nil
}
