package agent

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// proofLabel separates the agent's proof from every other use of the data
// key (the vault's key check uses its own label, internal/vault).
const proofLabel = "phantom agent proof v1"

// NonceSize is the size of a TypeProve nonce.
const NonceSize = 32

// Prove is the payload of TypeProve; Proof of TypeProof. Both hex.
type Prove struct {
	Nonce string `json:"nonce"`
}
type Proof struct {
	MAC string `json:"mac"`
}

// NewProve makes a fresh random challenge for an agent that claims to hold
// the key. `phantom unlock` holds the key itself, so it can check the answer
// (CheckProof); an impostor on the socket cannot compute it.
func NewProve() (Prove, []byte, error) {
	nonce := make([]byte, NonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return Prove{}, nil, err
	}
	return Prove{Nonce: hex.EncodeToString(nonce)}, nonce, nil
}

// ProofMAC is HMAC-SHA256(key, "phantom agent proof v1" || nonce).
func ProofMAC(key, nonce []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(proofLabel))
	m.Write(nonce)
	return m.Sum(nil)
}

// Answer is the agent's side: the proof for a TypeProve payload.
func Answer(key []byte, p Prove) (Proof, error) {
	nonce, err := hex.DecodeString(p.Nonce)
	if err != nil || len(nonce) != NonceSize {
		return Proof{}, fmt.Errorf("agent protocol: the prove nonce must be %d bytes of hex", NonceSize)
	}
	return Proof{MAC: hex.EncodeToString(ProofMAC(key, nonce))}, nil
}

// CheckProof reports whether an agent's answer proves it holds key
// (constant-time comparison).
func CheckProof(key, nonce []byte, p Proof) bool {
	mac, err := hex.DecodeString(p.MAC)
	return err == nil && hmac.Equal(mac, ProofMAC(key, nonce))
}
