package cli

import (
	"io"
	"testing"

	"phantomstack.dev/shared/term"
)

// Human-only commands and flags never reach the agent, however the argv is
// spelled; the agent applies the same check to every run request.
func TestForwardCommandHumanOnly(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"list"}, true},
		{[]string{"exec", "--", "true"}, true},
		{[]string{"exec", "--env-file", ".env", "--", "sh", "-c", "echo --no-masking"}, true},
		{[]string{"exec", "--", "printf", "--body-secret"}, true},
		{[]string{"reveal", "X"}, false},
		{[]string{"vault", "soften"}, false},
		{[]string{"audit", "adopt"}, false},
		{[]string{"exec", "--no-masking", "--", "true"}, false},
		{[]string{"exec", "--no-masking=true", "--", "true"}, false},
		{[]string{"exec", "--body-secret", "a=B", "--", "true"}, false},
		// "--" as a flag's value: a scan that stops at the first "--"
		// missed the flag after it (internal/redteam TestHardened).
		{[]string{"exec", "--env-file", "--", "--no-masking", "--", "true"}, false},
		{[]string{"exec", "--env-file", "--", "--body-secret", "a=B", "--", "true"}, false},
		{[]string{"exec", "-v", "--env-file", "--", "--no-masking", "true"}, false},
		{[]string{"list", "--help"}, false},
		{[]string{"exec", "--bogus-flag", "--", "true"}, false},
	} {
		f := NewFactory(term.System(nil, io.Discard, io.Discard))
		if _, got := forwardCommand(NewRootCmd(f), tc.args); got != tc.want {
			t.Errorf("forwardCommand(%q) = %v, want %v", tc.args, got, tc.want)
		}
	}
}
