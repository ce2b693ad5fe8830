package fsx

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// ErrLockTimeout is wrapped by the error Lock returns when the wait bound passes.
var ErrLockTimeout = errors.New("timed out waiting for lock")

// Lock is an exclusive lock on a lock file (flock(2) on Unix, LockFileEx on
// Windows: lock_unix.go, lock_windows.go). The holder writes its pid and
// command into the file so a waiter can say who holds it.
type Lock struct {
	f    *os.File
	path string
}

// LockError describes a lock that could not be taken within the bound.
type LockError struct {
	Path   string
	Holder string // "pid 123 (phantom add)" or "" when unknown
	Waited time.Duration
}

func (e *LockError) Error() string {
	who := "another process"
	if e.Holder != "" {
		who = e.Holder
	}
	return fmt.Sprintf("%s is locked by %s; waited %s", e.Path, who, e.Waited.Round(time.Millisecond))
}

func (e *LockError) Unwrap() error { return ErrLockTimeout }

// AcquireLock takes an exclusive lock on path, creating it with mode 0600,
// waiting at most timeout. owner describes this process for other waiters.
func AcquireLock(path string, timeout time.Duration, owner string) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	start := time.Now()
	delay := time.Millisecond
	for {
		held, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if held {
			break
		}
		if time.Since(start) >= timeout {
			holder := readHolder(path)
			f.Close()
			return nil, &LockError{Path: path, Holder: holder, Waited: time.Since(start)}
		}
		time.Sleep(delay)
		if delay < 50*time.Millisecond {
			delay *= 2
		}
	}
	// Record who holds the lock; the content is informational only.
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(fmt.Sprintf("%d %s\n", os.Getpid(), owner)), 0)
	}
	return &Lock{f: f, path: path}, nil
}

func readHolder(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	line := strings.TrimSpace(string(b))
	pid, rest, _ := strings.Cut(line, " ")
	if _, err := strconv.Atoi(pid); err != nil {
		return ""
	}
	if rest == "" {
		return "pid " + pid
	}
	return fmt.Sprintf("pid %s (%s)", pid, rest)
}

// Release drops the lock. The lock file stays: removing it would race with a
// waiter that already opened it.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	l.f.Truncate(0)
	err := unlock(l.f)
	cerr := l.f.Close()
	l.f = nil
	if err != nil {
		return err
	}
	return cerr
}
