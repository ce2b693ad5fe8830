package scrub

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"
)

// naive is the reference: at each position take the longest pattern that
// starts there, else copy one byte. That is leftmost-longest by definition.
func naive(in []byte, pairs map[string]string) ([]byte, int) {
	var out []byte
	n := 0
	for i := 0; i < len(in); {
		best := ""
		for p := range pairs {
			if p != "" && len(p) > len(best) && bytes.HasPrefix(in[i:], []byte(p)) {
				best = p
			}
		}
		if best == "" {
			out = append(out, in[i])
			i++
			continue
		}
		out = append(out, pairs[best]...)
		i += len(best)
		n++
	}
	return out, n
}

// stream writes in through a Writer in the given chunk sizes (cycled) and
// checks the held-back bound after every Write.
func stream(t testing.TB, r *Replacer, in []byte, sizes []int) ([]byte, int) {
	t.Helper()
	var out bytes.Buffer
	w := r.NewWriter(&out)
	for i, j := 0, 0; i < len(in); j++ {
		n := min(sizes[j%len(sizes)], len(in)-i)
		if got, err := w.Write(in[i : i+n]); err != nil || got != n {
			t.Fatalf("Write = %d, %v; want %d, nil", got, err, n)
		}
		i += n
		checkHeld(t, r, in[:i], w.Held())
		if out.Len()+w.Held() < 0 {
			t.Fatal("unreachable")
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if w.Held() != 0 {
		t.Fatalf("Held after Close = %d", w.Held())
	}
	return out.Bytes(), w.Replacements()
}

// checkHeld: a Writer may only hold a suffix of the input that is a proper
// prefix of some pattern.
func checkHeld(t testing.TB, r *Replacer, seen []byte, held int) {
	t.Helper()
	if r.Len() == 0 {
		if held != 0 {
			t.Fatalf("held %d with no patterns", held)
		}
		return
	}
	if held > r.maxLen-1 {
		t.Fatalf("held %d > longest pattern %d - 1", held, r.maxLen)
	}
	if held == 0 {
		return
	}
	if held > len(seen) {
		t.Fatalf("held %d of %d bytes seen", held, len(seen))
	}
	suf := seen[len(seen)-held:]
	if !r.isProperPrefix(suf) {
		t.Fatalf("held %q, which is no proper prefix of a pattern", suf)
	}
}

// isProperPrefix walks the trie (test helper; uses the automaton's own
// tables, so it also checks depth bookkeeping). It follows edges only.
func (r *Replacer) isProperPrefix(b []byte) bool {
	s := uint32(rootID)
	for _, x := range b {
		cl := r.class[x]
		nx := uint32(0)
		if s < r.nDense {
			v := r.stateID(r.dense[s*r.k+uint32(cl)])
			if v != deadID && r.depth[v] == r.depth[s]+1 {
				nx = v
			}
		} else {
			for j := r.tStart[s]; j < r.tStart[s+1]; j++ {
				if r.tClass[j] == cl {
					nx = r.stateID(r.tNext[j])
				}
			}
		}
		if nx == 0 {
			return false
		}
		s = nx
	}
	// A proper prefix has a child edge.
	if s < r.nDense {
		for c := uint32(0); c < r.k; c++ {
			v := r.stateID(r.dense[s*r.k+c])
			if v != deadID && r.depth[v] == r.depth[s]+1 {
				return true
			}
		}
		return false
	}
	return r.tStart[s+1] > r.tStart[s]
}

func readAll(t testing.TB, rd io.Reader) []byte {
	t.Helper()
	b, err := io.ReadAll(rd)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkAll compares Replace, ReplaceString, a Writer (several chunkings) and
// Readers against the reference.
func checkAll(t testing.TB, pairs map[string]string, in []byte, rng *rand.Rand) {
	t.Helper()
	r := New(pairs)
	want, wantN := naive(in, pairs)
	got, n := r.Replace(in)
	if !bytes.Equal(got, want) || n != wantN {
		t.Fatalf("Replace(%q) = %q, %d; want %q, %d (patterns %q)", in, got, n, want, wantN, keys(pairs))
	}
	if gs, n := r.ReplaceString(string(in)); gs != string(want) || n != wantN {
		t.Fatalf("ReplaceString(%q) = %q, %d; want %q, %d", in, gs, n, want, wantN)
	}
	chunkings := [][]int{{1}, {2}, {3, 1}, {len(in) + 1}, {7, 1, 2}}
	if rng != nil {
		var sz []int
		for range 8 {
			sz = append(sz, 1+rng.IntN(2*r.maxLen+2))
		}
		chunkings = append(chunkings, sz)
	}
	for _, sizes := range chunkings {
		got, n := stream(t, r, in, sizes)
		if !bytes.Equal(got, want) || n != wantN {
			t.Fatalf("stream %v (%q) = %q, %d; want %q, %d (patterns %q)", sizes, in, got, n, want, wantN, keys(pairs))
		}
	}
	for _, rd := range []io.Reader{
		r.NewReader(bytes.NewReader(in)),
		r.NewReader(iotest.OneByteReader(bytes.NewReader(in))),
		iotest.OneByteReader(r.NewReader(iotest.HalfReader(bytes.NewReader(in)))),
	} {
		if got := readAll(t, rd); !bytes.Equal(got, want) {
			t.Fatalf("Reader(%q) = %q; want %q", in, got, want)
		}
	}
}

func keys(m map[string]string) []string {
	var k []string
	for p := range m {
		k = append(k, p)
	}
	return k
}

func TestTable(t *testing.T) {
	for _, c := range []struct {
		name  string
		pairs map[string]string
		in    string
		want  string
		n     int
	}{
		{"empty map", nil, "abc", "abc", 0},
		{"empty pattern ignored", map[string]string{"": "X"}, "abc", "abc", 0},
		{"empty input", map[string]string{"a": "X"}, "", "", 0},
		{"whole input", map[string]string{"secret": "T"}, "secret", "T", 1},
		{"repeated", map[string]string{"ab": "X"}, "ababab", "XXX", 3},
		{"repeated with gaps", map[string]string{"ab": "X"}, "aabxabbab", "aXxXbX", 3},
		{"overlap leftmost wins", map[string]string{"abc": "1", "bcd": "2"}, "abcd", "1d", 1},
		{"overlap longest at same start", map[string]string{"abc": "1", "bcd": "2", "abcd": "3"}, "abcd", "3", 1},
		{"overlap: abcd absent", map[string]string{"abc": "1", "bcd": "2", "abcd": "3"}, "abcbcd", "12", 2},
		{"later start not preferred", map[string]string{"bc": "1", "abcd": "2"}, "abcx", "a1x", 1},
		{"longer found later wins", map[string]string{"bc": "1", "abcd": "2"}, "abcd", "2", 1},
		{"prefix of another", map[string]string{"key": "1", "keyvalue": "2"}, "keyval keyvalue key", "1val 2 1", 3},
		{"prefix at end of input", map[string]string{"key": "1", "keyvalue": "2"}, "xkeyva", "x1va", 1},
		{"nested suffix", map[string]string{"abcde": "1", "bc": "2", "cd": "3"}, "abcdx", "a2dx", 1},
		{"suffix continues", map[string]string{"bc": "1", "bcd": "2", "abce": "3"}, "abcd", "a2", 1},
		{"single bytes", map[string]string{"a": "1", "b": "2"}, "abcab", "12c12", 4},
		{"replacement contains pattern", map[string]string{"a": "aa"}, "aba", "aabaa", 2},
		{"binary", map[string]string{"\x00\xff\x00": "Z", "\xff": "F"}, "\x00\xff\x00\xff\x01", "ZF\x01", 2},
		{"quadratic shape", map[string]string{"x": "1", "xxxxq": "2"}, "xxxxxxxxxq", "111112", 6},
		{"all same byte", map[string]string{"aa": "1", "aaa": "2"}, "aaaaaaaa", "221", 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := New(c.pairs)
			got, n := r.ReplaceString(c.in)
			if got != c.want || n != c.n {
				t.Fatalf("ReplaceString(%q) = %q, %d; want %q, %d", c.in, got, n, c.want, c.n)
			}
			checkAll(t, c.pairs, []byte(c.in), nil)
		})
	}
}

func TestLen(t *testing.T) {
	if n := New(map[string]string{"a": "1", "bb": "2", "": "3"}).Len(); n != 2 {
		t.Fatalf("Len = %d, want 2", n)
	}
	var nilR *Replacer
	if nilR.Len() != 0 {
		t.Fatal("nil Replacer Len != 0")
	}
	if b, n := nilR.Replace([]byte("x")); string(b) != "x" || n != 0 {
		t.Fatal("nil Replacer does not copy through")
	}
}

// Every pattern split at every offset, alone and surrounded.
func TestEveryPatternEveryOffset(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pairs := map[string]string{
		"abc": "<1>", "bcd": "<2>", "abcd": "<3>", "cab": "<4>",
		"-----BEGIN KEY-----\nMIIE\n-----END KEY-----": "<pem>",
		"\n": "<nl>",
	}
	for i := range 20 {
		pairs[fmt.Sprintf("s%02dk%x", i, rng.Uint64())] = fmt.Sprintf("phm_%064x", i)
	}
	r := New(pairs)
	for p := range pairs {
		for _, in := range []string{p, "x" + p + "y", p + p, "ab" + p + "cd" + p} {
			want, wantN := naive([]byte(in), pairs)
			for cut := 0; cut <= len(in); cut++ {
				for cut2 := cut; cut2 <= len(in); cut2 += max(1, len(in)/5) {
					var out bytes.Buffer
					w := r.NewWriter(&out)
					w.Write([]byte(in[:cut]))
					w.Write([]byte(in[cut:cut2]))
					w.Write([]byte(in[cut2:]))
					w.Close()
					if out.String() != string(want) || w.Replacements() != wantN {
						t.Fatalf("cut %d,%d of %q: %q, want %q", cut, cut2, in, out.String(), want)
					}
				}
			}
		}
	}
}

// Random small alphabets force heavy overlap between patterns and input.
func TestRandomAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for iter := range 3000 {
		alpha := "ab"
		if iter%3 == 1 {
			alpha = "abc"
		} else if iter%3 == 2 {
			alpha = "ab\x00\xff"
		}
		pairs := map[string]string{}
		for range 1 + rng.IntN(6) {
			pairs[randString(rng, alpha, 1+rng.IntN(6))] = fmt.Sprintf("<%d>", rng.IntN(100))
		}
		in := []byte(randString(rng, alpha, rng.IntN(60)))
		checkAll(t, pairs, in, rng)
	}
}

func randString(rng *rand.Rand, alpha string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alpha[rng.IntN(len(alpha))]
	}
	return string(b)
}

// secrets returns n random 40-character values and their tokens.
func secrets(rng *rand.Rand, n int) map[string]string {
	const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	pairs := make(map[string]string, n)
	for len(pairs) < n {
		pairs[randString(rng, b64, 40)] = fmt.Sprintf("phm_%016x%016x%016x%016x", rng.Uint64(), rng.Uint64(), rng.Uint64(), rng.Uint64())
	}
	return pairs
}

func TestThousandPatterns(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	pairs := secrets(rng, 1000)
	// Add patterns that overlap the others: prefixes and suffixes.
	for _, p := range keys(pairs)[:50] {
		pairs[p[:20]] = "<pre>"
		pairs[p[25:]] = "<suf>"
	}
	ks := keys(pairs)
	var in []byte
	for range 300 {
		in = append(in, randString(rng, "abcXYZ019-_ \n", rng.IntN(40))...)
		in = append(in, ks[rng.IntN(len(ks))]...)
	}
	checkAll(t, pairs, in, rng)
	got, n := New(pairs).Replace(in)
	if n < 300 {
		t.Fatalf("only %d replacements", n)
	}
	for p := range pairs {
		if len(p) == 40 && bytes.Contains(got, []byte(p)) {
			t.Fatal("a secret survived")
		}
	}
}

func TestSSEHoldsNothing(t *testing.T) {
	r := New(map[string]string{"sk-live-abcdef0123": "phm_x"})
	var out bytes.Buffer
	w := r.NewWriter(&out)
	ev := "data: {\"text\":\"sk-live-abcdef0123 said hi\"}\n\n"
	for i := range 3 {
		w.Write([]byte(ev))
		if w.Held() != 0 {
			t.Fatalf("event %d: held %d bytes", i, w.Held())
		}
		if want := strings.Repeat("data: {\"text\":\"phm_x said hi\"}\n\n", i+1); out.String() != want {
			t.Fatalf("out = %q, want %q", out.String(), want)
		}
	}
	// A chunk ending in a pattern prefix holds exactly that prefix.
	w.Write([]byte("data: sk-li"))
	if w.Held() != len("sk-li") {
		t.Fatalf("held %d, want %d", w.Held(), len("sk-li"))
	}
	// Ending in a complete pattern that nothing extends holds nothing.
	w.Write([]byte("ve-abcdef0123"))
	if w.Held() != 0 || !strings.HasSuffix(out.String(), "data: phm_x") {
		t.Fatalf("held %d, out %q", w.Held(), out.String())
	}
}

func TestReplaceNoAlloc(t *testing.T) {
	r := New(secrets(rand.New(rand.NewPCG(7, 8)), 100))
	in := bytes.Repeat([]byte("hello world, nothing to see here. "), 100)
	allocs := testing.AllocsPerRun(20, func() {
		out, n := r.Replace(in)
		if n != 0 || &out[0] != &in[0] {
			t.Fatal("Replace copied")
		}
		if _, n := r.ReplaceString("nothing here"); n != 0 {
			t.Fatal("replaced")
		}
	})
	if allocs != 0 {
		t.Fatalf("Replace with no match allocates %v times", allocs)
	}
}

func TestWriterNoAllocPerWrite(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	pairs := secrets(rng, 100)
	r := New(pairs)
	var chunk []byte
	for p := range pairs {
		chunk = append(chunk, "some text "...)
		chunk = append(chunk, p...)
		if len(chunk) > 3000 {
			break
		}
	}
	w := r.NewWriter(io.Discard)
	// Cut chunks so writes end inside secrets too.
	pieces := [][]byte{chunk[:1000], chunk[1000:1013], chunk[1013:]}
	for _, p := range pieces { // warm up the buffers
		w.Write(p)
	}
	allocs := testing.AllocsPerRun(50, func() {
		for _, p := range pieces {
			w.Write(p)
		}
	})
	if allocs != 0 {
		t.Fatalf("Writer allocates %v times per round", allocs)
	}
}

type flushRecorder struct {
	bytes.Buffer
	flushes int
}

func (f *flushRecorder) Flush() { f.flushes++ }

type flushErrer struct {
	bytes.Buffer
	err error
}

func (f *flushErrer) Flush() error { return f.err }

type closeRecorder struct {
	bytes.Buffer
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

func TestFlush(t *testing.T) {
	r := New(map[string]string{"secretvalue": "T"})
	f := &flushRecorder{}
	w := r.NewWriter(f)
	w.Write([]byte("hello secr"))
	if err := w.Flush(); err != nil || f.flushes != 1 {
		t.Fatalf("Flush = %v, flushes %d", err, f.flushes)
	}
	if f.String() != "hello " || w.Held() != 4 {
		t.Fatalf("Flush released held bytes: %q, held %d", f.String(), w.Held())
	}
	w.Write([]byte("etvalue!"))
	w.Close()
	if f.String() != "hello T!" {
		t.Fatalf("out = %q", f.String())
	}

	boom := errors.New("boom")
	if err := r.NewWriter(&flushErrer{err: boom}).Flush(); err != boom {
		t.Fatalf("Flush error = %v, want boom", err)
	}
	if err := r.NewWriter(io.Discard).Flush(); err != nil {
		t.Fatalf("Flush on a non-flusher = %v", err)
	}
}

func TestCloseReleasesHeldAndKeepsUnderlyingOpen(t *testing.T) {
	r := New(map[string]string{"secretvalue": "T", "sec": "S"})
	c := &closeRecorder{}
	w := r.NewWriter(c)
	w.Write([]byte("a secre"))
	if c.String() != "a " {
		t.Fatalf("before Close: %q", c.String())
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if c.String() != "a Sre" || c.closed {
		t.Fatalf("after Close: %q closed=%v", c.String(), c.closed)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	if _, err := w.Write([]byte("x")); err != ErrClosed {
		t.Fatalf("Write after Close = %v", err)
	}
}

type failWriter struct{ err error }

func (f failWriter) Write(p []byte) (int, error) { return 0, f.err }

func TestWriteErrorSticks(t *testing.T) {
	boom := errors.New("boom")
	for _, r := range []*Replacer{New(map[string]string{"zz": "T"}), New(nil)} {
		w := r.NewWriter(failWriter{boom})
		if _, err := w.Write([]byte("abc")); err != boom {
			t.Fatalf("Write = %v", err)
		}
		if _, err := w.Write([]byte("abc")); err != boom {
			t.Fatalf("second Write = %v", err)
		}
		if err := w.Close(); err != boom {
			t.Fatalf("Close = %v", err)
		}
	}
}

func TestEmptyReplacerStreams(t *testing.T) {
	r := New(map[string]string{})
	var out bytes.Buffer
	w := r.NewWriter(&out)
	w.Write([]byte("abc"))
	w.Close()
	if out.String() != "abc" {
		t.Fatalf("out = %q", out.String())
	}
	if got := readAll(t, r.NewReader(strings.NewReader("xyz"))); string(got) != "xyz" {
		t.Fatalf("reader = %q", got)
	}
}

type errAfter struct {
	data []byte
	err  error
}

func (e *errAfter) Read(p []byte) (int, error) {
	if len(e.data) == 0 {
		return 0, e.err
	}
	n := copy(p, e.data)
	e.data = e.data[n:]
	return n, nil
}

func TestReaderErrorDropsHeld(t *testing.T) {
	boom := errors.New("boom")
	r := New(map[string]string{"secretvalue": "T"})
	rd := r.NewReader(&errAfter{data: []byte("ok secret"), err: boom})
	got, err := io.ReadAll(rd)
	if err != boom || string(got) != "ok " {
		t.Fatalf("ReadAll = %q, %v; want the held prefix dropped", got, err)
	}
	if n, err := rd.Read(make([]byte, 4)); n != 0 || err != boom {
		t.Fatalf("Read after error = %d, %v", n, err)
	}
	if n, err := rd.Read(nil); n != 0 || err != nil {
		t.Fatalf("Read(nil) = %d, %v", n, err)
	}
}

func TestLongPatternsAndBigChunks(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	pem := "-----BEGIN PRIVATE KEY-----\n" + randString(rng, "ABCDEFabcdef0123456789+/\n", 3000) + "\n-----END PRIVATE KEY-----\n"
	pairs := map[string]string{pem: "phm_pem", pem[:100]: "phm_head", "-----": "phm_dash"}
	in := []byte("x" + pem + pem[:2000] + "y" + pem + pem[:100] + "z")
	checkAll(t, pairs, in, rng)
}

type flushErrorer struct {
	bytes.Buffer
	calls int
}

func (f *flushErrorer) FlushError() error { f.calls++; return nil }
func (f *flushErrorer) Flush()            { panic("FlushError should be preferred") }

func TestFlushErrorPreferredAndStickyError(t *testing.T) {
	r := New(map[string]string{"zz": "T"})
	f := &flushErrorer{}
	if err := r.NewWriter(f).Flush(); err != nil || f.calls != 1 {
		t.Fatalf("Flush = %v, calls %d", err, f.calls)
	}
	boom := errors.New("boom")
	w := r.NewWriter(failWriter{boom})
	w.Write([]byte("z")) // held, nothing written yet
	if err := w.Close(); err != boom {
		t.Fatalf("Close = %v, want boom", err)
	}
	if err := w.Flush(); err != boom {
		t.Fatalf("Flush after failure = %v, want boom", err)
	}
}
