package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"phantomstack.dev/phantom/internal/audit"
	"phantomstack.dev/phantom/internal/config"
	"phantomstack.dev/phantom/internal/trust"
	"phantomstack.dev/shared/exitcode"
	"phantomstack.dev/shared/jsonout"
)

// TrustOptions configures `phantom trust`.
type TrustOptions struct {
	F        *Factory
	JSON     bool
	EnvFiles []string // the env files exec will read (default: the project's)
}

// TrustEntry is one route in `phantom trust --json`.
type TrustEntry struct {
	Route    string `json:"route"`
	Upstream string `json:"upstream"`
	Builtin  string `json:"builtin_upstream,omitempty"`
	Secrets  string `json:"secrets"`
	FromEnv  string `json:"from_env,omitempty"` // the env var the upstream came from
}

func newTrustCmd(f *Factory, runF func(*TrustOptions) error) *cobra.Command {
	opts := &TrustOptions{F: f}
	cmd := &cobra.Command{
		Use:   "trust [--env-file F]... [--json]",
		Short: "Approve the proxy routes that send secrets to a new place",
		Long: `A route in .phantom.toml that sends a secret somewhere other than its
built-in upstream (or a new custom route) decides where your real keys go, and
.phantom.toml is committed: a pull request could point the openai route at
someone else's server. So such a route works only after you approve it here.

phantom trust shows each route that changed, and on your own terminal asks you
to type "trust" to approve them. The approval is stored in PHANTOM_HOME (not in
the repository) and covers the route exactly as it is: any later change to it
needs a new approval. Without a terminal it only lists what is pending (exit 5
when something is).

The supabase route takes its upstream from SUPABASE_URL in your env files. A
project URL (https://<ref>.supabase.co) needs no approval; anything else (a
local Supabase, a self-hosted one, a URL an agent wrote into .env) is listed
here like a changed route. --env-file names the files your phantom exec reads
when they are not the project's env_files.

[aws] settings that hand out more than the defaults (a session_duration over
1h, an sts_endpoint, serve_long_lived = true) are listed and approved here
too; the approval is kept in the vault and covers anything tighter.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f.Command = "phantom trust"
			if runF != nil {
				return runF(opts)
			}
			return trustRun(opts)
		},
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the pending routes as JSON and approve nothing")
	cmd.Flags().StringArrayVar(&opts.EnvFiles, "env-file", nil, "an env file exec reads (repeatable; default: the project's env_files)")
	return cmd
}

func trustRun(o *TrustOptions) error {
	f := o.F
	p, err := f.Project()
	if err != nil {
		return err
	}
	routes, pending, err := f.projectRoutes(p)
	if err != nil {
		return err
	}
	envPending, err := f.envRoutesPending(p, routes, o.EnvFiles)
	if err != nil {
		return err
	}
	pending = append(pending, envPending...)
	awsPending, err := f.awsTrustPending(p)
	if err != nil {
		return err
	}
	if o.JSON {
		out := []TrustEntry{}
		for _, pr := range pending {
			name := pr.Spec.Name
			if pr.FromEnv != "" {
				name = pr.Builtin.Name
			}
			e := TrustEntry{Route: name, Upstream: pr.Spec.Upstream, Secrets: strings.Join(pr.Spec.Secrets, ","), FromEnv: pr.FromEnv}
			if pr.Vaulted {
				e.Upstream = "" // a vaulted value: shown only on a terminal
			}
			if pr.Builtin != nil {
				e.Builtin = pr.Builtin.Upstream
				e.Secrets = strings.Join(pr.Builtin.Secrets, ",")
			}
			out = append(out, e)
		}
		if len(awsPending) > 0 {
			out = append(out, TrustEntry{Route: "[aws]", Upstream: p.Config.AWS().STSEndpoint, Secrets: strings.Join(awsPending, "; ")})
		}
		return jsonout.Write(f.IO.Out, out)
	}
	if len(pending) == 0 && len(awsPending) == 0 {
		f.IO.Successf("Every route in %s and every upstream in the env files is approved.", ConfigFile)
		return nil
	}
	if len(pending) > 0 {
		fmt.Fprintf(f.IO.ErrOut, "These routes send secrets somewhere new:\n")
		for _, pr := range pending {
			fmt.Fprintf(f.IO.ErrOut, "  %s\n", pr.describe(f.IO.CanPrompt()))
		}
	}
	if len(awsPending) > 0 {
		fmt.Fprintf(f.IO.ErrOut, "These [aws] settings hand out more than the defaults:\n")
		for _, l := range awsPending {
			fmt.Fprintf(f.IO.ErrOut, "  %s\n", l)
		}
	}
	if !f.IO.CanPrompt() {
		return exitcode.Errorf(exitcode.Refused, "approving needs an interactive terminal, so that a script or agent cannot approve a route for you; run `phantom trust` on your own terminal")
	}
	what := "Requests on these routes will carry the real values of the secrets named."
	if len(pending) == 0 {
		what = "phantom will serve AWS credentials to your commands as these settings say."
	}
	if err := f.IO.ConfirmTyped(what, "trust"); err != nil {
		return exitcode.Errorf(exitcode.Failure, "not approved (%v); nothing was changed", err)
	}
	home, err := f.Home()
	if err != nil {
		return err
	}
	specs := make([]config.RouteSpec, len(pending))
	for i, pr := range pending {
		specs[i] = pr.Spec
		f.record(p, audit.Event{Op: "route.trust", Detail: describePending(pr)})
	}
	if len(specs) > 0 {
		if err := trust.Approve(home, p.ID(), f.Now(), specs...); err != nil {
			return exitcode.Errorf(exitcode.Failure, "could not store the approval: %v", err)
		}
		f.IO.Successf("Approved %d route(s).", len(pending))
	}
	if len(awsPending) > 0 {
		if err := f.approveAWS(p); err != nil {
			return exitcode.Errorf(exitcode.Failure, "could not store the approval of the [aws] settings: %v", err)
		}
		f.IO.Successf("Approved the [aws] settings.")
	}
	return nil
}
