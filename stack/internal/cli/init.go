package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"phantomstack.dev/shared/exitcode"
	"phantomstack.dev/stack/internal/config"
	"phantomstack.dev/stack/internal/phantomctl"
)

// InitOptions configures `stack init`.
type InitOptions struct {
	F        *Factory
	Template string
	Force    bool
}

func newInitCmd(f *Factory, runF func(*InitOptions) error) *cobra.Command {
	o := &InitOptions{F: f}
	cmd := &cobra.Command{
		Use:   "init [--template T] [--force]",
		Short: "Create .stack.toml for this project",
		Long: `Write .stack.toml (the committed shape: which services, which slot names)
and .stack.local.toml (gitignored instance data), and add the local files to
.gitignore. With --template, the template's services are declared; run
'stack add' to provision them.

init is the one command that works without phantom: it warns and goes on,
so you can scaffold before installing phantom.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(o)
			}
			return initRun(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.Template, "template", "", "start from template T (see stack templates)")
	cmd.Flags().BoolVar(&o.Force, "force", false, "replace an existing .stack.toml")
	return cmd
}

func initRun(ctx context.Context, o *InitOptions) error {
	f := o.F
	dir, err := f.projectDir()
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, config.FileName)); err == nil && !o.Force {
		return exitcode.Errorf(exitcode.Failure, "%s already exists in %s; pass --force to replace it", config.FileName, dir)
	}
	if _, err := f.phantom(ctx); err != nil {
		var ni *phantomctl.NotInstalledError
		if errors.As(err, &ni) {
			f.IO.Warnf("%v\nstack init goes on without it; every other command needs phantom.", err)
		} else {
			f.IO.Warnf("%v", err)
		}
	}
	c := config.New(dir, o.Template)
	if o.Template != "" {
		t, err := f.Templates.Get(o.Template)
		if err != nil {
			return exitcode.New(exitcode.Failure, err)
		}
		for _, ts := range t.Services {
			p, err := f.Providers.Get(ts.Provider)
			if err != nil {
				return exitcode.Errorf(exitcode.Failure, "template %s uses provider %s, which this build of stack does not have yet; `stack templates` lists the templates, `stack providers` the providers", o.Template, ts.Provider)
			}
			secret := map[string]bool{}
			for _, sl := range p.Info().Slots {
				secret[sl.Name] = sl.Secret
			}
			s := &config.Service{Name: ts.Name, Provider: ts.Provider}
			for _, sl := range ts.Slots {
				if isSecret, ok := secret[sl]; !ok || isSecret {
					s.Secrets = append(s.Secrets, sl)
				} else {
					s.Config = append(s.Config, sl)
				}
			}
			c.SetService(s)
		}
	}
	if err := f.saveConfig(c); err != nil {
		return exitcode.New(exitcode.Failure, fmt.Errorf("%w\nRun stack init in a directory you can write to (check its owner and permissions)", err))
	}
	f.IO.Successf("Wrote %s (%s)%s", config.FileName, c.ProjectID, map[bool]string{true: " from template " + o.Template}[o.Template != ""])
	return nil
}
