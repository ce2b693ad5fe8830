package leakscan

//go:generate sh rules/refresh.sh

import (
	_ "embed"
	"fmt"
	"math"
	"regexp"
	"strings"
	"sync"

	"github.com/BurntSushi/toml"
)

// The pattern layer is gitleaks v8's default rule set (MIT; ~200 provider
// formats with keywords, entropy thresholds and allowlists), embedded as data
// and run by the small matcher below: maintained upstream, yet the phantom
// binary does not link gitleaks and its dependencies' initialisers
// (docs/decisions.md, "phantom check: patterns from gitleaks, as data").
// The matcher follows gitleaks' detect.DetectContext/detectRule for the
// features the file uses; TestMatcherAgreesWithGitleaks holds it to that.
//
//go:embed rules/gitleaks.toml
var gitleaksTOML string

// ruleFile is the part of gitleaks' config format the default file uses.
// Keys outside it are refused (loadRules), so a refresh that brings a new
// feature fails loudly instead of being half-applied.
type ruleFile struct {
	Title      string        `toml:"title"`
	MinVersion string        `toml:"minVersion"`
	Allowlist  *allowlistDef `toml:"allowlist"`
	Allowlists []allowlistDef
	Rules      []struct {
		ID          string         `toml:"id"`
		Description string         `toml:"description"`
		Regex       string         `toml:"regex"`
		SecretGroup int            `toml:"secretGroup"`
		Entropy     float64        `toml:"entropy"`
		Path        string         `toml:"path"`
		Keywords    []string       `toml:"keywords"`
		Tags        []string       `toml:"tags"`
		Allowlists  []allowlistDef `toml:"allowlists"`
	} `toml:"rules"`
}

type allowlistDef struct {
	Description string   `toml:"description"`
	Condition   string   `toml:"condition"`
	RegexTarget string   `toml:"regexTarget"`
	Regexes     []string `toml:"regexes"`
	Paths       []string `toml:"paths"`
	StopWords   []string `toml:"stopwords"`
}

type allowlist struct {
	and       bool
	target    string // "" (the secret), "match" or "line"
	regex     *regexp.Regexp
	path      *regexp.Regexp
	stopwords []string
}

type rule struct {
	id, desc    string
	regex, path *regexp.Regexp
	secretGroup int
	entropy     float64
	keywords    []int // indexes into ruleSet.keywords
	allowlists  []*allowlist
}

type ruleSet struct {
	rules    []*rule
	global   []*allowlist
	keywords []string // every rule keyword once, lower case
	kw       keywordIndex
}

// keywordIndex finds which keywords a text contains in one pass (gitleaks
// uses an Aho-Corasick automaton; a strings.Contains per keyword is 244
// passes and made check markedly slower): the keywords are bucketed by
// their first two bytes, with a bitset in front of the buckets.
type keywordIndex struct {
	seen    [1 << 16 / 64]uint64
	buckets map[uint16][]int // first two bytes -> indexes into keywords
}

func (ix *keywordIndex) build(keywords []string) error {
	ix.buckets = map[uint16][]int{}
	for i, k := range keywords {
		if len(k) < 2 {
			return fmt.Errorf("keyword %q is shorter than 2 bytes", k)
		}
		h := uint16(k[0])<<8 | uint16(k[1])
		ix.seen[h/64] |= 1 << (h % 64)
		ix.buckets[h] = append(ix.buckets[h], i)
	}
	return nil
}

// find reports, per keyword index, whether text contains it.
func (ix *keywordIndex) find(text string, keywords []string) []bool {
	present := make([]bool, len(keywords))
	for i := 0; i+1 < len(text); i++ {
		h := uint16(text[i])<<8 | uint16(text[i+1])
		if ix.seen[h/64]&(1<<(h%64)) == 0 {
			continue
		}
		for _, k := range ix.buckets[h] {
			if !present[k] && strings.HasPrefix(text[i:], keywords[k]) {
				present[k] = true
			}
		}
	}
	return present
}

var (
	patternsOnce sync.Once
	patternsSet  *ruleSet
	patternsErr  error
)

func patternDetector() (*ruleSet, error) {
	patternsOnce.Do(func() { patternsSet, patternsErr = loadRules(gitleaksTOML) })
	return patternsSet, patternsErr
}

// Warm starts compiling the rule set in the background (tens of
// milliseconds), so it overlaps with opening the vault and running git;
// New waits for it.
func Warm() { go patternDetector() }

func loadRules(src string) (*ruleSet, error) {
	var f ruleFile
	md, err := toml.Decode(src, &f)
	if err != nil {
		return nil, err
	}
	if u := md.Undecoded(); len(u) > 0 {
		return nil, fmt.Errorf("the rule file uses %v, which phantom's matcher does not implement", u)
	}
	if f.Allowlist != nil {
		f.Allowlists = append(f.Allowlists, *f.Allowlist)
	}
	rs := &ruleSet{}
	for _, a := range f.Allowlists {
		al, err := compileAllowlist(a)
		if err != nil {
			return nil, fmt.Errorf("global allowlist: %w", err)
		}
		rs.global = append(rs.global, al)
	}
	// gitleaks keeps rules in a map by id: a later duplicate replaces an
	// earlier one.
	byID := map[string]int{}
	seenKW := map[string]int{}
	for _, d := range f.Rules {
		r := &rule{id: d.ID, desc: d.Description, secretGroup: d.SecretGroup, entropy: d.Entropy}
		if d.Regex != "" {
			if r.regex, err = regexp.Compile(d.Regex); err != nil {
				return nil, fmt.Errorf("rule %s: %w", d.ID, err)
			}
		}
		if d.Path != "" {
			if r.path, err = regexp.Compile(d.Path); err != nil {
				return nil, fmt.Errorf("rule %s: %w", d.ID, err)
			}
		}
		if r.regex == nil && r.path == nil {
			return nil, fmt.Errorf("rule %s: neither regex nor path", d.ID)
		}
		if r.regex != nil && r.secretGroup > r.regex.NumSubexp() {
			return nil, fmt.Errorf("rule %s: secretGroup %d, but the regex has %d groups", d.ID, r.secretGroup, r.regex.NumSubexp())
		}
		for _, k := range d.Keywords {
			k = strings.ToLower(k)
			i, ok := seenKW[k]
			if !ok {
				i = len(rs.keywords)
				seenKW[k] = i
				rs.keywords = append(rs.keywords, k)
			}
			r.keywords = append(r.keywords, i)
		}
		for _, a := range d.Allowlists {
			al, err := compileAllowlist(a)
			if err != nil {
				return nil, fmt.Errorf("rule %s: %w", d.ID, err)
			}
			r.allowlists = append(r.allowlists, al)
		}
		if i, ok := byID[d.ID]; ok {
			rs.rules[i] = r
			continue
		}
		byID[d.ID] = len(rs.rules)
		rs.rules = append(rs.rules, r)
	}
	if err := rs.kw.build(rs.keywords); err != nil {
		return nil, err
	}
	return rs, nil
}

func compileAllowlist(d allowlistDef) (*allowlist, error) {
	a := &allowlist{}
	switch strings.ToUpper(d.Condition) {
	case "AND", "&&":
		a.and = true
	case "", "OR", "||":
	default:
		return nil, fmt.Errorf("unknown allowlist condition %q", d.Condition)
	}
	switch d.RegexTarget {
	case "", "secret":
	case "match", "line":
		a.target = d.RegexTarget
	default:
		return nil, fmt.Errorf("unknown allowlist regexTarget %q", d.RegexTarget)
	}
	if len(d.Regexes)+len(d.Paths)+len(d.StopWords) == 0 {
		return nil, fmt.Errorf("empty allowlist %q", d.Description)
	}
	var err error
	if a.regex, err = joinRegexOr(d.Regexes); err != nil {
		return nil, err
	}
	if a.path, err = joinRegexOr(d.Paths); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, w := range d.StopWords {
		w = strings.ToLower(w)
		if !seen[w] {
			seen[w] = true
			a.stopwords = append(a.stopwords, w)
		}
	}
	return a, nil
}

// joinRegexOr compiles each pattern on its own first (a bad one is named),
// then all as one alternation, as gitleaks does.
func joinRegexOr(pats []string) (*regexp.Regexp, error) {
	if len(pats) == 0 {
		return nil, nil
	}
	for _, p := range pats {
		if _, err := regexp.Compile(p); err != nil {
			return nil, err
		}
	}
	var sb strings.Builder
	sb.WriteString("(?:")
	for i, p := range pats {
		if i > 0 {
			sb.WriteString("|")
		}
		sb.WriteString(p)
	}
	sb.WriteString(")")
	return regexp.Compile(sb.String())
}

func (a *allowlist) pathAllowed(p string) bool {
	return a.path != nil && p != "" && a.path.MatchString(p)
}

func (a *allowlist) regexAllowed(s string) bool {
	return a.regex != nil && s != "" && a.regex.MatchString(s)
}

func (a *allowlist) stopword(secret string) bool {
	if secret == "" {
		return false
	}
	s := strings.ToLower(secret)
	for _, w := range a.stopwords {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// fileAllowed is gitleaks' checkCommitOrPathAllowed without commits: an OR
// allowlist skips a file whose path it lists; an AND one only when it has
// nothing else to check (regexes and stopwords are checked per finding).
func fileAllowed(rel string, als []*allowlist) bool {
	if rel == "" {
		return false
	}
	for _, a := range als {
		if a.and {
			if a.regex != nil || len(a.stopwords) > 0 {
				continue
			}
			if a.path != nil && a.pathAllowed(rel) {
				return true
			}
			continue
		}
		if a.pathAllowed(rel) {
			return true
		}
	}
	return false
}

// findingAllowed is gitleaks' checkFindingAllowed without commits.
func findingAllowed(rel, secret, match, line string, als []*allowlist) bool {
	for _, a := range als {
		target := secret
		switch a.target {
		case "match":
			target = match
		case "line":
			target = line
		}
		regexOK, stopOK := a.regexAllowed(target), a.stopword(secret)
		if a.and {
			var checks []bool
			if a.path != nil {
				checks = append(checks, a.pathAllowed(rel))
			}
			if a.regex != nil {
				checks = append(checks, regexOK)
			}
			if len(a.stopwords) > 0 {
				checks = append(checks, stopOK)
			}
			all := len(checks) > 0
			for _, c := range checks {
				all = all && c
			}
			if all {
				return true
			}
		} else if regexOK || stopOK {
			return true
		}
	}
	return false
}

type patternHit struct {
	line   int
	rule   string
	desc   string
	secret string
	text   string
}

// scanPatterns runs the rule set over one block of text whose first line is
// file line firstLine. rel lets the allowlists' paths apply (lock files,
// go.sum, images).
func scanPatterns(rs *ruleSet, rel string, firstLine int, block string) []patternHit {
	if fileAllowed(rel, rs.global) {
		return nil
	}
	present := rs.kw.find(strings.ToLower(block), rs.keywords)
	var nl []int // byte offsets of the block's newlines, computed once
	nlDone := false
	var hits []patternHit
	for _, r := range rs.rules {
		run := len(r.keywords) == 0
		for _, k := range r.keywords {
			if present[k] {
				run = true
				break
			}
		}
		if !run {
			continue
		}
		if !nlDone {
			nl, nlDone = newlines(block), true
		}
		hits = append(hits, rs.detectRule(r, rel, firstLine, block, nl)...)
	}
	return dropGenericShadowed(hits)
}

func newlines(s string) []int {
	var out []int
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			out = append(out, i)
		}
	}
	return out
}

// detectRule follows gitleaks' detectRule (detect/detect.go) for one
// undecoded fragment.
func (rs *ruleSet) detectRule(r *rule, rel string, firstLine int, raw string, nl []int) []patternHit {
	if fileAllowed(rel, r.allowlists) {
		return nil
	}
	if r.path != nil {
		if r.regex == nil {
			// A path-only rule reports the file itself.
			if r.path.MatchString(rel) {
				return []patternHit{{line: firstLine, rule: r.id, desc: r.desc}}
			}
			return nil
		}
		if !r.path.MatchString(rel) {
			return nil
		}
	}
	var hits []patternHit
	for _, m := range r.regex.FindAllStringIndex(raw, -1) {
		match := strings.Trim(raw[m[0]:m[1]], "\n")
		// As gitleaks (its issue 1352): the match ends where the trimmed
		// text does, so a trailing newline the regex took is not counted.
		start, end := m[0], m[0]+len(match)
		loc := location(nl, raw, start, end)
		if end > loc.endLineIndex {
			loc.endLineIndex = end
		}
		line := raw[loc.startLineIndex:loc.endLineIndex]
		if strings.Contains(line, "gitleaks:allow") {
			continue
		}
		secret := match
		// gitleaks runs the regex again on the match to pick the group.
		if groups := r.regex.FindStringSubmatch(match); len(groups) >= 2 {
			if r.secretGroup > 0 {
				if len(groups) <= r.secretGroup {
					continue
				}
				secret = groups[r.secretGroup]
			} else {
				for _, g := range groups[1:] {
					if g != "" {
						secret = g
						break
					}
				}
			}
		}
		if r.entropy != 0 && shannonEntropy(secret) <= r.entropy {
			continue
		}
		if findingAllowed(rel, secret, match, line, rs.global) || findingAllowed(rel, secret, match, line, r.allowlists) {
			continue
		}
		hits = append(hits, patternHit{
			// gitleaks counts lines from 0 within the fragment.
			line:   firstLine + loc.startLine,
			rule:   r.id,
			desc:   r.desc,
			secret: secret,
			text:   strings.Trim(line, "\r\n"),
		})
	}
	return hits
}

// dropGenericShadowed is gitleaks' filter: a generic rule's finding is
// dropped when a specific rule found, on the same line, a secret that
// contains it.
func dropGenericShadowed(hits []patternHit) []patternHit {
	out := hits[:0:0]
	for _, f := range hits {
		keep := true
		if strings.Contains(strings.ToLower(f.rule), "generic") {
			for _, g := range hits {
				if f.line == g.line && f.rule != g.rule && strings.Contains(g.secret, f.secret) &&
					!strings.Contains(strings.ToLower(g.rule), "generic") {
					keep = false
					break
				}
			}
		}
		if keep {
			out = append(out, f)
		}
	}
	return out
}

// shannonEntropy is gitleaks' (detect/utils.go): characters counted as
// runes, the length in bytes.
func shannonEntropy(data string) float64 {
	if data == "" {
		return 0
	}
	counts := make(map[rune]int)
	for _, c := range data {
		counts[c]++
	}
	inv := 1.0 / float64(len(data))
	var e float64
	for _, n := range counts {
		f := float64(n) * inv
		e -= f * math.Log2(f)
	}
	return e
}

type matchLocation struct {
	startLine, startLineIndex, endLineIndex int
}

// location is gitleaks' (detect/location.go), reduced to what phantom
// reports: the match's first line (0-based in the fragment) and the byte
// range of the lines it spans, starting at the newline before it.
func location(nl []int, raw string, start, end int) matchLocation {
	var (
		loc     matchLocation
		prev    int
		lineSet bool
		lineNum int
	)
	if len(nl) == 0 {
		nl = []int{len(raw)}
	}
	for i, idx := range nl {
		lineNum = i
		if prev <= start && start < idx {
			lineSet = true
			loc.startLine = i
			loc.startLineIndex = prev
			loc.endLineIndex = idx
		}
		if prev < end && end <= idx {
			loc.endLineIndex = idx
		}
		prev = idx
	}
	if !lineSet {
		loc.startLine = lineNum + 1
		i := 0
		for end+i < len(raw) && raw[end+i] != '\n' && raw[end+i] != '\r' {
			i++
		}
		loc.endLineIndex = end + i
	}
	return loc
}
