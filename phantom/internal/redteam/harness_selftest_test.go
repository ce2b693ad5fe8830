//go:build linux

package redteam

import (
	"strings"
	"testing"
)

func init() {
	children["printenv"] = func(args []string) int {
		for _, n := range args {
			println(n + "=" + getenv(n))
		}
		return 0
	}
}

// TestHarnessDetectsALeak: the assertions catch a value (and its
// encodings) so a clean result in the other tests means something.
func TestHarnessDetectsALeak(t *testing.T) {
	a := NewAgent(t, []string{"DATABASE_URL"})
	if strings.Contains(a.ReadFile(".env"), a.Value("DATABASE_URL")) {
		t.Fatal("init left the value in .env")
	}
	r := a.Phantom("", append([]string{"exec", "--"}, Child("printenv", "DATABASE_URL")...)...)
	if r.Code != 0 {
		t.Fatalf("exec: %d %s", r.Code, r.Out())
	}
	a.AssertClean(r) // masked: the child's stderr goes through phantom
	for _, e := range Encodings(a.Value("DATABASE_URL")) {
		if len(Leaks([]byte("x"+e+"y"), a.Value("DATABASE_URL"))) == 0 {
			t.Errorf("Leaks missed the encoding %.12q…", e)
		}
	}
	a.AssertAudited("exec.start", "")
}
