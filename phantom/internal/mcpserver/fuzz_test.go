package mcpserver

import (
	"encoding/json"
	"testing"

	"github.com/google/jsonschema-go/jsonschema"
)

// FuzzCheckArgs: whatever arguments an agent sends, checkArgs never panics,
// passes only objects whose every field the tool declares, and never passes
// a value-like field or a changing call without confirm.
func FuzzCheckArgs(f *testing.F) {
	for _, s := range []string{`{}`, `null`, `[]`, `"x"`, `{"name":"A"}`, `{"name":"A","value":"v"}`, `{"name":"A","confirm":true}`,
		`{"confirm":"yes"}`, `{"project_dir":1}`, `{"names":["A","B"],"confirm":true}`, `{"Value":1}`, `{"name":"A","name":"B"}`} {
		f.Add(s)
	}
	srv := &server{o: Options{Dir: "/nonexistent"}, pending: map[string]pendingApproval{}}
	type prepared struct {
		tool     toolSpec
		allowed  map[string]bool
		resolved *jsonschema.Resolved
	}
	var tools []prepared
	for _, tool := range srv.tools() {
		allowed := map[string]bool{}
		for k := range tool.schema.Properties {
			allowed[k] = true
		}
		resolved, err := tool.schema.Resolve(nil)
		if err != nil {
			f.Fatal(err)
		}
		tools = append(tools, prepared{tool, allowed, resolved})
	}
	f.Fuzz(func(t *testing.T, raw string) {
		for _, p := range tools {
			tool, allowed := p.tool, p.allowed
			args, res := checkArgs(tool, allowed, p.resolved, json.RawMessage(raw))
			if res != nil {
				if !res.IsError {
					t.Fatalf("%s: a refusal that is not an error", tool.name)
				}
				continue
			}
			var m map[string]json.RawMessage
			if err := json.Unmarshal(args, &m); err != nil {
				t.Fatalf("%s: passed arguments that are not an object: %q", tool.name, raw)
			}
			for k := range m {
				if !allowed[k] {
					t.Fatalf("%s: passed unknown field %q", tool.name, k)
				}
			}
			if _, ok := m["confirm"]; tool.mutating && !ok {
				t.Fatalf("%s: passed a changing call without confirm: %q", tool.name, raw)
			}
		}
	})
}
