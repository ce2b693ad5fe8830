package mcpjson

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRoundTripKeepsOthers(t *testing.T) {
	dir := t.TempDir()
	src := `{"zeta": 1, "mcpServers": {"b-mine": {"command": "x", "args": ["1"], "custom": {"deep": true}}, "a-other": {"url": "https://example.test/mcp", "type": "http"}}, "alpha": [1, 2]}`
	os.WriteFile(filepath.Join(dir, FileName), []byte(src), 0o640)
	f, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Set("stripe", Entry{Command: "phantom", Args: []string{"exec", "--", "npx"}}); err != nil {
		t.Fatal(err)
	}
	if err := f.Save(); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, FileName))
	want := `{
  "zeta": 1,
  "mcpServers": {
    "b-mine": {
      "command": "x",
      "args": [
        "1"
      ],
      "custom": {
        "deep": true
      }
    },
    "a-other": {
      "url": "https://example.test/mcp",
      "type": "http"
    },
    "stripe": {
      "command": "phantom",
      "args": [
        "exec",
        "--",
        "npx"
      ]
    }
  },
  "alpha": [
    1,
    2
  ]
}
`
	if string(got) != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
	if st, _ := os.Stat(filepath.Join(dir, FileName)); st.Mode().Perm() != 0o640 {
		t.Fatalf("mode %v, want the old 0640", st.Mode().Perm())
	}
	f, _ = Load(dir)
	if !f.Same("stripe", Entry{Command: "phantom", Args: []string{"exec", "--", "npx"}}) || f.Same("stripe", Entry{Command: "phantom"}) {
		t.Fatal("Same")
	}
	if !f.Delete("stripe") || f.Delete("stripe") {
		t.Fatal("Delete")
	}
	f.Save()
	f, _ = Load(dir)
	if _, ok := f.Get("a-other"); !ok {
		t.Fatal("other server lost")
	}
}

func TestNewAndRestore(t *testing.T) {
	dir := t.TempDir()
	f, err := Load(dir)
	if err != nil || f.Exists {
		t.Fatal(f, err)
	}
	f.Set("s", Entry{Command: "c"})
	f.Save()
	b, _ := os.ReadFile(f.Path)
	if string(b) != "{\n  \"mcpServers\": {\n    \"s\": {\n      \"command\": \"c\"\n    }\n  }\n}\n" {
		t.Fatalf("%q", b)
	}
	if err := f.Restore(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(f.Path); !os.IsNotExist(err) {
		t.Fatal("Restore left a file that did not exist before")
	}
}

func TestInvalidJSONIsPositioned(t *testing.T) {
	for src, want := range map[string]string{
		"{\n  \"mcpServers\": {\n    \"a\": {,}\n  }\n}\n": ".mcp.json:3:11: invalid JSON",
		"{\n  \"mcpServers\": {\n":                         ".mcp.json:3:1: invalid JSON: unexpected end of JSON input",
		"[1, 2]":                                           ".mcp.json:1:1: invalid: the top level must be a JSON object",
		"{\"mcpServers\": []}":                             `.mcp.json:1: "mcpServers" must be an object`,
		"{} {}":                                            ".mcp.json:1:",
	} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, FileName), []byte(src), 0o644)
		_, err := Load(dir)
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: got %v, want prefix %q", src, err, want)
		}
	}
}
