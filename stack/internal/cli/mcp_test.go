package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"phantomstack.dev/providers"
	"phantomstack.dev/stack/internal/config"
)

// A remote server's entry is the provider's URL for the resource, decided
// once the resource exists: another project's entry of the same server is
// replaced, the same one is unchanged, a foreign server of that name stops
// the add.
func TestRemoteMCPPlan(t *testing.T) {
	spec := &providers.MCPServer{Name: "supabase", URL: "https://mcp.supabase.com/mcp?project_ref=" + providers.ResourceIDPlaceholder, Source: "docs"}
	info := providers.Info{Name: "supabase", MCP: spec}
	for _, tc := range []struct {
		name, file, want, wantErr string
	}{
		{"new", "", mcpWrite, ""},
		{"same", `{"mcpServers": {"supabase": {"type": "http", "url": "https://mcp.supabase.com/mcp?project_ref=abcdefghijklmnopqrst"}}}`, mcpUnchanged, ""},
		{"another project", `{"mcpServers": {"supabase": {"type": "http", "url": "https://mcp.supabase.com/mcp?project_ref=zzzzzzzzzzzzzzzzzzzz"}}}`, mcpWrite, ""},
		{"foreign", `{"mcpServers": {"supabase": {"command": "npx", "args": ["-y", "@supabase/mcp-server-supabase"]}}}`, "", "stack did not write"},
		{"foreign host", `{"mcpServers": {"supabase": {"type": "http", "url": "https://evil.example/mcp"}}}`, "", "stack did not write"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.file != "" {
				os.WriteFile(filepath.Join(dir, ".mcp.json"), []byte(tc.file), 0o644)
			}
			c := config.New(dir, "")
			p, err := planMCP(c, "supabase", info, false)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			p.resolve("abcdefghijklmnopqrst")
			if p.status != tc.want {
				t.Fatalf("status %q, want %q", p.status, tc.want)
			}
			if err := p.apply(); err != nil {
				t.Fatal(err)
			}
			b, _ := os.ReadFile(filepath.Join(dir, ".mcp.json"))
			if !strings.Contains(string(b), `"url": "https://mcp.supabase.com/mcp?project_ref=abcdefghijklmnopqrst"`) || strings.Contains(string(b), "phantom") {
				t.Fatalf(".mcp.json:\n%s", b)
			}
		})
	}
}

// Stripe's hosted server has no resource placeholder: an entry of it,
// written with or without the trailing slash, is the same server (not
// foreign); stack's own older local entry is kept and flagged.
func TestRemoteMCPPlanStripe(t *testing.T) {
	spec := &providers.MCPServer{Name: "stripe", URL: "https://mcp.stripe.com", Source: "docs"}
	info := providers.Info{Name: "stripe", DisplayName: "Stripe", MCP: spec}
	local := `{"mcpServers": {"stripe": {"command": "phantom", "args": ["exec", "--env-file", ".env.local", "--", "npx", "-y", "@stripe/mcp", "--tools=all"]}}}`
	for _, tc := range []struct {
		name, file string
		ours       bool // .stack.toml's stripe service names the entry
		want       string
		wantLocal  bool
		wantErr    string
	}{
		{"slash", `{"mcpServers": {"stripe": {"type": "http", "url": "https://mcp.stripe.com/"}}}`, false, mcpWrite, false, ""},
		{"same", `{"mcpServers": {"stripe": {"type": "http", "url": "https://mcp.stripe.com"}}}`, false, mcpUnchanged, false, ""},
		{"foreign local", local, false, "", false, "stack did not write"},
		{"our old local", local, true, mcpKept, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, ".mcp.json"), []byte(tc.file), 0o644)
			c := config.New(dir, "")
			if tc.ours {
				c.SetService(&config.Service{Name: "stripe", Provider: "stripe", MCP: "stripe"})
			}
			p, err := planMCP(c, "stripe", info, false)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			p.resolve("")
			if p.status != tc.want || p.keptLocal != tc.wantLocal {
				t.Fatalf("status %q keptLocal %v, want %q %v", p.status, p.keptLocal, tc.want, tc.wantLocal)
			}
		})
	}
}
