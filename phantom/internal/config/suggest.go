package config

import "strings"

// suggest returns the candidate that got was most likely meant to be, or ""
// when none is close. Close means: equal ignoring case, or an optimal string
// alignment (Damerau-Levenshtein) distance of at most 2 that is smaller than
// the candidate's length, or, failing those, the only candidate that got is a
// prefix of (or that is a prefix of got), when got has at least 3 characters.
// Ties go to a prefix match, then to the earlier candidate.
func suggest(got string, candidates []string) string {
	lg := strings.ToLower(got)
	best, bestD, bestPrefix := "", 3, false
	for _, c := range candidates {
		lc := strings.ToLower(c)
		if lc == lg {
			return c
		}
		d := osaDistance(lg, lc)
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

// osaDistance is the optimal string alignment distance between a and b
// (insertions, deletions, substitutions and transpositions of adjacent
// bytes). Keys and enum values are ASCII, so bytes are runes here.
func osaDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		// Nothing phantom suggests is this long; skip the quadratic work.
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

// didYouMean renders a suggestion suffix: `; did you mean "x"?`, or "" when
// there is nothing to suggest.
func didYouMean(got string, candidates []string) string {
	if s := suggest(got, candidates); s != "" {
		return `; did you mean "` + s + `"?`
	}
	return ""
}

// orList renders `"a", "b" or "c"`.
func orList(vals []string) string {
	var b strings.Builder
	for i, v := range vals {
		switch {
		case i == 0:
		case i == len(vals)-1:
			b.WriteString(" or ")
		default:
			b.WriteString(", ")
		}
		b.WriteString(`"` + v + `"`)
	}
	return b.String()
}
