package cli

import (
	"context"
	"io"
	"strings"

	"phantomstack.dev/shared/term"
)

// approveAll approves every pending route, env upstream and setting of the
// project in dir, as `phantom trust` does after a person typed "trust" on
// a terminal. env is the environment phantom would run with (PHANTOM_HOME,
// PHANTOM_VAULT_PASSPHRASE). Tests use it where the approval is the
// human's part of the setup, not what is under test.
func approveAll(dir string, env []string) error {
	f := NewFactory(term.System(strings.NewReader(""), io.Discard, io.Discard))
	f.KDF = cheapKDF
	f.Command = "phantom trust"
	vars := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	f.Env = func(k string) string { return vars[k] }
	f.Getwd = func() (string, error) { return dir, nil }
	p, err := f.Project()
	if err != nil {
		return err
	}
	v, err := f.OpenVault(context.Background(), p, false)
	if err != nil {
		return err
	}
	defer v.Close()
	_, pending, g, err := f.pendingApprovals(p, v.Payload(), nil)
	if err != nil {
		return err
	}
	return f.storeApprovals(p, v, pending, g)
}
