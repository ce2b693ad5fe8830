package scrub

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"
)

// MinEncodedLen is the shortest value whose encodings WithEncodings adds.
// The hex or base64 of a shorter value is a handful of characters that
// turns up in ordinary hashes, ids and base64 blobs, and rewriting those
// would corrupt output without protecting much: such a value is masked in
// its raw form only.
const MinEncodedLen = 6

// minEmbedded is the shortest base64 run WithEncodings adds for a value
// embedded in a larger base64 blob (48 bits: chance matches in random base64
// are negligible).
const minEmbedded = 8

// WithEncodings returns pairs plus, for every value of at least
// MinEncodedLen bytes, the forms in which an upstream or a child commonly
// re-encodes it, each mapped to its replacement in the same form so the
// output stays well-formed (docs/decisions.md, "scrubbing encodings"):
//
//   - base64, standard and URL alphabets, padded and unpadded;
//   - base64 of the value embedded in a larger base64 blob: the value's bits
//     start at one of three alignments within a 3-byte group, and the
//     characters that depend on the value alone are replaced (the one or two
//     characters at each end that mix in neighbouring bytes carry at most
//     4 bits of the value each and are left; the blob no longer decodes
//     cleanly past the replacement, which is the point);
//   - hex, lower and upper case;
//   - percent-encoding as url.QueryEscape and url.PathEscape write it, with
//     upper- and lower-case hex digits;
//   - JSON string escapes: what encoding/json writes (with and without its
//     HTML escaping of < > &), JavaScript's JSON.stringify, "\/" for '/',
//     and \uXXXX (lower or upper case) for every non-ASCII character
//     (Python's ensure_ascii, PHP). An encoder that escapes every ASCII
//     character too is not covered: no common library writes that, and
//     it would add six bytes of pattern per value byte.
//
// Forms equal to the raw value (an alphanumeric value has no JSON or
// percent escapes) collapse into one pattern. A raw pair always wins over an
// encoded form that happens to equal it, and the result is deterministic.
// The caller compiles the result with New: every form is one more pattern
// in the same automaton, so scrubbing stays one pass.
func WithEncodings(pairs map[string]string) map[string]string {
	out := make(map[string]string, len(pairs)*16)
	vals := make([]string, 0, len(pairs))
	for v, t := range pairs {
		if v == "" {
			continue
		}
		out[v] = t
		vals = append(vals, v)
	}
	slices.Sort(vals)
	for _, v := range vals {
		if len(v) < MinEncodedLen {
			continue
		}
		t := pairs[v]
		for _, e := range encoders {
			for _, f := range e(v, t) {
				if f.v == "" || f.v == v {
					continue
				}
				if _, taken := out[f.v]; !taken {
					out[f.v] = f.t
				}
			}
		}
	}
	return out
}

// form is one encoded value and the token in the same encoding.
type form struct{ v, t string }

var encoders = []func(v, t string) []form{
	base64Forms,
	hexForms,
	percentForms,
	jsonForms,
}

func base64Forms(v, t string) []form {
	var fs []form
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
		fs = append(fs,
			form{enc.EncodeToString([]byte(v)), enc.EncodeToString([]byte(t))},
			form{enc.WithPadding(base64.NoPadding).EncodeToString([]byte(v)), enc.WithPadding(base64.NoPadding).EncodeToString([]byte(t))})
		for k := range 3 {
			ev := embedded(enc, k, v)
			if len(ev) >= minEmbedded {
				fs = append(fs, form{ev, embedded(enc, k, t)})
			}
		}
	}
	return fs
}

// embedded is the part of the base64 of s that depends on s alone when s
// starts k bytes into a 3-byte group of a larger encoded stream: character j
// covers bits [6j, 6j+6) of the stream, and s holds bits [8k, 8k+8len).
func embedded(enc *base64.Encoding, k int, s string) string {
	buf := make([]byte, k+len(s))
	copy(buf[k:], s)
	e := enc.WithPadding(base64.NoPadding).EncodeToString(buf)
	from := (8*k + 5) / 6
	to := (8*k + 8*len(s)) / 6
	if to <= from {
		return ""
	}
	return e[from:to]
}

func hexForms(v, t string) []form {
	lv, lt := hex.EncodeToString([]byte(v)), hex.EncodeToString([]byte(t))
	return []form{{lv, lt}, {strings.ToUpper(lv), strings.ToUpper(lt)}}
}

func percentForms(v, t string) []form {
	var fs []form
	for _, esc := range []func(string) string{url.QueryEscape, url.PathEscape} {
		ev, et := esc(v), esc(t)
		fs = append(fs, form{ev, et}, form{lowerPercent(ev), lowerPercent(et)})
	}
	return fs
}

// lowerPercent lower-cases the hex digits of every %XX escape.
func lowerPercent(s string) string {
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			b[i+1] = lowerHex(b[i+1])
			b[i+2] = lowerHex(b[i+2])
			i += 2
		}
	}
	return string(b)
}

func lowerHex(c byte) byte {
	if c >= 'A' && c <= 'F' {
		return c + 'a' - 'A'
	}
	return c
}

// jsonOpts selects one JSON string-escaping convention.
type jsonOpts struct {
	html  bool // < > & and U+2028/U+2029 as \u escapes (encoding/json)
	slash bool // '/' as "\/"
	ascii bool // every non-ASCII character as \uXXXX (UTF-16, surrogate pairs)
	upper bool // upper-case hex digits in \u escapes
}

var jsonConventions = []jsonOpts{
	{},                         // JSON.stringify, encoding/json with SetEscapeHTML(false)
	{html: true},               // encoding/json
	{slash: true},              // '/' escaped
	{ascii: true},              // Python json.dumps
	{ascii: true, upper: true}, // upper-case \u escapes
	{ascii: true, slash: true}, // PHP json_encode
	{html: true, ascii: true},  // both
}

func jsonForms(v, t string) []form {
	if !utf8.ValidString(v) {
		// JSON encoders replace invalid bytes with U+FFFD: what they
		// write is no longer the value.
		return nil
	}
	if !strings.ContainsFunc(v, func(r rune) bool {
		return r < 0x20 || r >= 0x7f || strings.ContainsRune(`"\/<>&`, r)
	}) {
		return nil // every convention writes v as it is
	}
	fs := make([]form, 0, len(jsonConventions))
	for _, o := range jsonConventions {
		fs = append(fs, form{jsonEscape(v, o), jsonEscape(t, o)})
	}
	return fs
}

// jsonEscape writes s as the inside of a JSON string under o.
func jsonEscape(s string, o jsonOpts) string {
	var b strings.Builder
	b.Grow(len(s) + 16)
	u := func(r rune) {
		if o.upper {
			fmt.Fprintf(&b, `\u%04X`, r)
		} else {
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20 || r == 0x7f && o.ascii:
			u(r)
		case r == '/' && o.slash:
			b.WriteString(`\/`)
		case o.html && (r == '<' || r == '>' || r == '&' || r == 0x2028 || r == 0x2029):
			u(r)
		case o.ascii && r >= 0x80:
			if r > 0xffff {
				r1, r2 := surrogates(r)
				u(r1)
				u(r2)
			} else {
				u(r)
			}
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func surrogates(r rune) (rune, rune) {
	r -= 0x10000
	return 0xd800 + (r>>10)&0x3ff, 0xdc00 + r&0x3ff
}
