package proxy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"phantomstack.dev/phantom/internal/catalog"
	"phantomstack.dev/shared/token"
)

// Benchmarks of the proxy in one process: a plain-http loopback upstream,
// the proxy in front of it, and a keep-alive client. `make bench` runs the
// side-by-side version (phantom/internal/tools/proxybench), with the proxy
// in its own process.

const benchAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// benchSecretSet is n secrets with random 40-byte values; the first is
// OPENAI_API_KEY, so the openai route carries it.
func benchSecretSet(rng *rand.Rand, n int) []Secret {
	out := make([]Secret, n)
	for i := range out {
		name := fmt.Sprintf("BENCH_SECRET_%04d", i)
		if i == 0 {
			name = "OPENAI_API_KEY"
		}
		v := make([]byte, 40)
		for j := range v {
			v[j] = benchAlphabet[rng.IntN(len(benchAlphabet))]
		}
		out[i] = Secret{Name: name, Token: token.New(), Value: string(v)}
	}
	return out
}

// benchProxy starts a proxy with the openai route pointed at upstream.
func benchProxy(b *testing.B, upstream string, secs []Secret) *Server {
	b.Helper()
	r, ok := catalog.Lookup("openai")
	if !ok {
		b.Fatal("no openai route in the catalog")
	}
	r.Upstream = upstream
	s, err := New(Options{Routes: []catalog.Route{r}, Secrets: secs, Rate: -1})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Listen(""); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	return s
}

func benchClient(b *testing.B) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 4, DisableCompression: true}
	b.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// BenchmarkProxiedRequest1KiB: one keep-alive POST with a 1 KiB body and
// a phm token in Authorization, answered with small JSON.
func BenchmarkProxiedRequest1KiB(b *testing.B) {
	reply := []byte(`{"id":"chatcmpl-bench","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"ok"}}]}`)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", fmt.Sprint(len(reply)))
		w.Write(reply)
	}))
	defer up.Close()
	secs := benchSecretSet(rand.New(rand.NewPCG(1, 1)), 10)
	s := benchProxy(b, up.URL, secs)
	c := benchClient(b)
	body := bytes.Repeat([]byte("a"), 1024)
	url := s.MountURL("openai") + "/v1/chat/completions"
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		req, err := http.NewRequest("POST", url, bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+secs[0].Token)
		resp, err := c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || n != int64(len(reply)) {
			b.Fatalf("status %d, %d bytes", resp.StatusCode, n)
		}
	}
}

// BenchmarkScrub1MiB1000SecretsThroughProxy: a 1 MiB response (known
// length, so the buffered scrubbing path) holding about 200 of the 1,000
// secret values.
func BenchmarkScrub1MiB1000SecretsThroughProxy(b *testing.B) {
	rng := rand.New(rand.NewPCG(2, 2))
	secs := benchSecretSet(rng, 1000)
	const filler = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_ \"{}:,\n"
	big := make([]byte, 0, 1<<20+5100)
	for len(big) < 1<<20 {
		for range 5000 {
			big = append(big, filler[rng.IntN(len(filler))])
		}
		big = append(big, secs[rng.IntN(len(secs))].Value...)
	}
	big = big[:1<<20]
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", fmt.Sprint(len(big)))
		w.Write(big)
	}))
	defer up.Close()
	s := benchProxy(b, up.URL, secs)
	c := benchClient(b)
	url := s.MountURL("openai") + "/v1/files/big"
	b.SetBytes(int64(len(big)))
	b.ReportAllocs()
	var out bytes.Buffer
	for b.Loop() {
		resp, err := c.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		out.Reset()
		_, err = out.ReadFrom(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d: %v", resp.StatusCode, err)
		}
		if n := strings.Count(out.String(), token.Prefix); n < 100 {
			b.Fatalf("only %d values scrubbed", n)
		}
	}
}
