package providers

import (
	"strings"
	"testing"
)

// A remote server is a URL with the resource id as its only placeholder;
// anything that could carry a value or reach a non-https host is refused.
func TestMCPServerRemoteURL(t *testing.T) {
	ok := &MCPServer{Name: "supabase", URL: "https://mcp.example.com/mcp?project_ref=" + ResourceIDPlaceholder, Source: "docs"}
	if err := ok.Validate(nil); err != nil {
		t.Fatalf("valid remote server refused: %v", err)
	}
	if got := ok.RemoteURL("abc&x=1"); got != "https://mcp.example.com/mcp?project_ref=abc%26x%3D1" {
		t.Fatalf("RemoteURL = %q (the id must be query-escaped)", got)
	}
	for _, bad := range []*MCPServer{
		{Name: "s", URL: "http://mcp.example.com/mcp", Source: "docs"},
		{Name: "s", URL: "https://mcp.example.com/mcp?key=${SECRET}", Source: "docs"},
		{Name: "s", URL: "https://mcp.example.com/mcp?key={token}", Source: "docs"},
		{Name: "s", URL: "https://user:pw@mcp.example.com/mcp", Source: "docs"},
		{Name: "s", URL: "https://mcp.example.com/mcp", Command: "npx", Source: "docs"},
		{Name: "s", URL: "https://mcp.example.com/mcp"},
	} {
		if err := bad.Validate(nil); err == nil || !strings.Contains(err.Error(), "mcp server s") {
			t.Errorf("%+v: got %v, want a refusal", bad, err)
		}
	}
}
