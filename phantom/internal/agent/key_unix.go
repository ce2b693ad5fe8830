//go:build unix

package agent

import (
	"errors"
	"sync"

	"golang.org/x/sys/unix"
)

// Key is a data key in memory of its own: an anonymous mapping outside the
// Go heap (the garbage collector never copies it), locked against swap
// (mlock(2)) when RLIMIT_MEMLOCK allows, and zeroed and unmapped by Wipe.
// Excluded from core dumps too where the system offers it (madvise
// MADV_DONTDUMP on Linux; the agent writes no core file anyway,
// internal/harden).
type Key struct {
	mu     sync.Mutex
	mem    []byte // the whole mapping (a page or more)
	n      int    // key length
	locked bool
}

// testHookWiped lets a test see the memory between zeroing and unmapping.
var testHookWiped func(mem []byte)

// NewKey copies b into locked memory. The caller wipes b. When mlock
// fails (RLIMIT_MEMLOCK too low) the key is kept all the same and Locked
// reports false, so the agent can say so (a key in swap is still far from
// a key in a file an agent can read).
func NewKey(b []byte) (*Key, error) {
	if len(b) == 0 {
		return nil, errors.New("agent: empty key")
	}
	page := unix.Getpagesize()
	size := (len(b) + page - 1) / page * page
	mem, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return nil, err
	}
	k := &Key{mem: mem, n: len(b)}
	k.locked = unix.Mlock(mem) == nil
	dontDump(mem)
	copy(mem, b)
	return k, nil
}

// Bytes is the key itself, in the locked memory (not a copy): read it,
// never change or keep it. nil after Wipe.
func (k *Key) Bytes() []byte {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.mem == nil {
		return nil
	}
	return k.mem[:k.n:k.n]
}

// Locked reports whether the key's memory is locked against swap.
func (k *Key) Locked() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.locked
}

// Wipe zeroes the key, unlocks and unmaps its memory. Idempotent; Bytes
// returns nil afterwards (a slice Bytes returned before must not be used).
func (k *Key) Wipe() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.mem == nil {
		return
	}
	clear(k.mem)
	if testHookWiped != nil {
		testHookWiped(k.mem)
	}
	if k.locked {
		unix.Munlock(k.mem)
	}
	unix.Munmap(k.mem)
	k.mem, k.locked = nil, false
}
