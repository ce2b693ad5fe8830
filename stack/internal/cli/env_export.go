package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"phantomstack.dev/shared/exitcode"
	"phantomstack.dev/shared/fsx"
	"phantomstack.dev/shared/jsonout"
	"phantomstack.dev/stack/internal/config"
)

// envExampleName is the file `stack env export --example` writes.
const envExampleName = ".env.example"

// EnvExportOptions configures `stack env export`.
type EnvExportOptions struct {
	F       *Factory
	Example bool
	Stdout  bool
	Force   bool
	JSON    bool
}

// EnvExportResult is `stack env export --example --json`: names only.
type EnvExportResult struct {
	Path    string   `json:"path"`
	Written bool     `json:"written"` // false: the file was already up to date
	Slots   []string `json:"slots"`
}

func newEnvExportCmd(f *Factory, runF func(*EnvExportOptions) error) *cobra.Command {
	o := &EnvExportOptions{F: f}
	cmd := &cobra.Command{
		Use:   "export --example [--stdout] [--force] [--json]",
		Short: "Write .env.example: every declared slot name, no values (no phantom needed)",
		Long: `Write .env.example for the people who clone the project: one block per
service in .stack.toml order, a comment with the provider's name, then one
empty SLOT= line per secret and config slot. It never holds a value or a
phm_ token.

--example is required because it is the only export there is: stack has
deliberately no way to export secret values, which stay in phantom's vault
(programs get them through 'stack exec -- COMMAND').

An existing .env.example that differs is kept unless --force; --stdout prints
the file instead of writing it.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !o.Example {
				return usageErrorf("stack env export only writes the example file: pass --example. " +
					"There is deliberately no way to export secret values; they stay in phantom's vault, " +
					"and programs get them through `stack exec -- COMMAND`")
			}
			if o.Stdout && (o.Force || o.JSON) {
				return usageErrorf("--stdout prints the file; it does not go with --force or --json")
			}
			if runF != nil {
				return runF(o)
			}
			return envExportRun(o)
		},
	}
	cmd.Flags().BoolVar(&o.Example, "example", false, "write the example file (the only export)")
	cmd.Flags().BoolVar(&o.Stdout, "stdout", false, "print the file on stdout instead of writing it")
	cmd.Flags().BoolVar(&o.Force, "force", false, "replace an existing .env.example that differs")
	jsonout.AddFlag(cmd, &o.JSON, `print {"path", "written", "slots"}`)
	return cmd
}

func envExportRun(o *EnvExportOptions) error {
	f := o.F
	c, err := f.loadConfig()
	if err != nil {
		return err
	}
	text, slots := envExample(f, c)
	if o.Stdout {
		_, err := f.IO.Out.Write(text)
		return err
	}
	path := filepath.Join(c.Dir, envExampleName)
	old, err := os.ReadFile(path)
	switch {
	case err == nil && bytes.Equal(old, text):
		return envExportDone(o, EnvExportResult{Path: envExampleName, Written: false, Slots: slots})
	case err == nil && !o.Force:
		return exitcode.Errorf(exitcode.Failure, "%s exists and differs from what stack would write; pass --force to replace it, or --stdout to compare", envExampleName)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return exitcode.Errorf(exitcode.Failure, "cannot read %s: %v", envExampleName, err)
	}
	// Committed, holds no secret: 0644 for a new file; an existing one keeps
	// its mode.
	perm := os.FileMode(0o644)
	if old != nil {
		perm = 0
	}
	if err := fsx.WriteFileAtomic(path, text, perm); err != nil {
		return exitcode.Errorf(exitcode.Failure, "cannot write %s: %v; any previous file is unchanged", envExampleName, err)
	}
	return envExportDone(o, EnvExportResult{Path: envExampleName, Written: true, Slots: slots})
}

func envExportDone(o *EnvExportOptions, r EnvExportResult) error {
	if o.JSON {
		return writeJSON(o.F, r)
	}
	if r.Written {
		o.F.IO.Successf("Wrote %s (%d slot name(s), no values)", r.Path, len(r.Slots))
	} else {
		o.F.IO.Infof("%s is already up to date", r.Path)
	}
	return nil
}

// envExample renders .env.example from the declared slots: names only, so
// no value can reach the file by construction.
func envExample(f *Factory, c *config.Config) ([]byte, []string) {
	var b bytes.Buffer
	b.WriteString("# Written by `stack env export --example`: the variables this project uses,\n")
	b.WriteString("# without values. The values live in phantom's vault; `stack add SERVICE`\n")
	b.WriteString("# (or `phantom sync --env-file .env.local`) puts their phm_ tokens in .env.local.\n")
	slots := []string{}
	for _, n := range c.Names() {
		s := c.Services[n]
		title := s.Provider
		if p, err := f.Providers.Get(s.Provider); err == nil {
			title = p.Info().DisplayName
		}
		if n != s.Provider {
			title += " (service " + n + ")"
		}
		fmt.Fprintf(&b, "\n# %s\n", title)
		for _, slot := range append(append([]string{}, s.Secrets...), s.Config...) {
			b.WriteString(slot + "=\n")
			slots = append(slots, slot)
		}
	}
	return []byte(strings.TrimRight(b.String(), "\n") + "\n"), slots
}
