package leakscan

import (
	"bufio"
	"bytes"
	"os"
	"path"
	"strings"
)

// IgnoreFile is the file of paths phantom check skips, in .gitignore
// syntax, read from the scan root.
const IgnoreFile = ".phantomignore"

// Ignore matches slash-separated paths relative to the scan root against
// .gitignore-style rules: '#' comments, '!' negation (last match wins),
// a leading or inner '/' anchors to the root, a trailing '/' matches
// directories (and so everything under them), '*' and '?' stay within one
// path segment, '**' spans segments, '[...]' classes.
type Ignore struct {
	rules []ignoreRule
}

type ignoreRule struct {
	pat     []string // segments
	neg     bool
	dirOnly bool
	anchor  bool
}

// LoadIgnore reads path; a missing file is an empty rule set.
func LoadIgnore(file string) (*Ignore, error) {
	b, err := os.ReadFile(file)
	if os.IsNotExist(err) {
		return &Ignore{}, nil
	}
	if err != nil {
		return nil, err
	}
	return ParseIgnore(b), nil
}

// ParseIgnore parses .gitignore-style rules.
func ParseIgnore(b []byte) *Ignore {
	ig := &Ignore{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		// Trailing spaces are ignored unless escaped, as in git.
		for strings.HasSuffix(line, " ") && !strings.HasSuffix(line, `\ `) {
			line = line[:len(line)-1]
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var r ignoreRule
		if strings.HasPrefix(line, "!") {
			r.neg, line = true, line[1:]
		} else if strings.HasPrefix(line, `\`) {
			line = line[1:]
		}
		if strings.HasSuffix(line, "/") {
			r.dirOnly, line = true, strings.TrimRight(line, "/")
		}
		if strings.Contains(line, "/") {
			r.anchor = true
			line = strings.TrimPrefix(line, "/")
		}
		if line == "" {
			continue
		}
		r.pat = strings.Split(line, "/")
		ig.rules = append(ig.rules, r)
	}
	return ig
}

// Match reports whether rel (slash-separated, relative to the root) is
// ignored, itself or through one of its parent directories.
func (ig *Ignore) Match(rel string, isDir bool) bool {
	if ig == nil || len(ig.rules) == 0 {
		return false
	}
	segs := strings.Split(strings.Trim(rel, "/"), "/")
	// A path is ignored when it or a parent directory is: check each prefix.
	for n := 1; n <= len(segs); n++ {
		dir := n < len(segs) || isDir
		if ig.matchOne(segs[:n], dir) {
			return true
		}
	}
	return false
}

func (ig *Ignore) matchOne(segs []string, isDir bool) bool {
	ignored := false
	for _, r := range ig.rules {
		if r.dirOnly && !isDir {
			continue
		}
		var ok bool
		if r.anchor {
			ok = matchSegs(r.pat, segs)
		} else {
			ok = matchSegs(r.pat, segs[len(segs)-1:])
		}
		if ok {
			ignored = !r.neg
		}
	}
	return ignored
}

func matchSegs(pat, segs []string) bool {
	if len(pat) == 0 {
		return len(segs) == 0
	}
	if pat[0] == "**" {
		for i := 0; i <= len(segs); i++ {
			if matchSegs(pat[1:], segs[i:]) {
				return true
			}
		}
		return false
	}
	if len(segs) == 0 {
		return false
	}
	ok, err := path.Match(pat[0], segs[0])
	return err == nil && ok && matchSegs(pat[1:], segs[1:])
}
