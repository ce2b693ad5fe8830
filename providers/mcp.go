package providers

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// MCPServer is a provider's official MCP server as stack wires it into a
// project's .mcp.json. stack runs a local one under `phantom exec`, so the
// entry names programs and variables only: the server's credentials reach it
// at start-up from the project's env file through phantom, never from the
// file. A remote one (URL) is signed in to by the MCP client itself.
type MCPServer struct {
	Name    string   // key under "mcpServers", e.g. "stripe"
	Command string   // the server's program, e.g. "npx"
	Args    []string // its arguments; never a value
	// URL, instead of Command, is a remote (streamable HTTP) server that the
	// MCP client signs in to itself with OAuth: no credential exists on this
	// machine, so nothing goes through phantom. "{resource_id}" in it is
	// replaced by the resource's id (never a secret), e.g. a project ref.
	URL string
	// EnvFrom maps a variable the server reads to the slot that fills it,
	// when the names differ (GITHUB_PERSONAL_ACCESS_TOKEN ← GITHUB_TOKEN).
	// The copy is made inside `phantom exec`, at run time.
	EnvFrom map[string]string
	// ProxyAware is true when the server can send its API calls through
	// phantom's proxy (it reads the route's base-URL variable). When false
	// it calls the upstream itself, so it works only when phantom hands it
	// the real value: the slot's policy must be "inject".
	ProxyAware bool
	// Source is where the command and variable names are documented.
	Source string
}

var mcpNameRE = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)

// ResourceIDPlaceholder in MCPServer.URL stands for the resource's id.
const ResourceIDPlaceholder = "{resource_id}"

// RemoteURL is the server's URL for a resource (URL servers only): the
// placeholder replaced by the query-escaped id.
func (m *MCPServer) RemoteURL(resourceID string) string {
	return strings.ReplaceAll(m.URL, ResourceIDPlaceholder, url.QueryEscape(resourceID))
}

// Clone returns a deep copy (nil stays nil).
func (m *MCPServer) Clone() *MCPServer {
	if m == nil {
		return nil
	}
	c := *m
	c.Args = slices.Clone(m.Args)
	if m.EnvFrom != nil {
		c.EnvFrom = make(map[string]string, len(m.EnvFrom))
		for k, v := range m.EnvFrom {
			c.EnvFrom[k] = v
		}
	}
	return &c
}

// Validate checks the server against the provider's slots: every renamed
// variable must come from one of its secret slots, and nothing in Args may
// look like a value placeholder.
func (m *MCPServer) Validate(slots []Slot) error {
	if !mcpNameRE.MatchString(m.Name) {
		return fmt.Errorf("mcp server name %q: want lowercase letters, digits, - and _", m.Name)
	}
	if m.URL != "" {
		if m.Command != "" || len(m.Args) > 0 || len(m.EnvFrom) > 0 {
			return fmt.Errorf("mcp server %s: a remote server (url) has no command, arguments or variables", m.Name)
		}
		u, err := url.Parse(strings.ReplaceAll(m.URL, ResourceIDPlaceholder, "x"))
		if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || strings.ContainsAny(u.String(), "{}$") {
			return fmt.Errorf("mcp server %s: url %q must be https, with %s as its only placeholder", m.Name, m.URL, ResourceIDPlaceholder)
		}
		if m.Source == "" {
			return fmt.Errorf("mcp server %s: no source for its url", m.Name)
		}
		return nil
	}
	if m.Command == "" || strings.ContainsAny(m.Command, " \t\n") {
		return fmt.Errorf("mcp server %s: command %q must be one program name", m.Name, m.Command)
	}
	if m.Source == "" {
		return fmt.Errorf("mcp server %s: no source for its command", m.Name)
	}
	for _, a := range m.Args {
		if strings.Contains(a, "{") || strings.Contains(a, "$") {
			return fmt.Errorf("mcp server %s: argument %q looks like a value placeholder; credentials arrive through the environment", m.Name, a)
		}
	}
	for to, from := range m.EnvFrom {
		if !ValidEnvName(to) || !ValidEnvName(from) {
			return fmt.Errorf("mcp server %s: %s ← %s is not a pair of env var names", m.Name, to, from)
		}
		if !slices.ContainsFunc(slots, func(s Slot) bool { return s.Name == from && s.Secret }) {
			return fmt.Errorf("mcp server %s: %s comes from %s, which is not one of the provider's secret slots", m.Name, to, from)
		}
	}
	return nil
}
