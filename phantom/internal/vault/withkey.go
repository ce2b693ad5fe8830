package vault

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
)

// OpenWithKey opens an existing vault with a data key the caller already
// holds: the agent that `phantom unlock` starts receives the key from the
// process that unlocked the vault, and serves commands with it (docs/phantom.md).
// It runs no key derivation, never calls the keychain and never prompts, so
// it reads no passphrase from the environment either (nor refuses one).
// PHANTOM_REQUIRE_KEYCHAIN still refuses a passphrase or hardened vault, as
// Open does.
//
// A key that does not open the file is ErrWrongKey: for a keychain vault
// the header's key check decides; for a passphrase or hardened vault the
// payload's authentication does, so a damaged file reads as ErrWrongKey
// there too (the two cannot be told apart without the passphrase).
//
// key is copied; the caller keeps (and wipes) its own. The handle can read
// and Update the vault but not Rekey it.
func OpenWithKey(opts Options, key []byte) (*Vault, error) {
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if len(key) != keyLen {
		return nil, &Error{Kind: ErrWrongKey, Path: c.path, Detail: fmt.Sprintf("the key is %d bytes, not %d", len(key), keyLen)}
	}
	data, err := c.readFile()
	if err != nil {
		return nil, err
	}
	h, p, err := decodeWithKey(data, c.project, key, func(h *header) error {
		if h.source != Keychain && c.requireKeychain() {
			return errf(ErrKeychainRequired, "this vault is protected by a "+h.source.String()+" passphrase")
		}
		return nil
	})
	if err != nil {
		return nil, withPath(err, c.path)
	}
	return &Vault{c: c, hdr: h, key: bytes.Clone(key), payload: p, fromKey: true}, nil
}

// decodeWithKey is decodeFile for a key the caller holds; allow may refuse
// the header before the key is tried.
func decodeWithKey(data []byte, project [projectIDLen]byte, key []byte, allow func(*header) error) (*header, *Payload, error) {
	h, rest, err := parseHeader(data)
	if err != nil {
		return nil, nil, err
	}
	if h.project != project {
		return nil, nil, errWrongProject(h.project, project)
	}
	if err := allow(h); err != nil {
		return nil, nil, err
	}
	if h.source == Keychain && subtle.ConstantTimeCompare(keyCheck(key), h.keyCheck) != 1 {
		return nil, nil, errf(ErrWrongKey, "the file's key check does not match the key")
	}
	plain, ok, err := decryptPayload(h, key, rest)
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		if h.source == Keychain { // the key check matched: the file is damaged
			return nil, nil, corrupt("payload authentication failed")
		}
		return nil, nil, errf(ErrWrongKey, "the payload does not decrypt with it: it is another vault's key, or the file was damaged")
	}
	defer wipe(plain)
	p, err := parsePayload(plain)
	if err != nil {
		return nil, nil, err
	}
	return h, p, nil
}

// DataKey returns a copy of the vault's data key (nil once closed), which
// the caller must wipe. Only `phantom unlock` calls it, to hand the key to
// the agent it starts through an inherited pipe: the key never travels over
// a socket, and nothing else needs it.
func (v *Vault) DataKey() []byte {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return nil
	}
	return bytes.Clone(v.key)
}

// MinProofNonce is the shortest nonce Proof and CheckProof accept. The
// checker chooses it at random for every check, so an old answer is never
// accepted again.
const MinProofNonce = 16

var proofLabel = []byte("phantom agent proof v1")

// Proof answers a challenge with HMAC-SHA256(key, "phantom agent proof
// v1" || nonce): an agent shows it holds the vault's data key without
// revealing it. The label keeps it apart from the key check stored in the
// file (HMAC of "phantom vault key check v1"). nil when key is not a data
// key or nonce is shorter than MinProofNonce.
func Proof(key, nonce []byte) []byte {
	if len(key) != keyLen || len(nonce) < MinProofNonce {
		return nil
	}
	m := hmac.New(sha256.New, key)
	m.Write(proofLabel)
	m.Write(nonce)
	return m.Sum(nil)
}

// CheckProof reports, in constant time, whether mac is Proof(key, nonce).
// It is false for a nonce shorter than MinProofNonce.
func CheckProof(key, nonce, mac []byte) bool {
	want := Proof(key, nonce)
	return want != nil && hmac.Equal(want, mac)
}

// Proof is Proof with this vault's data key (nil once closed).
func (v *Vault) Proof(nonce []byte) []byte {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return nil
	}
	return Proof(v.key, nonce)
}

// CheckProof is CheckProof with this vault's data key (false once closed).
func (v *Vault) CheckProof(nonce, mac []byte) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return false
	}
	return CheckProof(v.key, nonce, mac)
}
