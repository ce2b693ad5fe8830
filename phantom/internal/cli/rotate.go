package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"phantomstack.dev/phantom/internal/audit"
	"phantomstack.dev/phantom/internal/vault"
	"phantomstack.dev/shared/exitcode"
	"phantomstack.dev/shared/jsonout"
)

// RotateOptions configures `phantom rotate`.
type RotateOptions struct {
	F        *Factory
	Names    []string
	EnvFiles []string
	JSON     bool
}

// RotateResult is rotate's --json output.
type RotateResult struct {
	Rotated []string            `json:"rotated"`
	Files   map[string][]string `json:"files"`
	// Repaired lists, per env file, the names whose stale token (one the
	// vault no longer has, e.g. left by a rotate interrupted between its
	// vault write and its env rewrite) was replaced by the current one.
	Repaired map[string][]string `json:"repaired"`
	// RunningProxies loaded the old tokens when they started and know only
	// those until restarted: they refuse the new tokens (403) and still
	// accept the old ones. Each says how to restart it.
	RunningProxies []RunningProxy `json:"running_proxies"`
}

func newRotateCmd(f *Factory, runF func(*RotateOptions) error) *cobra.Command {
	opts := &RotateOptions{F: f}
	cmd := &cobra.Command{
		Use:   "rotate [NAME...]",
		Short: "Issue new placeholder tokens (the old ones stop working)",
		Long: `Give each named secret (or every secret) a new phm_ token and rewrite the
project's env files to use it. The old tokens stop resolving at once, so a
token that leaked (into a log, a paste, an agent transcript) becomes useless.
The real values do not change: rotate them at the provider, then use
'phantom add NAME'.

The env files rewritten are the project's (.phantom.toml env_files, default
.env and .env.local) plus any given with --env-file.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			f.Command = "phantom rotate"
			opts.Names = args
			if runF != nil {
				return runF(opts)
			}
			return rotateRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringArrayVar(&opts.EnvFiles, "env-file", nil, "another env file to rewrite (repeatable)")
	jsonout.AddFlag(cmd, &opts.JSON, "print a JSON result on stdout")
	addFollowSymlinksFlag(cmd, f)
	return cmd
}

func rotateRun(ctx context.Context, o *RotateOptions) error {
	f := o.F
	p, err := f.Project()
	if err != nil {
		return err
	}
	v, err := f.OpenVault(ctx, p, false)
	if err != nil {
		return err
	}
	// Load the files first so a bad path fails before anything changes.
	var files []*envFile
	for _, path := range p.Config.EnvFiles() {
		e, err := f.loadEnvFileToWrite(p, path)
		if err != nil {
			return err
		}
		files = append(files, e)
	}
	for _, path := range o.EnvFiles {
		e, err := f.loadEnvFileToWrite(p, absFromCwd(f, path))
		if err != nil {
			return err
		}
		files = append(files, e)
	}
	oldToNew := map[string]string{}
	res := RotateResult{Rotated: []string{}, Files: map[string][]string{}, Repaired: map[string][]string{}}
	var events []audit.Event
	err = v.Update(func(pl *vault.Payload) error {
		names := o.Names
		if len(names) == 0 {
			names = sortedKeys(pl.Secrets)
		}
		for _, n := range names {
			if pl.Secrets[n] == nil {
				return exitcode.Errorf(exitcode.NotFound, "%s is not in the vault; nothing was rotated", n)
			}
		}
		now := f.Now().UTC()
		for _, n := range names {
			s := pl.Secrets[n]
			nt := newToken()
			oldToNew[s.Token] = nt
			s.Token = nt
			s.UpdatedAt = now
			res.Rotated = append(res.Rotated, n)
			events = append(events, audit.Event{Op: "token.rotate", Name: n})
		}
		return nil
	}, func() error { return f.recorder(p, events...)() })
	if err != nil {
		return vaultError(err)
	}
	// Roll forward: besides this run's old tokens, a line whose token the
	// vault does not know but whose name is a vaulted secret is stale (a
	// previous rotate died after its vault write, before or during its env
	// rewrite) and gets the current token, so rerunning rotate repairs
	// what an interrupted one left (docs/decisions.md, "rotate rolls
	// forward").
	pl := v.Payload()
	known := tokenIndex(pl)
	var failed []string
	for _, e := range files {
		if !e.Exists {
			continue
		}
		var changed, repaired []string
		for _, ent := range e.File.Entries() {
			if nt, ok := oldToNew[ent.Value]; ok {
				e.File.Set(ent.Key, nt)
				changed = append(changed, ent.Key)
			} else if sec := pl.Secrets[ent.Key]; sec != nil && isToken(ent.Value) && known[ent.Value] == "" {
				e.File.Set(ent.Key, sec.Token)
				repaired = append(repaired, ent.Key)
			}
		}
		if len(changed)+len(repaired) == 0 {
			continue
		}
		if err := e.save(); err != nil {
			f.IO.Warnf("%v", err)
			failed = append(failed, e.Rel)
			continue
		}
		if len(changed) > 0 {
			res.Files[e.Rel] = changed
		}
		if len(repaired) > 0 {
			res.Repaired[e.Rel] = repaired
		}
	}
	res.RunningProxies = []RunningProxy{}
	if home, err := f.Home(); err == nil {
		res.RunningProxies = runningProxies(home, p.ID())
	}
	if o.JSON {
		if err := jsonout.Write(f.IO.Out, res); err != nil {
			return err
		}
	} else {
		f.IO.Successf("Rotated %d token(s)", len(res.Rotated))
		for _, rel := range sortedKeys(res.Files) {
			f.IO.Infof("  rewrote %s (%d)", rel, len(res.Files[rel]))
		}
		for _, rel := range sortedKeys(res.Repaired) {
			f.IO.Infof("  repaired %d stale token(s) in %s %v (left by an interrupted rotate, or the secret was re-added)", len(res.Repaired[rel]), rel, res.Repaired[rel])
		}
	}
	if n := len(res.RunningProxies); n > 0 {
		// A proxy never rereads the vault (it holds no key), so it cannot
		// learn the new tokens; it must be restarted.
		f.IO.Warnf("%d running proxy(ies) of this project still hold the old tokens: until restarted they refuse the new tokens and accept the old ones", n)
		for _, rp := range res.RunningProxies {
			what := "phantom start"
			if rp.Kind == "exec" {
				what = "phantom exec " + rp.Command
			}
			f.IO.Warnf("  %s (pid %d, on %s since %s): %s", what, rp.PID, rp.Addr, rp.StartedAt.Format(time.RFC3339), rp.Restart)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("could not rewrite %v; their old tokens no longer resolve. Fix the cause above and run phantom rotate again: it repairs stale tokens", failed)
	}
	return nil
}
