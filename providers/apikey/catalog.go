// Package apikey implements providers whose whole "resource" is an API key the
// user already has (OpenAI, Anthropic, Stripe, Resend, GitHub, …). Each is a
// row of data in Catalog: its slot, where to get a key, and the one
// read-only request that proves the key works. Adding a provider of this kind
// means adding a row, not code.
package apikey

import (
	"slices"
	"strings"

	"phantomstack.dev/providers"
)

// SecretPlaceholder marks where the key goes in Request.Format.
const SecretPlaceholder = "{secret}"

// Spec is one API-key provider.
type Spec struct {
	Name        string
	DisplayName string
	Category    string
	DocsURL     string // where the user creates a key
	Slots       []providers.Slot
	Verify      Request
	// MCP is the provider's official MCP server, nil when it has none
	// (docs/providers.md, "MCP servers", cites each command).
	MCP *providers.MCPServer
}

// Request describes the read-only call that checks a key: Method URL, with
// header Header set to Format with SecretPlaceholder replaced by the key, plus
// any fixed Extra headers (API versions, Accept).
type Request struct {
	Method string
	URL    string // the production endpoint; always https
	Header string // header that carries the key
	Format string // header value template; contains SecretPlaceholder once
	Slot   string // the slot whose value is the key
	Extra  []Header
}

// Header is one fixed request header.
type Header struct{ Name, Value string }

// BaseURLEnv is the environment variable that overrides the scheme, host and
// leading path of Verify.URL, e.g. STACK_OPENAI_API_URL. Tests point it at a
// fake on loopback; stack points it at phantom's proxy route.
func (s Spec) BaseURLEnv() string {
	return "STACK_" + strings.ToUpper(strings.ReplaceAll(s.Name, "-", "_")) + "_API_URL"
}

func secret(name string) []providers.Slot {
	return []providers.Slot{{Name: name, Secret: true, Policy: providers.PolicyProxy}}
}

func bearer(method, url, slot string, extra ...Header) Request {
	return Request{Method: method, URL: url, Header: "Authorization", Format: "Bearer " + SecretPlaceholder, Slot: slot, Extra: extra}
}

// catalog is every built-in API-key provider, sorted by name. The verify
// endpoints are cheap authenticated GETs that change nothing upstream.
var catalog = []Spec{
	{
		Name:        "anthropic",
		DisplayName: "Anthropic",
		Category:    "ai",
		DocsURL:     "https://console.anthropic.com/settings/keys",
		Slots:       secret("ANTHROPIC_API_KEY"),
		Verify: Request{
			Method: "GET",
			URL:    "https://api.anthropic.com/v1/models",
			Header: "x-api-key",
			Format: SecretPlaceholder,
			Slot:   "ANTHROPIC_API_KEY",
			Extra:  []Header{{"anthropic-version", "2023-06-01"}},
		},
	},
	{
		Name:        "github",
		DisplayName: "GitHub",
		Category:    "code",
		DocsURL:     "https://github.com/settings/tokens",
		Slots:       secret("GITHUB_TOKEN"),
		Verify: bearer("GET", "https://api.github.com/user", "GITHUB_TOKEN",
			Header{"Accept", "application/vnd.github+json"}),
		// The local server binary. Not GitHub's hosted server: it signs MCP
		// clients in with OAuth only where the client brings its own GitHub
		// OAuth app (VS Code); Claude Code, which reads .mcp.json, cannot
		// (no dynamic client registration) and would need the token in a
		// header, in a file or in the client's own environment. Not the
		// Docker image: docker keeps a container's environment in the
		// daemon's on-disk container config. It reads only
		// GITHUB_PERSONAL_ACCESS_TOKEN, and GITHUB_HOST drops any port and
		// path (so phantom's proxy cannot be its upstream): it works only
		// with the slot's policy "inject" (docs/providers.md, "MCP servers").
		MCP: &providers.MCPServer{
			Name: "github", Command: "github-mcp-server", Args: []string{"stdio"},
			EnvFrom: map[string]string{"GITHUB_PERSONAL_ACCESS_TOKEN": "GITHUB_TOKEN"},
			Source:  "https://github.com/github/github-mcp-server#build-from-source",
		},
	},
	{
		Name:        "openai",
		DisplayName: "OpenAI",
		Category:    "ai",
		DocsURL:     "https://platform.openai.com/api-keys",
		Slots:       secret("OPENAI_API_KEY"),
		Verify:      bearer("GET", "https://api.openai.com/v1/models", "OPENAI_API_KEY"),
	},
	{
		Name:        "resend",
		DisplayName: "Resend",
		Category:    "email",
		DocsURL:     "https://resend.com/api-keys",
		Slots:       secret("RESEND_API_KEY"),
		Verify:      bearer("GET", "https://api.resend.com/domains", "RESEND_API_KEY"),
	},
	{
		Name:        "stripe",
		DisplayName: "Stripe",
		Category:    "payments",
		DocsURL:     "https://dashboard.stripe.com/apikeys",
		Slots:       secret("STRIPE_SECRET_KEY"),
		Verify:      bearer("GET", "https://api.stripe.com/v1/balance", "STRIPE_SECRET_KEY"),
		// Stripe's hosted server, which the MCP client signs in to with
		// OAuth: no credential on this machine. The npm package @stripe/mcp
		// is only a stdio bridge to this same URL (hard-coded) that sends
		// the key as a bearer token and refuses to start unless it begins
		// with sk_ or rk_, so under phantom it could work only with the real
		// key injected (docs/providers.md, "MCP servers").
		MCP: &providers.MCPServer{
			Name: "stripe", URL: "https://mcp.stripe.com",
			Source: "https://docs.stripe.com/mcp",
		},
	},
}

// Specs returns a copy of the catalog, sorted by name.
func Specs() []Spec {
	out := make([]Spec, len(catalog))
	for i, s := range catalog {
		out[i] = s.clone()
	}
	return out
}

// Lookup returns a copy of the catalog entry called name.
func Lookup(name string) (Spec, bool) {
	for _, s := range catalog {
		if s.Name == name {
			return s.clone(), true
		}
	}
	return Spec{}, false
}

func (s Spec) clone() Spec {
	s.Slots = slices.Clone(s.Slots)
	s.Verify.Extra = slices.Clone(s.Verify.Extra)
	s.MCP = s.MCP.Clone()
	return s
}
