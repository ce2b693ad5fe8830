// Package catalog lists the built-in routes: the APIs whose keys phantom can
// keep out of the child process entirely by putting them on the wire in its
// proxy. A secret owned by a route defaults to the "proxy" policy; every other
// secret defaults to "inject".
//
// This file holds only what the vault commands need (which route owns which
// secret name). The proxy adds upstreams, headers and base-URL variables.
package catalog

import "sort"

// Route is one built-in upstream API.
type Route struct {
	Name    string
	Secrets []string // env var names whose values this route may put on the wire
}

var builtin = []Route{
	{Name: "openai", Secrets: []string{"OPENAI_API_KEY"}},
	{Name: "anthropic", Secrets: []string{"ANTHROPIC_API_KEY"}},
	{Name: "stripe", Secrets: []string{"STRIPE_SECRET_KEY", "STRIPE_API_KEY"}},
	{Name: "supabase", Secrets: []string{"SUPABASE_SERVICE_ROLE_KEY", "SUPABASE_ANON_KEY", "SUPABASE_SECRET_KEY", "SUPABASE_PUBLISHABLE_KEY"}},
	{Name: "vercel", Secrets: []string{"VERCEL_TOKEN"}},
	{Name: "github", Secrets: []string{"GITHUB_TOKEN", "GH_TOKEN"}},
	{Name: "resend", Secrets: []string{"RESEND_API_KEY"}},
	{Name: "gemini", Secrets: []string{"GEMINI_API_KEY", "GOOGLE_API_KEY"}},
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

// Routes returns the built-in routes sorted by name.
func Routes() []Route {
	out := append([]Route(nil), builtin...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
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
	if RouteFor(secret) != "" {
		return PolicyProxy
	}
	return PolicyInject
}
