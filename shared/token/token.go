// Package token defines the phm_ placeholder format: "phm_" followed by 64
// lowercase hex characters (256 bits from crypto/rand). A token is worthless
// on its own; only phantom's vault maps it back to a value.
package token

import (
	"crypto/rand"
	"encoding/hex"
)

const (
	// Prefix starts every token.
	Prefix = "phm_"
	// Len is the full length of a token.
	Len = len(Prefix) + 64
)

// New returns a fresh random token.
func New() string {
	var b [32]byte
	// crypto/rand.Read never fails on supported platforms (Go 1.24+ panics
	// internally instead), so the error is not ours to handle.
	rand.Read(b[:])
	return Prefix + hex.EncodeToString(b[:])
}

// Is reports whether s is exactly one well-formed token.
func Is(s string) bool {
	return len(s) == Len && s[:len(Prefix)] == Prefix && isHex(s[len(Prefix):])
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// FindAll returns the byte offsets of every well-formed token in b. A token
// must not be directly preceded or followed by another hex-or-word character,
// so "xphm_…" or a 65-hex run is not matched.
func FindAll(b []byte) []int {
	var out []int
	for i := 0; i+Len <= len(b); i++ {
		if b[i] != 'p' || string(b[i:i+len(Prefix)]) != Prefix {
			continue
		}
		if i > 0 && isWord(b[i-1]) {
			continue
		}
		if !isHex(string(b[i+len(Prefix) : i+Len])) {
			continue
		}
		if i+Len < len(b) && isWord(b[i+Len]) {
			continue
		}
		out = append(out, i)
		i += Len - 1
	}
	return out
}

func isWord(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
