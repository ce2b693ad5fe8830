package cli

import (
	"crypto/x509"
	"fmt"
	"maps"
	"path/filepath"
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
	Spec config.RouteSpec
	// Name is the approval name (the route's, or route/ENV_VAR for an
	// upstream from the env files) and Route the route as it would be
	// mounted: what the approval's hash covers.
	Name    string
	Route   catalog.Route
	Builtin *catalog.Route // the built-in route it changes, if any
	// FromEnv is the env var the upstream came from (SUPABASE_URL); Vaulted
	// says its value is a vaulted secret, shown only on a terminal.
	FromEnv string
	Vaulted bool
	// Reason, when set, says why a usual-looking upstream still needs an
	// approval (a Supabase project other than the one the keys belong to).
	Reason string
}

// envUpstreamPending says whether up, the upstream route r read from its
// UpstreamEnv variable, needs approval: it does unless it has the route's
// usual shape and points at the project the route's keys belong to
// (supabaseRefMismatch), or a human approved it. An agent can edit an env
// file as easily as .phantom.toml, and the supabase route carries the
// service-role key to wherever SUPABASE_URL points.
func envUpstreamPending(p *Project, pl *vault.Payload, r catalog.Route, up string, vaulted bool) *pendingRoute {
	up = strings.TrimRight(up, "/")
	eff := r
	eff.Upstream = up
	name := trust.EnvRouteName(r.Name, r.UpstreamEnv)
	reason := ""
	if r.UsualUpstream(up) {
		if reason = upstreamRefMismatch(p, pl, r, up); reason == "" {
			return nil
		}
	}
	if trust.Approved(pl, name, eff) {
		return nil
	}
	b := r
	return &pendingRoute{Spec: config.RouteSpec{Name: name, Upstream: up, HideUpstream: vaulted}, Name: name, Route: eff,
		Builtin: &b, FromEnv: r.UpstreamEnv, Vaulted: vaulted, Reason: reason}
}

// envRoutesPending reads the env files (the project's, or paths) the way
// exec does and returns the env-derived upstreams that need approval.
func (f *Factory) envRoutesPending(p *Project, pl *vault.Payload, routes []catalog.Route, paths []string) ([]pendingRoute, error) {
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
	byToken := tokenIndex(pl)
	var out []pendingRoute
	for _, r := range routes {
		if r.UpstreamEnv == "" || vars[r.UpstreamEnv] == "" {
			continue
		}
		up, vaulted := vars[r.UpstreamEnv], false
		if isToken(up) {
			n, ok := byToken[up]
			if !ok {
				continue // exec does not mount it either
			}
			up, vaulted = string(pl.Secrets[n].Value), true
		}
		if pr := envUpstreamPending(p, pl, r, up, vaulted); pr != nil {
			out = append(out, *pr)
		}
	}
	return out, nil
}

// maxCAFile bounds a route's ca_file (a bundle of a few certificates).
const maxCAFile = 1 << 20

// routeFromSpec turns a custom [routes.<name>] table into a route.
func routeFromSpec(s config.RouteSpec) catalog.Route {
	r := catalog.Route{Name: s.Name, Upstream: strings.TrimRight(s.Upstream, "/"), Secrets: s.Secrets,
		Headers: s.Headers, Query: s.Query, BodyFields: s.BodyFields, Custom: true, ForwardProxy: s.ForwardProxy}
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

// loadCA reads a route's ca_file: the approval covers its content, so a
// file swapped after approval makes the route pending again.
func loadCA(p *Project, s config.RouteSpec) ([]byte, error) {
	if s.CAFile == "" {
		return nil, nil
	}
	path := p.Abs(filepath.FromSlash(s.CAFile))
	b, err := readBounded(path, maxCAFile)
	if err != nil {
		return nil, exitcode.Errorf(exitcode.Failure, "%s:%d: [routes.%s] ca_file %s cannot be read: %v\nFix the path, or remove ca_file to use the system's certificate authorities.", ConfigFile, s.Line, s.Name, s.CAFile, rootCause(err))
	}
	if !x509.NewCertPool().AppendCertsFromPEM(b) {
		return nil, exitcode.Errorf(exitcode.Failure, "%s:%d: [routes.%s] ca_file %s holds no PEM certificate", ConfigFile, s.Line, s.Name, s.CAFile)
	}
	return b, nil
}

// projectRoutes is the built-in catalog with the project's routes applied,
// and the routes that still need a human's approval. pl holds the
// approvals; nil means none (every changed route is pending).
func (f *Factory) projectRoutes(p *Project, pl *vault.Payload) ([]catalog.Route, []pendingRoute, error) {
	routes := catalog.Routes()
	var pending []pendingRoute
	specs := p.Config.Routes()
	for _, name := range slices.Sorted(maps.Keys(specs)) {
		spec := specs[name]
		ca, err := loadCA(p, spec)
		if err != nil {
			return nil, nil, err
		}
		i := slices.IndexFunc(routes, func(r catalog.Route) bool { return r.Name == name })
		if i >= 0 {
			b := routes[i]
			if len(spec.Secrets)+len(spec.Headers)+len(spec.Query)+len(spec.BodyFields)+len(spec.BaseURLEnv) > 0 || spec.InjectHeader != "" || spec.InjectFormat != "" || spec.BaseURLSufx != "" {
				return nil, nil, exitcode.Errorf(exitcode.Failure, "%s:%d: [routes.%s] changes the built-in %s route: only its upstream, ca_file and forward_proxy can be changed; give a route with other settings a name of its own", ConfigFile, spec.Line, name, name)
			}
			eff := b
			if spec.Upstream != "" {
				eff.Upstream = strings.TrimRight(spec.Upstream, "/")
			}
			eff.CAPEM, eff.ForwardProxy = ca, spec.ForwardProxy
			if eff.Upstream == b.Upstream && eff.CAPEM == nil && eff.ForwardProxy == "" {
				continue
			}
			if b.UpstreamEnv != "" && spec.Upstream == "" {
				// ca_file / forward_proxy for an upstream the env files give:
				// applied, and approved, with that upstream (envUpstreamPending).
				b.CAPEM, b.ForwardProxy = ca, spec.ForwardProxy
				routes[i] = b
				continue
			}
			if !trust.Approved(pl, name, eff) {
				pending = append(pending, pendingRoute{Spec: spec, Name: name, Route: eff, Builtin: &b})
				continue
			}
			eff.Custom = true
			eff.UpstreamEnv = ""
			routes[i] = eff
			continue
		}
		if spec.Upstream == "" || len(spec.Secrets) == 0 {
			return nil, nil, exitcode.Errorf(exitcode.Failure, "%s:%d: [routes.%s] needs an upstream and the secrets it may carry (upstream = \"https://…\", secrets = [\"NAME\"])", ConfigFile, spec.Line, name)
		}
		r := routeFromSpec(spec)
		r.CAPEM = ca
		if !trust.Approved(pl, name, r) {
			pending = append(pending, pendingRoute{Spec: spec, Name: name, Route: r})
			continue
		}
		routes = append(routes, r)
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
		if pr.Reason != "" {
			return fmt.Sprintf("route %s: upstream %s from %s in the env files: %s (carries %s)", pr.Builtin.Name, up, pr.FromEnv, pr.Reason, strings.Join(pr.Builtin.Secrets, ", "))
		}
		return fmt.Sprintf("route %s: upstream %s from %s in the env files, not a %s URL (carries %s)", pr.Builtin.Name, up, pr.FromEnv, pr.Builtin.Upstream, strings.Join(pr.Builtin.Secrets, ", "))
	}
	extra := ""
	if s.CAFile != "" {
		extra += ", trusting the CA certificates in " + s.CAFile
	}
	if s.ForwardProxy != "" {
		extra += ", through the proxy " + s.ForwardProxy
	}
	if pr.Builtin != nil {
		return fmt.Sprintf("route %s: upstream %s → %s%s (carries %s)", s.Name, pr.Builtin.Upstream, pr.Route.Upstream, extra, strings.Join(pr.Builtin.Secrets, ", "))
	}
	return fmt.Sprintf("route %s (new): upstream %s%s, carries %s", s.Name, s.Upstream, extra, strings.Join(s.Secrets, ", "))
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
