package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"phantomstack.dev/phantom/internal/audit"
	"phantomstack.dev/phantom/internal/vault"
	"phantomstack.dev/shared/exitcode"
	"phantomstack.dev/shared/jsonout"
)

func newVaultCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "vault",
		Short: "Manage the vault's key (keychain, passphrase or hardened)",
		Args:  groupArgs,
		RunE:  helpRun,
	}
	cmd.AddCommand(newRekeyCmd(f, nil), newHardenCmd(f, nil), newSoftenCmd(f, nil))
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
  --to passphrase   the key is wrapped with a passphrase (Argon2id). Also
                    use this to change the passphrase. On the terminal you
                    are asked for the current passphrase (even when
                    PHANTOM_VAULT_PASSPHRASE is set) and the new one twice.
                    With --stdin (for CI) standard input holds two lines:
                    the current passphrase, then the new one.
                    PHANTOM_VAULT_PASSPHRASE alone never changes the
                    passphrase: every process started from that
                    environment has it, and could lock you out. Moving a
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
			return rekeyRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.To, "to", "", "keychain or passphrase (required)")
	cmd.Flags().BoolVar(&opts.Stdin, "stdin", false, "read the current and the new passphrase (two lines) from standard input")
	jsonout.AddFlag(cmd, &opts.JSON, "print a JSON result on stdout")
	return cmd
}

func rekeyRun(ctx context.Context, o *RekeyOptions) error {
	f := o.F
	p, opts, path, err := f.projectVault(ctx)
	if err != nil {
		return err
	}
	var v *vault.Vault
	var pass []byte
	to := vault.Keychain
	src := vault.PeekKeySource(path)
	if src == vault.Hardened && o.Stdin {
		f.record(p, audit.Event{Op: "vault.rekey", Detail: withChain("refused: --stdin for a hardened vault")})
		return exitcode.Errorf(exitcode.Refused, "a hardened vault's passphrase is typed on your terminal, never piped: whatever writes the pipe could open the vault\nRun `phantom vault rekey --to %s` on your own terminal, without --stdin.", o.To)
	}
	if o.To == "passphrase" && (src == vault.Passphrase || src == vault.Hardened) {
		// Changing a passphrase locks out whoever does not learn the new
		// one. PHANTOM_VAULT_PASSPHRASE is in the environment of every
		// process started from that shell (an agent's too), so it does not
		// show that the caller is the owner: the current passphrase must
		// come through the same channel as the new one.
		to = vault.Passphrase
		var cur []byte
		cur, pass, err = f.rekeyPassphrases(ctx, p, o.Stdin)
		if err != nil {
			return err
		}
		defer wipe(pass)
		v, err = f.openWithPassphrase(p, opts, cur)
		wipe(cur)
		if err != nil {
			return err
		}
	} else {
		v, err = f.OpenVault(ctx, p, false)
		if err != nil {
			return err
		}
	}
	defer v.Close()
	from := v.KeySource().String()
	if o.To == "passphrase" && to != vault.Passphrase {
		to = vault.Passphrase
		// Whoever chooses the new passphrase can decrypt the vault file
		// itself. From the keychain the caller knew no passphrase, so a
		// script must not be able to do this.
		if o.Stdin || !f.IO.CanPrompt() {
			f.record(p, audit.Event{Op: "vault.rekey", Detail: withChain("refused: keychain -> passphrase without a terminal")})
			return exitcode.Errorf(exitcode.Refused, "moving a keychain vault to a passphrase needs you at a terminal: a script that chose the passphrase could decrypt the vault file\nRun `phantom vault rekey --to passphrase` on your own terminal, without --stdin.")
		}
		pass, err = f.passphrasePrompt(ctx, true)
		if err != nil {
			return promptErr(err, "choosing a passphrase")
		}
		if len(pass) < 8 {
			return usageErrorf("the new passphrase is shorter than 8 characters; choose a longer one")
		}
		defer wipe(pass)
	}
	// Recorded first: in "required" mode an unrecordable rekey does not
	// happen. Rekey stores the event's position as the vault's audit mark.
	if err := f.record(p, audit.Event{Op: "vault.rekey", Detail: withChain(from + " -> " + o.To)}); err != nil {
		return err
	}
	if err := v.Rekey(to, pass); err != nil {
		return vaultError(err)
	}
	// An agent's key no longer opens the vault.
	f.lockAgentOf(p)
	if o.JSON {
		return jsonout.Write(f.IO.Out, map[string]string{"from": from, "to": o.To})
	}
	f.IO.Successf("The vault key is now held by the %s (was: %s)", describeSource(v.KeySource()), from)
	if to == vault.Passphrase {
		f.IO.Infof("For CI, pass it with PHANTOM_VAULT_PASSPHRASE; do not export it in an interactive shell, where every program you start gets it.")
	}
	return nil
}

// rekeyPassphrases reads the current and the new passphrase of a passphrase
// vault: two lines on stdin with --stdin, else prompts on the terminal. A
// refusal is audited.
func (f *Factory) rekeyPassphrases(ctx context.Context, p *Project, stdin bool) (cur, next []byte, err error) {
	refuse := func(why, msg string) error {
		f.record(p, audit.Event{Op: "vault.rekey", Detail: withChain("refused: " + why)})
		return exitcode.Errorf(exitcode.Refused, "%s", msg)
	}
	if stdin {
		b, err := io.ReadAll(io.LimitReader(f.IO.In, 8192))
		if err != nil {
			return nil, nil, err
		}
		defer wipe(b)
		lines := bytes.Split(bytes.TrimRight(b, "\r\n"), []byte("\n"))
		if len(lines) != 2 || len(bytes.TrimRight(lines[0], "\r")) == 0 {
			return nil, nil, refuse("the current passphrase was not given on stdin",
				"changing the passphrase with --stdin needs two lines on standard input: the current passphrase, then the new one\nPHANTOM_VAULT_PASSPHRASE in the environment does not count: every program started from it has it, and could lock you out of your vault.")
		}
		cur = bytes.Clone(bytes.TrimRight(lines[0], "\r"))
		next = bytes.Clone(bytes.TrimRight(lines[1], "\r"))
	} else {
		if !f.IO.CanPrompt() {
			return nil, nil, refuse("no terminal and no --stdin",
				"changing the passphrase needs the current one: run `phantom vault rekey --to passphrase` on your terminal, or pass the current and the new passphrase as two lines with --stdin")
		}
		cur, err = f.IO.ReadSecret(ctx, "Current vault passphrase: ")
		if err != nil {
			return nil, nil, promptErr(err, "the current passphrase")
		}
		next, err = f.passphrasePrompt(ctx, true)
		if err != nil {
			wipe(cur)
			return nil, nil, promptErr(err, "choosing a passphrase")
		}
	}
	if len(next) < 8 {
		wipe(cur)
		wipe(next)
		return nil, nil, usageErrorf("the new passphrase is shorter than 8 characters; choose a longer one")
	}
	return cur, next, nil
}

// openWithPassphrase opens the vault with cur only, ignoring the
// environment. A wrong passphrase is a refusal (exit 5), audited.
func (f *Factory) openWithPassphrase(p *Project, opts vault.Options, cur []byte) (*vault.Vault, error) {
	given := false
	env := opts.Env
	opts.Env = func(k string) string {
		if strings.HasPrefix(k, vault.EnvPassphrase) { // and its _FILE form
			return ""
		}
		return env(k)
	}
	opts.WrongPassphrase = nil // asked once; a wrong one is refused below
	opts.Prompt = func(bool) ([]byte, error) {
		if given {
			return nil, vault.ErrNoTTY
		}
		given = true
		return bytes.Clone(cur), nil
	}
	v, err := vault.Open(opts)
	if errors.Is(err, vault.ErrWrongPassphrase) {
		f.record(p, audit.Event{Op: "vault.rekey", Detail: withChain("refused: wrong current passphrase")})
		return nil, exitcode.Errorf(exitcode.Refused, "the current passphrase is wrong; the vault is unchanged")
	}
	if err != nil {
		return nil, vaultError(err)
	}
	if err := f.checkVaultMark(p, v); err != nil {
		v.Close()
		return nil, err
	}
	return v, nil
}

// projectVault finds the project and its vault's options and path, without
// opening it: the start of every command that decides by the vault's key
// source before asking for anything (rekey, harden, soften).
func (f *Factory) projectVault(ctx context.Context) (*Project, vault.Options, string, error) {
	p, err := f.Project()
	if err != nil {
		return nil, vault.Options{}, "", err
	}
	opts, err := f.vaultOptions(ctx, p)
	if err != nil {
		return nil, vault.Options{}, "", err
	}
	path, _ := vault.Path(opts)
	return p, opts, path, nil
}
