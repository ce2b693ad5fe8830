//go:build linux

package redteam

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPath10_AuditEvasion: the agent wants to use the vault without the
// owner's audit log showing it (issue 12, path 10).
//
//  1. It copies the vault file to a PHANTOM_HOME of its own and works there
//     (list, exec, then add: a vault write), then copies the vault back.
//  2. It reads audit.key and re-chains the real log without the entries it
//     wants gone, re-signing MACs, head and key file with the key it read.
//  3. It keeps a copy of audit.log/.head/.key, acts, and restores the copy.
//
// What phantom detects, and what it cannot, is asserted step by step; the
// undetectable cases are the documented limits (docs/phantom.md, "The audit
// log").
func TestPath10_AuditEvasion(t *testing.T) {
	t.Run("another home", func(t *testing.T) {
		a := NewAgent(t, []string{"OPENAI_API_KEY"})
		a.MustPhantom("", "audit", "verify")
		b := a.InHome(filepath.Join(t.TempDir(), "agent-home"))
		copyFile(t, a.VaultFile(), filepath.Join(b.Home, "vaults", filepath.Base(a.VaultFile())))
		// Read-only use in the other home: phantom notices the vault names
		// another log, but only in the agent's home.
		r := b.MustPhantom("", "list")
		a.AssertClean(r)
		if !strings.Contains(r.Stderr, "another PHANTOM_HOME") {
			t.Errorf("list under another home did not warn: %s", r.Stderr)
		}
		b.MustPhantom("", "exec", "--", "true")
		b.AssertAudited("audit.vault-moved", "another PHANTOM_HOME")
		// Nothing of it reaches the real home: undetectable there (the
		// documented limit of read-only use under another home).
		a.MustPhantom("", "audit", "verify")

		// A write there anchors the copy in the agent's log...
		b.MustPhantom("sk-agent-planted-0123456789\n", "add", "PLANTED", "--stdin")
		// ...and when that copy comes back, the real home sees it.
		copyFile(t, b.VaultFile(), a.VaultFile())
		r = a.Phantom("", "audit", "verify")
		a.AssertClean(r)
		if r.Code != 1 || !strings.Contains(r.Stdout, "another PHANTOM_HOME") {
			t.Errorf("verify after the copy came back: exit %d\n%s", r.Code, r.Out())
		}
		r = a.MustPhantom("", "status")
		if !strings.Contains(r.Stdout, "another PHANTOM_HOME") {
			t.Errorf("status does not report the foreign vault:\n%s", r.Stdout)
		}
		// The next command warns and records it in the real log (audit on).
		r = a.MustPhantom("", "list")
		a.AssertClean(r)
		a.AssertAudited("audit.vault-moved", "another PHANTOM_HOME")
		// ...which verify keeps reporting, even after the next write
		// anchored the vault here again, until a human adopts it.
		a.MustPhantom("sk-owner-new-0123456789\n", "add", "AFTER", "--stdin")
		if r := a.Phantom("", "audit", "verify"); r.Code != 1 || !strings.Contains(r.Stdout, "a human has not accepted it yet") {
			t.Errorf("verify forgot the moved vault: exit %d\n%s", r.Code, r.Out())
		}
		// adopt needs a terminal.
		if r := a.Phantom("", "audit", "adopt"); r.Code != 5 {
			t.Errorf("audit adopt without a terminal: exit %d\n%s", r.Code, r.Out())
		}
		// With audit = "required" the foreign vault is refused outright.
		copyFile(t, b.VaultFile(), a.VaultFile())
		cfg := a.ReadFile(".phantom.toml")
		if !strings.Contains(cfg, `audit = "on"`) {
			t.Fatalf("unexpected .phantom.toml:\n%s", cfg)
		}
		a.WriteFile(".phantom.toml", strings.Replace(cfg, `audit = "on"`, `audit = "required"`, 1))
		r = a.Phantom("", "exec", "--", "true")
		if r.Code != 5 || !strings.Contains(r.Stderr, "phantom audit adopt") {
			t.Errorf("exec with a foreign vault under audit=required: exit %d\n%s", r.Code, r.Out())
		}
		a.AssertClean(r)
		a.WriteFile(".phantom.toml", cfg)
	})

	t.Run("re-chain with the key read", func(t *testing.T) {
		a := NewAgent(t, []string{"OPENAI_API_KEY"})
		a.MustPhantom("", "list") // the event the agent wants gone
		a.MustPhantom("", "exec", "--", "true")
		if n := a.Rechain("secret.list"); n == 0 {
			t.Fatal("nothing to drop")
		}
		r := a.Phantom("", "audit", "verify")
		a.AssertClean(r)
		if r.Code != 1 || !strings.Contains(r.Stdout, "MAC does not match") {
			t.Errorf("a re-chained log verified: exit %d\n%s", r.Code, r.Out())
		}
		// Without the vault (no passphrase) only order and head can be
		// checked, and the relabelled key makes those consistent: the
		// documented limit of a check without the vault.
		noVault := a.InHome(a.Home)
		noVault.Env = withoutEnv(a.Env, "PHANTOM_VAULT_PASSPHRASE")
		r = noVault.Phantom("", "audit", "verify")
		if r.Code != 0 || !strings.Contains(r.Stderr, "past MACs not") {
			t.Errorf("verify without the vault: exit %d\n%s", r.Code, r.Out())
		}
	})

	t.Run("roll back to an earlier copy", func(t *testing.T) {
		a := NewAgent(t, []string{"OPENAI_API_KEY"})
		saved := saveLog(t, a)
		// Rolling back read-only events (no vault write since the copy)
		// cannot be seen: the copy is a consistent log. Documented limit.
		a.MustPhantom("", "list")
		restoreLog(t, a, saved)
		a.MustPhantom("", "audit", "verify")
		// A vault write after the copy records its position in the vault:
		// the restored copy falls behind it.
		a.MustPhantom("sk-owner-write-2-0123456789\n", "add", "OWNER_WRITE_2", "--stdin")
		restoreLog(t, a, saved)
		r := a.Phantom("", "audit", "verify")
		a.AssertClean(r)
		if r.Code != 1 || !strings.Contains(r.Stdout, "truncated or rolled back") {
			t.Errorf("a rolled-back log verified: exit %d\n%s", r.Code, r.Out())
		}
		// The next command notices from the vault's mark and records it.
		a.MustPhantom("", "list")
		a.AssertAudited("audit.vault-ahead", "rolled back")
	})
}

type savedLog map[string][]byte

func saveLog(t *testing.T, a *Agent) savedLog {
	t.Helper()
	s := savedLog{}
	for _, f := range []string{"audit.log", "audit.head", "audit.key"} {
		b, err := os.ReadFile(filepath.Join(a.Home, f))
		if err != nil {
			t.Fatal(err)
		}
		s[f] = b
	}
	return s
}

func restoreLog(t *testing.T, a *Agent, s savedLog) {
	t.Helper()
	for f, b := range s {
		if err := os.WriteFile(filepath.Join(a.Home, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func withoutEnv(env []string, name string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}
