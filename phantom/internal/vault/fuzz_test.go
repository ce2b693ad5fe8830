package vault

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"phantomstack.dev/shared/token"
)

// The fuzz harness decodes with a fixed project id, passphrase and keychain
// data key, so valid seeds decrypt and mutations explore every check.
var (
	fuzzProject = [projectIDLen]byte{0: 0xa1, 15: 0x5e}
	fuzzPass    = []byte("fuzz passphrase")
	fuzzKey     = bytes.Repeat([]byte{0x42}, keyLen)
	fuzzKDF     = KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}
)

// Harness-only bound on Argon2 cost, far below the production guard, so each
// fuzz input stays fast. The production guard itself runs unchanged first.
const (
	fuzzMaxMemoryKiB = 1024
	fuzzMaxTime      = 4
)

var errSkipKDF = errors.New("fuzz harness: KDF parameters above the harness bound")

func fuzzUnlock(h *header) ([]byte, error) {
	switch h.source {
	case Keychain:
		return bytes.Clone(fuzzKey), nil
	case Passphrase, Hardened:
		if h.kdf.MemoryKiB > fuzzMaxMemoryKiB || h.kdf.Time > fuzzMaxTime {
			return nil, errSkipKDF
		}
		return unwrapPassphrase(h, fuzzPass)
	}
	panic("parseHeader returned an unknown key source")
}

func fuzzPayload(n int) *Payload {
	p := &Payload{Secrets: map[string]*Secret{}}
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	for i := range n {
		name := string(rune('A' + i))
		p.Secrets[name] = &Secret{Value: []byte("v" + name), Token: token.New(), CreatedAt: t0, UpdatedAt: t0,
			Origins: map[string]string{".env": `"v` + name + `"`}}
	}
	return p
}

func fuzzFile(tb testing.TB, src KeySource, p *Payload) []byte {
	tb.Helper()
	var h *header
	key := fuzzKey
	switch src {
	case Keychain:
		h = newKeychainHeader(fuzzProject, key)
	case Passphrase, Hardened:
		key = newDataKey()
		salt := make([]byte, saltLen)
		var err error
		h, err = newPassphraseHeader(src, fuzzProject, fuzzKDF, salt, deriveKEK(fuzzPass, salt, fuzzKDF), key)
		if err != nil {
			tb.Fatal(err)
		}
	}
	plain, err := encodePayload(p)
	if err != nil {
		tb.Fatal(err)
	}
	f, err := sealFile(h, key, plain)
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

var fuzzSentinels = []error{ErrCorrupt, ErrWrongPassphrase, ErrNewerVersion, ErrWrongProject, ErrKeyMismatch}

func FuzzDecode(f *testing.F) {
	for _, src := range []KeySource{Keychain, Passphrase, Hardened} {
		for _, n := range []int{0, 1, 3} {
			good := fuzzFile(f, src, fuzzPayload(n))
			f.Add(good, false)
			f.Add(good[:len(good)/2], false)
			f.Add(good[:headerLen(src)], true)
			flipped := bytes.Clone(good)
			flipped[len(flipped)-1] ^= 1
			f.Add(flipped, false)
			newer := bytes.Clone(good)
			binary.BigEndian.PutUint16(newer[8:], 2)
			f.Add(newer, false)
			other := bytes.Clone(good)
			other[11] ^= 0xff
			f.Add(other, true)
			if src != Keychain { // hardened ↔ passphrase: the wrap's AAD covers the byte
				swapped := bytes.Clone(good)
				swapped[10] ^= byte(Passphrase ^ Hardened)
				f.Add(swapped, true)
			}
		}
		absurd := fuzzFile(f, Passphrase, fuzzPayload(1))
		copy(absurd[31:], []byte{0xff, 0xff, 0xff, 0xff})
		f.Add(absurd, true)
	}
	f.Add([]byte{}, false)
	f.Add([]byte("PHMVAULT"), false)
	f.Add([]byte("PHMVAULT\x00\x01\x02"), true)

	f.Fuzz(func(t *testing.T, data []byte, fix bool) {
		if fix {
			data = fixSum(data)
		}
		orig := bytes.Clone(data)
		h, p, key, err := decodeFile(data, fuzzProject, fuzzUnlock)
		if !bytes.Equal(orig, data) {
			t.Fatal("decoder modified its input")
		}
		if errors.Is(err, errSkipKDF) {
			return
		}
		if err != nil {
			if h != nil || p != nil || key != nil {
				t.Fatalf("error %v came with a header, payload or key", err)
			}
			for _, s := range fuzzSentinels {
				if errors.Is(err, s) {
					return
				}
			}
			t.Fatalf("error is not a sentinel: %v", err)
		}
		if err := p.validate(); err != nil {
			t.Fatalf("decoded an invalid payload: %v", err)
		}
		// What decodes must re-encode and decode to the same content.
		plain, err := encodePayload(p)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		again, err := parsePayload(plain)
		if err != nil || len(again.Secrets) != len(p.Secrets) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// FuzzPayloadJSON fuzzes the decrypted-payload parser directly (the AEAD keeps
// random bytes from ever reaching it through FuzzDecode).
func FuzzPayloadJSON(f *testing.F) {
	b, _ := encodePayload(fuzzPayload(3))
	f.Add(b)
	f.Add([]byte(`{"version":1,"secrets":{}}`))
	f.Add([]byte(`{"version":2,"secrets":{}}`))
	f.Add([]byte(`{"version":1,"secrets":{"A":{"value":"eA==","token":"phm_0","origins":{"a":"b"}}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := parsePayload(data)
		if err != nil {
			if p != nil || !(errors.Is(err, ErrCorrupt) || errors.Is(err, ErrNewerVersion)) {
				t.Fatalf("bad error %v (payload %v)", err, p != nil)
			}
			return
		}
		plain, err := encodePayload(p)
		if err != nil {
			t.Fatalf("a payload that decodes does not encode: %v", err)
		}
		q, err := parsePayload(plain)
		if err != nil {
			t.Fatalf("round trip: %v", err)
		}
		for name, s := range p.Secrets {
			r := q.Secrets[name]
			if r == nil || !bytes.Equal(r.Value, s.Value) || r.Token != s.Token || !r.CreatedAt.Equal(s.CreatedAt) || len(r.Origins) != len(s.Origins) {
				t.Fatalf("round trip changed %q", name)
			}
		}
	})
}
