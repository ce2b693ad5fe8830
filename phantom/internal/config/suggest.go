package config

import (
	"strings"

	"phantomstack.dev/shared/suggest"
)

// didYouMean renders a suggestion suffix: `; did you mean "x"?`, or "" when
// there is nothing to suggest.
func didYouMean(got string, candidates []string) string {
	if s := suggest.Nearest(got, candidates); s != "" {
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
