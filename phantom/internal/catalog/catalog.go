// Package catalog lists the built-in routes: the APIs whose keys phantom can
// keep out of the child process entirely by putting them on the wire in its
// proxy. A secret owned by a route defaults to the "proxy" policy; every other
// secret defaults to "inject".
//
// Each route says where its upstream is, which environment variables point
// the API's official SDK at the proxy (spelled exactly as that SDK reads
// them: OpenAI's base URL ends in /v1, Anthropic's does not), which request
// headers and query parameters carry its credentials, and which secrets may
// travel on it. docs/phantom.md lists the same facts with their sources.
package catalog

import (
	"net/url"
	"sort"
	"strings"
)

// BaseURLVar is an environment variable the child gets, pointing at the
// route's mount on the proxy plus Suffix (the path the SDK expects to be
// part of its base URL).
type BaseURLVar struct {
	Name   string
	Suffix string
}

// Inject is the header the proxy sets from the route's owning secret when the
// client sent no credential of its own.
type Inject struct {
	Header string
	Format string // "%s" is replaced by the value, e.g. "Bearer %s"
}

// Route is one upstream API.
type Route struct {
	Name string
	// Upstream is the base URL requests are forwarded to. When UpstreamEnv is
	// set the upstream is instead read from that variable of the project's
	// env files (Supabase: each project has its own host); Upstream is then
	// only the shape it must have, for docs.
	Upstream    string
	UpstreamEnv string
	// UpstreamHost is, for an UpstreamEnv route, the host shape an upstream
	// from the env files may have without a person's approval: "*.supabase.co"
	// is one label under supabase.co, https, no port, path or credentials.
	// Anything else is approved with phantom trust like a changed route: env
	// files are easy to edit, and the route carries a service-role key.
	UpstreamHost string
	BaseURLVars  []BaseURLVar
	// Secrets are the env var names whose values this route may put on the
	// wire. The first is the owner used for Inject.
	Secrets []string
	// Headers carry credentials: a phm token in one of them is replaced by
	// its value. A token in any other header is forwarded as it is.
	Headers []string
	// Query parameters that carry credentials (Supabase realtime's apikey,
	// Gemini's key).
	Query []string
	// BodyFields are JSON or form fields in which a token is replaced
	// (Vercel's env-var upsert carries a value to store upstream).
	BodyFields []string
	Inject     *Inject
	// Custom is true for a route defined in .phantom.toml.
	Custom bool
	// CAPEM, when set, is the only set of roots the route's upstream
	// certificate may chain to; ForwardProxy, when set, is the proxy its
	// requests go through. Both come from an approved [routes.NAME] table;
	// without them the route uses the system roots and connects directly.
	CAPEM        []byte
	ForwardProxy string
	// UpstreamVaulted: Upstream came from a vaulted UpstreamEnv value, so
	// logs name it by hash only.
	UpstreamVaulted bool
}

// UsualUpstream reports whether up, an upstream read from the env files,
// has the route's usual shape (UpstreamHost), so it needs no approval.
func (r Route) UsualUpstream(up string) bool {
	suffix, ok := strings.CutPrefix(r.UpstreamHost, "*.")
	if !ok || suffix == "" {
		return false
	}
	u, err := url.Parse(strings.TrimRight(up, "/"))
	if err != nil || u.Scheme != "https" || u.User != nil || u.Port() != "" || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return false
	}
	label, ok := strings.CutSuffix(strings.ToLower(u.Host), "."+suffix)
	if !ok || label == "" || len(label) > 63 {
		return false
	}
	for _, c := range label {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false // no dots (one label only), nothing exotic
		}
	}
	return true
}

// Owner is the secret Inject uses.
func (r Route) Owner() string {
	if len(r.Secrets) == 0 {
		return ""
	}
	return r.Secrets[0]
}

var builtin = []Route{
	{
		// openai-node and openai-python read OPENAI_BASE_URL, default
		// https://api.openai.com/v1, and send Authorization: Bearer.
		Name: "openai", Upstream: "https://api.openai.com",
		BaseURLVars: []BaseURLVar{{Name: "OPENAI_BASE_URL", Suffix: "/v1"}},
		Secrets:     []string{"OPENAI_API_KEY"},
		Headers:     []string{"Authorization"},
		Inject:      &Inject{Header: "Authorization", Format: "Bearer %s"},
	},
	{
		// @anthropic-ai/sdk reads ANTHROPIC_BASE_URL, default
		// https://api.anthropic.com (no /v1). SDK 0.x sent the API key in
		// x-api-key; 1.x sends Authorization: Bearer (as for an
		// ANTHROPIC_AUTH_TOKEN). Both are credential headers here; injection
		// uses x-api-key, which the API accepts from every client.
		Name: "anthropic", Upstream: "https://api.anthropic.com",
		BaseURLVars: []BaseURLVar{{Name: "ANTHROPIC_BASE_URL"}},
		Secrets:     []string{"ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"},
		Headers:     []string{"X-Api-Key", "Authorization"},
		Inject:      &Inject{Header: "X-Api-Key", Format: "%s"},
	},
	{
		// stripe-node takes host/port/protocol options, not an env var:
		// STRIPE_BASE_URL is phantom's, for the one line of client setup
		// docs/phantom.md shows. Stripe uses Bearer (or Basic) auth.
		Name: "stripe", Upstream: "https://api.stripe.com",
		BaseURLVars: []BaseURLVar{{Name: "STRIPE_BASE_URL"}},
		Secrets:     []string{"STRIPE_SECRET_KEY", "STRIPE_API_KEY"},
		Headers:     []string{"Authorization"},
		Inject:      &Inject{Header: "Authorization", Format: "Bearer %s"},
	},
	{
		// supabase-js is given the project URL by the app (SUPABASE_URL),
		// so the child's SUPABASE_URL points at the proxy and the upstream
		// is the project's own URL. Keys travel in apikey and Authorization;
		// realtime (WebSocket) sends apikey as a query parameter.
		Name: "supabase", Upstream: "https://<ref>.supabase.co", UpstreamEnv: "SUPABASE_URL", UpstreamHost: "*.supabase.co",
		BaseURLVars: []BaseURLVar{{Name: "SUPABASE_URL"}},
		Secrets:     []string{"SUPABASE_SERVICE_ROLE_KEY", "SUPABASE_ANON_KEY", "SUPABASE_SECRET_KEY", "SUPABASE_PUBLISHABLE_KEY"},
		Headers:     []string{"Apikey", "Authorization"},
		Query:       []string{"apikey"},
	},
	{
		// The Vercel REST API: Bearer token. An env-var upsert body carries
		// the value to store in its "value" field.
		Name: "vercel", Upstream: "https://api.vercel.com",
		BaseURLVars: []BaseURLVar{{Name: "VERCEL_BASE_URL"}},
		Secrets:     []string{"VERCEL_TOKEN"},
		Headers:     []string{"Authorization"},
		BodyFields:  []string{"value"},
		Inject:      &Inject{Header: "Authorization", Format: "Bearer %s"},
	},
	{
		// GITHUB_API_URL is what GitHub Actions sets and @actions/github and
		// many tools read; Octokit takes baseUrl from the app.
		Name: "github", Upstream: "https://api.github.com",
		BaseURLVars: []BaseURLVar{{Name: "GITHUB_API_URL"}},
		Secrets:     []string{"GITHUB_TOKEN", "GH_TOKEN"},
		Headers:     []string{"Authorization"},
		Inject:      &Inject{Header: "Authorization", Format: "Bearer %s"},
	},
	{
		// resend-node reads RESEND_BASE_URL, default https://api.resend.com.
		Name: "resend", Upstream: "https://api.resend.com",
		BaseURLVars: []BaseURLVar{{Name: "RESEND_BASE_URL"}},
		Secrets:     []string{"RESEND_API_KEY"},
		Headers:     []string{"Authorization"},
		Inject:      &Inject{Header: "Authorization", Format: "Bearer %s"},
	},
	{
		// @google/genai reads GOOGLE_GEMINI_BASE_URL (host only; the SDK adds
		// the API version) and sends x-goog-api-key; REST callers often use
		// the key query parameter.
		Name: "gemini", Upstream: "https://generativelanguage.googleapis.com",
		BaseURLVars: []BaseURLVar{{Name: "GOOGLE_GEMINI_BASE_URL"}},
		Secrets:     []string{"GEMINI_API_KEY", "GOOGLE_API_KEY"},
		Headers:     []string{"X-Goog-Api-Key"},
		Query:       []string{"key"},
		Inject:      &Inject{Header: "X-Goog-Api-Key", Format: "%s"},
	},
}

var owner = func() map[string]string {
	m := map[string]string{}
	for _, r := range builtin {
		for _, s := range r.Secrets {
			m[s] = r.Name
		}
	}
	return m
}()

// Routes returns the built-in routes sorted by name. The slices inside are
// shared: callers must not modify them.
func Routes() []Route {
	out := append([]Route(nil), builtin...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Lookup returns the built-in route called name.
func Lookup(name string) (Route, bool) {
	for _, r := range builtin {
		if r.Name == name {
			return r, true
		}
	}
	return Route{}, false
}

// RouteFor returns the built-in route that owns a secret name, or "".
func RouteFor(secret string) string { return owner[secret] }

// Policies a secret can have.
const (
	PolicyProxy  = "proxy"  // child keeps the token; the proxy puts the value on the wire
	PolicyInject = "inject" // child gets the real value at spawn
	PolicyDeny   = "deny"   // never leaves the vault except through a route
)

// DefaultPolicy is the policy a secret gets when .phantom.toml says nothing.
func DefaultPolicy(secret string) string {
	if IsAWSCredential(secret) {
		// Never in a child's environment whatever the policy says (the
		// credentials endpoint serves them); deny is the honest default.
		return PolicyDeny
	}
	if RouteFor(secret) != "" {
		return PolicyProxy
	}
	return PolicyInject
}

// AWS credentials are never put in a child's environment: the proxy serves
// session credentials made from them (STS GetSessionToken) on the
// container-credentials endpoint every AWS SDK reads.
const (
	AWSAccessKeyID     = "AWS_ACCESS_KEY_ID"
	AWSSecretAccessKey = "AWS_SECRET_ACCESS_KEY"
	AWSSessionToken    = "AWS_SESSION_TOKEN"
)

// IsAWSCredential reports whether name is one of the AWS credential variables.
func IsAWSCredential(name string) bool {
	return name == AWSAccessKeyID || name == AWSSecretAccessKey || name == AWSSessionToken
}
