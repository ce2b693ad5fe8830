package dotenv

import (
	"bytes"
	"strconv"
	"strings"
)

// Set gives every entry named key the value value and reports whether there
// was one. Only each entry's value span is rewritten; export, indentation,
// spacing, inline comments and line endings stay.
//
// Quoting: the entry keeps its quote style when value fits it (unquoted:
// only characters that need no quoting in any loader or shell, see
// EncodeValue; single or backtick: no such quote and no line break; double:
// always). Otherwise the value becomes double-quoted with \\, \", \$ and \r
// escaped and line breaks written as real line breaks in the entry's line
// ending, so a PEM key stays readable. Every candidate is checked by parsing
// the result; if real line breaks would be misread (a line of the value looks
// like KEY=VALUE) the value is written on one line with \n escapes instead.
// So Parse(f.Bytes()).Lookup(key).Value == value always holds afterwards.
func (f *File) Set(key, value string) bool {
	found := false
	feol := "" // the file's line ending before this Set, for a last line without one
	for i := range f.lines {
		if f.lines[i].kind == kindEntry && f.lines[i].key == key {
			if !found {
				feol = f.eol()
			}
			found = true
			f.setLine(i, value, feol)
		}
	}
	return found
}

// setLine rewrites line i's value. A line without a line ending (the last)
// takes feol, the file's line ending as it was before the edits began: a
// multi-line value written into an earlier entry must not change it (Set
// and SetEntries write the same bytes; FuzzSet).
func (f *File) setLine(i int, value, feol string) {
	l := f.lines[i]
	eol := lineEnding(l.raw)
	if eol == "" {
		eol = feol
	}
	cands := candidates(value, l.quote, eol)
	for k, c := range cands {
		raw := make([]byte, 0, len(l.raw)-(l.ve-l.vs)+len(c))
		raw = append(append(append(raw, l.raw[:l.vs]...), c...), l.raw[l.ve:]...)
		g := f.replaced(i, raw)
		// The last candidate is a one-line double-quoted value, which always
		// reads back; it is used even if the check fails so that Set never
		// leaves the old secret in place.
		if k == len(cands)-1 || g.sameExcept(f, i) && g.lines[i].kind == kindEntry &&
			g.lines[i].key == l.key && g.lines[i].value == value {
			*f = *g
			return
		}
	}
}

// replaced parses f with line i's bytes replaced by raw.
func (f *File) replaced(i int, raw []byte) *File {
	var b []byte
	for j, l := range f.lines {
		if j == i {
			b = append(b, raw...)
		} else {
			b = append(b, l.raw...)
		}
	}
	return Parse(b)
}

// sameExcept reports whether g has the same lines as f apart from line i.
func (g *File) sameExcept(f *File, i int) bool {
	if len(g.lines) != len(f.lines) {
		return false
	}
	for j := range f.lines {
		if j != i && !sameLine(&g.lines[j], &f.lines[j]) {
			return false
		}
	}
	return true
}

func sameLine(a, b *line) bool {
	return a.kind == b.kind && a.key == b.key && a.value == b.value && bytes.Equal(a.raw, b.raw)
}

// Append adds `key=value` as a new last line, ending it with the file's
// dominant line ending and first terminating the current last line if it is
// unterminated. The value is quoted as by Set for an unquoted entry. Append
// panics if key is not ValidKey: callers validate names from users first.
func (f *File) Append(key, value string) {
	if !ValidKey(key) {
		panic("dotenv: Append: invalid key " + strconv.Quote(key))
	}
	eol := f.eol()
	prefix := f.Bytes()
	if len(prefix) > 0 && !bytes.Equal(prefix, bom) && lineEnding(prefix) == "" {
		prefix = append(prefix, eol...)
	}
	pf := Parse(prefix)
	if bytes.Equal(prefix, bom) {
		pf = &File{} // the BOM becomes part of the new line
	}
	cands := candidates(value, QuoteNone, eol)
	for k, c := range cands {
		b := append(append(append(bytes.Clone(prefix), key...), '='), c+eol...)
		g := Parse(b)
		n := len(pf.lines)
		ok := len(g.lines) == n+1 && g.lines[n].kind == kindEntry &&
			g.lines[n].key == key && g.lines[n].value == value
		for j := 0; ok && j < n; j++ {
			ok = sameLine(&g.lines[j], &pf.lines[j])
		}
		if ok || k == len(cands)-1 {
			*f = *g
			return
		}
	}
}

// Remove deletes every entry named key, with all its lines and line endings,
// and returns how many there were. Afterwards Lookup(key) is nil even when
// the removal turned a broken line for key into a readable entry.
func (f *File) Remove(key string) int {
	total := 0
	// Removing a line can change how an earlier broken line reads: in
	// `K="a` / `K=1` / `"` the first line is unterminated only because the
	// second looks like an assignment, and becomes a K entry once it is gone.
	// So reparse and repeat until no entry is left; each round shrinks the
	// file.
	for {
		n := 0
		var b []byte
		for _, l := range f.lines {
			if l.kind == kindEntry && l.key == key {
				n++
				continue
			}
			b = append(b, l.raw...)
		}
		if n == 0 {
			return total
		}
		total += n
		*f = *Parse(b)
	}
}

// EncodeValue returns the text to write after `KEY=` so that Parse reads
// back exactly v. It is v itself when v is empty or made only of
// A-Z a-z 0-9 and _ - . , : / @ + = % (nothing a shell or another dotenv
// loader would treat specially); otherwise v double-quoted with \\, \", \$,
// \r and \n escaped. The result is always one line, so it can be spliced into
// a file with any line endings.
func EncodeValue(v string) string {
	if safeUnquoted(v) {
		return v
	}
	return doubleQuote(v, "")
}

func safeUnquoted(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte("_-.,:/@+=%", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

// doubleQuote quotes v. Line feeds become eol, or the escape \n when eol is
// empty. '$' is escaped so that shells and expanding loaders (docker compose,
// dotenv-expand) do not substitute variables in it.
func doubleQuote(v, eol string) string {
	var sb strings.Builder
	sb.Grow(len(v) + 2)
	sb.WriteByte('"')
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\\', '"', '$':
			sb.WriteByte('\\')
			sb.WriteByte(c)
		case '\r':
			sb.WriteString(`\r`)
		case '\n':
			if eol == "" {
				sb.WriteString(`\n`)
			} else {
				sb.WriteString(eol)
			}
		default:
			sb.WriteByte(c)
		}
	}
	sb.WriteByte('"')
	return sb.String()
}

// candidates lists raw encodings of value in order of preference; the last
// one is a one-line double-quoted string, which always reads back.
func candidates(value string, q Quote, eol string) []string {
	var c []string
	switch q {
	case QuoteNone:
		if safeUnquoted(value) {
			c = append(c, value)
		}
	case QuoteSingle:
		if !strings.ContainsAny(value, "'\r\n") {
			c = append(c, "'"+value+"'")
		}
	case QuoteBacktick:
		if !strings.ContainsAny(value, "`\r\n") {
			c = append(c, "`"+value+"`")
		}
	}
	if strings.Contains(value, "\n") {
		c = append(c, doubleQuote(value, eol))
	}
	return append(c, doubleQuote(value, ""))
}

// lineEnding returns the terminator at the end of b, or "".
func lineEnding(b []byte) string {
	switch {
	case bytes.HasSuffix(b, []byte("\r\n")):
		return "\r\n"
	case bytes.HasSuffix(b, []byte("\n")):
		return "\n"
	case bytes.HasSuffix(b, []byte("\r")):
		return "\r"
	}
	return ""
}

// eol returns the file's most common line ending, "\n" for ties and files
// without one.
func (f *File) eol() string {
	var lf, crlf, cr int
	for _, l := range f.lines {
		b := l.raw
		for i, c := range b {
			switch {
			case c == '\n' && (i == 0 || b[i-1] != '\r'):
				lf++
			case c == '\r' && i+1 < len(b) && b[i+1] == '\n':
				crlf++
			case c == '\r':
				cr++
			}
		}
	}
	switch {
	case lf >= crlf && lf >= cr:
		return "\n"
	case crlf >= cr:
		return "\r\n"
	}
	return "\r"
}

// SetRawAt replaces the raw value text (quotes included) of the n-th entry,
// counting in Entries order, with raw, verbatim. It is for restoring text
// that was read from an entry before (Entry.Raw), so quoting and escapes come
// back byte for byte. It reports false, changing nothing, when n is out of
// range or the result would not parse back as the same single entry.
func (f *File) SetRawAt(n int, raw string) bool {
	idx := -1
	k := 0
	for i := range f.lines {
		if f.lines[i].kind != kindEntry {
			continue
		}
		if k == n {
			idx = i
			break
		}
		k++
	}
	if idx < 0 {
		return false
	}
	l := f.lines[idx]
	b := make([]byte, 0, len(l.raw)-(l.ve-l.vs)+len(raw))
	b = append(append(append(b, l.raw[:l.vs]...), raw...), l.raw[l.ve:]...)
	g := f.replaced(idx, b)
	if !g.sameExcept(f, idx) || g.lines[idx].kind != kindEntry || g.lines[idx].key != l.key {
		return false
	}
	*f = *g
	return true
}

// DecodeValue returns the value that raw value text (as in Entry.Raw)
// decodes to, and false when it does not parse as one value.
func DecodeValue(raw string) (string, bool) {
	g := Parse([]byte("K=" + raw))
	es := g.Entries()
	if len(es) != 1 || len(g.Problems) > 0 || es[0].Raw != raw {
		return "", false
	}
	return es[0].Value, true
}

// SetEntries gives the n-th entry (counting in Entries order) the value
// vals[n], for every n in vals, with the same quoting and guarantees as Set;
// indexes out of range are ignored. It parses the file once for the whole
// batch instead of once per entry, so protecting every line of a large file
// stays linear. When the batch does not read back exactly (a rewritten value
// would change how a neighbouring line parses) it falls back to rewriting one
// entry at a time, checking each as Set does.
func (f *File) SetEntries(vals map[int]string) {
	if len(vals) == 0 {
		return
	}
	type edit struct {
		line  int
		value string
	}
	var edits []edit
	feol := ""
	n := 0
	var b []byte
	for i := range f.lines {
		l := &f.lines[i]
		v, ok := vals[n]
		if l.kind != kindEntry || !ok {
			if l.kind == kindEntry {
				n++
			}
			b = append(b, l.raw...)
			continue
		}
		n++
		edits = append(edits, edit{i, v})
		eol := lineEnding(l.raw)
		if eol == "" {
			if feol == "" {
				feol = f.eol()
			}
			eol = feol
		}
		c := candidates(v, l.quote, eol)[0]
		b = append(append(append(b, l.raw[:l.vs]...), c...), l.raw[l.ve:]...)
	}
	if len(edits) == 0 {
		return
	}
	g := Parse(b)
	ok := len(g.lines) == len(f.lines)
	for j, k := 0, 0; ok && j < len(f.lines); j++ {
		if k < len(edits) && edits[k].line == j {
			gl := &g.lines[j]
			ok = gl.kind == kindEntry && gl.key == f.lines[j].key && gl.value == edits[k].value
			k++
			continue
		}
		ok = sameLine(&g.lines[j], &f.lines[j])
	}
	if ok {
		*f = *g
		return
	}
	// setLine keeps the number of lines, so the indexes stay valid.
	if feol == "" {
		feol = f.eol()
	}
	for _, e := range edits {
		f.setLine(e.line, e.value, feol)
	}
}
