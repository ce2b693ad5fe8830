// Package suggest is the one "did you mean" of phantom and stack: command
// typos (`phantom lsit`), provider and template names (`stack add opnai`),
// and configuration keys and values all go through Nearest, so both
// binaries suggest the same way.
package suggest

import "strings"

// maxLen bounds the quadratic distance: nothing either CLI suggests is
// longer, and a longer input is not a typo of one of them.
const maxLen = 64

// Nearest returns the candidate that got was most likely meant to be, or ""
// when none is close. Close means: equal ignoring case; or an optimal string
// alignment distance (Distance, ignoring case) of at most 2 that is smaller
// than the candidate's length; or, failing those, the only candidate that got
// is a prefix of (or that is a prefix of got), when got has at least 3
// characters. The smallest distance wins; a tie goes to a prefix match, then
// to the earlier candidate.
//
// Counting a swap of two adjacent letters as one edit (plain Levenshtein
// counts two) is what makes "lsit" mean "list" and not "init".
func Nearest(got string, candidates []string) string {
	lg := strings.ToLower(got)
	best, bestD, bestPrefix := "", 3, false
	for _, c := range candidates {
		lc := strings.ToLower(c)
		if lc == lg {
			return c
		}
		d := Distance(lg, lc)
		if d > 2 || d >= len(lc) {
			continue
		}
		p := isPrefixPair(lg, lc)
		if d < bestD || (d == bestD && p && !bestPrefix) {
			best, bestD, bestPrefix = c, d, p
		}
	}
	if best != "" {
		return best
	}
	if len(lg) < 3 {
		return ""
	}
	only := ""
	for _, c := range candidates {
		if isPrefixPair(lg, strings.ToLower(c)) {
			if only != "" {
				return "" // ambiguous
			}
			only = c
		}
	}
	return only
}

func isPrefixPair(a, b string) bool {
	return strings.HasPrefix(a, b) || strings.HasPrefix(b, a)
}

// Distance is the optimal string alignment (restricted Damerau-Levenshtein)
// distance between a and b: insertions, deletions, substitutions and
// transpositions of adjacent bytes, each counting one. Names, keys and
// commands are ASCII, so bytes are characters here. Strings longer than 64
// bytes are only ever 0 (equal) or far apart.
func Distance(a, b string) int {
	if len(a) > maxLen || len(b) > maxLen {
		if a == b {
			return 0
		}
		return 1 << 20
	}
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			v := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				v = min(v, prev2[j-2]+1)
			}
			cur[j] = v
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
