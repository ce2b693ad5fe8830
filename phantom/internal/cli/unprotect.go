package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"phantomstack.dev/phantom/internal/audit"
	"phantomstack.dev/phantom/internal/vault"
	"phantomstack.dev/shared/dotenv"
	"phantomstack.dev/shared/exitcode"
)

// UnprotectOptions configures `phantom unprotect`.
type UnprotectOptions struct {
	F        *Factory
	EnvFiles []string
}

func newUnprotectCmd(f *Factory, runF func(*UnprotectOptions) error) *cobra.Command {
	opts := &UnprotectOptions{F: f}
	cmd := &cobra.Command{
		Use:   "unprotect [--env-file F]...",
		Short: "Put the real values back into the env files (interactive only)",
		Long: `Replace every phm_ token in the project's env files (or the files given with
--env-file) with the real value from the vault — byte for byte the text that
'phantom init' replaced, when the value has not changed since.

This writes plaintext secrets into files that agents and tools can read, so
it runs only on an interactive terminal after you type a confirmation. The
vault keeps its copy; run 'phantom init' to protect the files again.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f.Command = "phantom unprotect"
			if runF != nil {
				return runF(opts)
			}
			return unprotectRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringArrayVar(&opts.EnvFiles, "env-file", nil, "env file to restore (repeatable; default: the project's env files)")
	addFollowSymlinksFlag(cmd, f)
	return cmd
}

func unprotectRun(ctx context.Context, o *UnprotectOptions) error {
	f := o.F
	if !f.IO.CanPrompt() {
		return exitcode.Errorf(exitcode.Refused, "unprotect writes plaintext secrets into files, so it needs an interactive terminal and a typed confirmation; it cannot be scripted")
	}
	p, err := f.Project()
	if err != nil {
		return err
	}
	v, err := f.OpenVault(ctx, p, false)
	if err != nil {
		return err
	}
	pl := v.Payload()
	idx := tokenIndex(pl)
	var files []*envFile
	if len(o.EnvFiles) == 0 {
		for _, path := range p.Config.EnvFiles() {
			e, err := f.loadEnvFileToWrite(p, path)
			if err != nil {
				return err
			}
			files = append(files, e)
		}
	} else {
		for _, path := range o.EnvFiles {
			e, err := f.loadEnvFileToWrite(p, absFromCwd(f, path))
			if err != nil {
				return err
			}
			files = append(files, e)
		}
	}
	type change struct {
		file *envFile
		keys []string
	}
	var changes []change
	total := 0
	for _, e := range files {
		if !e.Exists {
			continue
		}
		keys, err := restoreTokens(e, pl, idx)
		if err != nil {
			return err
		}
		if len(keys) > 0 {
			changes = append(changes, change{e, keys})
			total += len(keys)
		}
	}
	if total == 0 {
		f.IO.Infof("No phm_ tokens of this vault in those files; nothing to restore.")
		return nil
	}
	for _, c := range changes {
		f.IO.Infof("%s: %s", c.file.Rel, strings.Join(c.keys, ", "))
	}
	if err := f.IO.ConfirmTyped(ctx, fmt.Sprintf("This writes %d real secret value(s) into the files above, where any program or agent can read them.", total), "unprotect"); err != nil {
		return promptErr(err, "phantom unprotect")
	}
	for _, c := range changes {
		if err := f.record(p, audit.Event{Op: "env.unprotect", Detail: withChain(fmt.Sprintf("%s: %s", c.file.Rel, strings.Join(c.keys, ",")))}); err != nil {
			return err
		}
		if err := c.file.save(); err != nil {
			return err
		}
	}
	f.IO.Successf("Restored %d value(s). The vault still holds them; 'phantom init' protects the files again.", total)
	return nil
}

// restoreTokens replaces every token of this vault in e with its value, in
// memory, and returns the names it restored. Each line gets back the original
// text init took from it (its occurrence of the name in this file: see
// originKey) when that text still decodes to the vault's value, so an
// unchanged file comes back byte for byte; otherwise a fresh encoding.
func restoreTokens(e *envFile, pl *vault.Payload, idx map[string]string) ([]string, error) {
	var keys []string
	occ := map[string]int{}
	for n, ent := range e.File.Entries() {
		occ[ent.Key]++
		name, ok := idx[ent.Value]
		if !ok {
			continue
		}
		s := pl.Secrets[name]
		raw, hasRaw := s.Origins[originKey(e.Rel, occ[ent.Key])]
		if dv, ok := dotenv.DecodeValue(raw); !hasRaw || !ok || dv != string(s.Value) || !e.File.SetRawAt(n, raw) {
			if !e.File.SetRawAt(n, dotenv.EncodeValue(string(s.Value))) {
				return nil, fmt.Errorf("%s:%d: could not write %s's value back; nothing was changed", e.Rel, ent.Line, ent.Key)
			}
		}
		keys = append(keys, ent.Key)
	}
	return keys, nil
}
