package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"phantomstack.dev/providers"
	"phantomstack.dev/shared/exitcode"
	"phantomstack.dev/stack/internal/config"
	"phantomstack.dev/stack/internal/mcpjson"
)

// What `stack add` does to a provider's .mcp.json entry.
const (
	mcpWrite     = "written"   // new, or replaced with --force
	mcpUnchanged = "unchanged" // already exactly stack's entry
	mcpKept      = "kept"      // stack's entry, edited by the user: left alone
)

// AddMCP is the "mcp" object of `stack add --json`.
type AddMCP struct {
	Name   string `json:"name"`
	File   string `json:"file"`
	Status string `json:"status"` // written | unchanged | kept
	// NeedsInject lists the slots whose phantom policy hands the server a
	// phm token it cannot use (the server does not go through the proxy).
	NeedsInject []string `json:"needs_inject"`
}

// mcpPlan is decided before anything is stored, so a bad .mcp.json or a
// foreign entry stops `stack add` with nothing changed.
type mcpPlan struct {
	file   *mcpjson.File
	spec   *providers.MCPServer
	entry  mcpjson.Entry
	status string
	// keptLocal: the kept entry runs a local server where the provider's
	// entry is now its hosted one (an entry an earlier stack wrote, then
	// edited): kept, but `stack add` says how to switch.
	keptLocal bool
	service   string
}

// mcpEntry wraps the server's command in `phantom exec`, which reads the
// project's tokens from .env.local (resolved against the phantom project
// root, so any working directory inside the project works). A variable the
// server reads under another name is copied inside phantom exec by sh, so
// the entry holds names only.
//
// A remote server (URL) is the client's to sign in to: the entry is its
// URL for this resource, and phantom has nothing to hold.
func mcpEntry(s *providers.MCPServer, resourceID string) mcpjson.Entry {
	if s.URL != "" {
		return mcpjson.Entry{Type: "http", URL: s.RemoteURL(resourceID)}
	}
	args := []string{"exec", "--env-file", envLocal, "--"}
	if len(s.EnvFrom) > 0 {
		var assign []string
		for _, to := range sortedKeys(s.EnvFrom) {
			assign = append(assign, fmt.Sprintf(`%s="$%s"`, to, s.EnvFrom[to]))
		}
		// "$0" "$@": the server's argv is passed through untouched, never
		// spliced into the script.
		args = append(args, "sh", "-c", strings.Join(assign, " ")+` exec "$0" "$@"`)
	}
	args = append(append(args, s.Command), s.Args...)
	return mcpjson.Entry{Command: "phantom", Args: args}
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// planMCP reads .mcp.json and decides what to do with service's entry.
func planMCP(c *config.Config, service string, info providers.Info, force bool) (*mcpPlan, error) {
	if info.MCP == nil {
		return nil, nil
	}
	file, err := mcpjson.Load(c.Dir)
	if err != nil {
		return nil, exitcode.Errorf(exitcode.Failure, "%v\nNothing was changed and nothing was stored. Fix %s (or move it away) and run stack add %s again; --no-mcp skips the MCP wiring.", err, mcpjson.FileName, service)
	}
	p := &mcpPlan{file: file, spec: info.MCP, entry: mcpEntry(info.MCP, ""), status: mcpWrite, service: service}
	name := info.MCP.Name
	if _, exists := file.Get(name); !exists || force {
		return p, nil
	}
	if file.Same(name, p.entry) {
		p.status = mcpUnchanged
		return p, nil
	}
	if old := c.Services[service]; old != nil && old.MCP == name {
		p.status = mcpKept // stack wrote it for this service; the edits are the user's
		if raw, _ := file.Get(name); info.MCP.URL != "" {
			var e mcpjson.Entry
			p.keptLocal = json.Unmarshal(raw, &e) == nil && e.Command != ""
		}
		return p, nil
	}
	if info.MCP.URL != "" {
		// The entry depends on the resource, known only once it exists:
		// resolve decides. An entry of that name pointing at this server
		// (another project of it, say) is not foreign.
		if raw, _ := file.Get(name); sameRemoteServer(raw, info.MCP) {
			p.status = mcpWrite
			return p, nil
		}
	}
	return nil, exitcode.Errorf(exitcode.Failure, "%s already has an MCP server called %q that stack did not write.\nNothing was changed and nothing was stored. Run stack add %s --force to replace it with stack's entry (%s), or --no-mcp to leave it and skip the wiring.",
		mcpjson.FileName, name, service, mcpDescribe(info.MCP))
}

// resolve fixes the entry of a remote server for the resource, once its id
// is known (a local server's entry does not depend on it).
func (p *mcpPlan) resolve(resourceID string) {
	if p == nil || p.spec.URL == "" || p.status == mcpKept {
		return
	}
	p.entry = mcpEntry(p.spec, resourceID)
	if p.file.Same(p.spec.Name, p.entry) {
		p.status = mcpUnchanged
	} else {
		p.status = mcpWrite
	}
}

// sameRemoteServer reports whether an existing entry is the provider's
// remote server (same scheme, host and path), whatever its query says.
func sameRemoteServer(raw []byte, spec *providers.MCPServer) bool {
	var e mcpjson.Entry
	if json.Unmarshal(raw, &e) != nil || e.URL == "" {
		return false
	}
	got, err1 := url.Parse(e.URL)
	want, err2 := url.Parse(spec.RemoteURL(""))
	// "https://mcp.stripe.com" and "https://mcp.stripe.com/" are one server.
	return err1 == nil && err2 == nil && got.Scheme == want.Scheme && got.Host == want.Host &&
		strings.TrimSuffix(got.Path, "/") == strings.TrimSuffix(want.Path, "/")
}

// mcpDescribe is what stack's entry runs, for messages.
func mcpDescribe(s *providers.MCPServer) string {
	if s.URL != "" {
		return s.RemoteURL("<id>")
	}
	return "phantom exec -- " + s.Command
}

// apply writes the entry when the plan says so.
func (p *mcpPlan) apply() error {
	if p == nil || p.status != mcpWrite {
		return nil
	}
	if err := p.file.Set(p.spec.Name, p.entry); err != nil {
		return err
	}
	return p.file.Save()
}

// undo puts .mcp.json back as it was before apply.
func (p *mcpPlan) undo() error {
	if p == nil || p.status != mcpWrite {
		return nil
	}
	return p.file.Restore()
}

// needsInject returns the secret slots the server would receive as phm
// tokens it cannot use: it calls the upstream itself, and phantom's policy
// for the slot is not inject.
func needsInject(ctx context.Context, f *Factory, spec *providers.MCPServer, info providers.Info) []string {
	out := []string{}
	if spec.ProxyAware || spec.URL != "" {
		return out
	}
	pc, err := f.phantom(ctx)
	if err != nil {
		return out
	}
	es, err := pc.List(ctx)
	if err != nil {
		return out
	}
	policy := map[string]string{}
	for _, e := range es {
		policy[e.Name] = e.Policy
	}
	for _, sl := range info.Slots {
		if sl.Secret && policy[sl.Name] != "inject" {
			out = append(out, sl.Name)
		}
	}
	return out
}

// warnNeedsInject says what a local server that cannot use the proxy needs
// (the real value injected) and what that exposes (docs/providers.md, "MCP
// servers"): the value sits in the environment of the server and of every
// stack exec program, which any process of the user can read.
func (f *Factory) warnNeedsInject(info providers.Info, slots []string) {
	if len(slots) == 0 {
		return
	}
	var toml strings.Builder
	for _, s := range slots {
		fmt.Fprintf(&toml, "\n    [secrets.%s]\n    policy = \"inject\"\n", s)
	}
	f.IO.Warnf("%s's MCP server calls %s's API itself, not through phantom's proxy, so with the proxy policy it gets a phm token that %s refuses. For the MCP server to work, have phantom inject the real value: add to .phantom.toml%s\nthen approve the change on your terminal with phantom trust (a policy that hands out more needs a person's approval). What that exposes: the real value is then in the environment of the MCP server and of every program run with stack exec, where any process of your user (an AI agent's shell included) can read it (/proc/PID/environ); phantom only masks it in their captured output. See docs/providers.md, \"MCP servers\".",
		info.DisplayName, info.DisplayName, info.DisplayName, toml.String())
}

// infoKept reports a kept entry; one that still runs a local server where
// the provider's entry is now its hosted one also gets the way to switch.
func (f *Factory) infoKept(info providers.Info, p *mcpPlan) {
	f.IO.Infof("MCP server %q: your edited entry in .mcp.json was kept.", p.spec.Name)
	if p.keptLocal {
		f.IO.Warnf("That entry runs a local %s MCP server. stack now writes %s's hosted server, which your MCP client signs in to with OAuth, so no %s credential is on this machine. To switch, replace the entry with {\"type\": \"http\", \"url\": %q}, or delete it and run stack add %s again.",
			info.DisplayName, info.DisplayName, info.DisplayName, p.spec.RemoteURL(""), p.service)
	}
}

// removeMCP deletes the entry stack wrote for s. It returns the loaded file
// so the caller can restore it when a later step fails; nil when there was
// nothing to do.
func removeMCP(c *config.Config, s *config.Service) (*mcpjson.File, error) {
	if s.MCP == "" {
		return nil, nil
	}
	file, err := mcpjson.Load(c.Dir)
	if err != nil {
		return nil, exitcode.Errorf(exitcode.Failure, "%v\nNothing was removed. Fix %s (or delete its %q entry by hand) and run stack remove %s again.", err, mcpjson.FileName, s.MCP, s.Name)
	}
	if !file.Delete(s.MCP) {
		return nil, nil
	}
	return file, nil
}
