package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"phantomstack.dev/phantom/internal/audit"
	"phantomstack.dev/phantom/internal/catalog"
	"phantomstack.dev/phantom/internal/config"
	"phantomstack.dev/phantom/internal/trust"
	"phantomstack.dev/phantom/internal/vault"
	"phantomstack.dev/shared/exitcode"
	"phantomstack.dev/shared/jsonout"
)

// TrustOptions configures `phantom trust`.
type TrustOptions struct {
	F        *Factory
	JSON     bool
	EnvFiles []string // the env files exec will read (default: the project's)
}

// TrustJSON is `phantom trust --json`: what is pending approval.
type TrustJSON struct {
	Routes   []TrustEntry `json:"routes"`
	Settings []string     `json:"settings"` // .phantom.toml settings that loosen protection
}

// TrustEntry is one route in `phantom trust --json`.
type TrustEntry struct {
	Route        string `json:"route"`
	Upstream     string `json:"upstream"`
	Builtin      string `json:"builtin_upstream,omitempty"`
	Secrets      string `json:"secrets"`
	FromEnv      string `json:"from_env,omitempty"` // the env var the upstream came from
	CAFile       string `json:"ca_file,omitempty"`
	ForwardProxy string `json:"forward_proxy,omitempty"`
	Reason       string `json:"reason,omitempty"`
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
			return trustRun(cmd.Context(), opts)
		},
	}
	jsonout.AddFlag(cmd, &opts.JSON, "print the pending routes as JSON and approve nothing")
	cmd.Flags().StringArrayVar(&opts.EnvFiles, "env-file", nil, "an env file exec reads (repeatable; default: the project's env_files)")
	return cmd
}

func trustRun(ctx context.Context, o *TrustOptions) error {
	f := o.F
	p, err := f.Project()
	if err != nil {
		return err
	}
	v, err := f.OpenVault(ctx, p, false)
	if err != nil {
		return err
	}
	defer v.Close()
	routes, pending, g, err := f.pendingApprovals(p, v.Payload(), o.EnvFiles)
	if err != nil {
		return err
	}
	if o.JSON {
		out := TrustJSON{Routes: []TrustEntry{}, Settings: g.weaker}
		if out.Settings == nil {
			out.Settings = []string{}
		}
		for _, pr := range pending {
			name := pr.Spec.Name
			if pr.FromEnv != "" {
				name = pr.Builtin.Name
			}
			e := TrustEntry{Route: name, Upstream: pr.Route.Upstream, Secrets: strings.Join(pr.Route.Secrets, ","), FromEnv: pr.FromEnv,
				CAFile: pr.Spec.CAFile, ForwardProxy: pr.Spec.ForwardProxy, Reason: pr.Reason}
			if pr.Vaulted {
				e.Upstream = "" // a vaulted value: shown only on a terminal
			}
			if pr.Builtin != nil {
				e.Builtin = pr.Builtin.Upstream
			}
			out.Routes = append(out.Routes, e)
		}
		if len(g.aws) > 0 {
			out.Routes = append(out.Routes, TrustEntry{Route: "[aws]", Upstream: p.Config.AWS().STSEndpoint, Secrets: strings.Join(g.aws, "; ")})
		}
		return jsonout.Write(f.IO.Out, out)
	}
	if len(pending) == 0 && len(g.weaker) == 0 && len(g.aws) == 0 {
		f.IO.Successf("Every route in %s, every upstream in the env files and every setting is approved.", ConfigFile)
		return f.foldTightening(p, v, routes)
	}
	if len(pending) > 0 {
		fmt.Fprintf(f.IO.ErrOut, "These routes send secrets somewhere new:\n")
		for _, pr := range pending {
			fmt.Fprintf(f.IO.ErrOut, "  %s\n", pr.describe(f.IO.CanPrompt()))
		}
	}
	if len(g.weaker) > 0 {
		fmt.Fprintf(f.IO.ErrOut, "These settings in %s hand out more than before:\n  %s\n", ConfigFile, strings.Join(g.weaker, "\n  "))
	}
	if len(g.aws) > 0 {
		fmt.Fprintf(f.IO.ErrOut, "These [aws] settings hand out more than the defaults:\n  %s\n", strings.Join(g.aws, "\n  "))
	}
	if !f.IO.CanPrompt() {
		f.record(p, audit.Event{Op: "trust.refused", Detail: fmt.Sprintf("no terminal; %d route(s), %d setting(s) pending", len(pending), len(g.weaker)+len(g.aws))})
		return exitcode.Errorf(exitcode.Refused, "approving needs an interactive terminal, so that a script or agent cannot approve a change for you; run `phantom trust` on your own terminal")
	}
	var what []string
	if len(pending) > 0 {
		what = append(what, "Requests on these routes will carry the real values of the secrets named.")
	}
	if len(g.weaker) > 0 {
		what = append(what, "The settings will apply to every command phantom runs for this project.")
	}
	if len(g.aws) > 0 {
		what = append(what, "phantom will serve AWS credentials to your commands as these settings say.")
	}
	if err := f.IO.ConfirmTyped(ctx, strings.Join(what, " "), "trust"); err != nil {
		return exitcode.Errorf(exitcode.Failure, "not approved (%v); nothing was changed", err)
	}
	if err := f.storeApprovals(p, v, pending, g); err != nil {
		return err
	}
	f.IO.Successf("Approved %d route(s) and %d setting(s).", len(pending), len(g.weaker))
	if len(g.aws) > 0 {
		f.IO.Successf("Approved the [aws] settings.")
	}
	return nil
}

// pendingApprovals is what phantom trust would approve: the routes and env
// upstreams that are not approved as they are, and the guard's view of the
// settings.
func (f *Factory) pendingApprovals(p *Project, pl *vault.Payload, envFiles []string) ([]catalog.Route, []pendingRoute, guardState, error) {
	routes, pending, err := f.projectRoutes(p, pl)
	if err != nil {
		return nil, nil, guardState{}, err
	}
	envPending, err := f.envRoutesPending(p, pl, routes, envFiles)
	if err != nil {
		return nil, nil, guardState{}, err
	}
	g, err := f.guard(p, pl, routes)
	if err != nil {
		// Damaged stored settings: approving the current ones replaces them.
		g = guardState{current: currentBaseline(p, pl, routes), weaker: []string{"the stored approval of the settings (damaged)"}}
	}
	if s := p.Config.AWS(); !awsApproved(pl, s) {
		g.aws = s.NeedsApproval()
	}
	return routes, append(pending, envPending...), g, nil
}

// storeApprovals writes the approvals into the vault, with one audit event
// each (recorded before the vault is replaced, so an approval is never
// unrecorded).
func (f *Factory) storeApprovals(p *Project, v *vault.Vault, pending []pendingRoute, g guardState) error {
	var events []audit.Event
	for _, pr := range pending {
		events = append(events, audit.Event{Op: "route.trust", Detail: withChain(describePending(pr))})
	}
	if len(g.weaker) > 0 {
		e := guardEvent(g)
		e.Detail = withChain(e.Detail)
		events = append(events, e)
	}
	now := f.Now()
	var aws *vault.Approval
	if len(g.aws) > 0 {
		aws = awsApproval(p.Config.AWS(), now)
		events = append(events, audit.Event{Op: "aws.trust", Detail: withChain(aws.Detail)})
	}
	err := v.Update(func(pl *vault.Payload) error {
		for _, pr := range pending {
			trust.ApproveRoute(pl, now, pr.Name, pr.Route, describePending(pr))
		}
		trust.StoreBaseline(pl, now, g.current, "approved with phantom trust")
		if aws != nil {
			pl.Approvals[config.AWSApprovalKey] = aws
		}
		return nil
	}, f.recorder(p, events...))
	if err != nil {
		return exitcode.Errorf(exitcode.Failure, "could not store the approval: %v", err)
	}
	return nil
}
