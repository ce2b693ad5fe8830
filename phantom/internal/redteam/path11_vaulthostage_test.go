//go:build linux

package redteam

import (
	"strings"
	"testing"
)

// TestPath11_VaultHostage: the agent runs with PHANTOM_VAULT_PASSPHRASE in
// its environment (as a CI job or an exported shell variable gives it) and
// tries to change the vault's passphrase to one it chose, so the owner is
// locked out of their own vault (issue 12, path 11). phantom wants the
// current passphrase through the same channel as the new one; the
// environment alone never changes it.
func TestPath11_VaultHostage(t *testing.T) {
	a := NewAgent(t, []string{"OPENAI_API_KEY"})
	const ransom = "agent-chosen-ransom-passphrase"

	// Only the new passphrase on stdin (the old format).
	r := a.Phantom(ransom+"\n", "vault", "rekey", "--to", "passphrase", "--stdin")
	a.AssertClean(r)
	if r.Code != 5 || !strings.Contains(r.Stderr, "the current passphrase, then the new one") {
		t.Fatalf("rekey with only a new passphrase: exit %d\n%s", r.Code, r.Out())
	}
	// The new one twice, as if it were the current one: wrong, refused.
	r = a.Phantom(ransom+"\n"+ransom+"\n", "vault", "rekey", "--to", "passphrase", "--stdin")
	a.AssertClean(r)
	if r.Code != 5 || !strings.Contains(r.Stderr, "current passphrase is wrong") {
		t.Fatalf("rekey with a wrong current passphrase: exit %d\n%s", r.Code, r.Out())
	}
	// No terminal, no --stdin: refused (the env var is not asked for).
	r = a.Phantom("", "vault", "rekey", "--to", "passphrase")
	if r.Code != 5 {
		t.Fatalf("rekey without a terminal: exit %d\n%s", r.Code, r.Out())
	}
	// The owner's passphrase still opens the vault; the refusals are audited.
	a.MustPhantom("", "list")
	a.AssertAudited("vault.rekey", "refused: the current passphrase was not given on stdin")
	a.AssertAudited("vault.rekey", "refused: wrong current passphrase")
	ransomed := a.InHome(a.Home)
	ransomed.Env = append(withoutEnv(a.Env, "PHANTOM_VAULT_PASSPHRASE"), "PHANTOM_VAULT_PASSPHRASE="+ransom)
	if r := ransomed.Phantom("", "list"); r.Code == 0 {
		t.Fatal("the agent's passphrase opens the vault")
	}

	// A caller that knows the current passphrase may change it (it could
	// decrypt the vault anyway): that is the CI rotation path.
	const next = "owner-rotated-passphrase-2"
	r = a.Phantom(Passphrase+"\n"+next+"\n", "vault", "rekey", "--to", "passphrase", "--stdin")
	a.AssertClean(r)
	if r.Code != 0 {
		t.Fatalf("rekey with the current passphrase: exit %d\n%s", r.Code, r.Out())
	}
	rotated := a.InHome(a.Home)
	rotated.Env = append(withoutEnv(a.Env, "PHANTOM_VAULT_PASSPHRASE"), "PHANTOM_VAULT_PASSPHRASE="+next)
	rotated.MustPhantom("", "list")
	a.AssertAudited("vault.rekey", "passphrase -> passphrase")
}
