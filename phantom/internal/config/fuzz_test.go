package config

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// FuzzLoad feeds arbitrary bytes to the loader as a .phantom.toml. It must
// never panic; it either loads, or fails with errors that each name a line
// that exists in the input. For input BurntSushi accepts, the index must
// understand the whole document and locate every key. For input that loads,
// both edits must either succeed, leaving a file that loads with the change,
// or refuse cleanly.
func FuzzLoad(f *testing.F) {
	for _, seed := range []string{
		"",
		head,
		userFile,
		"\xef\xbb\xbf" + head,
		strings.ReplaceAll(userFile, "\n", "\r\n"),
		"phantom = { version = 1, project_id = \"" + pid + "\" }\n",
		"secrets.A.policy = \"inject\"\n" + head + "[secrets]\nB = {}\n",
		head + "env_files = [\n  '.env', # c\n]\n[classify]\nsecret = [\"\"\"A\n\"\"\"]\n",
		head + "[secrets.DATABASE_URL]\npolcy = \"inject\"\n",
		"[phantom]\nversion = 2\n",
		"a = [1,\n2,]\nb = { c = 1 }\n[[d]]\n[[d]]\n",
		"x = \"\"\"\\\n  \"\"\"\"\"\n",
		"= 1",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := bytes.Count(data, []byte("\n")) + 1

		var m map[string]any
		md, tomlErr := toml.Decode(string(data), &m)
		if tomlErr == nil {
			ix := buildIndex(data)
			if !ix.complete {
				t.Fatalf("valid TOML the index does not understand:\n%q", data)
			}
			for _, k := range md.Keys() {
				if ix.find(k) == nil {
					t.Fatalf("key %q not indexed in:\n%q", k, data)
				}
			}
		}

		c, err := parse(FileName, data)
		if err != nil {
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error without lines: %v", err)
			}
			for _, e := range list {
				if e.Line < 1 || e.Line > lines {
					t.Fatalf("line %d outside 1..%d: %v", e.Line, lines, e)
				}
				if !strings.Contains(e.Error(), fmt.Sprintf("%s:%d: ", FileName, e.Line)) {
					t.Fatalf("no line reference in %q", e.Error())
				}
			}
			return
		}
		if tomlErr != nil {
			t.Fatalf("parse accepted what BurntSushi rejects: %v", tomlErr)
		}

		if err := c.SetSecretPolicy("FUZZ_SECRET", PolicyDeny); err == nil {
			if p, ok := c.Policy("FUZZ_SECRET"); !ok || p != PolicyDeny {
				t.Fatalf("policy not set: %q %v", p, ok)
			}
		}
		if err := c.AddEnvFile("fuzz/.env"); err == nil {
			if ef := c.EnvFiles(); ef[len(ef)-1] != "fuzz/.env" {
				t.Fatalf("env file not added: %q", ef)
			}
		}
		d, err := parse(FileName, c.Bytes())
		if err != nil {
			t.Fatalf("edited text does not load: %v\n%q", err, c.Bytes())
		}
		if d.ProjectID() != c.ProjectID() {
			t.Fatal("an edit changed project_id")
		}
	})
}
