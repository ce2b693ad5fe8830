package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"phantomstack.dev/phantom/internal/audit"
	"phantomstack.dev/phantom/internal/vault"
	"phantomstack.dev/shared/exitcode"
	"phantomstack.dev/shared/jsonout"
)

// HardenOptions configures `phantom vault harden` and `phantom vault soften`.
type HardenOptions struct {
	F    *Factory
	JSON bool
}

// RekeyResult is the --json document of rekey, harden and soften.
type RekeyResult struct {
	From string `json:"from"`
	To   string `json:"to"`
}

func newHardenCmd(f *Factory, runF func(*HardenOptions) error) *cobra.Command {
	opts := &HardenOptions{F: f}
	cmd := &cobra.Command{
		Use:   "harden",
		Short: "Make the vault open only with its passphrase typed, or through phantom unlock",
		Long: `Harden this project's vault: its key is wrapped with a passphrase you type now
(Argon2id), the keychain item is removed, and from then on:

  - the vault opens only with the passphrase typed at that moment, or through
    the agent 'phantom unlock' starts (which holds the key in locked memory);
  - PHANTOM_VAULT_PASSPHRASE and PHANTOM_VAULT_PASSPHRASE_FILE are refused for
    it, so no variable or file a program can write stands in for you;
  - every human-only command (reveal, unprotect, trust, --no-masking,
    --body-secret, rekey, soften) needs the passphrase typed, each time.

A program of yours — an AI agent with a shell and its own pseudo-terminal —
then gets no value through phantom (docs/security.md, "Hardened mode"). CI
keeps a non-hardened copy of the vault with its own passphrase.
Needs a terminal; from a passphrase vault, the current passphrase too.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f.Command = "phantom vault harden"
			if runF != nil {
				return runF(opts)
			}
			return hardenRun(cmd.Context(), opts)
		},
	}
	jsonout.AddFlag(cmd, &opts.JSON, "print a JSON result on stdout")
	return cmd
}

func newSoftenCmd(f *Factory, runF func(*HardenOptions) error) *cobra.Command {
	opts := &HardenOptions{F: f}
	cmd := &cobra.Command{
		Use:   "soften",
		Short: "Undo harden: the vault becomes a plain passphrase vault again",
		Long: `Turn a hardened vault back into a passphrase vault with the same passphrase:
PHANTOM_VAULT_PASSPHRASE works for it again, and human-only commands ask for
a typed confirmation instead of the passphrase. Needs the passphrase, typed
on your terminal.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f.Command = "phantom vault soften"
			if runF != nil {
				return runF(opts)
			}
			return softenRun(cmd.Context(), opts)
		},
	}
	jsonout.AddFlag(cmd, &opts.JSON, "print a JSON result on stdout")
	return cmd
}

func hardenRun(ctx context.Context, o *HardenOptions) error {
	f := o.F
	p, opts, path, err := f.projectVault(ctx)
	if err != nil {
		return err
	}
	from := vault.PeekKeySource(path)
	switch from {
	case vault.Hardened:
		if o.JSON {
			return jsonout.Write(f.IO.Out, RekeyResult{From: "hardened", To: "hardened"})
		}
		f.IO.Infof("The vault is already hardened; nothing was changed.")
		return nil
	case vault.NoKeySource:
		return exitcode.Errorf(exitcode.NotFound, "this project has no vault yet (%s); add a secret first ('phantom add NAME' or 'phantom init')", path)
	}
	// Whoever chooses the passphrase holds the vault: a script must not.
	// (A program can make a pseudo-terminal; the audit entry names the
	// processes that started this one.)
	if !f.IO.CanPrompt() {
		f.record(p, audit.Event{Op: "vault.harden", Detail: withChain("refused: no terminal")})
		return exitcode.Errorf(exitcode.Refused, "hardening needs you at a terminal: you choose the passphrase that will be the only way in\nRun `phantom vault harden` on your own terminal.")
	}
	var (
		v    *vault.Vault
		pass []byte
	)
	if from == vault.Passphrase {
		var cur []byte
		if cur, pass, err = f.rekeyPassphrases(ctx, p, false); err != nil {
			return err
		}
		defer wipe(pass)
		v, err = f.openWithPassphrase(p, opts, cur)
		wipe(cur)
	} else {
		if v, err = f.OpenVault(ctx, p, false); err == nil {
			if pass, err = f.passphrasePrompt(ctx, true); err != nil {
				v.Close()
				return promptErr(err, "choosing a passphrase")
			}
			defer wipe(pass)
		}
	}
	if err != nil {
		return err
	}
	defer v.Close()
	if err := f.record(p, audit.Event{Op: "vault.harden", Detail: withChain(from.String() + " -> hardened")}); err != nil {
		return err
	}
	if err := v.Rekey(vault.Hardened, pass); err != nil {
		return vaultError(err)
	}
	f.lockAgentOf(p)
	if o.JSON {
		return jsonout.Write(f.IO.Out, RekeyResult{From: from.String(), To: "hardened"})
	}
	f.IO.Successf("Hardened: the vault opens only with its passphrase typed, or through 'phantom unlock' (was: %s).", from)
	f.IO.Infof("Run 'phantom unlock' in this terminal so that commands and your app can use the vault. PHANTOM_VAULT_PASSPHRASE is refused for this vault; CI keeps a non-hardened copy with its own passphrase.")
	return nil
}

func softenRun(ctx context.Context, o *HardenOptions) error {
	f := o.F
	p, opts, path, err := f.projectVault(ctx)
	if err != nil {
		return err
	}
	if src := vault.PeekKeySource(path); src != vault.Hardened {
		return exitcode.Errorf(exitcode.Usage, "the vault is not hardened (key source: %s); nothing was changed", src)
	}
	if !f.IO.CanPrompt() {
		f.record(p, audit.Event{Op: "vault.soften", Detail: withChain("refused: no terminal")})
		return exitcode.Errorf(exitcode.Refused, "softening a hardened vault needs its passphrase typed on your terminal\nRun `phantom vault soften` on your own terminal.")
	}
	cur, err := f.IO.ReadSecret(ctx, "Vault passphrase: ")
	if err != nil {
		return promptErr(err, "the passphrase")
	}
	defer wipe(cur)
	v, err := f.openWithPassphrase(p, opts, cur)
	if err != nil {
		return err
	}
	defer v.Close()
	if err := f.record(p, audit.Event{Op: "vault.soften", Detail: withChain("hardened -> passphrase")}); err != nil {
		return err
	}
	if err := v.Rekey(vault.Passphrase, append([]byte(nil), cur...)); err != nil {
		return vaultError(err)
	}
	f.lockAgentOf(p)
	if o.JSON {
		return jsonout.Write(f.IO.Out, RekeyResult{From: "hardened", To: "passphrase"})
	}
	f.IO.Successf("Softened: the vault is a passphrase vault again (same passphrase); PHANTOM_VAULT_PASSPHRASE works for it.")
	return nil
}

// recordHardenedRefusal records that something tried to open a hardened vault
// the way only a person may not: a passphrase from the environment.
func (f *Factory) recordHardenedRefusal(p *Project, err error) {
	f.record(p, audit.Event{Op: "vault.open", Detail: withChain(fmt.Sprintf("refused: %v", err))})
}
