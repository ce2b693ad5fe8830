package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"phantomstack.dev/phantom/internal/audit"
	"phantomstack.dev/shared/exitcode"
	"phantomstack.dev/shared/jsonout"
)

// SyncOptions configures `phantom sync`.
type SyncOptions struct {
	F       *Factory
	EnvFile string
	Names   []string
	JSON    bool
}

// SyncResult is sync's --json output.
type SyncResult struct {
	EnvFile   string   `json:"env_file"`
	Updated   []string `json:"updated"`
	Added     []string `json:"added"`
	Unchanged []string `json:"unchanged"`
}

func newSyncCmd(f *Factory, runF func(*SyncOptions) error) *cobra.Command {
	opts := &SyncOptions{F: f}
	cmd := &cobra.Command{
		Use:   "sync --env-file F [NAME...]",
		Short: "Write secrets' placeholder tokens into an env file",
		Long: `Write the phm_ token of each named secret (or of every secret) into the env
file F: an existing line gets its value replaced in place, a missing one is
appended. Every other line, comment and byte of F is left as it was. F is
created (mode 0600) if it does not exist. Only tokens are written, never
values.`,
		Example: `  phantom sync --env-file .env.local
  phantom sync --env-file .env.local SUPABASE_URL SUPABASE_ANON_KEY`,
		RunE: func(cmd *cobra.Command, args []string) error {
			f.Command = "phantom sync"
			opts.Names = args
			if opts.EnvFile == "" {
				return usageErrorf("sync needs --env-file F, the file to write tokens into")
			}
			if runF != nil {
				return runF(opts)
			}
			return syncRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.EnvFile, "env-file", "", "the env file to write tokens into (required)")
	jsonout.AddFlag(cmd, &opts.JSON, "print a JSON result on stdout")
	addFollowSymlinksFlag(cmd, f)
	return cmd
}

func syncRun(ctx context.Context, o *SyncOptions) error {
	f := o.F
	p, err := f.Project()
	if err != nil {
		return err
	}
	v, err := f.OpenVault(ctx, p, false)
	if err != nil {
		return err
	}
	pl := v.Payload()
	names := o.Names
	if len(names) == 0 {
		names = sortedKeys(pl.Secrets)
	}
	var missing []string
	for _, n := range names {
		if pl.Secrets[n] == nil {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return exitcode.Errorf(exitcode.NotFound, "not in the vault: %s (nothing was written; see: phantom list)", strings.Join(missing, ", "))
	}
	e, err := f.loadEnvFileToWrite(p, absFromCwd(f, o.EnvFile))
	if err != nil {
		return err
	}
	res := SyncResult{EnvFile: e.Rel, Updated: []string{}, Added: []string{}, Unchanged: []string{}}
	for _, n := range names {
		tok := pl.Secrets[n].Token
		if ent := e.File.Lookup(n); ent != nil && ent.Value == tok && allEqual(e, n, tok) {
			res.Unchanged = append(res.Unchanged, n)
			continue
		}
		if setToken(e, n, tok) {
			res.Added = append(res.Added, n)
		} else {
			res.Updated = append(res.Updated, n)
		}
	}
	if len(res.Added)+len(res.Updated) > 0 || !e.Exists {
		if err := f.record(p, audit.Event{Op: "env.sync", Detail: fmt.Sprintf("%s: %d token(s)", e.Rel, len(res.Added)+len(res.Updated))}); err != nil {
			return err
		}
		if err := e.save(); err != nil {
			return err
		}
	}
	if o.JSON {
		return jsonout.Write(f.IO.Out, res)
	}
	f.IO.Successf("%s: %d added, %d updated, %d already current", e.Rel, len(res.Added), len(res.Updated), len(res.Unchanged))
	return nil
}

// allEqual reports whether every entry of key in e already holds tok.
func allEqual(e *envFile, key, tok string) bool {
	for _, ent := range e.File.Entries() {
		if ent.Key == key && ent.Value != tok {
			return false
		}
	}
	return true
}
