package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"phantomstack.dev/stack/internal/pipeline"
)

func known(p string) bool { return p == "openai" || p == "stripe" }

func TestLoadErrors(t *testing.T) {
	head := "[stack]\nversion = 1\n"
	for _, tc := range []struct{ src, want string }{
		{head + "[services.openai]\nprovder = \"openai\"\n", `.stack.toml:4: unknown key "provder" in [services.openai]; did you mean "provider"?`},
		{head + "[services.openai]\nprovider = \"nope\"\nsecrets = []\n", `.stack.toml:3: services.openai: unknown provider "nope"`},
		{head + "[services.openai]\nprovider = \"openai\"\nsecrets = [\"1BAD\"]\n", `services.openai.secrets: "1BAD" is not an env var name`},
		{head + "[services.a]\nprovider = \"openai\"\nsecrets = [\"K\"]\n[services.b]\nprovider = \"stripe\"\nsecrets = [\"K\"]\n", `slot K is declared by both a and b`},
		{head + "[services.openai]\nprovider = \"openai\"\n[services.openai]\nprovider = \"openai\"\n", `.stack.toml:5: invalid TOML`},
		{"[stack]\nversion = 2\n", `written by a newer stack`},
		{"[stak]\nversion = 1\n", `unknown key "stak" at the top level; did you mean "stack"?`},
		{"x = \"unterminated\n", `.stack.toml:1: invalid TOML`},
	} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, FileName), []byte(tc.src), 0o644)
		_, err := Load(dir, known)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q:\n got %v\nwant %s", tc.src, err, tc.want)
		}
	}
	if _, err := Load(t.TempDir(), known); err == nil || !strings.Contains(err.Error(), "run `stack init` first") {
		t.Errorf("missing file: %v", err)
	}
}

func TestEditsKeepComments(t *testing.T) {
	dir := t.TempDir()
	src := "# my project\n[stack]\nversion = 1 # schema\n\n# payments, do not remove\n[services.stripe]\nprovider = \"stripe\"\nsecrets = [\"STRIPE_SECRET_KEY\"]\n\n# trailing note\n"
	os.WriteFile(filepath.Join(dir, FileName), []byte(src), 0o644)
	c, err := Load(dir, known)
	if err != nil {
		t.Fatal(err)
	}
	c.SetService(&Service{Name: "openai", Provider: "openai", Secrets: []string{"OPENAI_API_KEY"}, ResourceID: "org-1"})
	if err := c.Save(known); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, FileName))
	for _, keep := range []string{"# my project", "version = 1 # schema", "# payments, do not remove", "# trailing note", "[services.openai]"} {
		if !strings.Contains(string(b), keep) {
			t.Fatalf("lost %q:\n%s", keep, b)
		}
	}
	if strings.Contains(string(b), "org-1") {
		t.Fatal("instance data in the committed file")
	}
	c, err = Load(dir, known)
	if err != nil || c.Services["openai"].ResourceID != "org-1" || len(c.Names()) != 2 {
		t.Fatalf("reload: %v %+v", err, c)
	}
	c.RemoveService("stripe")
	if err := c.Save(known); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(filepath.Join(dir, FileName))
	if strings.Contains(string(b), "stripe") || !strings.Contains(string(b), "# my project") || !strings.Contains(string(b), "[services.openai]") {
		t.Fatalf("after remove:\n%s", b)
	}
	gi, _ := os.ReadFile(filepath.Join(dir, ".gitignore"))
	if !strings.Contains(string(gi), ".stack.local.toml") || !strings.Contains(string(gi), ".env.local") {
		t.Fatalf(".gitignore: %s", gi)
	}
}

// Adding a service and removing it again gives back the same file, byte
// for byte (no stray blank line where the table was).
func TestAddRemoveRoundTrip(t *testing.T) {
	dir := t.TempDir()
	src := "# my project\n[stack]\nversion = 1\n"
	os.WriteFile(filepath.Join(dir, FileName), []byte(src), 0o644)
	c, err := Load(dir, known)
	if err != nil {
		t.Fatal(err)
	}
	c.SetService(&Service{Name: "openai", Provider: "openai", Secrets: []string{"OPENAI_API_KEY"}})
	if err := c.Save(known); err != nil {
		t.Fatal(err)
	}
	c.RemoveService("openai")
	if err := c.Save(known); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, FileName)); string(b) != src {
		t.Fatalf("after add and remove:\n%q\nwant\n%q", b, src)
	}
}

func TestGitignoreKeepsExisting(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, ".gitignore"), []byte("node_modules\n.env.local"), 0o644)
	if err := EnsureGitignore(dir); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, ".gitignore"))
	if string(b) != "node_modules\n.env.local\n# stack: local instance data and tokens\n.stack.local.toml\n" {
		t.Fatalf("%q", b)
	}
}

// A journal survives a reload (a crash between steps) and is gone once
// deleted; other local data is untouched by journal writes.
func TestJournalStoreRoundTrip(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, FileName), []byte("[stack]\nversion = 1\n[services.openai]\nprovider = \"openai\"\nsecrets = [\"OPENAI_API_KEY\"]\n"), 0o644)
	c, err := Load(dir, known)
	if err != nil {
		t.Fatal(err)
	}
	c.Services["openai"].ResourceID = "org-1"
	if err := c.Save(known); err != nil {
		t.Fatal(err)
	}
	js := JournalStore{C: c}
	j := &pipeline.Journal{Service: "stripe", Provider: "stripe", Phase: pipeline.Created, ResourceID: "acct_1", CreatedHere: true, StoredSlots: []string{"A"}, Started: time.Now(), Updated: time.Now()}
	if err := js.Save(j); err != nil {
		t.Fatal(err)
	}
	c2, err := Load(dir, known)
	if err != nil {
		t.Fatal(err)
	}
	got, err := JournalStore{C: c2}.Load("stripe")
	if err != nil || got == nil || got.Phase != pipeline.Created || got.ResourceID != "acct_1" || !got.CreatedHere || len(got.StoredSlots) != 1 {
		t.Fatalf("journal after reload: %+v, %v", got, err)
	}
	if c2.Services["openai"].ResourceID != "org-1" || c2.ProjectID != c.ProjectID {
		t.Fatalf("local data lost: %+v %s", c2.Services["openai"], c2.ProjectID)
	}
	if err := (JournalStore{C: c2}).Delete("stripe"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, LocalName))
	if strings.Contains(string(b), "journal") {
		t.Fatalf("journal still in the file:\n%s", b)
	}
}
