package scrub

import (
	"io"
	"math/rand/v2"
	"testing"
)

// benchInput is a 1 MiB body of base64-like text (the same alphabet as the
// secrets, which keeps the automaton off its root) with 200 secrets in it.
func benchInput(b *testing.B) (*Replacer, []byte) {
	rng := rand.New(rand.NewPCG(42, 42))
	pairs := secrets(rng, 1000)
	ks := keys(pairs)
	in := make([]byte, 0, 1<<20)
	for len(in) < 1<<20 {
		in = append(in, randString(rng, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_ \"{}:,\n", 5000)...)
		in = append(in, ks[rng.IntN(len(ks))]...)
	}
	in = in[:1<<20]
	return New(pairs), in
}

func BenchmarkScrub1MiB1000Secrets(b *testing.B) {
	r, in := benchInput(b)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, n := r.Replace(in); n < 100 {
			b.Fatalf("%d replacements", n)
		}
	}
}

func BenchmarkScrub1MiB1000SecretsStream4KiB(b *testing.B) {
	r, in := benchInput(b)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		w := r.NewWriter(io.Discard)
		for i := 0; i < len(in); i += 4096 {
			w.Write(in[i:min(i+4096, len(in))])
		}
		w.Close()
		if w.Replacements() < 100 {
			b.Fatalf("%d replacements", w.Replacements())
		}
	}
}

func BenchmarkNew1000Secrets(b *testing.B) {
	pairs := secrets(rand.New(rand.NewPCG(1, 1)), 1000)
	b.ReportAllocs()
	for b.Loop() {
		New(pairs)
	}
}

// benchInputEncoded is benchInput with every value's encodings in the
// automaton (what the proxy and exec's masker compile).
func benchInputEncoded(b *testing.B) (*Replacer, []byte) {
	rng := rand.New(rand.NewPCG(42, 42))
	pairs := secrets(rng, 1000)
	ks := keys(pairs)
	in := make([]byte, 0, 1<<20)
	for len(in) < 1<<20 {
		in = append(in, randString(rng, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_ \"{}:,\n", 5000)...)
		in = append(in, ks[rng.IntN(len(ks))]...)
	}
	in = in[:1<<20]
	return New(WithEncodings(pairs)), in
}

func BenchmarkScrub1MiB1000SecretsEncoded(b *testing.B) {
	r, in := benchInputEncoded(b)
	b.ReportMetric(float64(r.Len()), "patterns")
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, n := r.Replace(in); n < 100 {
			b.Fatalf("%d replacements", n)
		}
	}
}

func BenchmarkNew1000SecretsEncoded(b *testing.B) {
	pairs := secrets(rand.New(rand.NewPCG(1, 1)), 1000)
	b.ReportAllocs()
	for b.Loop() {
		New(WithEncodings(pairs))
	}
}

// BenchmarkNew10SecretsEncoded is exec's start-up cost for a typical vault.
func BenchmarkNew10SecretsEncoded(b *testing.B) {
	pairs := secrets(rand.New(rand.NewPCG(1, 1)), 10)
	b.ReportAllocs()
	for b.Loop() {
		New(WithEncodings(pairs))
	}
}
