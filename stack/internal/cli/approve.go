package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"phantomstack.dev/providers/vercel"
	"phantomstack.dev/stack/internal/phantomctl"
)

// routedAPIs are the providers whose API phantom's proxy carries on a
// built-in route of the same name (docs/phantom.md, the route table), with
// the stack variable that points that API somewhere else (a local sandbox).
// stack's own calls follow the variable; so must phantom's route, or doctor
// and env push (which go through phantom) would reach the real API.
var routedAPIs = map[string]string{
	"openai":    "STACK_OPENAI_API_URL",
	"anthropic": "STACK_ANTHROPIC_API_URL",
	"stripe":    "STACK_STRIPE_API_URL",
	"github":    "STACK_GITHUB_API_URL",
	"resend":    "STACK_RESEND_API_URL",
	"vercel":    vercel.BaseURLEnv,
}

// routeOverrides writes `[routes.P] upstream = <override>` into .phantom.toml
// for each provider in provs whose STACK_<P>_API_URL is set and that has no
// [routes.P] table yet. phantom then holds the route until a person approves
// it (approveRoutes). A table the user wrote is never changed: a different
// upstream there is reported, not overwritten.
func (f *Factory) routeOverrides(pc *phantomctl.Client, provs ...string) {
	slices.Sort(provs)
	for _, p := range slices.Compact(provs) {
		env, ok := routedAPIs[p]
		if !ok {
			continue
		}
		want := strings.TrimSpace(f.Env(env))
		if want == "" {
			continue
		}
		have, exists, err := pc.RouteUpstream(p)
		switch {
		case err != nil:
			f.IO.Warnf("%s is set, but stack could not read phantom's routes: %v", env, err)
		case !exists:
			if err := pc.AddRouteUpstream(p, want, env); err != nil {
				f.IO.Warnf("%s is set, but stack could not point phantom's %s route there: %v\nAdd to .phantom.toml:\n  [routes.%s]\n  upstream = %q", env, p, err, p, want)
				continue
			}
			f.IO.Infof("%s is set, so phantom's %s route goes there too: added [routes.%s] upstream = %q to .phantom.toml.", env, p, p, want)
		case have != want:
			if have == "" {
				have = "the provider's own API"
			}
			f.IO.Warnf("%s points at %s, but [routes.%s] in .phantom.toml sends %s's keys to %s; stack leaves .phantom.toml as it is. Change its upstream there if phantom should follow.", env, want, p, p, have)
		}
	}
}

// approveAfterAdd is the last step of stack add: the overrides of the
// providers just added reach phantom's routes, and what
// phantom now waits for is approved on the terminal, or the command to do
// it is printed. The add itself has succeeded either way.
func (f *Factory) approveAfterAdd(ctx context.Context, jsonOut bool, provs ...string) {
	pc, err := f.phantom(ctx)
	if err != nil {
		return // addOne used it; it cannot fail here
	}
	f.routeOverrides(pc, provs...)
	f.approveRoutes(ctx, pc, jsonOut)
}

// approveRoutes asks for the approvals phantom waits for, so that stack exec
// and doctor do not stop (exit 5) right after an add. What is pending comes
// from `phantom trust --json`; on a terminal stack explains it and runs
// `phantom trust` attached to the terminal, where phantom itself shows the
// routes and the person types "trust" (approvals are phantom's, in the
// vault). Without a terminal nobody can approve, so stack prints the command.
// jsonOut keeps stdout for stack's JSON: phantom's output goes to stderr.
func (f *Factory) approveRoutes(ctx context.Context, pc *phantomctl.Client, jsonOut bool) {
	if !pc.HasProject() {
		return // no .phantom.toml: no route to approve, and phantom says so itself
	}
	p, err := pc.Pending(ctx)
	if err != nil {
		f.IO.Warnf("stack could not ask phantom whether routes wait for approval: %v\nIf stack exec stops with exit 5, run: phantom trust", err)
		return
	}
	if p.Empty() {
		return
	}
	var b strings.Builder
	b.WriteString("phantom will not run your commands (stack exec, stack doctor) until you approve where it sends these secrets:")
	for _, r := range p.Routes {
		up := r.Upstream
		if up == "" {
			up = "(a vaulted value)"
		}
		fmt.Fprintf(&b, "\n  route %s → %s", r.Route, up)
		if r.FromEnv != "" {
			fmt.Fprintf(&b, " (from %s)", r.FromEnv)
		}
	}
	for _, s := range p.Settings {
		fmt.Fprintf(&b, "\n  setting %s", s)
	}
	b.WriteString("\nAn upstream other than the provider's own (a local sandbox, a STACK_*_API_URL override, a project URL the keys do not name) could be anyone's server, so phantom asks a person, on a terminal.")
	f.IO.Infof("%s", b.String())
	if !f.IO.CanPrompt() {
		f.IO.Warnf("No terminal here to approve on. On your own terminal, in this project, run: phantom trust")
		return
	}
	f.IO.Infof("Running phantom trust so you can approve it now:")
	out := f.IO.Out
	if jsonOut {
		out = f.IO.ErrOut
	}
	if err := pc.TrustOnTerminal(ctx, f.IO.In, out, f.IO.ErrOut); err != nil {
		f.IO.Warnf("Not approved. stack exec and stack doctor stop (exit 5) until you run: phantom trust")
	}
}
