// TEMPORARY lead stub; replaced by wip/vault at merge.
package vault

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
)

const Hardened KeySource = 3

func OpenWithKey(opts Options, key []byte) (*Vault, error) {
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	data, err := c.readFile()
	if err != nil {
		return nil, err
	}
	h, p, k, err := decodeFile(data, c.project, func(h *header) ([]byte, error) { return bytes.Clone(key), nil })
	if err != nil {
		return nil, withPath(err, c.path)
	}
	return &Vault{c: c, hdr: h, key: k, payload: p}, nil
}

func (v *Vault) DataKey() []byte { return bytes.Clone(v.key) }

func Proof(key, nonce []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("phantom agent proof v1"))
	m.Write(nonce)
	return m.Sum(nil)
}
