package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"phantomstack.dev/providers"
	"phantomstack.dev/shared/dotenv"
	"phantomstack.dev/shared/exitcode"
	"phantomstack.dev/shared/token"
	"phantomstack.dev/stack/internal/config"
)

// ImportResult is `stack import --json`: names only.
type ImportResult struct {
	File     string              `json:"file"`
	Imported []string            `json:"imported"`
	Services map[string][]string `json:"services"`
	Orphans  []string            `json:"unattributed"`
}

func newImportCmd(f *Factory) *cobra.Command {
	var from string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "import [--from .env] [--json]",
		Short: "Move an existing env file's values into phantom and declare the services it uses",
		Long: `Every KEY=value of the file goes into phantom's vault (on stdin) and the
file keeps a phm_ token in its place, so it stays usable and holds no secret.
Services are recognised from key names (OPENAI_API_KEY → openai) and declared
in .stack.toml (created when missing). Values already protected (phm_ tokens)
and empty ones are skipped.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return importRun(f, from, asJSON)
		},
	}
	cmd.Flags().StringVar(&from, "from", ".env", "the env file to import")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

func importRun(f *Factory, from string, asJSON bool) error {
	ctx := context.Background()
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
	res := ImportResult{File: from, Imported: []string{}, Services: map[string][]string{}, Orphans: []string{}}
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
		if err := pc.Add(ctx, e.Key, []byte(val), from); err != nil {
			return phantomErr(fmt.Errorf("%w\nImported so far: %s. Run stack import again to continue: protected values are skipped.", err, strings.Join(res.Imported, ", ")))
		}
		res.Imported = append(res.Imported, e.Key)
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
	if err := f.saveConfig(c); err != nil {
		return exitcode.New(exitcode.Failure, err)
	}
	if asJSON {
		return writeJSON(f, res)
	}
	f.IO.Successf("Imported %d value(s) from %s into phantom; %s now holds phm_ tokens.", len(res.Imported), from, from)
	for p, slots := range res.Services {
		f.IO.Infof("  %s: %s", p, strings.Join(slots, ", "))
	}
	if len(res.Orphans) > 0 {
		f.IO.Infof("  not attributed to a service: %s", strings.Join(res.Orphans, ", "))
	}
	return nil
}
