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

// A fake agent must not get a genuine client to ask for the passphrase (or
// anything but add's value) on the user's terminal.
func TestHiddenPromptAllowed(t *testing.T) {
	for _, c := range []struct {
		command string
		args    []string
		prompt  string
		want    bool
	}{
		{"add", []string{"add", "OPENAI_API_KEY"}, "Value for OPENAI_API_KEY (hidden): ", true},
		{"add", []string{"add", "OPENAI_API_KEY"}, "Vault passphrase: ", false},
		{"add", []string{"add", "OPENAI_API_KEY"}, "Value for OTHER (hidden): ", false},
		{"add", []string{"add", "OPENAI_API_KEY"}, "Value for OPENAI_API_KEY (hidden): Vault passphrase: ", false},
		{"list", []string{"list"}, "Value for list (hidden): ", false},
		{"init", []string{"init"}, "Vault passphrase: ", false},
		{"exec", []string{"exec", "--", "x"}, "Repeat passphrase: ", false},
	} {
		if got := hiddenPromptAllowed(c.command, c.args, c.prompt); got != c.want {
			t.Errorf("hiddenPromptAllowed(%q, %q, %q) = %v, want %v", c.command, c.args, c.prompt, got, c.want)
		}
	}
}
