package agent

import (
	"bytes"
	"testing"
)

func TestProof(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	prove, nonce, err := NewProve()
	if err != nil {
		t.Fatal(err)
	}
	ans, err := Answer(key, prove)
	if err != nil {
		t.Fatal(err)
	}
	if !CheckProof(key, nonce, ans) {
		t.Fatal("the right key's proof was refused")
	}
	if CheckProof(bytes.Repeat([]byte{8}, 32), nonce, ans) {
		t.Fatal("a proof made with another key was accepted")
	}
	_, nonce2, _ := NewProve()
	if bytes.Equal(nonce, nonce2) || CheckProof(key, nonce2, ans) {
		t.Fatal("a proof for one nonce passed for another (replay)")
	}
	if _, err := Answer(key, Prove{Nonce: "zz"}); err == nil {
		t.Fatal("Answer accepted a bad nonce")
	}
	if CheckProof(key, nonce, Proof{MAC: ""}) {
		t.Fatal("an empty proof was accepted")
	}
}
