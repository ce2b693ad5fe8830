package cli

import (
	"strings"
	"testing"

	"phantomstack.dev/phantom/internal/vault"
)

// TestDescribeSourceHardened: a hardened vault is named for people, not as
// "KeySource(3)", and says that its passphrase is typed.
func TestDescribeSourceHardened(t *testing.T) {
	got := describeSource(vault.Hardened)
	if !strings.Contains(got, "hardened") || !strings.Contains(got, "typed") || strings.Contains(got, "KeySource") {
		t.Fatalf("describeSource(Hardened) = %q", got)
	}
	if describeSource(vault.Passphrase) != "passphrase" || describeSource(vault.Keychain) != "OS keychain" {
		t.Fatal("the other sources changed")
	}
}
