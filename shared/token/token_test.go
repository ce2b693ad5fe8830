package token

import (
	"strings"
	"testing"
)

func TestNewIsWellFormedAndUnique(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		tok := New()
		if !Is(tok) {
			t.Fatalf("New() = %q is not a token", tok)
		}
		if seen[tok] {
			t.Fatalf("duplicate token %q", tok)
		}
		seen[tok] = true
	}
}

func TestIs(t *testing.T) {
	good := Prefix + strings.Repeat("a1", 32)
	for _, c := range []struct {
		s  string
		ok bool
	}{
		{good, true},
		{good[:Len-1], false},
		{good + "0", false},
		{strings.ToUpper(good), false},
		{"phm_" + strings.Repeat("g", 64), false},
		{"", false},
	} {
		if got := Is(c.s); got != c.ok {
			t.Errorf("Is(%q) = %v, want %v", c.s, got, c.ok)
		}
	}
}

func TestFindAll(t *testing.T) {
	a, b := New(), New()
	s := "x " + a + " y\n\"" + b + "\" z" + a + " " + a + "f"
	got := FindAll([]byte(s))
	if len(got) != 2 || s[got[0]:got[0]+Len] != a || s[got[1]:got[1]+Len] != b {
		t.Fatalf("FindAll = %v in %q", got, s)
	}
}
