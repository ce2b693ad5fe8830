// Package scrub replaces many byte patterns in one left-to-right pass, over a
// whole buffer or over a stream cut at arbitrary points.
//
// phantom uses it twice: the proxy rewrites every real secret value in an
// upstream response to its phm_ token, and exec masks injected values in a
// child's stdout/stderr. Both have to cope with a thousand or more patterns
// (secret values, some of them several KiB of PEM), and both see data in
// chunks, so a secret can be split across two reads.
//
// The matcher is a hand-written Aho-Corasick automaton, not strings.Replacer
// or a regexp alternation, because streaming needs the automaton's state at
// the end of a chunk: its depth is exactly the length of the longest suffix
// that could still grow into a match. A Writer holds back just those bytes
// and passes everything else on at once, so an SSE stream whose events end
// in "\n\n" goes through with nothing held when no pattern starts with "\n".
// The standard library exposes no such state.
//
// Matching is leftmost-longest and non-overlapping: the match that starts
// first wins, the longest one among those starting at the same byte, and the
// scan resumes after it. Streaming output is identical to Replace on the
// concatenated input for every way of cutting the input into chunks.
package scrub

import (
	"errors"
	"io"
	"slices"
)

// State ids and their encoding in transition targets. A target carries
// special in its top bit when it is the dead state or reports a match, so
// the hot loop tests one bit instead of loading per-state data for every
// byte. A state with a dense row is encoded as its row's offset in the dense
// table (id*k), not its id, which takes a multiplication out of the chain of
// dependent loads the scan is; a state without one carries sparse and its id.
const (
	special  = 1 << 31
	sparse   = 1 << 30
	offMask  = sparse - 1
	deadID   = 0
	rootID   = 1
	deadEnc  = 0 | special // dead's row is at offset 0
	denseMax = 1 << 17     // dense table entries (512 KiB): root and the shallow, hot states
)

// Replacer is a compiled set of patterns. It is immutable after New and safe
// for concurrent use; the Writers and Readers it makes are not.
type Replacer struct {
	npat   int
	maxLen int

	// Bytes used by no pattern share one class, which keeps dense rows
	// short when patterns are text.
	class [256]byte
	k     uint32 // number of classes

	// States [0, nDense) have a full row of k resolved transitions.
	nDense  uint32
	dense   []uint32
	rootEnc uint32 // root's encoding: its row offset

	// The rest keep only their trie edges and follow fail on a miss.
	tStart []uint32 // edges of state s: tClass/tNext[tStart[s]:tStart[s+1]]
	tClass []byte
	tNext  []uint32
	fail   []uint32

	depth    []uint32 // length of the string the state stands for
	match    []int32  // pattern the state reports, or -1
	terminal []bool   // reports a match that no further byte can extend

	plen []int32
	repl [][]byte
}

// New compiles pattern -> replacement pairs. Empty patterns are ignored; with
// none left the Replacer copies its input through unchanged.
func New(pairs map[string]string) *Replacer {
	keys := make([]string, 0, len(pairs))
	for k := range pairs {
		if k != "" {
			keys = append(keys, k)
		}
	}
	r := &Replacer{npat: len(keys)}
	if len(keys) == 0 {
		return r
	}
	slices.Sort(keys) // deterministic state numbering
	r.plen = make([]int32, len(keys))
	r.repl = make([][]byte, len(keys))
	for i, k := range keys {
		r.plen[i] = int32(len(k))
		r.repl[i] = []byte(pairs[k])
		r.maxLen = max(r.maxLen, len(k))
	}
	r.build(keys)
	return r
}

// Len returns the number of patterns.
func (r *Replacer) Len() int {
	if r == nil {
		return 0
	}
	return r.npat
}

// bnode is a trie node during construction; its children form a sibling list.
type bnode struct {
	child, next uint32 // 0 means none (node 0 is the root, never a child)
	cls         byte
	own         int32 // pattern ending exactly here, or -1
}

func (r *Replacer) build(keys []string) {
	var used [256]bool
	for _, k := range keys {
		for i := 0; i < len(k); i++ {
			used[k[i]] = true
		}
	}
	n := 0
	for b := range 256 {
		if used[b] {
			r.class[b] = byte(n)
			n++
		}
	}
	if n < 256 {
		for b := range 256 {
			if !used[b] {
				r.class[b] = byte(n)
			}
		}
		n++
	}
	r.k = uint32(n)

	// Trie. The keys are sorted, so a key shares with the one before it
	// exactly its longest common prefix with any earlier key: it follows
	// the previous key's path that far and adds new nodes for the rest,
	// with no search among siblings.
	nodes := []bnode{{own: -1}}
	path := []uint32{0} // path[d]: node of the previous key's first d bytes
	prev := ""
	for pi, k := range keys {
		l := 0
		for l < len(prev) && l < len(k) && prev[l] == k[l] {
			l++
		}
		path = path[:l+1]
		cur := path[l]
		for i := l; i < len(k); i++ {
			nx := uint32(len(nodes))
			nodes = append(nodes, bnode{next: nodes[cur].child, cls: r.class[k[i]], own: -1})
			nodes[cur].child = nx
			cur = nx
			path = append(path, cur)
		}
		nodes[cur].own = int32(pi)
		prev = k
	}

	// Nodes with many children (root and the shallow ones) get a row of
	// child links, so the fail links below find a child without walking a
	// sibling list of up to k entries.
	const wideMin = 8
	wideAt := make([]int32, len(nodes)) // trie node -> offset in wide, or -1
	var wide []uint32
	for u := range nodes {
		cnt := 0
		for ch := nodes[u].child; ch != 0 && cnt < wideMin; ch = nodes[ch].next {
			cnt++
		}
		wideAt[u] = -1
		if cnt < wideMin {
			continue
		}
		off := uint32(len(wide))
		wide = append(wide, make([]uint32, n)...)
		for ch := nodes[u].child; ch != 0; ch = nodes[ch].next {
			wide[off+uint32(nodes[ch].cls)] = ch
		}
		wideAt[u] = int32(off)
	}

	// Number states breadth first (dead=0, root=1), so a state's fail
	// target always has a smaller id and the shallow states, where nearly
	// all scanning time is spent, come first and get dense rows.
	ns := len(nodes) + 1
	order := make([]uint32, ns) // new id -> trie node
	newID := make([]uint32, len(nodes))
	order[rootID] = 0
	newID[0] = rootID
	next := uint32(2)
	r.fail = make([]uint32, ns)
	r.depth = make([]uint32, ns)
	r.match = make([]int32, ns)
	r.terminal = make([]bool, ns)
	canExtend := make([]bool, ns)
	r.match[deadID], r.match[rootID] = -1, -1
	canExtend[rootID] = true

	child := func(s uint32, c byte) uint32 {
		u := order[s]
		if off := wideAt[u]; off >= 0 {
			if ch := wide[uint32(off)+uint32(c)]; ch != 0 {
				return newID[ch]
			}
			return 0
		}
		for ch := nodes[u].child; ch != 0; ch = nodes[ch].next {
			if nodes[ch].cls == c {
				return newID[ch]
			}
		}
		return 0
	}
	// Fail links follow the leftmost construction of the aho-corasick
	// crate: a state that reports a match, and every state below it, fails
	// to dead. Once a match is pending, a failure would only find matches
	// starting further right, which leftmost semantics never prefer; dead
	// tells the scanner to commit the pending match and rescan after it.
	for u := uint32(rootID); u < next; u++ {
		for ch := nodes[order[u]].child; ch != 0; ch = nodes[ch].next {
			v := next
			next++
			order[v], newID[ch] = ch, v
			r.depth[v] = r.depth[u] + 1
			c := nodes[ch].cls
			switch {
			case nodes[ch].own >= 0:
				r.fail[v] = deadID
			case u == rootID:
				r.fail[v] = rootID
			default:
				f := r.fail[u]
				for {
					if f == deadID {
						break
					}
					if g := child(f, c); g != 0 {
						f = g
						break
					}
					if f == rootID {
						break
					}
					f = r.fail[f]
				}
				r.fail[v] = f
			}
			r.match[v] = nodes[ch].own
			if r.match[v] < 0 && r.fail[v] > rootID {
				r.match[v] = r.match[r.fail[v]]
			}
			// Fail targets are shallower, hence numbered and filled in
			// already; v's own children are checked below.
			canExtend[v] = nodes[ch].child != 0 || (r.fail[v] != deadID && canExtend[r.fail[v]])
			r.terminal[v] = r.match[v] >= 0 && !canExtend[v]
		}
	}

	r.nDense = uint32(min(ns, max(2, denseMax/n)))
	r.rootEnc = rootID * r.k
	enc := func(s uint32) uint32 {
		v := s | sparse
		if s < r.nDense {
			v = s * r.k
		}
		if s == deadID || r.match[s] >= 0 {
			v |= special
		}
		return v
	}
	k := int(r.k)
	r.dense = make([]uint32, int(r.nDense)*k)
	for s := uint32(0); s < r.nDense; s++ {
		row := r.dense[int(s)*k : int(s+1)*k]
		switch {
		case s == deadID || (s != rootID && r.fail[s] == deadID):
			for i := range row {
				row[i] = deadEnc
			}
		case s == rootID:
			for i := range row {
				row[i] = r.rootEnc
			}
		default:
			f := int(r.fail[s])
			copy(row, r.dense[f*k:(f+1)*k])
		}
		if s != deadID {
			for ch := nodes[order[s]].child; ch != 0; ch = nodes[ch].next {
				row[nodes[ch].cls] = enc(newID[ch])
			}
		}
	}

	r.tStart = make([]uint32, ns+1)
	edges := 0
	for s := int(r.nDense); s < ns; s++ {
		for ch := nodes[order[s]].child; ch != 0; ch = nodes[ch].next {
			edges++
		}
	}
	r.tClass = make([]byte, 0, edges)
	r.tNext = make([]uint32, 0, edges)
	for s := 0; s < ns; s++ {
		r.tStart[s] = uint32(len(r.tClass))
		if s < int(r.nDense) {
			continue
		}
		for ch := nodes[order[s]].child; ch != 0; ch = nodes[ch].next {
			r.tClass = append(r.tClass, nodes[ch].cls)
			r.tNext = append(r.tNext, enc(newID[ch]))
		}
	}
	r.tStart[ns] = uint32(len(r.tClass))
}

// stateID decodes an encoded state.
func (r *Replacer) stateID(s uint32) uint32 {
	if s&sparse != 0 {
		return s & offMask
	}
	return (s & offMask) / r.k
}

// sparseNext is the transition from a state without a dense row: its own
// edges, else its fail chain, which always ends in a dense state (at the
// latest root or dead).
func (r *Replacer) sparseNext(id, cl uint32) uint32 {
	for {
		for j, end := r.tStart[id], r.tStart[id+1]; j < end; j++ {
			if uint32(r.tClass[j]) == cl {
				return r.tNext[j]
			}
		}
		id = r.fail[id]
		if id < r.nDense {
			return r.dense[id*r.k+cl]
		}
	}
}

// cursor is the scan position in a buffer plus everything the automaton
// carries across bytes.
type cursor struct {
	s            uint32 // encoded automaton state
	pos          int    // next byte to scan
	emit         int    // first byte not yet copied to the output
	pending      bool   // a match was seen and may still grow
	mStart, mEnd int    // the pending match
	mPat         int32
	n            int // replacements so far
}

// shift moves the cursor's positions d bytes left, when the buffer drops its
// first d bytes.
func (c *cursor) shift(d int) {
	c.pos -= d
	c.emit -= d
	c.mStart -= d
	c.mEnd -= d
}

// run scans buf[c.pos:], appending to dst every committed replacement and the
// bytes before it. Bytes after c.emit are not copied yet: the caller decides
// what may be released.
func run[T []byte | string](r *Replacer, dst []byte, buf T, c *cursor) []byte {
	s, i := c.s, c.pos
	dense, rootEnc := r.dense, r.rootEnc
	for i < len(buf) {
		cl := uint32(r.class[buf[i]])
		i++
		if s&sparse == 0 {
			s = dense[s&offMask+cl]
		} else {
			s = r.sparseNext(s&offMask, cl)
		}
		if s&special == 0 {
			continue
		}
		if s == deadEnc {
			if !c.pending {
				// Unreachable by construction (dead is only reached
				// past a reported match); recover by rescanning the
				// byte from root rather than trusting stale fields.
				s = rootEnc
				i--
				continue
			}
			dst = commit(r, dst, buf, c)
			s, i = rootEnc, c.mEnd // rescan what followed the match
			continue
		}
		id := r.stateID(s)
		p := r.match[id]
		c.pending, c.mPat, c.mStart, c.mEnd = true, p, i-int(r.plen[p]), i
		if r.terminal[id] {
			dst = commit(r, dst, buf, c)
			s = rootEnc
		}
	}
	c.s, c.pos = s, i
	return dst
}

// commit writes out the pending match.
func commit[T []byte | string](r *Replacer, dst []byte, buf T, c *cursor) []byte {
	repl := r.repl[c.mPat]
	if dst == nil {
		// Tokens are usually longer than the values they replace; a
		// little slack saves regrowing a large body.
		dst = make([]byte, 0, len(buf)+len(buf)/16+2*len(repl))
	}
	dst = append(dst, buf[c.emit:c.mStart]...)
	dst = append(dst, repl...)
	c.emit, c.pending = c.mEnd, false
	c.n++
	return dst
}

// finish handles the end of input: a pending match can no longer grow, so it
// is committed and the bytes after it rescanned, until none is pending.
func finish[T []byte | string](r *Replacer, dst []byte, buf T, c *cursor) []byte {
	for c.pending {
		dst = commit(r, dst, buf, c)
		c.s, c.pos = r.rootEnc, c.emit
		dst = run(r, dst, buf, c)
	}
	return dst
}

// Replace returns b with every match replaced and the number of
// replacements. With none, it returns b itself and allocates nothing.
func (r *Replacer) Replace(b []byte) ([]byte, int) {
	if r.Len() == 0 {
		return b, 0
	}
	c := cursor{s: r.rootEnc}
	dst := run(r, nil, b, &c)
	dst = finish(r, dst, b, &c)
	if c.n == 0 {
		return b, 0
	}
	return append(dst, b[c.emit:]...), c.n
}

// ReplaceString is Replace for strings; with no replacement it returns s.
func (r *Replacer) ReplaceString(s string) (string, int) {
	if r.Len() == 0 {
		return s, 0
	}
	c := cursor{s: r.rootEnc}
	dst := run(r, nil, s, &c)
	dst = finish(r, dst, s, &c)
	if c.n == 0 {
		return s, 0
	}
	return string(append(dst, s[c.emit:]...)), c.n
}

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("scrub: write after close")

// Writer replaces matches in a stream. Each Write passes downstream, in one
// underlying Write, everything that can no longer be part of a match; it
// holds back only the longest suffix that could still begin one (at most
// the longest pattern's length minus one). A Writer is not safe for
// concurrent use.
type Writer struct {
	r      *Replacer
	w      io.Writer
	c      cursor
	buf    []byte // held bytes are buf[:held] between Writes
	held   int
	out    []byte // output scratch, reused
	err    error
	closed bool
}

// NewWriter returns a Writer that writes the replaced stream to w. Close it
// to release the held bytes; Close does not close w.
func (r *Replacer) NewWriter(w io.Writer) *Writer {
	return &Writer{r: r, w: w, c: cursor{s: r.rootEnc}}
}

// Replacements returns the number of replacements made so far.
func (w *Writer) Replacements() int { return w.c.n }

// Held returns how many bytes the Writer is holding back.
func (w *Writer) Held() int { return w.held }

// Write scans p. It returns len(p) unless the underlying writer fails, after
// which every call returns that error.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.closed {
		return 0, ErrClosed
	}
	if len(p) == 0 {
		return 0, nil
	}
	r := w.r
	if r.Len() == 0 {
		n, err := w.w.Write(p)
		if err != nil {
			w.err = err
		}
		return n, err
	}
	c := &w.c
	out := w.out[:0]
	buf := p
	if w.held > 0 {
		// Scan the held bytes and the start of p together in the scratch
		// buffer. maxLen bytes of p are enough to leave the automaton's
		// string, and any pending match, entirely inside p; from there p
		// is scanned in place.
		kk := min(len(p), r.maxLen)
		w.buf = append(w.buf[:w.held], p[:kk]...)
		out = run(r, out, w.buf, c)
		if kk == len(p) {
			buf = w.buf
		} else {
			if c.emit < w.held {
				out = append(out, w.buf[c.emit:w.held]...)
				c.emit = w.held
			}
			c.shift(w.held)
			out = run(r, out, p, c)
		}
	} else {
		out = run(r, out, p, c)
	}
	safe := len(buf) - int(r.depth[r.stateID(c.s)])
	var err error
	if len(out) == 0 {
		if safe > c.emit {
			_, err = w.w.Write(buf[c.emit:safe])
		}
	} else {
		out = append(out, buf[c.emit:safe]...)
		_, err = w.w.Write(out)
	}
	w.out = out[:0]
	// copy, not a slice of p: the caller may reuse p after Write returns.
	w.buf = append(w.buf[:0], buf[safe:]...)
	w.held = len(buf) - safe
	c.emit = safe
	c.shift(safe)
	if err != nil {
		w.err = err
		return 0, err
	}
	return len(p), nil
}

// Flush flushes the underlying writer if it can (FlushError() error,
// Flush() error, or http.Flusher's Flush()). Held bytes stay held: they
// may be the first half of a secret.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	switch f := w.w.(type) {
	case interface{ FlushError() error }:
		return f.FlushError()
	case interface{ Flush() error }:
		return f.Flush()
	case interface{ Flush() }:
		f.Flush()
	}
	return nil
}

// Close writes out the held bytes (the stream ended, so they were not a
// match, or end in one that is now committed). It does not close the
// underlying writer. Further Writes fail; Close is idempotent.
func (w *Writer) Close() error {
	if w.closed || w.err != nil {
		w.closed = true
		return w.err
	}
	w.closed = true
	if w.held == 0 {
		return nil
	}
	buf := w.buf[:w.held]
	out := finish(w.r, w.out[:0], buf, &w.c)
	out = append(out, buf[w.c.emit:]...)
	w.held = 0
	if _, err := w.w.Write(out); err != nil {
		w.err = err
		return err
	}
	return nil
}

// NewReader returns a reader of rd's stream with matches replaced. Bytes that
// may begin a match are held until more data or EOF decides them; on any
// error other than EOF they are dropped, not released.
func (r *Replacer) NewReader(rd io.Reader) io.Reader {
	if r.Len() == 0 {
		return rd
	}
	sr := &reader{src: rd}
	sr.w = r.NewWriter(&sr.sink)
	return sr
}

type sink struct{ b []byte }

func (s *sink) Write(p []byte) (int, error) {
	s.b = append(s.b, p...)
	return len(p), nil
}

type reader struct {
	src  io.Reader
	w    *Writer
	sink sink
	off  int
	in   []byte
	err  error
}

func (sr *reader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for sr.off == len(sr.sink.b) {
		if sr.err != nil {
			return 0, sr.err
		}
		sr.sink.b, sr.off = sr.sink.b[:0], 0
		if sr.in == nil {
			sr.in = make([]byte, 32<<10)
		}
		n, err := sr.src.Read(sr.in)
		if n > 0 {
			sr.w.Write(sr.in[:n]) // the sink never fails
		}
		if err != nil {
			if err == io.EOF {
				sr.w.Close()
			}
			sr.err = err
		}
	}
	n := copy(p, sr.sink.b[sr.off:])
	sr.off += n
	return n, nil
}
