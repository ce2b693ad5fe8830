package templates

import (
	"errors"
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

func TestEveryEmbeddedTemplateParses(t *testing.T) {
	paths, err := fs.Glob(files, "templates/*.toml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no embedded templates (%v)", err)
	}
	for _, p := range paths {
		data, _ := fs.ReadFile(files, p)
		if _, err := Parse(p, data); err != nil {
			t.Errorf("%v", err)
		}
	}
	if _, err := load(); err != nil {
		t.Fatal(err)
	}
	if got := len(List()); got != len(paths) {
		t.Errorf("List() has %d templates, %d files are embedded", got, len(paths))
	}
}

func TestShippedTemplates(t *testing.T) {
	want := map[string][]string{ // template → "service:provider" in order
		"ai-app":                 {"openai:openai", "supabase:supabase"},
		"nextjs-supabase-vercel": {"supabase:supabase", "vercel:vercel"},
		"supabase-aws":           {"supabase:supabase", "aws:aws"},
	}
	if got := Names(); !slices.Equal(got, []string{"ai-app", "nextjs-supabase-vercel", "supabase-aws"}) {
		t.Errorf("Names() = %v", got)
	}
	for name, services := range want {
		tpl, err := Get(name)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, s := range tpl.Services {
			got = append(got, s.Name+":"+s.Provider)
		}
		if !slices.Equal(got, services) {
			t.Errorf("%s services = %v, want %v", name, got, services)
		}
	}
	ai, _ := Get("ai-app")
	if !slices.Contains(ai.Slots(), "OPENAI_API_KEY") || !slices.Contains(ai.Slots(), "SUPABASE_SERVICE_ROLE_KEY") {
		t.Errorf("ai-app slots = %v", ai.Slots())
	}
}

func TestSlotNamesAreEnvVarNames(t *testing.T) {
	posix := regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`)
	for _, tpl := range List() {
		if len(tpl.Slots()) == 0 {
			t.Errorf("%s has no slots", tpl.Name)
		}
		for _, s := range tpl.Slots() {
			if !posix.MatchString(s) {
				t.Errorf("%s: slot %q is not an env var name", tpl.Name, s)
			}
		}
	}
}

func TestNamesAreUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, tpl := range List() {
		if seen[tpl.Name] {
			t.Errorf("template %s twice", tpl.Name)
		}
		seen[tpl.Name] = true
		services := map[string]bool{}
		for _, s := range tpl.Services {
			if services[s.Name] {
				t.Errorf("%s: service %s twice", tpl.Name, s.Name)
			}
			services[s.Name] = true
		}
	}
	// The loader itself refuses duplicates across files.
	dup := fstest.MapFS{
		"t/a.toml": {Data: []byte(minimal("a"))},
		"t/b.toml": {Data: []byte(minimal("a"))},
	}
	if _, err := loadFS(dup, "t"); err == nil || !strings.Contains(err.Error(), "file name") {
		t.Errorf("name/file mismatch or duplicate accepted: %v", err)
	}
}

func TestGetUnknownIsHelpful(t *testing.T) {
	_, err := Get("ai-ap")
	if !errors.Is(err, ErrUnknown) {
		t.Fatalf("err = %v, want ErrUnknown", err)
	}
	msg := err.Error()
	for _, want := range []string{`"ai-ap"`, `did you mean "ai-app"`, "ai-app, nextjs-supabase-vercel, supabase-aws"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q lacks %q", msg, want)
		}
	}
	_, err = Get("wordpress")
	if !errors.Is(err, ErrUnknown) || strings.Contains(err.Error(), "did you mean") || !strings.Contains(err.Error(), "valid templates: ") {
		t.Errorf("far-off name: %v", err)
	}
}

func TestListReturnsCopies(t *testing.T) {
	l := List()
	l[0].Services[0].Slots[0] = "MUTATED"
	l[0].Name = "mutated"
	if List()[0].Services[0].Slots[0] == "MUTATED" || List()[0].Name == "mutated" {
		t.Error("List exposes the loaded templates")
	}
}

func minimal(name string) string {
	return `name = "` + name + `"
description = "d"

[[services]]
name = "openai"
provider = "openai"
slots = ["OPENAI_API_KEY"]
`
}

func TestParseIsStrict(t *testing.T) {
	if _, err := Parse("ok.toml", []byte(minimal("ok"))); err != nil {
		t.Fatalf("minimal template: %v", err)
	}
	for _, tc := range []struct{ name, in, want string }{
		{"trailing blank line", minimal("x") + "\n", ""}, // control: valid
		{"typo top key", strings.Replace(minimal("x"), "description", "descripton", 1), `unknown key "descripton" (did you mean "description"?)`},
		{"typo service key", strings.Replace(minimal("x"), "slots =", "slot =", 1), `unknown key "services.slot" (did you mean "slots"?)`},
		{"unknown table", minimal("x") + "[environments]\ndev = true\n", `unknown key "environments"`},
		{"wrong type", strings.Replace(minimal("x"), `slots = ["OPENAI_API_KEY"]`, `slots = "OPENAI_API_KEY"`, 1), "line 7"},
		{"syntax", "name = \n", "line 1"},
		{"bad slot", strings.Replace(minimal("x"), "OPENAI_API_KEY", "openai-key", 1), `slot "openai-key" is not a valid environment variable name`},
		{"no slots", strings.Replace(minimal("x"), `["OPENAI_API_KEY"]`, `[]`, 1), "no slots"},
		{"no services", "name = \"x\"\ndescription = \"d\"\n", "no [[services]]"},
		{"bad name", minimal("Bad Name"), `name "Bad Name"`},
		{"empty description", strings.Replace(minimal("x"), `"d"`, `" "`, 1), "description"},
		{"multi-line description", strings.Replace(minimal("x"), `"d"`, `"""a
b"""`, 1), "description"},
		{"no provider", strings.Replace(minimal("x"), `provider = "openai"`, ``, 1), "provider"},
		{"duplicate service", minimal("x") + "\n[[services]]\nname = \"openai\"\nprovider = \"openai\"\nslots = [\"B\"]\n", "listed twice"},
		{"slot in two services", minimal("x") + "\n[[services]]\nname = \"other\"\nprovider = \"p\"\nslots = [\"OPENAI_API_KEY\"]\n", "already filled by service \"openai\""},
	} {
		_, err := Parse("t.toml", []byte(tc.in))
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "t.toml: ") {
			t.Errorf("%s: err = %v, want it to name the file and contain %q", tc.name, err, tc.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	paths, _ := fs.Glob(files, "templates/*.toml")
	for _, p := range paths {
		data, _ := fs.ReadFile(files, p)
		f.Add(data)
	}
	f.Add([]byte(minimal("x")))
	f.Fuzz(func(t *testing.T, data []byte) {
		tpl, err := Parse("fuzz.toml", data)
		if err != nil {
			return
		}
		if err := tpl.Validate(); err != nil {
			t.Fatalf("Parse accepted a template that does not validate: %v", err)
		}
	})
}
