package fsx

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := WriteFileAtomic(p, []byte("one"), 0); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(p)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("new file mode %v, want 0600", st.Mode().Perm())
	}
	os.Chmod(p, 0o644)
	if err := WriteFileAtomic(p, []byte("two"), 0); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	st, _ = os.Stat(p)
	if string(b) != "two" || st.Mode().Perm() != 0o644 {
		t.Fatalf("got %q mode %v", b, st.Mode().Perm())
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("temporary files left behind: %v", ents)
	}
}

func TestWriteFileAtomicUnwritableDirKeepsOld(t *testing.T) {
	if os.Geteuid() == 0 {
		// root ignores directory permissions; simulate with a missing dir instead.
		err := WriteFileAtomic(filepath.Join(t.TempDir(), "missing", "f"), []byte("x"), 0)
		if err == nil {
			t.Fatal("write into a missing directory succeeded")
		}
		return
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	WriteFileAtomic(p, []byte("old"), 0)
	os.Chmod(dir, 0o500)
	defer os.Chmod(dir, 0o700)
	if err := WriteFileAtomic(p, []byte("new"), 0); err == nil {
		t.Fatal("expected an error")
	}
	b, _ := os.ReadFile(p)
	if string(b) != "old" {
		t.Fatalf("old content lost: %q", b)
	}
}

func TestLockTimeoutNamesHolder(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.lock")
	l, err := AcquireLock(p, time.Second, "phantom add")
	if err != nil {
		t.Fatal(err)
	}
	_, err = AcquireLock(p, 50*time.Millisecond, "other")
	var le *LockError
	if !errors.As(err, &le) || !errors.Is(err, ErrLockTimeout) {
		t.Fatalf("second lock: %v", err)
	}
	if !strings.Contains(err.Error(), "phantom add") {
		t.Fatalf("error does not name the holder: %v", err)
	}
	l.Release()
	l2, err := AcquireLock(p, time.Second, "other")
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	l2.Release()
}

func TestIsTemp(t *testing.T) {
	f, err := CreateTemp(t.TempDir(), "abc.vault", 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if !IsTemp(filepath.Base(f.Name())) || IsTemp("abc.vault") {
		t.Fatal("IsTemp wrong")
	}
	f.Close()
}
