package config

import (
	"maps"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
)

// RouteSpec is a [routes.<name>] table: a custom route, or a change to a
// built-in one (only upstream may change a built-in route). The proxy
// refuses a route whose upstream is not the built-in one until a human
// approves it with `phantom trust`; that approval lives inside the
// encrypted vault, not here, so neither a pull request nor a process that
// can write files can approve itself.
type RouteSpec struct {
	Name         string
	Upstream     string
	Secrets      []string
	Headers      []string
	Query        []string
	BodyFields   []string
	BaseURLEnv   []string
	BaseURLSufx  string
	InjectHeader string
	InjectFormat string
	// CAFile is a PEM file of the CA certificates that sign the upstream's
	// certificate (a corporate or local CA); ForwardProxy is an http(s)
	// proxy the route's requests go through. Without them a route uses the
	// system roots and a direct connection, whatever SSL_CERT_FILE or
	// HTTPS_PROXY say (docs/security.md). Both are part of the approval.
	CAFile       string
	ForwardProxy string
	Line         int // where the table starts, for messages
	// HideUpstream: the upstream is a vaulted value (an env file's token),
	// so an approval records only its hash. Never read from TOML.
	HideUpstream bool
}

var routeKeys = []string{"upstream", "secrets", "headers", "query", "body_fields", "base_url_env", "base_url_suffix", "inject_header", "inject_format", "ca_file", "forward_proxy"}

// routeOnlyKeys are the route keys no other table has a use for ("secrets"
// is also a top-level table), for "it belongs in" hints.
var routeOnlyKeys = routeKeys[:1:1]

func decodeRoutes(ck *checker, p []string, tbl map[string]any, m *model) {
	if m.routes == nil {
		m.routes = map[string]RouteSpec{}
	}
	for _, name := range sortedKeys(tbl) {
		rp := append(slices.Clip(p), name)
		if !validRouteName(name) {
			ck.errorf(rp, "invalid route name %s: use lowercase letters, digits and - (it becomes a URL path segment)", shortQuote(name))
			continue
		}
		rt, ok := ck.table(rp, tbl[name])
		if !ok {
			continue
		}
		ck.known(rp, rt, routeKeys)
		spec := RouteSpec{Name: name, Line: ck.ix.lineOf(rp)}
		at := func(k string) []string { return append(slices.Clip(rp), k) }
		str := func(k string, dst *string) {
			if v, ok := rt[k]; ok {
				if s, ok := ck.str(at(k), v); ok {
					*dst = s
				}
			}
		}
		list := func(k string, dst *[]string, check func(string) string) {
			if v, ok := rt[k]; ok {
				kp := at(k)
				l, _ := ck.strList(kp, v, func(i int, s string) {
					if msg := check(s); msg != "" {
						ck.errAt(ck.ix.elemLine(kp, i), "routes.%s.%s entry %s %s", name, k, shortQuote(s), msg)
					}
				})
				*dst = l
			}
		}
		str("upstream", &spec.Upstream)
		str("base_url_suffix", &spec.BaseURLSufx)
		str("inject_header", &spec.InjectHeader)
		str("inject_format", &spec.InjectFormat)
		str("ca_file", &spec.CAFile)
		str("forward_proxy", &spec.ForwardProxy)
		envName := func(s string) string {
			if !ValidSecretName(s) {
				return "is not an env var name"
			}
			return ""
		}
		headerName := func(s string) string {
			if s == "" || strings.ContainsAny(s, " \t:\r\n") {
				return "is not a header name"
			}
			return ""
		}
		nonEmpty := func(s string) string {
			if s == "" {
				return "is empty"
			}
			return ""
		}
		list("secrets", &spec.Secrets, envName)
		list("headers", &spec.Headers, headerName)
		list("query", &spec.Query, nonEmpty)
		list("body_fields", &spec.BodyFields, nonEmpty)
		list("base_url_env", &spec.BaseURLEnv, envName)
		if spec.Upstream != "" {
			if msg := checkUpstream(spec.Upstream); msg != "" {
				ck.errorf(at("upstream"), "routes.%s.upstream %s", name, msg)
			}
		}
		if spec.CAFile != "" && (!filepath.IsAbs(spec.CAFile) && strings.HasPrefix(filepath.ToSlash(filepath.Clean(spec.CAFile)), "../")) {
			ck.errorf(at("ca_file"), "routes.%s.ca_file must be an absolute path or a path inside the project", name)
		}
		if spec.ForwardProxy != "" {
			if u, err := url.Parse(spec.ForwardProxy); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" && u.Path != "/" || u.RawQuery != "" {
				ck.errorf(at("forward_proxy"), "routes.%s.forward_proxy must be an http(s) proxy URL such as http://proxy.internal:3128", name)
			}
		}
		if spec.InjectFormat != "" && strings.Count(spec.InjectFormat, "%s") != 1 {
			ck.errorf(at("inject_format"), "routes.%s.inject_format must contain %%s exactly once (where the value goes)", name)
		}
		m.routes[name] = spec
	}
}

// checkUpstream accepts an https URL, or http to a loopback host (a local
// development server); it has no query or fragment.
func checkUpstream(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Host == "":
		return "must be an absolute URL such as https://api.example.com"
	case u.User != nil:
		return "must not contain credentials; they belong in the vault"
	case u.RawQuery != "" || u.Fragment != "":
		return "must not have a query or fragment"
	case u.Scheme == "https":
		return ""
	case u.Scheme == "http" && isLoopbackHost(u.Hostname()):
		return ""
	case u.Scheme == "http":
		return "must use https (plain http is accepted only for a loopback host)"
	}
	return "must be an https URL"
}

func isLoopbackHost(h string) bool {
	return h == "localhost" || h == "::1" || strings.HasPrefix(h, "127.")
}

func validRouteName(s string) bool {
	if s == "" || len(s) > 40 || s[0] == '-' || s[0] == '_' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// Routes returns the [routes.<name>] tables by name.
func (c *Config) Routes() map[string]RouteSpec {
	out := maps.Clone(c.m.routes)
	if out == nil {
		out = map[string]RouteSpec{}
	}
	for k, r := range out {
		r.Secrets = slices.Clone(r.Secrets)
		r.Headers = slices.Clone(r.Headers)
		r.Query = slices.Clone(r.Query)
		r.BodyFields = slices.Clone(r.BodyFields)
		r.BaseURLEnv = slices.Clone(r.BaseURLEnv)
		out[k] = r
	}
	return out
}

// ProxySettings is the [proxy] table; zero fields mean the proxy's defaults.
type ProxySettings struct {
	MaxBodyBytes int64
	RatePerSec   float64 // requests per second per secret; < 0 turns the limit off
	Burst        int
	IdleTimeout  int64 // seconds a stream may be silent before it is cut
}

var proxyKeys = []string{"max_body_bytes", "rate_per_second", "burst", "idle_timeout_seconds"}

func decodeProxy(ck *checker, p []string, tbl map[string]any, m *model) {
	ck.known(p, tbl, proxyKeys)
	at := func(k string) []string { return append(slices.Clip(p), k) }
	posInt := func(k string, dst *int64) {
		v, ok := tbl[k]
		if !ok {
			return
		}
		n, ok := v.(int64)
		if !ok || n <= 0 {
			ck.errorf(at(k), "proxy.%s must be a positive integer", k)
			return
		}
		*dst = n
	}
	posInt("max_body_bytes", &m.proxy.MaxBodyBytes)
	posInt("idle_timeout_seconds", &m.proxy.IdleTimeout)
	var burst int64
	posInt("burst", &burst)
	m.proxy.Burst = int(burst)
	if v, ok := tbl["rate_per_second"]; ok {
		switch n := v.(type) {
		case int64:
			m.proxy.RatePerSec = float64(n)
		case float64:
			m.proxy.RatePerSec = n
		default:
			ck.errorf(at("rate_per_second"), "proxy.rate_per_second must be a number (-1 turns the limit off)")
		}
		if m.proxy.RatePerSec == 0 {
			ck.errorf(at("rate_per_second"), "proxy.rate_per_second must not be 0; use -1 to turn the limit off")
		}
	}
}

// Proxy returns the [proxy] settings.
func (c *Config) Proxy() ProxySettings { return c.m.proxy }
