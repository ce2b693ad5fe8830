package config

import (
	"fmt"
	"maps"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/BurntSushi/toml"

	"phantomstack.dev/shared/suggest"
)

var errNotDir = syscall.ENOTDIR

// A section is one top-level table of .phantom.toml. To add one (e.g.
// [routes.<name>] or [proxy]): add its fields to model, a decode function
// here, an entry in sections, and accessors.
type section struct {
	name   string
	keys   []string // valid keys, for unknown-key suggestions; nil when keys are names (like [secrets])
	decode func(ck *checker, path []string, tbl map[string]any, m *model)
}

var sections = []section{
	{"phantom", phantomKeys, decodePhantom},
	{"classify", classifyKeys, decodeClassify},
	{"secrets", nil, decodeSecrets},
	{"routes", nil, decodeRoutes},
	{"proxy", proxyKeys, decodeProxy},
	{"aws", awsKeys, decodeAWS},
}

var (
	phantomKeys  = []string{"version", "project_id", "audit", "env_files"}
	classifyKeys = []string{"secret", "public"}
	secretKeys   = []string{"policy"} // in [secrets.<NAME>]
)

// keyHome says where a key belongs, for a key written in the wrong table.
func keyHome(key string) string {
	for _, h := range []struct {
		table string
		keys  []string
	}{{"[phantom]", phantomKeys}, {"[classify]", classifyKeys}, {"[secrets.<NAME>]", secretKeys}, {"[routes.<name>]", routeOnlyKeys}, {"[aws]", awsKeys}} {
		if slices.Contains(h.keys, key) {
			return h.table
		}
	}
	return ""
}

type checker struct {
	file string
	ix   *index
	errs ErrorList
}

func (ck *checker) errAt(line int, format string, args ...any) {
	ck.errs = append(ck.errs, &Error{File: ck.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (ck *checker) errorf(path []string, format string, args ...any) {
	ck.errAt(ck.ix.lineOf(path), format, args...)
}

func (ck *checker) root(root map[string]any) model {
	m := model{policies: map[string]string{}}

	// A newer schema may have keys this code has never heard of: say that
	// first and only that, instead of a list of confusing unknown keys.
	if ph, ok := root["phantom"].(map[string]any); ok {
		if v, ok := ph["version"].(int64); ok && v > SchemaVersion {
			ck.errorf([]string{"phantom", "version"},
				"written by a newer phantom (version = %d; this phantom reads version %d); upgrade phantom", v, SchemaVersion)
			return m
		}
	}

	names := make([]string, len(sections))
	for i, s := range sections {
		names[i] = s.name
	}
	for _, k := range sortedKeys(root) {
		i := slices.IndexFunc(sections, func(s section) bool { return s.name == k })
		if i < 0 {
			ck.unknownKey(nil, k, root[k], names)
			continue
		}
		p := []string{k}
		if tbl, ok := ck.table(p, root[k]); ok {
			sections[i].decode(ck, p, tbl, &m)
		}
	}
	if _, ok := root["phantom"]; !ok {
		ck.errAt(1, "missing [phantom] table (with version and project_id); run `phantom init` to create one")
	}
	return m
}

// unknownKey reports key k (with value v) in the table at path, which
// accepts only valid.
func (ck *checker) unknownKey(path []string, k string, v any, valid []string) {
	full := append(slices.Clip(path), k)
	hint := ""
	if s := suggest.Nearest(k, valid); s != "" {
		if len(path) == 0 && isTable(v) {
			hint = "; did you mean [" + s + "]?"
		} else {
			hint = `; did you mean "` + s + `"?`
		}
	} else if home := keyHome(k); home != "" && home != tableName(path) {
		hint = "; it belongs in " + home
	} else if _, isStr := v.(string); isStr && ValidSecretName(k) && strings.ToUpper(k) == k {
		hint = "; secret values never go in " + FileName + ", which is committed: store them with `phantom add " + k + " --stdin`"
	}
	switch {
	case len(path) == 0 && isTable(v):
		ck.errorf(full, "unknown table %s%s", tableName(full), hint)
	case len(path) == 0:
		ck.errorf(full, "unknown key %q at the top level%s", k, hint)
	default:
		ck.errorf(full, "unknown key %q in %s%s", k, tableName(path), hint)
	}
}

// known reports every key of tbl not in valid.
func (ck *checker) known(path []string, tbl map[string]any, valid []string) {
	for _, k := range sortedKeys(tbl) {
		if !slices.Contains(valid, k) {
			ck.unknownKey(path, k, tbl[k], valid)
		}
	}
}

// misspelled reports whether tbl has an unknown key whose suggestion is
// key: the "unknown key" error already says what is missing.
func misspelled(tbl map[string]any, valid []string, key string) bool {
	for k := range tbl {
		if !slices.Contains(valid, k) && suggest.Nearest(k, valid) == key {
			return true
		}
	}
	return false
}

func (ck *checker) table(path []string, v any) (map[string]any, bool) {
	if t, ok := v.(map[string]any); ok {
		return t, true
	}
	ck.typeError(path, "a table", v)
	return nil, false
}

func (ck *checker) str(path []string, v any) (string, bool) {
	if s, ok := v.(string); ok {
		return s, true
	}
	ck.typeError(path, "a string", v)
	return "", false
}

// strList decodes an array of strings; bad elements are reported at their
// own line and dropped.
func (ck *checker) strList(path []string, v any, each func(i int, s string)) ([]string, bool) {
	arr, ok := v.([]any)
	if !ok {
		ck.typeError(path, "an array of strings", v)
		return nil, false
	}
	out := []string{}
	for i, e := range arr {
		s, ok := e.(string)
		if !ok {
			ck.errAt(ck.ix.elemLine(path, i), "%s must be an array of strings, but element %d is %s", keyName(path), i+1, typeName(e))
			continue
		}
		if each != nil {
			each(i, s)
		}
		out = append(out, s)
	}
	return out, true
}

func (ck *checker) typeError(path []string, want string, got any) {
	if len(path) == 1 && want == "a table" {
		ck.errorf(path, "[%s] must be a table, not %s", path[0], typeName(got))
		return
	}
	ck.errorf(path, "%s must be %s, not %s", keyName(path), want, typeName(got))
}

func decodePhantom(ck *checker, p []string, tbl map[string]any, m *model) {
	ck.known(p, tbl, phantomKeys)
	at := func(k string) []string { return append(slices.Clip(p), k) }

	if v, ok := tbl["version"]; !ok {
		if !misspelled(tbl, phantomKeys, "version") {
			ck.errorf(p, "missing version in [phantom] (add: version = %d)", SchemaVersion)
		}
	} else if n, ok := v.(int64); !ok {
		ck.typeError(at("version"), "an integer", v)
	} else if n < 1 {
		ck.errorf(at("version"), "invalid version %d; this phantom reads version %d", n, SchemaVersion)
	} else {
		m.version = n
	}

	if v, ok := tbl["project_id"]; !ok {
		if !misspelled(tbl, phantomKeys, "project_id") {
			ck.errorf(p, "missing project_id in [phantom]; it names this project's vault, so restore it from git history rather than inventing one")
		}
	} else if s, ok := ck.str(at("project_id"), v); ok {
		if validProjectID(s) {
			m.projectID = s
		} else {
			hint := ""
			if low := strings.ToLower(s); validProjectID(low) {
				hint = fmt.Sprintf("; did you mean %q?", low)
			}
			ck.errorf(at("project_id"), "phantom.project_id must be 32 lowercase hex digits (128 random bits), got %s%s", showValue(s, isHexDigit), hint)
		}
	}

	if v, ok := tbl["audit"]; ok {
		if s, ok := ck.str(at("audit"), v); ok {
			if slices.Contains(auditModes, s) {
				m.audit = s
			} else {
				ck.errorf(at("audit"), "invalid audit %s; use %s%s", showValue(s, isWordByte), orList(auditModes), didYouMean(s, auditModes))
			}
		}
	}

	if v, ok := tbl["env_files"]; ok {
		kp := at("env_files")
		seen := map[string]bool{}
		files := []string{}
		_, ok := ck.strList(kp, v, func(i int, s string) {
			clean, msg := checkEnvFile(s)
			line := ck.ix.elemLine(kp, i)
			switch {
			case msg != "":
				ck.errAt(line, "env_files entry %s %s", shortQuote(s), msg)
			case seen[clean]:
				ck.errAt(line, "env_files lists %s twice", shortQuote(clean))
			default:
				seen[clean] = true
				files = append(files, clean)
			}
		})
		if ok {
			m.envFiles, m.envSet = files, true
		}
	}
}

// checkEnvFile validates an env_files entry and returns its clean form, or a
// message saying what is wrong with it.
func checkEnvFile(s string) (clean, msg string) {
	switch {
	case s == "":
		return "", "is empty"
	case !utf8.ValidString(s) || strings.ContainsFunc(s, unicode.IsControl):
		return "", "contains a control character or invalid UTF-8"
	case strings.Contains(s, `\`):
		return "", "uses a backslash; write paths with forward slashes (the file is shared across systems)"
	case strings.HasPrefix(s, "/") || filepath.IsAbs(s) || filepath.VolumeName(s) != "" || len(s) >= 2 && s[1] == ':':
		return "", "must be a path relative to the project directory"
	}
	clean = path.Clean(s)
	switch {
	case clean == ".":
		return "", "names the project directory itself, not a file"
	case clean == ".." || strings.HasPrefix(clean, "../"):
		return "", "is outside the project directory"
	}
	return clean, ""
}

func decodeClassify(ck *checker, p []string, tbl map[string]any, m *model) {
	ck.known(p, tbl, classifyKeys)
	seen := map[string]string{} // pattern → list it was first seen in
	for _, list := range []string{"secret", "public"} {
		v, ok := tbl[list]
		if !ok {
			continue
		}
		kp := append(slices.Clip(p), list)
		var pats []string
		ck.strList(kp, v, func(i int, s string) {
			line := ck.ix.elemLine(kp, i)
			if msg := checkPattern(s); msg != "" {
				ck.errAt(line, "classify.%s pattern %s %s", list, shortQuote(s), msg)
				return
			}
			if first, dup := seen[s]; dup {
				if first == list {
					ck.errAt(line, "classify.%s lists %s twice", list, shortQuote(s))
				} else {
					ck.errAt(line, "pattern %s is in both classify.secret and classify.public", shortQuote(s))
				}
				return
			}
			seen[s] = list
			pats = append(pats, s)
		})
		if list == "secret" {
			m.classify.Secret = pats
		} else {
			m.classify.Public = pats
		}
	}
}

func checkPattern(s string) string {
	if s == "" {
		return "is empty"
	}
	if _, err := path.Match(s, ""); err != nil {
		return `is not a valid glob (use * and ? wildcards, [A-Z] classes, \ to escape)`
	}
	if strings.Contains(s, "/") {
		return "contains '/', which never occurs in an env var name"
	}
	return ""
}

func decodeSecrets(ck *checker, p []string, tbl map[string]any, m *model) {
	for _, name := range sortedKeys(tbl) {
		sp := append(slices.Clip(p), name)
		if !ValidSecretName(name) {
			ck.errorf(sp, "invalid secret name %s in [secrets]: use an env var name (letters, digits and _, not starting with a digit)", shortQuote(name))
			continue
		}
		if _, isStr := tbl[name].(string); isStr {
			ck.errorf(sp, "secrets.%s must be a table ([secrets.%s] with a policy), not a string; "+
				"secret values never go in %s, which is committed: store it with `phantom add %s --stdin` and delete this line", name, name, FileName, name)
			continue
		}
		st, ok := ck.table(sp, tbl[name])
		if !ok {
			continue
		}
		ck.known(sp, st, secretKeys)
		if v, ok := st["policy"]; ok {
			kp := append(slices.Clip(sp), "policy")
			if s, ok := ck.str(kp, v); ok {
				if slices.Contains(policies, s) {
					m.policies[name] = s
				} else {
					ck.errorf(kp, "invalid policy %s for %s; use %s%s", showValue(s, isWordByte), name, orList(policies), didYouMean(s, policies))
				}
			}
		}
	}
}

// ValidSecretName reports whether name is a valid secret (env var) name:
// [A-Za-z_][A-Za-z0-9_]*.
func ValidSecretName(name string) bool {
	if name == "" || name[0] >= '0' && name[0] <= '9' {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func validProjectID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !(s[i] >= '0' && s[i] <= '9' || s[i] >= 'a' && s[i] <= 'f') {
			return false
		}
	}
	return true
}

func isTable(v any) bool {
	switch v.(type) {
	case map[string]any, []map[string]any:
		return true
	}
	return false
}

func typeName(v any) string {
	switch v := v.(type) {
	case string:
		return "a string" // never echo a string: it may be a secret pasted in the wrong place
	case int64:
		return fmt.Sprintf("an integer (%d)", v)
	case float64:
		return fmt.Sprintf("a float (%v)", v)
	case bool:
		return fmt.Sprintf("a boolean (%v)", v)
	case time.Time:
		return "a date-time"
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	case []map[string]any:
		return "an array of tables"
	}
	return fmt.Sprintf("a %T", v)
}

// showValue quotes an invalid value for a message only when every byte is
// ok and it is short: a value in the wrong place may be a pasted secret,
// and phantom's output must not carry secrets.
func showValue(s string, ok func(byte) bool) string {
	if len(s) > 40 || strings.IndexFunc(s, func(r rune) bool { return r > 127 || !ok(byte(r)) }) >= 0 {
		return fmt.Sprintf("(a %d-character value, not shown)", len(s))
	}
	return strconv.Quote(s)
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '-' || c == ' '
}

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// shortQuote quotes s for a message, eliding the middle of long values.
func shortQuote(s string) string {
	if r := []rune(s); len(r) > 48 {
		s = string(r[:40]) + "…" + string(r[len(r)-6:])
	}
	return fmt.Sprintf("%q", s)
}

// tableName renders a table path as in a header: [secrets.DATABASE_URL].
func tableName(path []string) string {
	if len(path) == 0 {
		return "the top level"
	}
	return "[" + toml.Key(path).String() + "]"
}

// keyName renders a key path as a dotted TOML key: phantom.version.
func keyName(path []string) string { return toml.Key(path).String() }

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
