package harden

import (
	"slices"
	"testing"
)

// The GOTRACEBACK rule is the part of Process that every OS runs, Windows
// included (harden_windows.go refuses instead of re-executing).
func TestQuietTraceback(t *testing.T) {
	for tb, quiet := range map[string]bool{"": true, "none": true, "single": true, "all": false, "system": false, "crash": false, "wer": false, "1": false, "0": false} {
		if quietTraceback(tb) != quiet {
			t.Errorf("quietTraceback(%q) = %v", tb, !quiet)
		}
	}
}

func TestWithoutTracebackStashesTheUsersLevel(t *testing.T) {
	env := []string{"HOME=/h", "GOTRACEBACK=crash", stashEnv + "=old", "PATH=/bin"}
	got := withoutTraceback(env, "crash")
	want := []string{"HOME=/h", "PATH=/bin", stashEnv + "=crash"}
	if !slices.Equal(got, want) {
		t.Fatalf("withoutTraceback = %q, want %q", got, want)
	}
	if env[1] != "GOTRACEBACK=crash" {
		t.Fatalf("withoutTraceback changed its argument: %q", env)
	}
}
