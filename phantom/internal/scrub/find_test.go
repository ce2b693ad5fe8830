package scrub

import (
	"strings"
	"testing"
)

// Find reports exactly the spans Replace rewrites.
func TestFindMatchesReplace(t *testing.T) {
	r := New(map[string]string{"abc": "1", "abcdef": "2", "cde": "3", "xyz": "4"})
	in := "..abcdef..abcx.cde xyzabc"
	var got []string
	var b strings.Builder
	last := 0
	r.Find([]byte(in), func(s, e int, repl []byte) {
		got = append(got, in[s:e]+"="+string(repl))
		b.WriteString(in[last:s])
		b.Write(repl)
		last = e
	})
	b.WriteString(in[last:])
	want, _ := r.ReplaceString(in)
	if b.String() != want {
		t.Fatalf("Find spans rebuild %q, Replace gives %q (matches %v)", b.String(), want, got)
	}
	if strings.Join(got, " ") != "abcdef=2 abc=1 cde=3 xyz=4 abc=1" {
		t.Fatalf("matches = %v", got)
	}
}
