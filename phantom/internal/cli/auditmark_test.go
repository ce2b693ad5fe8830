package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// On a terminal, changing the passphrase asks for the current one even when
// PHANTOM_VAULT_PASSPHRASE is set (issue 12, path 11).
func TestRekeyOnTerminalAsksCurrentPassphrase(t *testing.T) {
	s := newSandbox(t, "PHANTOM_VAULT_PASSPHRASE=pty-pass-123456")
	s.write(".env", "OPENAI_API_KEY=sk-test-rekey-pty-0123456789\n")
	s.mustRun("", "init", "--yes")
	screen, code := s.runOnPTY("wrong-current-1\nnew-pass-654321\nnew-pass-654321\n", "Current vault passphrase", "vault", "rekey", "--to", "passphrase")
	if code != 5 || !strings.Contains(screen, "current passphrase is wrong") {
		t.Fatalf("wrong current passphrase: exit %d\n%s", code, screen)
	}
	s.mustRun("", "list")
	screen, code = s.runOnPTY("pty-pass-123456\nnew-pass-654321\nnew-pass-654321\n", "Current vault passphrase", "vault", "rekey", "--to", "passphrase")
	if code != 0 {
		t.Fatalf("rekey on a terminal: exit %d\n%s", code, screen)
	}
	if _, _, code := s.run("", "list"); code == 0 {
		t.Fatal("the old passphrase still opens the vault")
	}
}

// A vault written under another PHANTOM_HOME is reported; adopt, on a
// terminal with a typed confirmation, accepts it and is audited.
func TestAuditAdopt(t *testing.T) {
	s := newSandbox(t, "PHANTOM_VAULT_PASSPHRASE=pty-pass-123456")
	s.write(".env", "OPENAI_API_KEY=sk-test-adopt-0123456789\n")
	s.mustRun("", "init", "--yes")
	vaults, _ := filepath.Glob(filepath.Join(s.home, "vaults", "*.vault"))
	// The same vault under another home, written there.
	other := *s
	other.home = filepath.Join(t.TempDir(), "other-home")
	other.env = append(append([]string{}, s.env...), "PHANTOM_HOME="+other.home)
	os.MkdirAll(filepath.Join(other.home, "vaults"), 0o700)
	b, _ := os.ReadFile(vaults[0])
	os.WriteFile(filepath.Join(other.home, "vaults", filepath.Base(vaults[0])), b, 0o600)
	other.mustRun("sk-test-other-0123456789\n", "add", "OTHER", "--stdin")
	b, _ = os.ReadFile(filepath.Join(other.home, "vaults", filepath.Base(vaults[0])))
	os.WriteFile(vaults[0], b, 0o600)

	out, _, code := s.run("", "audit", "verify", "--json")
	if code != 1 || !strings.Contains(out, `"kind": "vault-other-log"`) || !strings.Contains(out, `"result": "other-log"`) {
		t.Fatalf("verify: exit %d\n%s", code, out)
	}
	if out := s.mustRun("", "status", "--json"); !strings.Contains(out, `"vault_mark": "other-log"`) {
		t.Fatalf("status:\n%s", out)
	}
	// A wrong confirmation changes nothing.
	if screen, code := s.runOnPTY("yes\n", "to continue", "audit", "adopt"); code == 0 {
		t.Fatalf("adopt without the typed word: exit 0\n%s", screen)
	}
	screen, code := s.runOnPTY("adopt\n", "to continue", "audit", "adopt")
	if code != 0 {
		t.Fatalf("adopt: exit %d\n%s", code, screen)
	}
	out, errOut, code := s.run("", "audit", "verify")
	if code != 0 || !strings.Contains(errOut, "Checked with this project's vault") {
		t.Fatalf("verify after adopt: exit %d\n%s%s", code, out, errOut)
	}
	if out := s.mustRun("", "audit", "show", "--json"); !strings.Contains(out, `"op": "audit.adopt"`) {
		t.Fatalf("adopt not audited:\n%s", out)
	}
}
