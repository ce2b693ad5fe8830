package cli

import (
	"os"
	"path/filepath"
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
