package proxy

import (
	"bytes"
	"fmt"
	"io"
	"unicode/utf8"
)

// errCompressed is a response body that starts like a compressed stream or
// archive after every declared Content-Encoding was removed: a gzip body
// sent as identity, or gzip inside gzip. The scrubber sees bytes, not what
// they decompress to, so such a body could carry a real value past it.
type errCompressed struct{ kind string }

func (e errCompressed) Error() string {
	return fmt.Sprintf("upstream response body is %s-compressed data that phantom cannot scrub (identity encoding was requested), so it was not passed on; "+
		"a route that carries a secret cannot download compressed files", e.kind)
}

// magic is the start of a compressed stream or archive. Brotli and raw
// deflate have none and cannot be recognised (docs/decisions.md,
// "compressed bodies").
type magic struct {
	kind   string
	prefix []byte
	// rest, when set, lists what may follow prefix; one must match
	// (bzip2: a block or the end of the stream).
	rest [][]byte
}

var magics = []magic{
	{kind: "gzip", prefix: []byte{0x1f, 0x8b}},
	{kind: "zstd", prefix: []byte{0x28, 0xb5, 0x2f, 0xfd}},
	{kind: "xz", prefix: []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}},
	{kind: "lzma", prefix: []byte{0x5d, 0x00, 0x00}},
	{kind: "lz4", prefix: []byte{0x04, 0x22, 0x4d, 0x18}},
	{kind: "snappy", prefix: []byte{0xff, 0x06, 0x00, 0x00, 's', 'N', 'a', 'P', 'p', 'Y'}},
	{kind: "zip", prefix: []byte{'P', 'K', 0x03, 0x04}},
	{kind: "zip", prefix: []byte{'P', 'K', 0x07, 0x08}},
	{kind: "7z", prefix: []byte{'7', 'z', 0xbc, 0xaf, 0x27, 0x1c}},
	// bzip2: "BZh", the block size digit, then a block or the end of the
	// stream, each with a 48-bit magic.
	{kind: "bzip2", prefix: []byte("BZh"), rest: [][]byte{
		[]byte("?\x31\x41\x59\x26\x53\x59"), []byte("?\x17\x72\x45\x38\x50\x90")}},
}

// sniffLen is how many leading bytes decide whether a body is compressed:
// the longest magic, and enough to tell a zlib header from text.
const sniffLen = 16

// sniff reports the compression b starts with, or whether more bytes are
// needed to tell (never when eof or len(b) >= sniffLen).
func sniff(b []byte, eof bool) (kind string, more bool) {
	if len(b) >= sniffLen {
		eof = true
	}
	for _, m := range magics {
		variants := [][]byte{m.prefix}
		if len(m.rest) > 0 {
			variants = variants[:0]
			for _, r := range m.rest {
				variants = append(variants, append(bytes.Clone(m.prefix), r...))
			}
		}
		for _, p := range variants {
			switch n := min(len(b), len(p)); {
			case !matchMagic(b[:n], p[:n]):
			case n == len(p):
				return m.kind, false
			case !eof:
				more = true
			}
		}
	}
	// zlib: a two-byte header (deflate, window ≤ 32 KiB, no preset
	// dictionary, check bits) that text can also start with ("x^", "hE"),
	// so the stream must also not look like text.
	if len(b) >= 2 && b[0]&0x0f == 8 && b[0]>>4 <= 7 && b[1]&0x20 == 0 && (uint(b[0])<<8|uint(b[1]))%31 == 0 {
		if looksLikeText(b) {
			if !eof {
				return "", true
			}
		} else {
			return "zlib", false
		}
	} else if len(b) < 2 && !eof && (len(b) == 0 || b[0]&0x0f == 8 && b[0]>>4 <= 7) {
		more = true
	}
	return "", more
}

// matchMagic compares a prefix of a magic, where '?' in bzip2's block
// continuation stands for the block-size digit.
func matchMagic(b, p []byte) bool {
	for i := range b {
		if p[i] == '?' && i == 3 {
			if b[i] < '1' || b[i] > '9' {
				return false
			}
			continue
		}
		if b[i] != p[i] {
			return false
		}
	}
	return true
}

// looksLikeText reports whether b is printable UTF-8 text (a multibyte
// sequence cut off at the end counts as text).
func looksLikeText(b []byte) bool {
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		switch {
		case r == utf8.RuneError && n <= 1:
			if !utf8.FullRune(b) {
				return true
			}
			return false
		case r < 0x20 && r != '\t' && r != '\n' && r != '\r', r == 0x7f:
			return false
		}
		b = b[n:]
	}
	return true
}

// sniffBody reads from body until sniff can decide and returns the bytes it
// read (to be sent on first) and the compression found, if any.
func sniffBody(body io.Reader) ([]byte, string, error) {
	buf := make([]byte, sniffLen)
	n := 0
	// Bounded: a reader that keeps returning 0, nil is taken as done.
	for range 64 {
		kind, more := sniff(buf[:n], false)
		if !more {
			return buf[:n], kind, nil
		}
		m, err := body.Read(buf[n:])
		n += m
		if err == io.EOF {
			kind, _ := sniff(buf[:n], true)
			return buf[:n], kind, nil
		}
		if err != nil {
			return nil, "", err
		}
	}
	kind, _ := sniff(buf[:n], true)
	return buf[:n], kind, nil
}
