package cli

import (
	"fmt"
	"slices"
	"strings"

	"phantomstack.dev/phantom/internal/catalog"
	"phantomstack.dev/phantom/internal/config"
	"phantomstack.dev/phantom/internal/trust"
	"phantomstack.dev/phantom/internal/vault"
	"phantomstack.dev/shared/exitcode"
)

// pendingRoute is a route from .phantom.toml, or a built-in route's
// upstream read from the env files, that needs `phantom trust`.
type pendingRoute struct {
	Spec    config.RouteSpec
	Builtin *catalog.Route // the built-in route it changes, if any
	// FromEnv is the env var the upstream came from (SUPABASE_URL); Vaulted
	// says its value is a vaulted secret, shown only on a terminal.
	FromEnv string
	Vaulted bool
}

// envUpstreamPending says whether up, the upstream route r read from its
// UpstreamEnv variable, needs approval: it does unless it has the route's
// usual shape or this machine approved it. An agent can edit an env file
// as easily as .phantom.toml, and the supabase route carries the
// service-role key to wherever SUPABASE_URL points.
func envUpstreamPending(home, projectID string, r catalog.Route, up string, vaulted bool) (*pendingRoute, error) {
	up = strings.TrimRight(up, "/")
	if r.UsualUpstream(up) {
		return nil, nil
	}
	spec := config.RouteSpec{Name: trust.EnvRouteName(r.Name, r.UpstreamEnv), Upstream: up, HideUpstream: vaulted}
	ok, err := trust.Approved(home, projectID, spec)
	if err != nil || ok {
		return nil, err
	}
	b := r
	return &pendingRoute{Spec: spec, Builtin: &b, FromEnv: r.UpstreamEnv, Vaulted: vaulted}, nil
}

// envRoutesPending reads the env files (the project's, or paths) the way
// exec does and returns the env-derived upstreams that need approval. The
// vault is opened only when an upstream is a phm token.
func (f *Factory) envRoutesPending(p *Project, routes []catalog.Route, paths []string) ([]pendingRoute, error) {
	home, err := f.Home()
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		paths = p.Config.EnvFiles()
	}
	vars := map[string]string{}
	for _, path := range paths {
		e, err := loadEnvFile(p, path)
		if err != nil {
			return nil, err
		}
		for _, ent := range e.File.Entries() {
			vars[ent.Key] = ent.Value
		}
	}
	var byToken map[string]string
	var pl *vault.Payload
	var out []pendingRoute
	for _, r := range routes {
		if r.UpstreamEnv == "" || vars[r.UpstreamEnv] == "" {
			continue
		}
		up, vaulted := vars[r.UpstreamEnv], false
		if isToken(up) {
			if pl == nil {
				v, err := f.OpenVault(p, false)
				if err != nil {
					return nil, err
				}
				pl, byToken = v.Payload(), tokenIndex(v.Payload())
			}
			n, ok := byToken[up]
			if !ok {
				continue // exec does not mount it either
			}
			up, vaulted = string(pl.Secrets[n].Value), true
		}
		pr, err := envUpstreamPending(home, p.ID(), r, up, vaulted)
		if err != nil {
			return nil, err
		}
		if pr != nil {
			out = append(out, *pr)
		}
	}
	return out, nil
}

// routeFromSpec turns a custom [routes.<name>] table into a route.
func routeFromSpec(s config.RouteSpec) catalog.Route {
	r := catalog.Route{Name: s.Name, Upstream: strings.TrimRight(s.Upstream, "/"), Secrets: s.Secrets,
		Headers: s.Headers, Query: s.Query, BodyFields: s.BodyFields, Custom: true}
	if len(r.Headers) == 0 {
		r.Headers = []string{"Authorization"}
	}
	for _, v := range s.BaseURLEnv {
		r.BaseURLVars = append(r.BaseURLVars, catalog.BaseURLVar{Name: v, Suffix: s.BaseURLSufx})
	}
	if s.InjectHeader != "" {
		format := s.InjectFormat
		if format == "" {
			format = "%s"
		}
		r.Inject = &catalog.Inject{Header: s.InjectHeader, Format: format}
	}
	return r
}

// projectRoutes is the built-in catalog with the project's routes applied,
// and the routes that still need a human's approval.
func (f *Factory) projectRoutes(p *Project) ([]catalog.Route, []pendingRoute, error) {
	home, err := f.Home()
	if err != nil {
		return nil, nil, err
	}
	routes := catalog.Routes()
	var pending []pendingRoute
	specs := p.Config.Routes()
	names := make([]string, 0, len(specs))
	for n := range specs {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		spec := specs[name]
		i := slices.IndexFunc(routes, func(r catalog.Route) bool { return r.Name == name })
		if i >= 0 {
			b := routes[i]
			if len(spec.Secrets)+len(spec.Headers)+len(spec.Query)+len(spec.BodyFields)+len(spec.BaseURLEnv) > 0 || spec.InjectHeader != "" || spec.InjectFormat != "" || spec.BaseURLSufx != "" {
				return nil, nil, exitcode.Errorf(exitcode.Failure, "%s:%d: [routes.%s] changes the built-in %s route: only its upstream can be changed; give a route with other settings a name of its own", ConfigFile, spec.Line, name, name)
			}
			if spec.Upstream == "" || strings.TrimRight(spec.Upstream, "/") == b.Upstream {
				continue
			}
			ok, err := trust.Approved(home, p.ID(), spec)
			if err != nil {
				return nil, nil, err
			}
			if !ok {
				pending = append(pending, pendingRoute{Spec: spec, Builtin: &b})
				continue
			}
			b.Upstream = strings.TrimRight(spec.Upstream, "/")
			b.Custom = true
			routes[i] = b
			continue
		}
		if spec.Upstream == "" || len(spec.Secrets) == 0 {
			return nil, nil, exitcode.Errorf(exitcode.Failure, "%s:%d: [routes.%s] needs an upstream and the secrets it may carry (upstream = \"https://…\", secrets = [\"NAME\"])", ConfigFile, spec.Line, name)
		}
		ok, err := trust.Approved(home, p.ID(), spec)
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			pending = append(pending, pendingRoute{Spec: spec})
			continue
		}
		routes = append(routes, routeFromSpec(spec))
	}
	return routes, pending, nil
}

// describePending says what a pending route would change, for exec's
// refusal and trust's prompt.
func describePending(pr pendingRoute) string { return pr.describe(false) }

// describe names the route, where it would send secrets and which; a
// vaulted upstream is shown only when show is set (a confirmed terminal).
func (pr pendingRoute) describe(show bool) string {
	s := pr.Spec
	if pr.FromEnv != "" {
		up := s.Upstream
		if pr.Vaulted && !show {
			up = "(the vaulted value of " + pr.FromEnv + ")"
		}
		return fmt.Sprintf("route %s: upstream %s from %s in the env files, not a %s URL (carries %s)", pr.Builtin.Name, up, pr.FromEnv, pr.Builtin.Upstream, strings.Join(pr.Builtin.Secrets, ", "))
	}
	if pr.Builtin != nil {
		return fmt.Sprintf("route %s: upstream %s → %s (carries %s)", s.Name, pr.Builtin.Upstream, s.Upstream, strings.Join(pr.Builtin.Secrets, ", "))
	}
	return fmt.Sprintf("route %s (new): upstream %s, carries %s", s.Name, s.Upstream, strings.Join(s.Secrets, ", "))
}

// routeDefaultPolicy is the default policy with the project's routes known:
// a secret a custom route carries is proxied like a built-in one.
func routeDefaultPolicy(routes []catalog.Route, name string) string {
	if catalog.IsAWSCredential(name) {
		return catalog.DefaultPolicy(name)
	}
	for _, r := range routes {
		if slices.Contains(r.Secrets, name) {
			return catalog.PolicyProxy
		}
	}
	return catalog.PolicyInject
}
