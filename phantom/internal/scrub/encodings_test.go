package scrub

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"
)

func TestWithEncodingsForms(t *testing.T) {
	const v = "pa ss/wörd+\"<&>\x01=!" // 19 bytes: padded base64 differs from unpadded
	const tok = "phm_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	m := WithEncodings(map[string]string{v: tok, "short": "phm_short"})
	jsonGo, _ := json.Marshal(v)
	var plain bytes.Buffer
	enc := json.NewEncoder(&plain)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
	b64 := func(e *base64.Encoding, s string) string { return e.EncodeToString([]byte(s)) }
	want := map[string]string{
		v:                             tok,
		b64(base64.StdEncoding, v):    b64(base64.StdEncoding, tok),
		b64(base64.RawStdEncoding, v): b64(base64.RawStdEncoding, tok),
		b64(base64.URLEncoding, v):    b64(base64.URLEncoding, tok),
		b64(base64.RawURLEncoding, v): b64(base64.RawURLEncoding, tok),
		hex.EncodeToString([]byte(v)): hex.EncodeToString([]byte(tok)),
		strings.ToUpper(hex.EncodeToString([]byte(v))): strings.ToUpper(hex.EncodeToString([]byte(tok))),
		url.QueryEscape(v): tok,
		strings.ToLower(url.QueryEscape(v)[:0]) + lowerPercent(url.QueryEscape(v)): tok,
		url.PathEscape(v):                              tok,
		strings.Trim(string(jsonGo), `"`):              tok,
		strings.Trim(plain.String(), "\"\n"):           tok,
		`pa ss\/w\u00f6rd+\"<&>\u0001=!`:               tok, // PHP
		`pa ss/w\u00F6rd+\"<&>\u0001=!`:                tok, // upper-case \u
		`pa ss/w\u00f6rd+\"\u003c\u0026\u003e\u0001=!`: tok,
	}
	for f, r := range want {
		if got, ok := m[f]; !ok || got != r {
			t.Errorf("form %q -> %q, %v; want %q", f, got, ok, r)
		}
	}
	if _, ok := m[hex.EncodeToString([]byte("short"))]; ok {
		t.Error("a value shorter than MinEncodedLen got encoded forms")
	}
	if m["short"] != "phm_short" {
		t.Error("a short value lost its raw form")
	}
}

// lenientB64 decodes s from each of its four character alignments, in
// both alphabets, treating any other byte as a break in the stream.
func lenientB64(s string) [][]byte {
	var out [][]byte
	for _, alpha := range []string{
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
	} {
		for start := range 4 {
			var b []byte
			var acc, n uint
			for i := start; i < len(s); i++ {
				x := strings.IndexByte(alpha, s[i])
				if x < 0 {
					acc, n = 0, 0
					b = append(b, 0)
					continue
				}
				acc = acc<<6 | uint(x)
				n += 6
				if n >= 8 {
					b = append(b, byte(acc>>(n-8)))
					n -= 8
				}
			}
			out = append(out, b)
		}
	}
	return out
}

// TestEmbeddedBase64 puts each value inside a larger base64 blob at every
// byte offset and checks that no decoding of the scrubbed blob holds it.
func TestEmbeddedBase64(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	pairs := secrets(rng, 20)
	pairs["user:pa/ss+w=rd?"] = "phm_" + strings.Repeat("ab", 32)
	r := New(WithEncodings(pairs))
	for v := range pairs {
		for pre := range 7 {
			for post := range 4 {
				blob := randString(rng, "abcdefghij KLMNOP:{}\"", pre) + v + randString(rng, "abcdefghij KLMNOP:{}\"", post)
				for _, e := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
					in := "Authorization: Basic " + e.EncodeToString([]byte(blob)) + "\n"
					out, n := r.ReplaceString(in)
					if n == 0 {
						t.Fatalf("%q at offset %d: nothing replaced in %q", v, pre, in)
					}
					for _, d := range lenientB64(out) {
						if bytes.Contains(d, []byte(v)) {
							t.Fatalf("%q at offset %d survives in %q", v, pre, out)
						}
					}
				}
			}
		}
	}
}

// TestEncodedStreamEqualsBuffered is FuzzStreamEqualsBuffered's check on a
// realistic automaton: values with their encodings, fed in random chunks.
func TestEncodedStreamEqualsBuffered(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	pairs := secrets(rng, 30)
	pairs["p@ss/wörd\"<x>"] = "phm_" + strings.Repeat("cd", 32)
	exp := WithEncodings(pairs)
	ks := keys(exp)
	for range 30 {
		var in []byte
		for range 20 {
			in = append(in, randString(rng, "ab+/=%\\u0 \"", rng.IntN(30))...)
			in = append(in, ks[rng.IntN(len(ks))]...)
		}
		checkAll(t, exp, in, rng)
	}
}

func FuzzEncodedStreamEqualsBuffered(f *testing.F) {
	f.Add([]byte("cGFzc3dvcmQ= 70617373776f7264 pass%2Fword"), "password|pass/word", uint64(1))
	f.Add([]byte(`a\/b\u00e9 YWJjZGVm`), "a/bé-long|abcdef", uint64(2))
	f.Fuzz(func(t *testing.T, in []byte, pats string, seed uint64) {
		if len(in) > 2048 || len(pats) > 256 {
			return
		}
		pairs := map[string]string{}
		for i, p := range strings.Split(pats, "|") {
			if i == 4 {
				break
			}
			if p != "" {
				pairs[p] = fmt.Sprintf("phm_%064x", i)
			}
		}
		exp := WithEncodings(pairs)
		// Also feed the encoded forms themselves.
		for _, k := range keys(exp) {
			in = append(in, k...)
			in = append(in, ' ')
		}
		r := New(exp)
		want, wantN := r.Replace(in)
		if ref, refN := naive(in, exp); !bytes.Equal(want, ref) || wantN != refN {
			t.Fatalf("Replace = %q, %d; reference %q, %d", want, wantN, ref, refN)
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
	})
}
