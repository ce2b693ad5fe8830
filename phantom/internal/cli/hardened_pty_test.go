//go:build linux

package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

// Hardened mode end to end with the real binary (issue 15): harden on a
// terminal, the environment's passphrase refused, unlock, commands through
// the agent, a human-only command that needs the passphrase typed each
// time (guessed confirmations fail), soften. The full attacker run is in
// package redteam.

const hardPass = "hardened-pass-9876"

func TestHardenedVault(t *testing.T) {
	s, _ := newAgentSandbox(t)
	bare := s.withoutPassphrase()
	const value = "sk-test-agent-0123456789abcdef0123"

	// No terminal: refused.
	if _, errOut, code := s.run("", "vault", "harden"); code == 0 || !strings.Contains(errOut, "needs you at a terminal") {
		t.Fatalf("harden without a terminal: exit %d\n%s", code, errOut)
	}
	screen, code := s.runOnPTYSteps([]ptyStep{
		{"Current vault passphrase: ", agentPass + "\r"},
		{"Vault passphrase: ", hardPass + "\r"},
		{"Repeat passphrase: ", hardPass + "\r"},
		{"Hardened", ""},
	}, "vault", "harden")
	if code != 0 {
		t.Fatalf("harden: exit %d\n%s", code, screen)
	}

	// The environment's passphrase, right or wrong, is refused, and audited.
	for _, pw := range []string{agentPass, hardPass} {
		c := *bare
		c.env = append(append([]string(nil), bare.env...), "PHANTOM_VAULT_PASSPHRASE="+pw)
		_, errOut, code := c.run("", "list")
		if code == 0 || !strings.Contains(errOut, "hardened") {
			t.Fatalf("list with PHANTOM_VAULT_PASSPHRASE on a hardened vault: exit %d\n%s", code, errOut)
		}
	}
	if !strings.Contains(s.auditLines(), `"vault.open"`) {
		t.Fatalf("refused opens are not in the audit log:\n%s", s.auditLines())
	}
	out := bare.mustRun("", "status", "--json")
	var st Status
	if err := json.Unmarshal([]byte(out), &st); err != nil || st.Mode.Name != "hardened" || st.Mode.Agent {
		t.Fatalf("status of a locked hardened vault: %v\n%s", err, out)
	}

	// unlock with the passphrase typed; then commands need nothing.
	screen, code = bare.runOnPTYSteps([]ptyStep{{"Vault passphrase: ", hardPass + "\r"}, {"Unlocked", ""}}, "unlock")
	if code != 0 {
		t.Fatalf("unlock: exit %d\n%s", code, screen)
	}
	if out := bare.mustRun("", "list"); !strings.Contains(out, "OPENAI_API_KEY") {
		t.Fatalf("list through the agent: %s", out)
	}
	out = bare.mustRun("", "status", "--json")
	if err := json.Unmarshal([]byte(out), &st); err != nil || st.Mode.Name != "hardened" || !st.Mode.Agent {
		t.Fatalf("status of an unlocked hardened vault: %v\n%s", err, out)
	}

	// check through the agent does not compare files with a hardened
	// vault's values: a match would confirm a guess.
	s.write("guesses.txt", value+"\nhunter2\n")
	out, _, _ = bare.run("", "check", "--json", "guesses.txt")
	if !strings.Contains(out, `"ran": false`) || !strings.Contains(out, "the vault is hardened") || strings.Contains(out, value) {
		t.Fatalf("check through the agent on a hardened vault:\n%s", out)
	}

	// reveal is human-only: an unlocked agent does not help; the passphrase
	// is asked for, and guessed words do not open the vault.
	screen, code = bare.runOnPTYSteps([]ptyStep{
		{"Vault passphrase: ", "reveal OPENAI_API_KEY\r"},
		{"Vault passphrase: ", "yes\r"},
		{"Vault passphrase: ", agentPass + "\r"},
	}, "reveal", "OPENAI_API_KEY")
	if code == 0 || strings.Contains(screen, value) {
		t.Fatalf("reveal with guessed passphrases: exit %d\n%s", code, screen)
	}
	if n := strings.Count(s.auditLines(), "wrong passphrase typed"); n < 2 {
		t.Fatalf("wrong typed passphrases audited %d times, want 2:\n%s", n, s.auditLines())
	}
	screen, code = bare.runOnPTYSteps([]ptyStep{
		{"Vault passphrase: ", hardPass + "\r"},
		{"to continue: ", "reveal OPENAI_API_KEY\r"},
		{value, ""},
	}, "reveal", "OPENAI_API_KEY")
	if code != 0 {
		t.Fatalf("reveal with the passphrase: exit %d\n%s", code, screen)
	}

	// soften: a plain passphrase vault again; the agent (whose key no
	// longer opens it) is locked.
	screen, code = bare.runOnPTYSteps([]ptyStep{{"Vault passphrase: ", hardPass + "\r"}, {"Softened", ""}}, "vault", "soften")
	if code != 0 {
		t.Fatalf("soften: exit %d\n%s", code, screen)
	}
	c := *bare
	c.env = append(append([]string(nil), bare.env...), "PHANTOM_VAULT_PASSPHRASE="+hardPass)
	if out := c.mustRun("", "list"); !strings.Contains(out, "OPENAI_API_KEY") {
		t.Fatalf("list with the passphrase after soften: %s", out)
	}
	if _, _, code := bare.run("", "list"); code == 0 {
		t.Fatal("after soften the old agent still served the vault")
	}
}

// phantom add on a terminal through the agent: the hidden value prompt is
// shown by the client and the value reaches the vault, not the screen.
func TestAgentAddOnTerminal(t *testing.T) {
	s, _ := newAgentSandbox(t)
	s.unlock()
	bare := s.withoutPassphrase()
	const value = "sk-test-typed-through-the-agent-77"
	screen, code := bare.runOnPTYSteps([]ptyStep{
		{"Value for PTY_KEY (hidden): ", value + "\r"},
		{"to .env? [Y/n] ", "y\r"},
	}, "add", "PTY_KEY")
	if code != 0 || strings.Contains(screen, value) {
		t.Fatalf("add on a terminal through the agent: exit %d\n%s", code, screen)
	}
	if out := bare.mustRun("", "list"); !strings.Contains(out, "PTY_KEY") {
		t.Fatalf("list after add: %s", out)
	}
	// The answer to the visible question went through the agent too.
	if env := s.read(".env"); !strings.Contains(env, "PTY_KEY=phm_") {
		t.Fatalf(".env after answering y:\n%s", env)
	}
	s.assertNoPlaintext(value)
}
