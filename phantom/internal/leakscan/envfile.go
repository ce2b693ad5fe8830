package leakscan

import (
	"path"
	"strings"

	"phantomstack.dev/shared/dotenv"
	"phantomstack.dev/shared/token"
)

// IsEnvFile reports whether a file name is an env file: .env, .env.* or
// *.env (the names the reference's check parsed as dotenv too).
func IsEnvFile(name string) bool {
	base := path.Base(name)
	return base == ".env" || strings.HasPrefix(base, ".env.") || strings.HasSuffix(base, ".env") && len(base) > len(".env")
}

// IsExampleEnv reports whether an env file is a template meant to be
// committed (.env.example, .env.sample, .env.template, .env.dist and the
// same words as *.example.env): its values are placeholders, so the env
// layer skips it. A real key pasted into one is still found by the pattern
// and known-value layers.
func IsExampleEnv(name string) bool {
	base := strings.ToLower(path.Base(name))
	for _, w := range []string{"example", "sample", "template", "dist", "defaults"} {
		if strings.Contains(base, "."+w) || strings.Contains(base, "-"+w) || strings.Contains(base, "_"+w) || strings.HasPrefix(base, w+".") {
			return true
		}
	}
	return false
}

// placeholderWords mark a value someone left to be filled in.
var placeholderWords = []string{"your_", "your-", "yourkey", "your ", "changeme", "change_me", "change-me",
	"replace_me", "replace-me", "placeholder", "xxxx", "todo", "fixme", "dummy", "redacted", "..."}

// isPlaceholder reports whether v is obviously not a real value: a
// placeholder word, <angle brackets>, a ${VAR} or $(cmd) reference, or one
// character repeated ("********").
func isPlaceholder(v string) bool {
	l := strings.ToLower(v)
	for _, w := range placeholderWords {
		if strings.Contains(l, w) {
			return true
		}
	}
	if strings.HasPrefix(l, "<") && strings.HasSuffix(l, ">") || strings.HasPrefix(l, "${") || strings.HasPrefix(l, "$(") {
		return true
	}
	return strings.Trim(l, l[:1]) == ""
}

type envHit struct {
	line  int
	key   string
	value string
	text  string // the line as written, for phantom:allow
	why   string
}

// scanEnv reports every entry of an env file whose value is an unprotected
// secret, with the classification init uses (shared/dotenv): a phm_ token
// is protected, an empty value or placeholder is no leak, and plain
// configuration (PORT=3000) is not a secret. firstLine is the file line of
// src's first line.
func scanEnv(src []byte, firstLine int, ov dotenv.Overrides) []envHit {
	f := dotenv.Parse(src)
	raw := f.Bytes()
	var hits []envHit
	for _, e := range f.Entries() {
		v := e.Value
		if v == "" || token.Is(v) || isPlaceholder(v) {
			continue
		}
		if vd := dotenv.Classify(e.Key, v, ov); vd.Class != dotenv.Secret {
			continue
		}
		// A value that merely contains a token (a URL with a token as
		// its password) carries no real secret.
		if token.FindAll([]byte(v)) != nil {
			continue
		}
		hits = append(hits, envHit{line: firstLine + e.Line - 1, key: e.Key, value: v,
			text: lineAround(raw, e.ValueStart), why: "plaintext value in an env file"})
	}
	return hits
}

// lineAround returns the line of b containing offset i.
func lineAround(b []byte, i int) string {
	if i > len(b) {
		i = len(b)
	}
	s := i
	for s > 0 && b[s-1] != '\n' {
		s--
	}
	e := i
	for e < len(b) && b[e] != '\n' {
		e++
	}
	return string(b[s:e])
}
