package scrub

import (
	"bytes"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
)

// FuzzStreamEqualsBuffered checks, for fuzzer-chosen input, patterns and a
// chunking seed, that streaming (random chunks and 1-byte chunks, Writer and
// Reader) equals Replace, that Replace equals the reference, and that no
// pattern survives in text that was not replaced.
//
// Patterns are the '|'-separated parts of pats with 0xfe and 0xff removed,
// and replacements are built only from those two bytes. So any pattern
// occurrence in the output lies wholly inside unreplaced input, which
// leftmost-longest scanning must never leave behind.
func FuzzStreamEqualsBuffered(f *testing.F) {
	f.Add([]byte("abcd abc bcd xabcdx"), "abc|bcd|abcd", uint64(1))
	f.Add([]byte("aaaaaaaaaaq"), "a|aaaaq", uint64(2))
	f.Add([]byte("xxxxxxxxxq"), "x|xxxxq|xq", uint64(3))
	f.Add([]byte("keyval keyvalue key keyv"), "key|keyvalue", uint64(4))
	f.Add([]byte("abcdx abcde"), "abcde|bc|cd", uint64(5))
	f.Add([]byte("abcd"), "bc|bcd|abce", uint64(6))
	f.Add([]byte("data: sk-live-1\n\ndata: sk-li\n\n"), "sk-live-1|\n\n", uint64(7))
	f.Add([]byte("\x00\x01\x00\x01\x00\x00\x01"), "\x00\x01\x00|\x01|\x00\x00", uint64(8))
	f.Add([]byte("-----BEGIN KEY-----\nAAAA\n-----END KEY-----\n"), "-----BEGIN KEY-----\nAAAA\n-----END KEY-----\n|-----|KEY", uint64(9))
	f.Add([]byte("secret"), "secret", uint64(10))
	f.Add([]byte(""), "a", uint64(11))
	f.Fuzz(func(t *testing.T, in []byte, pats string, seed uint64) {
		if len(in) > 4096 || len(pats) > 512 {
			return
		}
		pairs := map[string]string{}
		for i, p := range strings.Split(pats, "|") {
			if i == 8 {
				break
			}
			p = strings.Map(func(r rune) rune {
				if r == '\ufffd' {
					return -1
				}
				return r
			}, p)
			p = string(bytes.ReplaceAll(bytes.ReplaceAll([]byte(p), []byte{0xfe}, nil), []byte{0xff}, nil))
			if p != "" {
				pairs[p] = "\xff" + strings.Repeat("\xfe", len(pairs)) + "\xff"
			}
		}
		r := New(pairs)
		want, wantN := r.Replace(in)
		if ref, refN := naive(in, pairs); !bytes.Equal(want, ref) || wantN != refN {
			t.Fatalf("Replace = %q, %d; reference %q, %d", want, wantN, ref, refN)
		}
		for p := range pairs {
			if bytes.Contains(want, []byte(p)) {
				t.Fatalf("pattern %q survives in %q", p, want)
			}
		}
		rng := rand.New(rand.NewPCG(seed, seed>>32))
		sizes := make([]int, 1+rng.IntN(8))
		for i := range sizes {
			sizes[i] = 1 + rng.IntN(max(2, 2*r.maxLen+1))
		}
		for _, sz := range [][]int{sizes, {1}} {
			got, n := stream(t, r, in, sz)
			if !bytes.Equal(got, want) || n != wantN {
				t.Fatalf("stream %v = %q, %d; Replace = %q, %d", sz, got, n, want, wantN)
			}
		}
		got := readAll(t, r.NewReader(&chunkReader{in, sizes, 0}))
		if !bytes.Equal(got, want) {
			t.Fatalf("Reader = %q; Replace = %q", got, want)
		}
	})
}

// chunkReader returns data in the given sizes, cycled.
type chunkReader struct {
	data  []byte
	sizes []int
	i     int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(c.data), c.sizes[c.i%len(c.sizes)])
	c.i++
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}
