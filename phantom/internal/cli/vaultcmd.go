package cli

import (
	"bytes"
	"io"

	"github.com/spf13/cobra"

	"phantomstack.dev/phantom/internal/audit"
	"phantomstack.dev/phantom/internal/vault"
	"phantomstack.dev/shared/exitcode"
	"phantomstack.dev/shared/jsonout"
)

func newVaultCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "vault",
		Short: "Manage the vault's key (keychain or passphrase)",
		Args:  cobra.NoArgs,
		RunE:  helpRun,
	}
	cmd.AddCommand(newRekeyCmd(f, nil))
	return cmd
}

// RekeyOptions configures `phantom vault rekey`.
type RekeyOptions struct {
	F     *Factory
	To    string
	Stdin bool
	JSON  bool
}

func newRekeyCmd(f *Factory, runF func(*RekeyOptions) error) *cobra.Command {
	opts := &RekeyOptions{F: f}
	cmd := &cobra.Command{
		Use:   "rekey --to keychain|passphrase",
		Short: "Move the vault to the OS keychain or to a passphrase",
		Long: `Re-encrypt the vault under a fresh data key held by the chosen key source.

  --to keychain     the key goes into the OS keychain (one item per project);
                    no passphrase is needed afterwards.
  --to passphrase   the key is wrapped with a passphrase (Argon2id). You are
                    asked for the new passphrase twice on the terminal, or
                    with --stdin it is read from standard input (for CI).
                    Also use this to change the passphrase. Moving a
                    keychain vault to a passphrase needs a terminal and
                    no --stdin: a script that chose the passphrase could
                    decrypt the vault file.

The old key stops working: a copy of the old vault file cannot be opened
with the new key, and the new file cannot be opened with the old one.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f.Command = "phantom vault rekey"
			if opts.To != "keychain" && opts.To != "passphrase" {
				return usageErrorf("--to must be keychain or passphrase")
			}
			if runF != nil {
				return runF(opts)
			}
			return rekeyRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.To, "to", "", "keychain or passphrase (required)")
	cmd.Flags().BoolVar(&opts.Stdin, "stdin", false, "read the new passphrase from standard input")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print a JSON result on stdout")
	return cmd
}

func rekeyRun(o *RekeyOptions) error {
	f := o.F
	p, err := f.Project()
	if err != nil {
		return err
	}
	v, err := f.OpenVault(p, false)
	if err != nil {
		return err
	}
	from := v.KeySource().String()
	var pass []byte
	to := vault.Keychain
	if o.To == "passphrase" {
		to = vault.Passphrase
		// Whoever chooses the new passphrase can decrypt the vault file
		// itself. From a passphrase vault the caller already knew one; from
		// the keychain it did not, so a script must not be able to do this.
		if v.KeySource() == vault.Keychain && (o.Stdin || !f.IO.CanPrompt()) {
			return exitcode.Errorf(exitcode.Refused, "moving a keychain vault to a passphrase needs you at a terminal: a script that chose the passphrase could decrypt the vault file\nRun `phantom vault rekey --to passphrase` on your own terminal, without --stdin.")
		}
		if o.Stdin {
			b, err := io.ReadAll(io.LimitReader(f.IO.In, 4096))
			if err != nil {
				return err
			}
			pass = bytes.TrimRight(b, "\r\n")
		} else {
			pass, err = f.passphrasePrompt(true)
			if err != nil {
				return promptErr(err, "choosing a passphrase (or pass it with --stdin)")
			}
		}
		if len(pass) < 8 {
			return usageErrorf("the new passphrase is shorter than 8 characters; choose a longer one")
		}
		defer wipe(pass)
	}
	// Recorded first: in "required" mode an unrecordable rekey does not happen.
	if err := f.record(p, audit.Event{Op: "vault.rekey", Detail: from + " -> " + o.To}); err != nil {
		return err
	}
	if err := v.Rekey(to, pass); err != nil {
		return vaultError(err)
	}
	if o.JSON {
		return jsonout.Write(f.IO.Out, map[string]string{"from": from, "to": o.To})
	}
	f.IO.Successf("The vault key is now held by the %s (was: %s)", describeSource(v.KeySource()), from)
	if to == vault.Passphrase {
		f.IO.Infof("Set PHANTOM_VAULT_PASSPHRASE for non-interactive use (CI), or you will be asked for it.")
	}
	return nil
}
