//go:build unix

package agent

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

func supported() error { return nil }

// runtimeDirOK: XDG_RUNTIME_DIR is used only when it is a directory we own
// that nobody else can write (the XDG Base Directory spec requires 0700
// and our ownership; a value an agent points elsewhere is ignored).
func runtimeDirOK(dir string) bool {
	var st unix.Stat_t
	if unix.Stat(dir, &st) != nil {
		return false
	}
	return st.Mode&unix.S_IFMT == unix.S_IFDIR && int(st.Uid) == os.Geteuid() && st.Mode&0o022 == 0
}

// prepareDir creates the socket directory 0700, or checks an existing one:
// not a symbolic link, a directory, owned by us; group or world access is
// removed. The checks and the chmod go through one descriptor opened with
// O_NOFOLLOW, so the directory cannot be swapped between them.
func prepareDir(dir string) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return fmt.Errorf("creating %s for the agent socket: %w", filepath.Dir(dir), err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("creating the agent socket directory %s: %w", dir, err)
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
			return fmt.Errorf("the agent socket directory %s is a symbolic link or not a directory, so another program could redirect the socket: remove it (`rm %s`) and try again", dir, dir)
		}
		return fmt.Errorf("opening the agent socket directory %s: %w", dir, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("checking the agent socket directory %s: %w", dir, err)
	}
	if int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("the agent socket directory %s belongs to uid %d, not to you (uid %d), so its owner could replace the socket: remove it (`sudo rm -r %s`) and try again", dir, st.Uid, os.Geteuid(), dir)
	}
	if st.Mode&0o077 != 0 {
		if err := unix.Fchmod(fd, 0o700); err != nil {
			return fmt.Errorf("the agent socket directory %s is open to other users (mode %#o) and could not be made private: %w; run `chmod 700 %s` and try again", dir, st.Mode&0o777, err, dir)
		}
	}
	return nil
}

// Supported reports whether phantom's agent runs on this system.
func Supported() bool { return true }
