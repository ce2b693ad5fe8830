package cli

import (
	"context"
	"strings"

	"github.com/spf13/cobra"

	"phantomstack.dev/phantom/internal/audit"
	"phantomstack.dev/phantom/internal/vault"
	"phantomstack.dev/shared/exitcode"
	"phantomstack.dev/shared/jsonout"
)

// RemoveOptions configures `phantom remove`.
type RemoveOptions struct {
	F       *Factory
	Name    string
	EnvFile string
	JSON    bool
}

func newRemoveCmd(f *Factory, runF func(*RemoveOptions) error) *cobra.Command {
	opts := &RemoveOptions{F: f}
	cmd := &cobra.Command{
		Use:   "remove NAME [--env-file F]",
		Short: "Delete a secret from the vault",
		Long: `Delete NAME and its value from the vault. Its phm_ token stops resolving.

With --env-file, NAME's line is also removed from that file. Without it, env
files are left alone and phantom tells you which of them still mention NAME.`,
		Aliases: []string{"rm"},
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f.Command = "phantom remove"
			opts.Name = args[0]
			if runF != nil {
				return runF(opts)
			}
			return removeRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.EnvFile, "env-file", "", "also remove NAME's line from this env file")
	addFollowSymlinksFlag(cmd, f)
	jsonout.AddFlag(cmd, &opts.JSON, "print a JSON result on stdout")
	return cmd
}

func removeRun(ctx context.Context, o *RemoveOptions) error {
	f := o.F
	p, err := f.Project()
	if err != nil {
		return err
	}
	v, err := f.OpenVault(ctx, p, false)
	if err != nil {
		return err
	}
	if o.EnvFile != "" && v.Payload().Secrets[o.Name] == nil {
		return removeStaleLine(o, p, v.Payload())
	}
	// The env file is loaded (and a symlink out of the project refused
	// without --follow-symlinks, docs/decisions.md) before the vault
	// changes, so a refusal leaves both as they were.
	var e *envFile
	if o.EnvFile != "" {
		if e, err = f.loadEnvFileToWrite(p, absFromCwd(f, o.EnvFile)); err != nil {
			return err
		}
	}
	var tok string
	err = v.Update(func(pl *vault.Payload) error {
		s := pl.Secrets[o.Name]
		if s == nil {
			return exitcode.Errorf(exitcode.NotFound, "%s is not in the vault (see: phantom list)", o.Name)
		}
		tok = s.Token
		delete(pl.Secrets, o.Name)
		return nil
	}, f.recorder(p, audit.Event{Op: "secret.remove", Name: o.Name}))
	if err != nil {
		return vaultError(err)
	}
	removedFrom := ""
	if e != nil {
		if e.Exists && e.File.Remove(o.Name) > 0 {
			if err := e.save(); err != nil {
				return err
			}
			removedFrom = e.Rel
		}
	}
	if o.JSON {
		return jsonout.Write(f.IO.Out, map[string]any{"name": o.Name, "removed": true, "env_file": removedFrom})
	}
	f.IO.Successf("Removed %s from the vault", o.Name)
	if removedFrom != "" {
		f.IO.Infof("Removed its line from %s", removedFrom)
	}
	for _, path := range p.Config.EnvFiles() {
		e, err := loadEnvFile(p, path)
		if err != nil || !e.Exists || e.Rel == removedFrom {
			continue
		}
		if ent := e.File.Lookup(o.Name); ent != nil && ent.Value == tok {
			f.IO.Warnf("%s still has %s=%s…, which no longer resolves; delete the line or run: phantom remove %s --env-file %s", e.Rel, o.Name, tok[:12], o.Name, shellArg(e.Rel))
		}
	}
	return nil
}

// removeStaleLine is `remove NAME --env-file F` once NAME has left the vault,
// the command remove's own warning suggests for the env files it left alone:
// F's NAME line goes when it holds a phm_ token this vault does not know. A
// line holding anything else is kept (it may be the only copy of a value),
// and NAME not being in the vault is then exit 4 as before.
func removeStaleLine(o *RemoveOptions, p *Project, pl *vault.Payload) error {
	f := o.F
	notFound := exitcode.Errorf(exitcode.NotFound, "%s is not in the vault (see: phantom list)", o.Name)
	e, err := f.loadEnvFileToWrite(p, absFromCwd(f, o.EnvFile))
	if err != nil {
		return err
	}
	if !e.Exists {
		return notFound
	}
	ent := e.File.Lookup(o.Name)
	if ent == nil || !isToken(ent.Value) {
		return notFound
	}
	if _, known := tokenIndex(pl)[ent.Value]; known {
		return notFound
	}
	if e.File.Remove(o.Name) == 0 {
		return notFound
	}
	if err := e.save(); err != nil {
		return err
	}
	if o.JSON {
		return jsonout.Write(f.IO.Out, map[string]any{"name": o.Name, "removed": false, "env_file": e.Rel})
	}
	f.IO.Successf("%s was already gone from the vault; removed its line from %s (its token no longer resolved)", o.Name, e.Rel)
	return nil
}

// shellArg quotes s for a POSIX shell when it needs it, so that a command
// phantom suggests works when pasted as printed.
func shellArg(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/+=:,@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
