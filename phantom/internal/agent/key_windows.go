package agent

import (
	"errors"
	"sync"
)

// Key on Windows is plain memory (the agent does not run there; the type
// exists so the package compiles). Locked is always false.
type Key struct {
	mu  sync.Mutex
	mem []byte
}

// NewKey copies b. The caller wipes b.
func NewKey(b []byte) (*Key, error) {
	if len(b) == 0 {
		return nil, errors.New("agent: empty key")
	}
	return &Key{mem: append([]byte(nil), b...)}, nil
}

// Bytes is the key itself; nil after Wipe.
func (k *Key) Bytes() []byte {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.mem
}

// Locked is false: no memory locking on Windows.
func (k *Key) Locked() bool { return false }

// Wipe zeroes the key. Idempotent.
func (k *Key) Wipe() {
	k.mu.Lock()
	defer k.mu.Unlock()
	clear(k.mem)
	k.mem = nil
}
