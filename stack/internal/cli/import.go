package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"phantomstack.dev/providers"
	"phantomstack.dev/shared/dotenv"
	"phantomstack.dev/shared/exitcode"
	"phantomstack.dev/shared/jsonout"
	"phantomstack.dev/shared/token"
	"phantomstack.dev/stack/internal/config"
)

// ImportResult is `stack import --json`: names only.
type ImportResult struct {
	File     string              `json:"file"`
	Imported []string            `json:"imported"`
	Services map[string][]string `json:"services"`
	Orphans  []string            `json:"unattributed"`
	// Config are imported keys that look like settings, not secrets
	// (PORT=3000): outside `stack exec` the app now reads phm_ tokens for
	// them. LeftPlain are the ones --secrets-only left in the file as is.
	Config    []string `json:"config_protected"`
	LeftPlain []string `json:"left_plain"`
}

func newImportCmd(f *Factory) *cobra.Command {
	var from string
	var asJSON, secretsOnly bool
	cmd := &cobra.Command{
		Use:   "import [--from .env] [--json]",
		Short: "Move an existing env file's values into phantom and declare the services it uses",
		Long: `Every KEY=value of the file goes into phantom's vault (on stdin) and the
file keeps a phm_ token in its place, so it stays usable and holds no secret.
Services are recognised from key names (OPENAI_API_KEY → openai) and declared
in .stack.toml (created when missing); keys no service provides are declared
in its [env] table, so ` + "`stack env diff`" + ` right after an import is clean.
Values already protected (phm_ tokens) and empty ones are skipped.

Keys that look like settings (PORT=3000, NODE_ENV) are protected too, so
outside ` + "`stack exec`" + ` the app reads phm_ tokens for them; stack lists them.
--secrets-only leaves them in the file as they are.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return importRun(cmd.Context(), f, from, asJSON, secretsOnly)
		},
	}
	cmd.Flags().StringVar(&from, "from", ".env", "the env file to import")
	jsonout.AddFlag(cmd, &asJSON, "print the result as JSON")
	cmd.Flags().BoolVar(&secretsOnly, "secrets-only", false, "import only keys that look like secrets; leave settings such as PORT plain")
	return cmd
}

func importRun(ctx context.Context, f *Factory, from string, asJSON, secretsOnly bool) error {
	dir, err := f.projectDir()
	if err != nil {
		return err
	}
	pc, err := f.phantom(ctx)
	if err != nil {
		return err
	}
	src, err := os.ReadFile(filepath.Join(dir, from))
	if errors.Is(err, fs.ErrNotExist) {
		return exitcode.Errorf(exitcode.Failure, "%s does not exist; pass the file to import with --from", from)
	}
	if err != nil {
		return err
	}
	c, err := config.Load(dir, f.known)
	if errors.Is(err, config.ErrNotFound) {
		c, err = config.New(dir, ""), nil
	}
	if err != nil {
		return exitcode.New(exitcode.Failure, err)
	}
	file := dotenv.Parse(src)
	for _, p := range file.Problems {
		f.IO.Warnf("%s:%d: %s (line left as it is)", from, p.Line, p.Msg)
	}
	// Which provider fills which slot. Only API-key providers: a value
	// alone cannot tell which Supabase project or AWS user it belongs to
	// (and DATABASE_URL is anybody's), so resource providers are not
	// declared from an env file; stack add --use attaches them.
	slotOwner := map[string]string{}
	for _, p := range f.Providers.All() {
		if p.Info().Auth != providers.AuthAPIKey {
			continue
		}
		for _, sl := range p.Info().Slots {
			slotOwner[sl.Name] = p.Info().Name
		}
	}
	// A first `phantom init --yes` may already protect the file's secrets;
	// the values read above are imported all the same (phantom keeps one
	// token per name), so the result lists everything the file held.
	if err := pc.EnsureInit(ctx); err != nil {
		return phantomErr(err)
	}
	res := ImportResult{File: from, Imported: []string{}, Services: map[string][]string{}, Orphans: []string{}, Config: []string{}, LeftPlain: []string{}}
	seen := map[string]bool{}
	for _, e := range file.Entries() {
		if token.Is(e.Value) && !seen[e.Key] {
			// Already protected (an earlier, interrupted import, or phantom
			// init): not imported again, but its service is still declared,
			// so a re-run finishes what the first run started.
			seen[e.Key] = true
			if p, ok := slotOwner[e.Key]; ok && c.Services[p] == nil {
				res.Services[p] = append(res.Services[p], e.Key)
			}
			continue
		}
		if e.Value == "" || seen[e.Key] {
			continue
		}
		seen[e.Key] = true
		// Later duplicates win, as a loader reads them.
		val := file.Lookup(e.Key).Value
		// The same classifier phantom init uses (without the project's
		// [classify] overrides, which are phantom's to read).
		setting := dotenv.Classify(e.Key, val, dotenv.Overrides{}).Class != dotenv.Secret
		if setting && secretsOnly {
			res.LeftPlain = append(res.LeftPlain, e.Key)
			continue
		}
		if _, err := pc.Store(ctx, e.Key, []byte(val), from); err != nil {
			return phantomErr(fmt.Errorf("%w\nImported so far: %s. Run stack import again to continue: protected values are skipped.", err, strings.Join(res.Imported, ", ")))
		}
		res.Imported = append(res.Imported, e.Key)
		if setting {
			res.Config = append(res.Config, e.Key)
		}
		if p, ok := slotOwner[e.Key]; ok {
			res.Services[p] = append(res.Services[p], e.Key)
		} else {
			res.Orphans = append(res.Orphans, e.Key)
		}
	}
	for p, slots := range res.Services {
		if s := c.Services[p]; s != nil {
			continue // already declared
		}
		c.SetService(&config.Service{Name: p, Provider: p, Secrets: slots, CreatedAt: time.Now(), CreatedBy: "stack import", ResourceID: "default"})
	}
	// Declare the rest too: the vault holds them for this project, and a
	// diff right after an import must not call its own result drift.
	c.AddEnv(res.Orphans...)
	if err := f.saveConfig(c); err != nil {
		return exitcode.New(exitcode.Failure, err)
	}
	// As at the end of stack add: the services just declared get their
	// STACK_*_API_URL routes, and what phantom waits for is approved.
	f.approveAfterAdd(ctx, asJSON, slices.Collect(maps.Keys(res.Services))...)
	if asJSON {
		return writeJSON(f, res)
	}
	// phantom init --yes (above) may have protected the file's secrets
	// already; for the user every one of them was just protected by this
	// import, so "Protected", never phantom's "Updated".
	f.IO.Successf("Protected %d value(s) from %s in phantom's vault; %s now holds phm_ tokens in their place.", len(res.Imported), from, from)
	for _, p := range slices.Sorted(maps.Keys(res.Services)) {
		f.IO.Infof("  %s: %s", p, strings.Join(res.Services[p], ", "))
	}
	if len(res.Orphans) > 0 {
		f.IO.Infof("  no service provides %s: declared in %s [env]", strings.Join(res.Orphans, ", "), config.FileName)
	}
	if len(res.Config) > 0 {
		f.IO.Warnf("%s look like settings, not secrets. They are in the vault now: outside `stack exec` your app reads phm_ tokens for them. Next time, to leave such keys plain: stack import --from %s --secrets-only", strings.Join(res.Config, ", "), from)
	}
	if len(res.LeftPlain) > 0 {
		f.IO.Infof("Left plain in %s (settings, --secrets-only): %s", from, strings.Join(res.LeftPlain, ", "))
	}
	return nil
}
