package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"phantomstack.dev/shared/fsx"
)

// Editing keeps the user's file: each change is a small text edit (replace
// one value's span, or insert lines or array elements at the right place),
// so comments, blank lines, key order, quoting and CRLF line endings survive.
// Several candidate edits are tried in order of how natural they look; the
// first whose result parses, validates and means exactly the intended
// configuration wins. A change no candidate can make is an error, never a
// silent rewrite.

var (
	// ErrExists is wrapped by Save when it would replace a file this Config
	// was not loaded from (for example New over an existing project, which
	// would change its project_id and orphan its vault).
	ErrExists = errors.New("config file already exists")
	// ErrChanged is wrapped by Save when the file changed on disk after it
	// was loaded; load it again and redo the change.
	ErrChanged = errors.New("config file changed on disk")
)

// Save writes the config to path atomically (fsx.WriteFileAtomic). A new
// file gets mode 0644, since it is meant to be committed; an existing file
// keeps its mode. Save never overwrites content it has not seen: an
// existing file must still hold exactly the bytes this Config was loaded
// from (or last saved), else the error wraps ErrExists or ErrChanged. When
// the text is unchanged nothing is written. A symlink is written through.
func (c *Config) Save(path string) error {
	target := path
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		if target, err = filepath.EvalSymlinks(path); err != nil {
			return fmt.Errorf("save %s: %w", path, err)
		}
	}
	perm := os.FileMode(0o644)
	cur, err := os.ReadFile(target)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("save %s: %w", path, err)
	case c.disk == nil:
		return fmt.Errorf("%s already exists; load it instead of writing a new project_id over it: %w", path, ErrExists)
	case !bytes.Equal(cur, c.disk):
		return fmt.Errorf("%s changed on disk after phantom read it; run the command again: %w", path, ErrChanged)
	default:
		perm = 0 // keep the existing file's mode
		if bytes.Equal(cur, c.src) {
			c.path, c.name = path, path
			return nil
		}
	}
	if err := fsx.WriteFileAtomic(target, c.src, perm); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	c.path, c.name, c.disk = path, path, slices.Clone(c.src)
	return nil
}

// Bytes returns the config's current text: what Save writes.
func (c *Config) Bytes() []byte { return slices.Clone(c.src) }

// SetSecretPolicy sets [secrets.NAME] policy, editing the text in place.
func (c *Config) SetSecretPolicy(name, policy string) error {
	if !ValidSecretName(name) {
		return fmt.Errorf("invalid secret name %s: use an env var name (letters, digits and _, not starting with a digit)", shortQuote(name))
	}
	if !slices.Contains(policies, policy) {
		return fmt.Errorf("invalid policy %s; use %s%s", showValue(policy, isWordByte), orList(policies), didYouMean(policy, policies))
	}
	if cur, ok := c.m.policies[name]; ok && cur == policy {
		return nil
	}
	want := c.m.clone()
	want.policies[name] = policy
	return c.edit(want, fmt.Sprintf("set the policy of %s to %q", name, policy),
		c.setKeyEdits([]string{"secrets", name}, "policy", tomlString(policy))...)
}

// AddEnvFile adds a file to [phantom] env_files (relative to the project
// directory). Adding a file already listed does nothing. When env_files is
// unset it is written out with the defaults first, so they stay in effect.
func (c *Config) AddEnvFile(file string) error {
	clean, msg := checkEnvFile(file)
	if msg != "" {
		return fmt.Errorf("env file %s %s", shortQuote(file), msg)
	}
	files := c.EnvFiles()
	if slices.Contains(files, clean) {
		return nil
	}
	want := c.m.clone()
	want.envFiles, want.envSet = append(files, clean), true
	desc := fmt.Sprintf("add %q to env_files", clean)
	table, key := []string{"phantom"}, "env_files"

	var cands [][]splice
	if st := c.ix.find(append(table, key)); st != nil && st.kind == stmtKeyVal && st.val.kind == valArray {
		cands = append(cands, c.arrayAppend(st.val, tomlString(clean)))
	}
	cands = append(cands, c.setKeyEdits(table, key, tomlArray(want.envFiles))...)
	return c.edit(want, desc, cands...)
}

// splice replaces src[start:end] with text.
type splice struct {
	start, end int
	text       string
}

func applySplices(src []byte, sps []splice) []byte {
	sps = slices.Clone(sps)
	slices.SortFunc(sps, func(a, b splice) int { return b.start - a.start })
	out := slices.Clone(src)
	for _, sp := range sps {
		out = slices.Concat(out[:sp.start], []byte(sp.text), out[sp.end:])
	}
	return out
}

// edit applies the first candidate whose result loads to exactly want.
func (c *Config) edit(want model, desc string, cands ...[]splice) error {
	for _, sps := range cands {
		if sps == nil {
			continue
		}
		nc, err := parse(c.name, applySplices(c.src, sps))
		if err != nil || !reflect.DeepEqual(nc.m, want) {
			continue
		}
		c.src, c.ix, c.m = nc.src, nc.ix, nc.m
		return nil
	}
	return fmt.Errorf("%s: cannot %s without rewriting the file's layout; make the change by hand", c.name, desc)
}

// setKeyEdits returns candidate edits that set key in the table at path to
// value (TOML text), most natural first.
func (c *Config) setKeyEdits(table []string, key, value string) [][]splice {
	table = slices.Clip(table)
	full := append(table, key)
	var cands [][]splice

	// The key exists: replace its value.
	if st := c.ix.find(full); st != nil && st.kind == stmtKeyVal {
		cands = append(cands, []splice{{st.val.start, st.val.end, value}})
	}
	// An inline table on the way: add the rest of the key inside it.
	for n := len(full) - 1; n >= 1; n-- {
		if st := c.ix.find(full[:n]); st != nil && st.kind == stmtKeyVal && st.val.kind == valTable {
			cands = append(cands, c.intoInline(st.val, keyName(full[n:])+" = "+value))
		}
	}
	// A header for the table: add a line at the end of its section. Else a
	// new table after its siblings ([secrets.B] after [secrets.A]). Else a
	// dotted key in an ancestor's section.
	for n := len(table); n >= 1; n-- {
		if h := c.header(full[:n]); h != nil {
			cands = append(cands, []splice{c.insertLines(c.sectionEnd(h), false, keyName(full[n:])+" = "+value)})
		}
		if n == len(table) && n >= 2 {
			if off, ok := c.lastUnder(table[:n-1]); ok {
				cands = append(cands, []splice{c.insertLines(off, true, "["+keyName(table)+"]", key+" = "+value)})
			}
		}
	}
	if len(table) > 0 {
		// A new table at the end of the file.
		cands = append(cands, []splice{c.insertLines(len(c.src), true, "["+keyName(table)+"]", key+" = "+value)})
	}
	// A dotted key among the top-level keys (before the first header).
	cands = append(cands, []splice{c.insertLines(c.topEnd(), false, keyName(full)+" = "+value)})
	return cands
}

// header returns the [table] header statement for path.
func (c *Config) header(path []string) *stmt {
	for _, st := range c.ix.stmts {
		if st.kind == stmtTable && slices.Equal(st.path, path) {
			return st
		}
	}
	return nil
}

// sectionEnd is the offset after the last line of h's section that holds a
// statement: new keys go there, before any comments that lead into the next
// section.
func (c *Config) sectionEnd(h *stmt) int {
	i := slices.Index(c.ix.stmts, h)
	end := h.lineEnd
	for _, st := range c.ix.stmts[i+1:] {
		if st.kind != stmtKeyVal {
			break
		}
		if !st.inline {
			end = st.lineEnd
		}
	}
	return end
}

// lastUnder is the offset after the last top-level statement inside prefix.
func (c *Config) lastUnder(prefix []string) (int, bool) {
	off, ok := 0, false
	for _, st := range c.ix.stmts {
		if !st.inline && hasPrefix(st.path, prefix) {
			off, ok = max(off, st.lineEnd), true
		}
	}
	return off, ok
}

// topEnd is where a new top-level key/value line goes: after the last
// top-level key, else at the start of the first header's line, else at the
// end.
func (c *Config) topEnd() int {
	off := -1
	for _, st := range c.ix.stmts {
		if st.kind != stmtKeyVal {
			if off >= 0 {
				return off
			}
			return bytes.LastIndexByte(c.src[:st.start], '\n') + 1
		}
		if !st.inline {
			off = st.lineEnd
		}
	}
	if off >= 0 {
		return off
	}
	return len(c.src)
}

// insertLines inserts whole lines at off (a line start or the end of the
// file), with a blank line before them when blank is set and the text
// before does not already end in one.
func (c *Config) insertLines(off int, blank bool, lines ...string) splice {
	nl := c.newline()
	var b strings.Builder
	before := c.src[:off]
	if off > 0 && before[off-1] != '\n' {
		b.WriteString(nl)
		before = append(slices.Clip(before), '\n')
	}
	if blank && len(bytes.TrimLeft(before, "\xef\xbb\xbf")) > 0 && !isBlankLineEnd(before) {
		b.WriteString(nl)
	}
	for _, l := range lines {
		b.WriteString(l + nl)
	}
	return splice{off, off, b.String()}
}

// isBlankLineEnd reports whether text (ending in a newline) ends with an
// empty or whitespace-only line.
func isBlankLineEnd(text []byte) bool {
	t := bytes.TrimSuffix(text, []byte("\n"))
	i := bytes.LastIndexByte(t, '\n')
	return len(bytes.TrimSpace(t[i+1:])) == 0
}

// intoInline adds kv to an inline table.
func (c *Config) intoInline(v *val, kv string) []splice {
	body := c.src[v.start+1 : v.end-1]
	if len(bytes.TrimSpace(body)) == 0 {
		return []splice{{v.start, v.end, "{ " + kv + " }"}}
	}
	i := v.end - 2
	for i > v.start && isSpaceByte(c.src[i]) {
		i--
	}
	if c.src[i] == ',' {
		return []splice{{i + 1, i + 1, " " + kv}}
	}
	return []splice{{i + 1, i + 1, ", " + kv}}
}

// arrayAppend adds elem (TOML text) to the end of an array, following its
// layout: one line per element when the closing bracket is on its own line.
func (c *Config) arrayAppend(v *val, elem string) []splice {
	if len(v.elems) == 0 {
		if bytes.IndexByte(c.src[v.start:v.end], '#') < 0 {
			return []splice{{v.start, v.end, "[" + elem + "]"}}
		}
		return []splice{{v.start + 1, v.start + 1, elem + ","}}
	}
	last := v.elems[len(v.elems)-1]
	closing := v.end - 1
	between := c.src[last.end:closing]
	nlAt := bytes.LastIndexByte(between, '\n')
	if nlAt < 0 || len(bytes.TrimSpace(between[nlAt+1:])) != 0 {
		return []splice{{last.end, last.end, ", " + elem}}
	}
	// Multi-line: a new line before the closing bracket, indented like the
	// last element, with a comma after the last element if it has none.
	lineStart := bytes.LastIndexByte(c.src[:last.start], '\n') + 1
	indent := c.src[lineStart:last.start]
	if len(bytes.TrimSpace(indent)) != 0 {
		indent = []byte("    ")
	}
	hasComma := trailingComma(between)
	text := string(indent) + elem
	if hasComma {
		text += ","
	}
	sps := []splice{{last.end + nlAt + 1, last.end + nlAt + 1, text + c.newline()}}
	if !hasComma {
		sps = append(sps, splice{last.end, last.end, ","})
	}
	return sps
}

// trailingComma reports whether the filler after an array's last element
// (whitespace, newlines, comments) holds a comma.
func trailingComma(b []byte) bool {
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case ',':
			return true
		case '#':
			for i < len(b) && b[i] != '\n' {
				i++
			}
		}
	}
	return false
}

func isSpaceByte(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// newline is the file's line ending: CRLF if it uses any, else LF.
func (c *Config) newline() string {
	if bytes.Contains(c.src, []byte("\r\n")) {
		return "\r\n"
	}
	return "\n"
}

// tomlString renders s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func tomlArray(vals []string) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = tomlString(v)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
