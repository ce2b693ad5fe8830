package fsx

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

// Windows byte-range locks are mandatory: a locked range cannot be read by
// anyone else, so locking the file's first bytes would hide the holder's
// "pid command" line from readHolder. The lock covers the one byte at
// 1 GiB instead, far past the line (locking beyond the end of a file is
// allowed; SQLite locks its byte at the same offset for the same reason).
// Like flock, the lock belongs to the open handle: a second handle, even in
// the same process, waits; closing the handle or ending the process
// releases it.
const lockOffset = 1 << 30

func lockRange() *windows.Overlapped {
	return &windows.Overlapped{Offset: lockOffset}
}

// tryLock takes an exclusive lock without blocking (LOCKFILE_FAIL_IMMEDIATELY);
// held is false when another handle holds it, so AcquireLock waits and tries
// again within its bound, as on Unix.
func tryLock(f *os.File) (held bool, err error) {
	err = windows.LockFileEx(windows.Handle(f.Fd()),
		windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, lockRange())
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, windows.ERROR_LOCK_VIOLATION):
		return false, nil
	}
	return false, err
}

func unlock(f *os.File) error {
	return windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, lockRange())
}
