// Package bodyscope substitutes phm tokens in a request body only inside the
// fields a route declares.
//
// The proxy may not swap every token it sees in a body: an agent could put a
// token into a prompt or a message and have the upstream echo the real value
// back to it. So a route names the fields that carry credentials (Vercel's
// env-var "value", a JSON "api_key"), and a token is replaced only there,
// only with a secret the route allows (the Resolve callback decides). A token
// anywhere else is forwarded exactly as it came.
//
// Bodies are edited in place, never re-serialized: every byte outside a
// replaced token is kept, so key order, whitespace, number spelling and
// escapes reach the upstream as the client wrote them (request signatures
// and idempotency hashes over the body keep working).
package bodyscope

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"phantomstack.dev/shared/token"
)

// Resolve maps a phm token to its real value; ok is false when the token is
// unknown or not allowed on the route.
type Resolve func(token string) (value string, ok bool)

// Result is a rewritten body.
type Result struct {
	// Body is the input itself when nothing was replaced.
	Body     []byte
	Replaced int
	// Unresolved lists, once each and in order, tokens found in declared
	// fields that were left in place: Resolve refused them, or (JSON only)
	// the value is not valid UTF-8 and cannot be carried in a JSON string.
	// Tokens only, never a value: it is meant for a warning.
	Unresolved []string
}

// ErrInvalidJSON is returned by JSON for a body that is not valid JSON.
var ErrInvalidJSON = errors.New("bodyscope: body is not valid JSON")

// Tokens returns every phm token in s, in order. A token run into other
// word characters ("xphm_…", 65 hex digits) is not one.
func Tokens(s string) []string {
	offs := token.FindAll([]byte(s))
	if len(offs) == 0 {
		return nil
	}
	out := make([]string, len(offs))
	for i, o := range offs {
		out[i] = s[o : o+token.Len]
	}
	return out
}

// editor accumulates a copy of src with some spans replaced.
type editor struct {
	src  []byte
	out  []byte
	last int // src[last:] not yet copied
	res  Result
	seen map[string]bool
}

func (e *editor) replace(from, to int, with []byte) {
	if e.out == nil {
		e.out = make([]byte, 0, len(e.src)+len(with)+64)
	}
	e.out = append(e.out, e.src[e.last:from]...)
	e.out = append(e.out, with...)
	e.last = to
	e.res.Replaced++
}

func (e *editor) unresolved(tok string) {
	if e.seen == nil {
		e.seen = map[string]bool{}
	}
	if !e.seen[tok] {
		e.seen[tok] = true
		e.res.Unresolved = append(e.res.Unresolved, tok)
	}
}

func (e *editor) result() Result {
	if e.res.Replaced == 0 {
		e.res.Body = e.src
	} else {
		e.res.Body = append(e.out, e.src[e.last:]...)
	}
	return e.res
}

// decoded is a field's decoded text with, for each decoded byte, where its
// encoded form starts and ends in the body, so a token found in the decoded
// text maps back to the exact bytes to replace.
type decoded struct {
	text       []byte
	start, end []int
}

func (d *decoded) add(b []byte, from, to int) {
	for _, c := range b {
		d.text = append(d.text, c)
		d.start = append(d.start, from)
		d.end = append(d.end, to)
	}
}

// substitute replaces every resolvable token in d; enc encodes a value for
// the field's syntax, returning ok=false if it cannot.
func (e *editor) substitute(d *decoded, resolve Resolve, enc func(string) ([]byte, bool)) {
	for _, o := range token.FindAll(d.text) {
		tok := string(d.text[o : o+token.Len])
		v, ok := resolve(tok)
		var b []byte
		if ok {
			b, ok = enc(v)
		}
		if !ok {
			e.unresolved(tok)
			continue
		}
		e.replace(d.start[o], d.end[o+token.Len-1], b)
	}
}

// JSON replaces tokens in the string values of declared keys. Keys match
// their decoded name, ASCII case-insensitively, at any depth. A declared
// key's value counts if it is a string, or an array: then its direct string
// elements count. An object (or nested array) under a declared key is not
// swept wholesale; its own keys are judged like any other. Replacement
// values are JSON-escaped. Invalid JSON returns ErrInvalidJSON and no body:
// the caller forwards the original untouched.
func JSON(body []byte, fields []string, resolve Resolve) (Result, error) {
	if !json.Valid(body) {
		return Result{}, ErrInvalidJSON
	}
	p := jparser{e: editor{src: body}, fields: fields, resolve: resolve}
	p.value(modeNone)
	return p.e.result(), nil
}

type mode int

const (
	modeNone     mode = iota
	modeDeclared      // value of a declared key
	modeElement       // element of an array that is a declared key's value
)

// jparser walks a body that json.Valid accepted, so it checks no syntax;
// json.Valid also caps nesting at 10000, which bounds the recursion.
type jparser struct {
	e       editor
	i       int
	fields  []string
	resolve Resolve
}

func (p *jparser) ws() {
	b := p.e.src
	for p.i < len(b) && (b[p.i] == ' ' || b[p.i] == '\t' || b[p.i] == '\n' || b[p.i] == '\r') {
		p.i++
	}
}

func (p *jparser) value(m mode) {
	p.ws()
	b := p.e.src
	switch b[p.i] {
	case '{':
		p.i++
		for {
			p.ws()
			switch b[p.i] {
			case '}':
				p.i++
				return
			case ',':
				p.i++
				p.ws()
			}
			ks := p.i
			ke := p.skipString()
			p.ws()
			p.i++ // :
			km := modeNone
			if p.declared(ks, ke) {
				km = modeDeclared
			}
			p.value(km)
		}
	case '[':
		p.i++
		em := modeNone
		if m == modeDeclared {
			em = modeElement
		}
		for {
			p.ws()
			switch b[p.i] {
			case ']':
				p.i++
				return
			case ',':
				p.i++
			}
			p.value(em)
		}
	case '"':
		start := p.i
		end := p.skipString()
		if m != modeNone {
			p.stringValue(start, end)
		}
	default: // number, true, false, null: up to the next delimiter
		for p.i < len(b) {
			switch b[p.i] {
			case ',', ']', '}', ' ', '\t', '\n', '\r':
				return
			}
			p.i++
		}
	}
}

// skipString moves past the string literal at p.i and returns the offset
// after its closing quote.
func (p *jparser) skipString() int {
	b := p.e.src
	i := p.i + 1
	for b[i] != '"' {
		if b[i] == '\\' {
			i++
		}
		i++
	}
	p.i = i + 1
	return p.i
}

func (p *jparser) declared(ks, ke int) bool {
	raw := p.e.src[ks+1 : ke-1]
	var name []byte
	if bytes.IndexByte(raw, '\\') >= 0 || !utf8.Valid(raw) {
		name = p.decodeString(ks, ke).text
	} else {
		name = raw
	}
	for _, f := range p.fields {
		if asciiEqualFold(f, name) {
			return true
		}
	}
	return false
}

func (p *jparser) stringValue(start, end int) {
	raw := p.e.src[start+1 : end-1]
	if len(raw) < token.Len || (bytes.IndexByte(raw, '\\') < 0 && !bytes.Contains(raw, []byte(token.Prefix))) {
		return // fast path: cannot hold a token
	}
	d := p.decodeString(start, end)
	p.e.substitute(&d, p.resolve, quoteJSON)
}

// decodeString decodes the JSON string literal b[start:end] (quotes
// included) the way encoding/json does: invalid UTF-8 and unpaired
// surrogates become U+FFFD.
func (p *jparser) decodeString(start, end int) decoded {
	b := p.e.src
	var d decoded
	var tmp [utf8.UTFMax]byte
	for i := start + 1; i < end-1; {
		c := b[i]
		switch {
		case c == '\\':
			e := b[i+1]
			if e != 'u' {
				d.add([]byte{unescape(e)}, i, i+2)
				i += 2
				continue
			}
			r, n := hex4(b[i+2:i+6]), 6
			if utf16.IsSurrogate(r) {
				r = utf8.RuneError
				if i+12 <= end-1 && b[i+6] == '\\' && b[i+7] == 'u' {
					if r2 := utf16.DecodeRune(hex4(b[i+2:i+6]), hex4(b[i+8:i+12])); r2 != utf8.RuneError {
						r, n = r2, 12
					}
				}
			}
			d.add(tmp[:utf8.EncodeRune(tmp[:], r)], i, i+n)
			i += n
		case c < utf8.RuneSelf:
			d.add(b[i:i+1], i, i+1)
			i++
		default:
			r, n := utf8.DecodeRune(b[i : end-1])
			if r == utf8.RuneError && n == 1 {
				d.add(tmp[:utf8.EncodeRune(tmp[:], r)], i, i+1)
			} else {
				d.add(b[i:i+n], i, i+n)
			}
			i += n
		}
	}
	return d
}

func unescape(e byte) byte {
	switch e {
	case 'b':
		return '\b'
	case 'f':
		return '\f'
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	}
	return e // " \ /
}

func hex4(b []byte) rune {
	v, _ := strconv.ParseUint(string(b), 16, 32) // json.Valid checked the digits
	return rune(v)
}

// quoteJSON escapes v for the inside of a JSON string. Only what JSON
// requires is escaped; a value that is not valid UTF-8 cannot be carried
// faithfully and is refused.
func quoteJSON(v string) ([]byte, bool) {
	if !utf8.ValidString(v) {
		return nil, false
	}
	const hexd = "0123456789abcdef"
	out := make([]byte, 0, len(v)+8)
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '"' || c == '\\':
			out = append(out, '\\', c)
		case c == '\n':
			out = append(out, '\\', 'n')
		case c == '\r':
			out = append(out, '\\', 'r')
		case c == '\t':
			out = append(out, '\\', 't')
		case c < 0x20:
			out = append(out, '\\', 'u', '0', '0', hexd[c>>4], hexd[c&0xf])
		default:
			out = append(out, c)
		}
	}
	return out, true
}

// Form replaces tokens in the values of declared fields of an
// application/x-www-form-urlencoded body. Names match exactly, after
// decoding. Pairs keep their order and bytes; only a token's own bytes are
// replaced, by the query-escaped value. A name (or declared value) with a
// bad %-escape is an error: the caller forwards the original untouched.
func Form(body []byte, fields []string, resolve Resolve) (Result, error) {
	e := editor{src: body}
	for i := 0; i <= len(body); {
		j := i
		for j < len(body) && body[j] != '&' {
			j++
		}
		eq := j
		for k := i; k < j; k++ {
			if body[k] == '=' {
				eq = k
				break
			}
		}
		name, err := url.QueryUnescape(string(body[i:eq]))
		if err != nil {
			return Result{}, err
		}
		if eq < j && contains(fields, name) {
			d, err := decodeForm(body, eq+1, j)
			if err != nil {
				return Result{}, err
			}
			e.substitute(&d, resolve, func(v string) ([]byte, bool) {
				return []byte(url.QueryEscape(v)), true
			})
		}
		i = j + 1
	}
	return e.result(), nil
}

// decodeForm decodes body[from:to] as url.QueryUnescape does.
func decodeForm(body []byte, from, to int) (decoded, error) {
	var d decoded
	for i := from; i < to; {
		switch c := body[i]; c {
		case '%':
			if i+2 >= to || !isHex(body[i+1]) || !isHex(body[i+2]) {
				return d, url.EscapeError(body[i:min(i+3, to)])
			}
			d.add([]byte{unhex(body[i+1])<<4 | unhex(body[i+2])}, i, i+3)
			i += 3
		case '+':
			d.add([]byte{' '}, i, i+1)
			i++
		default:
			d.add(body[i:i+1], i, i+1)
			i++
		}
	}
	return d, nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

func contains(fields []string, name string) bool {
	for _, f := range fields {
		if f == name {
			return true
		}
	}
	return false
}

// asciiEqualFold compares ASCII letters case-insensitively and every other
// byte exactly. Unicode folding would let "api_\u212aey" (Kelvin sign) match
// "api_key", a surprise in a security boundary.
func asciiEqualFold(f string, b []byte) bool {
	if len(f) != len(b) {
		return false
	}
	for i := 0; i < len(b); i++ {
		x, y := f[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
