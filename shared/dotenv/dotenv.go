// Package dotenv reads and rewrites .env files without disturbing them.
//
// phantom swaps secret values in a user's .env for phm_ tokens, so the file
// has to come back byte for byte except for the values it deliberately
// changes. Comments, blank lines, order, `export `, indentation, spacing
// around `=`, quote style, inline comments, CRLF (and lone CR) line endings, a
// UTF-8 BOM, invalid UTF-8 and duplicate keys all survive: Parse(b).Bytes()
// equals b for every b.
//
// Parse never fails. A line it cannot read is kept verbatim as an opaque line
// and reported in File.Problems; it never swallows the lines after it (the
// reference implementation dropped every line after an unterminated quote).
//
// Accepted syntax, one entry per line unless a double-quoted value spans lines:
//
//	[spaces] [export <spaces>] KEY [spaces] = [spaces] VALUE [spaces] [# comment]
//
// KEY is [A-Za-z_][A-Za-z0-9_]*. VALUE is one of
//   - unquoted: literal; trailing spaces are trimmed and a # preceded by a
//     space or tab starts a comment (A=b#c has the value "b#c");
//   - 'single quoted' or `backtick quoted`: literal, one line;
//   - "double quoted": \n \r \t \\ \" \$ are decoded, other backslashes are
//     kept as written; may span lines (PEM keys), each line break reading as
//     "\n" whatever its bytes were. A double quote is unterminated if no
//     closing quote (followed only by spaces and a comment) comes before the
//     end of the file or before a line that looks like KEY=VALUE; the opening
//     line is then kept opaque and parsing resumes on the next line.
//
// Lines end at "\n", "\r\n" or a lone "\r" (as in Node's and Python's dotenv
// loaders). No variable expansion is done: "$HOME" is five characters.
//
// Editing: Set rewrites only the value span of every entry with the key,
// Append adds an entry at the end, Remove deletes entries; each keeps every
// other byte. EncodeValue, ValidKey and Classify help callers that write or
// judge values themselves.
package dotenv

import (
	"bytes"
	"fmt"
	"strings"
)

// Quote is the quoting style of a value as written in the file.
type Quote uint8

// Quote styles. Set keeps the existing style when the new value fits it.
const (
	QuoteNone Quote = iota
	QuoteSingle
	QuoteDouble
	QuoteBacktick
)

// String names the style: none, single, double or backtick.
func (q Quote) String() string {
	switch q {
	case QuoteNone:
		return "none"
	case QuoteSingle:
		return "single"
	case QuoteDouble:
		return "double"
	case QuoteBacktick:
		return "backtick"
	}
	return fmt.Sprintf("Quote(%d)", uint8(q))
}

// Entry describes one KEY=VALUE assignment. It is a snapshot: offsets and
// line numbers refer to File.Bytes() at the time it was taken, and editing
// the Entry does not change the File.
type Entry struct {
	Key   string
	Value string // decoded: quotes removed, escapes of double-quoted values applied
	// Export is set when the line starts with `export `.
	Export bool
	Quote  Quote
	// Line is the 1-based line of the key.
	Line int
	// MultiLine is set when a double-quoted value spans several lines.
	MultiLine bool
	// ValueStart and ValueEnd delimit the raw value in File.Bytes(), quotes
	// included; this is the span Set replaces. For an empty unquoted value
	// the span is empty.
	ValueStart, ValueEnd int
	// Raw is the value's text as written, quotes included: the bytes of
	// ValueStart..ValueEnd.
	Raw string
}

// Problem is something Parse could not understand. The line it names is kept
// unchanged in the output.
type Problem struct {
	Line int // 1-based
	Msg  string
}

// String formats the problem as "line N: msg", as shown to users.
func (p Problem) String() string { return fmt.Sprintf("line %d: %s", p.Line, p.Msg) }

// File is a parsed .env file: an ordered list of lines, each holding its raw
// bytes. The zero value is an empty file.
type File struct {
	// Problems lists the lines that were kept verbatim because they could not
	// be read. It is recomputed after every edit.
	Problems []Problem

	lines []line
}

type kind uint8

const (
	kindBlank kind = iota
	kindComment
	kindEntry
	kindOpaque
)

// line is one physical line, or several when a double-quoted value spans
// lines. raw includes the terminator(s), and the BOM for the first line, so
// concatenating raws gives the input back.
type line struct {
	raw  []byte
	kind kind

	// Entries only.
	key    string
	value  string
	export bool
	quote  Quote
	multi  bool
	vs, ve int // value span within raw, quotes included
}

var bom = []byte("\xef\xbb\xbf")

// ValidKey reports whether name is a portable environment variable name,
// [A-Za-z_][A-Za-z0-9_]*, the only kind of key Parse accepts.
func ValidKey(name string) bool {
	return name != "" && keyLen([]byte(name), 0) == len(name)
}

// keyLen returns the length of the key starting at b[i], 0 if none.
func keyLen(b []byte, i int) int {
	j := i
	for j < len(b) {
		c := b[j]
		if c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || j > i && c >= '0' && c <= '9' {
			j++
			continue
		}
		break
	}
	return j - i
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// lineEnd returns the index of the terminator of the line containing b[i]
// (len(b) if none) and the index just past that terminator.
func lineEnd(b []byte, i int) (end, next int) {
	for end = i; end < len(b); end++ {
		switch b[end] {
		case '\n':
			return end, end + 1
		case '\r':
			if end+1 < len(b) && b[end+1] == '\n' {
				return end, end + 2
			}
			return end, end + 1
		}
	}
	return len(b), len(b)
}

// countBreaks counts line terminators in b.
func countBreaks(b []byte) int {
	n := 0
	for i, c := range b {
		if c == '\n' || c == '\r' && (i+1 == len(b) || b[i+1] != '\n') {
			n++
		}
	}
	return n
}

// head is the `[export] KEY =` part of an assignment; indexes are into the
// line it was parsed from.
type head struct {
	export     bool
	keyS, keyE int
	eq         int // index of '='
}

// parseHead reads `[spaces][export spaces]KEY[spaces]=` at the start of ln.
func parseHead(ln []byte) (head, bool) {
	i := skipSpace(ln, 0)
	if bytes.HasPrefix(ln[i:], []byte("export")) && i+6 < len(ln) && isSpace(ln[i+6]) {
		if h, ok := parseKeyEq(ln, skipSpace(ln, i+6)); ok {
			h.export = true
			return h, true
		}
		// `export = 1` assigns a variable named export.
	}
	return parseKeyEq(ln, i)
}

func parseKeyEq(ln []byte, i int) (head, bool) {
	n := keyLen(ln, i)
	if n == 0 {
		return head{}, false
	}
	j := skipSpace(ln, i+n)
	if j == len(ln) || ln[j] != '=' {
		return head{}, false
	}
	return head{keyS: i, keyE: i + n, eq: j}, true
}

// looksLikeAssignment reports whether a line inside a double-quoted value is
// more plausibly the next KEY=VALUE line than part of the value, which ends
// the search for the closing quote. Without this guard a forgotten closing
// quote followed, lines later, by a stray quote would silently swallow every
// line in between. Lines of base64 (PEM bodies) are not assignments even
// when their padding makes them look like one ("Aw==", "QUI=").
func looksLikeAssignment(ln []byte) bool {
	_, ok := parseHead(ln)
	return ok && !isBase64Line(bytes.Trim(ln, " \t"))
}

// isBase64Line reports whether b is a padded standard-base64 run.
func isBase64Line(b []byte) bool {
	if len(b)%4 != 0 {
		return false
	}
	data := bytes.TrimRight(b, "=")
	if len(b)-len(data) > 2 {
		return false
	}
	for _, c := range data {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/') {
			return false
		}
	}
	return true
}

// restOK reports whether b, the text after a closing quote, is only spaces
// and an optional comment.
func restOK(b []byte) bool {
	i := skipSpace(b, 0)
	return i == len(b) || b[i] == '#'
}

// Parse reads src. It never fails: lines it cannot read are kept as they are
// and listed in File.Problems. The File does not alias src.
func Parse(src []byte) *File {
	buf := bytes.Clone(src)
	f := &File{lines: make([]line, 0, bytes.Count(buf, []byte{'\n'})+1)}
	ln := 1
	for pos := 0; pos < len(buf); {
		l, next, msg := parseLine(buf, pos)
		l.raw = buf[pos:next:next]
		if msg != "" {
			f.Problems = append(f.Problems, Problem{Line: ln, Msg: msg})
		}
		f.lines = append(f.lines, l)
		ln += countBreaks(l.raw)
		pos = next
	}
	return f
}

// parseLine parses the line starting at buf[start]. It returns the line
// (without raw), where the next line starts, and a problem message if the
// line had to be kept opaque.
func parseLine(buf []byte, start int) (l line, next int, msg string) {
	cs := start
	if start == 0 && bytes.HasPrefix(buf, bom) {
		cs = len(bom)
	}
	end, next := lineEnd(buf, cs)
	content := buf[cs:end]
	i := skipSpace(content, 0)
	switch {
	case i == len(content):
		return line{kind: kindBlank}, next, ""
	case content[i] == '#':
		return line{kind: kindComment}, next, ""
	}
	h, ok := parseHead(content)
	if !ok {
		return line{kind: kindOpaque}, next, "not a KEY=VALUE line"
	}
	key := string(content[h.keyS:h.keyE])
	opaque := func(why string) (line, int, string) {
		return line{kind: kindOpaque}, next, why + " in value of " + key + "; the line was left unchanged"
	}
	l = line{kind: kindEntry, key: key, export: h.export}
	v := skipSpace(content, h.eq+1) // value start, relative to content
	base := cs - start              // content offset within raw

	if v < len(content) && (content[v] == '\'' || content[v] == '`') {
		q := content[v]
		k := bytes.IndexByte(content[v+1:], q)
		if k < 0 {
			if q == '\'' {
				return opaque("unterminated single quote")
			}
			return opaque("unterminated backtick quote")
		}
		cl := v + 1 + k
		if !restOK(content[cl+1:]) {
			return opaque("unexpected text after the closing quote")
		}
		l.quote = QuoteSingle
		if q == '`' {
			l.quote = QuoteBacktick
		}
		l.value = string(content[v+1 : cl])
		l.vs, l.ve = base+v, base+cl+1
		return l, next, ""
	}

	if v < len(content) && content[v] == '"' {
		d := scanDouble(buf, cs+v)
		switch {
		case !d.closed || d.multi && !d.restOK:
			return opaque("unterminated double quote")
		case !d.restOK:
			return opaque("unexpected text after the closing quote")
		}
		l.quote = QuoteDouble
		l.value, l.multi = d.value, d.multi
		l.vs, l.ve = base+v, d.close+1-start
		return l, d.next, ""
	}

	// Unquoted: up to a '#' that follows a space or tab, trailing spaces trimmed.
	j := v
	for j < len(content) && !(content[j] == '#' && isSpace(content[j-1])) {
		j++
	}
	e := j
	for e > v && isSpace(content[e-1]) {
		e--
	}
	l.value = string(content[v:e])
	l.vs, l.ve = base+v, base+e
	if v == e && j < len(content) {
		// `A= # note`: put the empty span right after '=' so that a value
		// set later does not become `A= x# note`, which reads as "x#".
		l.vs, l.ve = base+h.eq+1, base+h.eq+1
	}
	return l, next, ""
}

type dq struct {
	value  string
	closed bool
	multi  bool
	restOK bool // only spaces and a comment follow the closing quote
	close  int  // index of the closing quote in buf
	next   int  // start of the line after the one holding the closing quote
}

// scanDouble decodes the double-quoted value whose opening quote is buf[q].
func scanDouble(buf []byte, q int) dq {
	var d dq
	var sb strings.Builder
	for i := q + 1; i < len(buf); {
		c := buf[i]
		switch {
		case c == '"':
			end, next := lineEnd(buf, i+1)
			d.value, d.closed, d.close, d.next = sb.String(), true, i, next
			d.restOK = restOK(buf[i+1 : end])
			return d
		case c == '\\' && i+1 < len(buf) && strings.IndexByte(`nrt\"$`, buf[i+1]) >= 0:
			switch e := buf[i+1]; e {
			case 'n':
				sb.WriteByte('\n')
			case 'r':
				sb.WriteByte('\r')
			case 't':
				sb.WriteByte('\t')
			default:
				sb.WriteByte(e)
			}
			i += 2
		case c == '\n' || c == '\r':
			_, nx := lineEnd(buf, i)
			sb.WriteByte('\n')
			d.multi = true
			if e, _ := lineEnd(buf, nx); looksLikeAssignment(buf[nx:e]) {
				return d // not closed
			}
			i = nx
		default:
			// Includes a backslash starting an unknown escape: it is kept, and
			// the next byte is read on its own.
			sb.WriteByte(c)
			i++
		}
	}
	return d
}

// Bytes renders the file. Without edits it is exactly the parsed input.
func (f *File) Bytes() []byte {
	n := 0
	for _, l := range f.lines {
		n += len(l.raw)
	}
	out := make([]byte, 0, n)
	for _, l := range f.lines {
		out = append(out, l.raw...)
	}
	return out
}

// walk calls fn for every entry with its byte offset and line number.
func (f *File) walk(fn func(i, off, ln int)) {
	off, ln := 0, 1
	for i, l := range f.lines {
		if l.kind == kindEntry {
			fn(i, off, ln)
		}
		off += len(l.raw)
		ln += countBreaks(l.raw)
	}
}

func (f *File) entry(i, off, ln int) Entry {
	l := &f.lines[i]
	return Entry{
		Key: l.key, Value: l.value, Export: l.export, Quote: l.quote,
		Line: ln, MultiLine: l.multi,
		ValueStart: off + l.vs, ValueEnd: off + l.ve,
		Raw: string(l.raw[l.vs:l.ve]),
	}
}

// Entries returns every entry in file order, duplicates included.
func (f *File) Entries() []Entry {
	var out []Entry
	f.walk(func(i, off, ln int) { out = append(out, f.entry(i, off, ln)) })
	return out
}

// Lookup returns the last entry for key, or nil. The last one wins because
// that is what shells and dotenv loaders end up with.
func (f *File) Lookup(key string) *Entry {
	var e *Entry
	f.walk(func(i, off, ln int) {
		if f.lines[i].key == key {
			x := f.entry(i, off, ln)
			e = &x
		}
	})
	return e
}
