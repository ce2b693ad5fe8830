package cli

import (
	"fmt"
	"slices"
	"strings"

	"phantomstack.dev/phantom/internal/catalog"
	"phantomstack.dev/phantom/internal/config"
	"phantomstack.dev/phantom/internal/trust"
	"phantomstack.dev/shared/exitcode"
)

// pendingRoute is a route from .phantom.toml that needs `phantom trust`.
type pendingRoute struct {
	Spec    config.RouteSpec
	Builtin *catalog.Route // the built-in route it changes, if any
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
func describePending(pr pendingRoute) string {
	s := pr.Spec
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
