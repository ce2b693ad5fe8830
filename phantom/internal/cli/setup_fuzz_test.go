package cli

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/BurntSushi/toml"
)

// FuzzMergeMCPConfig: merging phantom's entry into any client file either
// refuses (and the caller writes nothing) or yields a file that parses,
// holds the entry, and keeps every other setting and server as it was.
func FuzzMergeMCPConfig(f *testing.F) {
	for _, s := range []string{"", "{}", `{"mcpServers":{"a":{"command":"x"}},"z":[1,2]}`, `{"mcpServers":null}`, `{"servers":{"phantom":{"command":"old"}}}`,
		"model = \"o3\"\n[mcp_servers.a]\ncommand = \"x\"\n", "[mcp_servers.phantom]\ncommand = \"old\"\n[mcp_servers.phantom.env]\nA = \"b\"\n[x]\ny = 1\n",
		"[mcp_servers]\nphantom = { command = \"x\" }\n", "mcp_servers.phantom.command = \"x\"\n", "[[a]]\nb = 1\n[mcp_servers.\"phantom\"]\nargs = [\n  [1],\n]\n"} {
		f.Add([]byte(s))
	}
	const cmd = "/usr/local/bin/phantom"
	f.Fuzz(func(t *testing.T, old []byte) {
		if out, err := mergeCodexTOML(old, cmd); err == nil {
			var before, after map[string]any
			if toml.Unmarshal(old, &before) != nil {
				t.Fatalf("accepted TOML that does not parse: %q", old)
			}
			if err := toml.Unmarshal(out, &after); err != nil {
				t.Fatalf("wrote TOML that does not parse: %v\n%q", err, out)
			}
			if !entryMatches(after, cmd) || !reflect.DeepEqual(withoutPhantom(before), withoutPhantom(after)) {
				t.Fatalf("TOML merge changed more than phantom's entry:\n%q\n→\n%q", old, out)
			}
		}
		for _, key := range []string{"mcpServers", "servers"} {
			out, err := mergeMCPJSON(old, key, mcpEntry{Command: cmd, Args: []string{"mcp"}})
			if err != nil {
				continue
			}
			if bytes.Equal(out, old) {
				continue // already there
			}
			var before, after map[string]any
			if len(bytes.TrimSpace(old)) > 0 && json.Unmarshal(old, &before) != nil {
				t.Fatalf("accepted JSON that does not parse: %q", old)
			}
			if err := json.Unmarshal(out, &after); err != nil {
				t.Fatalf("wrote JSON that does not parse: %v\n%q", err, out)
			}
			svrs, _ := after[key].(map[string]any)
			if e, _ := svrs[mcpServerName].(map[string]any); e == nil || e["command"] != cmd {
				t.Fatalf("no phantom entry under %s: %q", key, out)
			}
			for k, v := range before {
				if k == key {
					bs, _ := v.(map[string]any)
					for n, sv := range bs {
						if n != mcpServerName && !reflect.DeepEqual(svrs[n], sv) {
							t.Fatalf("server %q changed: %q → %q", n, old, out)
						}
					}
					continue
				}
				if !reflect.DeepEqual(after[k], v) {
					t.Fatalf("key %q changed: %q → %q", k, old, out)
				}
			}
		}
	})
}
