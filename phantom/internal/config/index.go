package config

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
)

// The index is phantom's own map of a .phantom.toml source: where every
// table header, key/value statement and value sits (line and byte offsets).
// BurntSushi/toml decodes the document but does not say on which line a key
// is, and it cannot edit text. The index gives error messages their line
// numbers and gives edits the byte spans they replace or insert after.
//
// The scanner runs only on documents BurntSushi has accepted, so it can
// assume valid TOML (1.1: inline tables may span lines). If it meets
// something it does not understand it stops, keeping what it found so far;
// callers then fall back to the nearest known line, and edits verify their
// result by parsing it again.

type stmtKind uint8

const (
	stmtTable      stmtKind = iota // [a.b]
	stmtArrayTable                 // [[a.b]]
	stmtKeyVal                     // a.b = value
)

// stmt is one table header or key/value pair.
type stmt struct {
	kind    stmtKind
	path    []string // full key path from the document root (no array indices)
	line    int      // 1-based line of the key or header
	start   int      // offset of the first byte of the key or of '['
	end     int      // offset just after the value or the closing bracket
	lineEnd int      // offset just after the newline that ends the statement's last line, or len(src)
	inline  bool     // inside an inline table (or an array) of another statement
	val     *val     // keyval only
}

type valKind uint8

const (
	valScalar valKind = iota // number, boolean, date
	valString
	valArray
	valTable // inline table
)

// val is the span of one value.
type val struct {
	kind       valKind
	start, end int // [start, end) covers the whole value including quotes or brackets
	line       int // line of the value's first byte
	elems      []*val
}

type index struct {
	src      []byte
	stmts    []*stmt
	first    map[string]*stmt // toml.Key(path).String() → first statement with that path
	complete bool             // the scanner understood the whole document
}

type scanStop struct{}

type scanner struct {
	src   []byte
	pos   int
	line  int
	stmts []*stmt
}

func buildIndex(src []byte) *index {
	ix := &index{src: src}
	s := &scanner{src: src, line: 1}
	func() {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(scanStop); !ok {
					panic(r)
				}
			}
		}()
		s.document()
		ix.complete = true
	}()
	ix.stmts = s.stmts
	ix.first = make(map[string]*stmt, len(s.stmts))
	for _, st := range s.stmts {
		k := toml.Key(st.path).String()
		if _, ok := ix.first[k]; !ok {
			ix.first[k] = st
		}
	}
	return ix
}

func (s *scanner) stop() { panic(scanStop{}) }

func (s *scanner) eof() bool { return s.pos >= len(s.src) }

func (s *scanner) cur() byte {
	if s.pos >= len(s.src) {
		s.stop()
	}
	return s.src[s.pos]
}

func (s *scanner) has(prefix string) bool {
	return bytes.HasPrefix(s.src[s.pos:], []byte(prefix))
}

func (s *scanner) expect(c byte) {
	if s.cur() != c {
		s.stop()
	}
	s.pos++
}

func (s *scanner) skipWS() {
	for s.pos < len(s.src) && (s.src[s.pos] == ' ' || s.src[s.pos] == '\t') {
		s.pos++
	}
}

// skipComment moves to the newline ending a comment (not past it).
func (s *scanner) skipComment() {
	for s.pos < len(s.src) && s.src[s.pos] != '\n' {
		s.pos++
	}
}

// skipFiller skips whitespace, newlines and comments (inside arrays and
// multi-line inline tables).
func (s *scanner) skipFiller() {
	for s.pos < len(s.src) {
		switch s.src[s.pos] {
		case ' ', '\t', '\r':
			s.pos++
		case '\n':
			s.pos++
			s.line++
		case '#':
			s.skipComment()
		default:
			return
		}
	}
}

func (s *scanner) document() {
	// BurntSushi skips a byte order mark; so do we (offsets stay absolute).
	for _, bom := range []string{"\xef\xbb\xbf", "\xff\xfe", "\xfe\xff"} {
		if s.has(bom) {
			s.pos = len(bom)
			break
		}
	}
	var table []string
	for {
		s.skipWS()
		if s.eof() {
			return
		}
		switch s.src[s.pos] {
		case '\n':
			s.pos++
			s.line++
		case '\r':
			s.pos++
		case '#':
			s.skipComment()
		case '[':
			st := s.header()
			table = st.path
		default:
			st := s.keyval(table, false)
			s.endLine(st)
		}
	}
}

func (s *scanner) header() *stmt {
	st := &stmt{kind: stmtTable, line: s.line, start: s.pos}
	s.pos++
	if !s.eof() && s.src[s.pos] == '[' {
		st.kind = stmtArrayTable
		s.pos++
	}
	st.path = s.key()
	s.expect(']')
	if st.kind == stmtArrayTable {
		s.expect(']')
	}
	st.end = s.pos
	s.stmts = append(s.stmts, st)
	s.endLine(st)
	return st
}

// endLine consumes the rest of a top-level statement's line: whitespace, an
// optional comment and the newline.
func (s *scanner) endLine(st *stmt) {
	s.skipWS()
	if !s.eof() && s.src[s.pos] == '#' {
		s.skipComment()
	}
	if !s.eof() && s.src[s.pos] == '\r' {
		s.pos++
	}
	if !s.eof() {
		s.expect('\n')
		s.line++
	}
	st.lineEnd = s.pos
}

func (s *scanner) keyval(prefix []string, inline bool) *stmt {
	st := &stmt{kind: stmtKeyVal, line: s.line, start: s.pos, inline: inline}
	st.path = append(slices.Clip(prefix), s.key()...)
	s.stmts = append(s.stmts, st)
	s.expect('=')
	s.skipWS()
	st.val = s.value(st.path)
	st.end = s.pos
	st.lineEnd = s.pos
	return st
}

// key reads a possibly dotted key with surrounding whitespace.
func (s *scanner) key() []string {
	var parts []string
	for {
		s.skipWS()
		parts = append(parts, s.keyPart())
		s.skipWS()
		if s.eof() || s.src[s.pos] != '.' {
			return parts
		}
		s.pos++
	}
}

func (s *scanner) keyPart() string {
	switch c := s.cur(); c {
	case '"':
		start := s.pos
		s.basicString()
		return decodeBasic(s.src[start+1 : s.pos-1])
	case '\'':
		start := s.pos
		s.literalString()
		return string(s.src[start+1 : s.pos-1])
	default:
		start := s.pos
		for !s.eof() && isBareKeyByte(s.src[s.pos]) {
			s.pos++
		}
		if s.pos == start {
			s.stop()
		}
		return string(s.src[start:s.pos])
	}
}

func isBareKeyByte(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

func (s *scanner) value(path []string) *val {
	v := &val{start: s.pos, line: s.line}
	switch {
	case s.has(`"""`):
		v.kind = valString
		s.multiline('"')
	case s.has(`'''`):
		v.kind = valString
		s.multiline('\'')
	case s.cur() == '"':
		v.kind = valString
		s.basicString()
	case s.cur() == '\'':
		v.kind = valString
		s.literalString()
	case s.cur() == '[':
		v.kind = valArray
		s.pos++
		for {
			s.skipFiller()
			switch s.cur() {
			case ']':
				s.pos++
				v.end = s.pos
				return v
			case ',':
				s.pos++
			default:
				v.elems = append(v.elems, s.value(path))
			}
		}
	case s.cur() == '{':
		v.kind = valTable
		s.pos++
		for {
			s.skipFiller()
			switch s.cur() {
			case '}':
				s.pos++
				v.end = s.pos
				return v
			case ',':
				s.pos++
			default:
				s.keyval(path, true)
			}
		}
	default:
		v.kind = valScalar
		for !s.eof() && !strings.ContainsRune(",]}#\r\n", rune(s.src[s.pos])) {
			s.pos++
		}
		end := s.pos
		for end > v.start && (s.src[end-1] == ' ' || s.src[end-1] == '\t') {
			end--
		}
		if end == v.start {
			s.stop()
		}
		v.end = end
		return v
	}
	v.end = s.pos
	return v
}

// basicString skips a "..." string starting at s.pos.
func (s *scanner) basicString() {
	s.pos++
	for {
		switch s.cur() {
		case '\\':
			s.pos += 2
		case '"':
			s.pos++
			return
		case '\n':
			s.stop()
		default:
			s.pos++
		}
	}
}

// literalString skips a '...' string starting at s.pos.
func (s *scanner) literalString() {
	s.pos++
	for {
		switch s.cur() {
		case '\'':
			s.pos++
			return
		case '\n':
			s.stop()
		default:
			s.pos++
		}
	}
}

// multiline skips a multi-line basic or literal string at s.pos. Up to two
// extra quotes right before the closing delimiter belong to the content.
func (s *scanner) multiline(q byte) {
	start := s.pos
	s.pos += 3
	delim := string([]byte{q, q, q})
	for {
		switch c := s.cur(); {
		case c == '\\' && q == '"':
			s.pos += 2
		case s.has(delim):
			n := 3
			for n < 5 && s.pos+n < len(s.src) && s.src[s.pos+n] == q {
				n++
			}
			s.pos += n
			s.line += bytes.Count(s.src[start:s.pos], []byte{'\n'})
			return
		default:
			s.pos++
		}
	}
}

// decodeBasic decodes the escapes of a basic string body the way the parser
// does; the body has already been accepted by BurntSushi.
func decodeBasic(b []byte) string {
	if bytes.IndexByte(b, '\\') < 0 {
		return string(b)
	}
	var out strings.Builder
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '\\' || i+1 >= len(b) {
			out.WriteByte(c)
			continue
		}
		i++
		switch b[i] {
		case 'b':
			out.WriteByte('\b')
		case 't':
			out.WriteByte('\t')
		case 'n':
			out.WriteByte('\n')
		case 'f':
			out.WriteByte('\f')
		case 'r':
			out.WriteByte('\r')
		case 'e':
			out.WriteByte(0x1b)
		case '"', '\\':
			out.WriteByte(b[i])
		case 'x', 'u', 'U':
			n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[b[i]]
			if i+1+n <= len(b) {
				if r, err := strconv.ParseUint(string(b[i+1:i+1+n]), 16, 32); err == nil && utf8.ValidRune(rune(r)) {
					out.WriteRune(rune(r))
					i += n
					continue
				}
			}
			out.WriteByte('\\')
			out.WriteByte(b[i])
		default:
			out.WriteByte('\\')
			out.WriteByte(b[i])
		}
	}
	return out.String()
}

// lineOf returns the line that best locates path: the statement defining it,
// else the first statement inside it (a table made by dotted keys or by a
// deeper header), else the nearest ancestor's line, else 1.
func (ix *index) lineOf(path []string) int {
	if st := ix.find(path); st != nil {
		return st.line
	}
	for _, st := range ix.stmts {
		if hasPrefix(st.path, path) {
			return st.line
		}
	}
	if len(path) > 1 {
		return ix.lineOf(path[:len(path)-1])
	}
	return 1
}

// elemLine returns the line of element i of the array at path.
func (ix *index) elemLine(path []string, i int) int {
	if st := ix.find(path); st != nil && st.val != nil && st.val.kind == valArray && i < len(st.val.elems) {
		return st.val.elems[i].line
	}
	return ix.lineOf(path)
}

// find returns the first statement whose path is exactly path.
func (ix *index) find(path []string) *stmt {
	return ix.first[toml.Key(path).String()]
}

func hasPrefix(path, prefix []string) bool {
	return len(path) >= len(prefix) && slices.Equal(path[:len(prefix)], prefix)
}
