package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"phantomstack.dev/phantom/internal/config"
	"phantomstack.dev/phantom/internal/vault"
)

// auditLines is the sandbox's audit log as text ("" when there is none).
func (s *sandbox) auditLines() string {
	b, _ := os.ReadFile(filepath.Join(s.home, "audit.log"))
	return string(b)
}

// approveAWSSettings stores the approval of the project's [aws] settings
// in the vault, as `phantom trust` does after a person typed "trust".
func approveAWSSettings(t *testing.T, s *sandbox, passphrase string) {
	t.Helper()
	cfg, err := config.Load(filepath.Join(s.dir, ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.Open(vault.Options{
		Home: s.home, ProjectID: cfg.ProjectID(),
		Env: func(k string) string {
			if k == "PHANTOM_VAULT_PASSPHRASE" {
				return passphrase
			}
			return ""
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if err := v.Update(func(pl *vault.Payload) error {
		if pl.Approvals == nil {
			pl.Approvals = map[string]*vault.Approval{}
		}
		pl.Approvals[config.AWSApprovalKey] = awsApproval(cfg.AWS(), time.Now())
		return nil
	}, nil); err != nil {
		t.Fatal(err)
	}
}

// TestTrustApprovesAWSSettings: [aws] settings that hand out more than the
// defaults are listed by `phantom trust`, refused without a terminal,
// approved by typing "trust" on one (kept in the vault, audited), and the
// approval covers tighter settings but not a different endpoint.
func TestTrustApprovesAWSSettings(t *testing.T) {
	s := newSandbox(t, "PHANTOM_VAULT_PASSPHRASE=aws-trust-pass-123")
	s.write(".env", "APP=x\n")
	s.mustRun("", "init", "--yes")
	toml := filepath.Join(s.dir, ConfigFile)
	appendFile(t, toml, "\n[aws]\nsession_duration = \"2h\"\nsts_endpoint = \"http://127.0.0.1:4566\"\n")

	out, _, code := s.run("", "trust", "--json")
	if code != 0 || !strings.Contains(out, `"route": "[aws]"`) || !strings.Contains(out, "127.0.0.1:4566") || !strings.Contains(out, `session_duration = \"2h\"`) {
		t.Fatalf("trust --json: exit %d\n%s", code, out)
	}
	if _, errOut, code := s.run("trust\n", "trust"); code != 5 || !strings.Contains(errOut, "sts_endpoint") {
		t.Fatalf("trust without a terminal: exit %d\n%s", code, errOut)
	}
	screen, code := s.runOnPTY("trust\r", `Type "trust"`, "trust")
	if code != 0 || !strings.Contains(screen, "Approved the [aws] settings") {
		t.Fatalf("trust on a terminal: exit %d\n%s", code, screen)
	}
	if a := s.auditLines(); !strings.Contains(a, `"aws.trust"`) {
		t.Errorf("the approval is not audited:\n%s", a)
	}
	if out, _, code := s.run("", "trust", "--json"); code != 0 || strings.Contains(out, "[aws]") {
		t.Errorf("after approval, trust --json still lists [aws]: %s", out)
	}
	// Tighter: still approved. Another endpoint: pending again.
	b, _ := os.ReadFile(toml)
	os.WriteFile(toml, []byte(strings.Replace(string(b), `"2h"`, `"30m"`, 1)), 0o644)
	if out, _, _ := s.run("", "trust", "--json"); strings.Contains(out, "[aws]") {
		t.Errorf("a shorter session needs a new approval: %s", out)
	}
	b, _ = os.ReadFile(toml)
	os.WriteFile(toml, []byte(strings.Replace(string(b), "4566", "4567", 1)), 0o644)
	if out, _, _ := s.run("", "trust", "--json"); !strings.Contains(out, "127.0.0.1:4567") {
		t.Errorf("another endpoint is covered by the old approval: %s", out)
	}
}
