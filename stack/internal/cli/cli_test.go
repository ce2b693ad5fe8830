package cli

import (
	"context"
	"encoding/json"
	"runtime"
	"slices"
	"strings"
	"testing"

	"phantomstack.dev/providers"
	"phantomstack.dev/shared/buildinfo"
	"phantomstack.dev/shared/exitcode"
	"phantomstack.dev/shared/jsonout"
	"phantomstack.dev/shared/term"
)

type result struct {
	code        int
	out, errOut string
}

func newTestFactory(t *testing.T) *Factory {
	t.Helper()
	ios, _, _, _ := term.Test()
	f, err := NewFactory(ios)
	if err != nil {
		t.Fatal(err)
	}
	f.Env = func(string) string { return "" }
	return f
}

// run executes the real command tree in-process.
func run(t *testing.T, f *Factory, args ...string) result {
	t.Helper()
	if f == nil {
		f = newTestFactory(t)
	}
	ios, _, out, errOut := term.Test()
	f.IO = ios
	code := Run(f, args)
	return result{code, out.String(), errOut.String()}
}

func decode[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("stdout is not the documented JSON: %v\n%s", err, s)
	}
	if dec.More() {
		t.Fatalf("more than one JSON document on stdout:\n%s", s)
	}
	return v
}

func TestVersion(t *testing.T) {
	r := run(t, nil, "version")
	want := "stack " + buildinfo.Current() + " (development build, " + runtime.Version() + ")\n"
	if r.code != 0 || r.out != want || r.errOut != "" {
		t.Errorf("version = %d %q %q, want %q", r.code, r.out, r.errOut, want)
	}

	r = run(t, nil, "version", "--json")
	v := decode[VersionInfo](t, r.out)
	if r.code != 0 || v.Version != buildinfo.Current() || v.Go != runtime.Version() || v.Release || r.errOut != "" {
		t.Errorf("version --json = %d %+v %q", r.code, v, r.errOut)
	}
	var raw map[string]any
	json.Unmarshal([]byte(r.out), &raw)
	if len(raw) != 5 {
		t.Errorf("version --json keys = %v, want exactly version, commit, date, go and release", raw)
	}

	r = run(t, nil, "--version")
	if r.code != 0 || r.out != "stack "+buildinfo.Current()+"\n" {
		t.Errorf("--version = %d %q", r.code, r.out)
	}
}

func TestProviders(t *testing.T) {
	r := run(t, nil, "providers")
	if r.code != 0 || r.errOut != "" {
		t.Fatalf("providers = %d, stderr %q", r.code, r.errOut)
	}
	lines := strings.Split(strings.TrimRight(r.out, "\n"), "\n")
	if len(lines) != 9 || strings.Join(strings.Fields(lines[0]), " ") != "NAME DISPLAY CATEGORY AUTH SLOTS" {
		t.Fatalf("providers output:\n%s", r.out)
	}
	if got := strings.Join(strings.Fields(lines[4]), " "); got != "openai OpenAI ai api_key OPENAI_API_KEY" {
		t.Errorf("openai row = %q", got)
	}

	r = run(t, nil, "providers", "--json")
	ps := decode[[]ProviderJSON](t, r.out)
	if r.code != 0 || r.errOut != "" || len(ps) != 8 {
		t.Fatalf("providers --json = %d %q\n%s", r.code, r.errOut, r.out)
	}
	var names []string
	for _, p := range ps {
		names = append(names, p.Name)
	}
	if !slices.IsSorted(names) || !slices.Contains(names, "anthropic") {
		t.Errorf("names = %v", names)
	}
	o := ps[slices.Index(names, "openai")]
	if o.DisplayName != "OpenAI" || o.Auth != "api_key" || o.DocsURL == "" ||
		len(o.Slots) != 1 || o.Slots[0] != (SlotJSON{Name: "OPENAI_API_KEY", Secret: true, Policy: "proxy"}) {
		t.Errorf("openai = %+v", o)
	}
}

func TestProvidersEmptyRegistry(t *testing.T) {
	f := newTestFactory(t)
	f.Providers = &providers.Registry{}
	r := run(t, f, "providers")
	if r.code != 0 || r.out != "" || !strings.Contains(r.errOut, "No providers") {
		t.Errorf("empty text = %d %q %q", r.code, r.out, r.errOut)
	}
	r = run(t, f, "providers", "--json")
	if r.code != 0 || r.out != "[]\n" {
		t.Errorf("empty json = %d %q", r.code, r.out)
	}
}

func TestTemplatesList(t *testing.T) {
	for _, args := range [][]string{{"templates"}, {"templates", "list"}, {"templates", "ls"}} {
		r := run(t, nil, args...)
		if r.code != 0 || r.errOut != "" {
			t.Fatalf("%v = %d %q", args, r.code, r.errOut)
		}
		lines := strings.Split(strings.TrimRight(r.out, "\n"), "\n")
		if len(lines) != 4 || !strings.HasPrefix(lines[0], "NAME") ||
			!strings.HasPrefix(lines[1], "ai-app ") || !strings.HasPrefix(lines[2], "nextjs-supabase-vercel ") || !strings.HasPrefix(lines[3], "supabase-aws ") {
			t.Errorf("%v output:\n%s", args, r.out)
		}
	}
	for _, args := range [][]string{{"templates", "--json"}, {"templates", "list", "--json"}, {"templates", "--json", "list"}} {
		r := run(t, nil, args...)
		ts := decode[[]TemplateJSON](t, r.out)
		if r.code != 0 || len(ts) != 3 || ts[0].Name != "ai-app" || len(ts[0].Services) != 2 || ts[0].Description == "" {
			t.Errorf("%v = %d %+v", args, r.code, ts)
		}
	}
}

func TestTemplatesShow(t *testing.T) {
	r := run(t, nil, "templates", "show", "ai-app")
	if r.code != 0 {
		t.Fatalf("show = %d %q", r.code, r.errOut)
	}
	for _, want := range []string{"ai-app: ", "SERVICE", "openai", "OPENAI_API_KEY", "SUPABASE_URL, SUPABASE_ANON_KEY, SUPABASE_SERVICE_ROLE_KEY, SUPABASE_DB_PASSWORD, DATABASE_URL"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("show output lacks %q:\n%s", want, r.out)
		}
	}
	// Every provider the template needs is built in: nothing is flagged.
	if r.errOut != "" {
		t.Errorf("stderr = %q", r.errOut)
	}

	r = run(t, nil, "templates", "show", "supabase-aws", "--json")
	tpl := decode[TemplateJSON](t, r.out)
	if r.code != 0 || tpl.Name != "supabase-aws" || len(tpl.Services) != 2 ||
		tpl.Services[1].Provider != "aws" || !slices.Equal(tpl.Services[1].Slots, []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "S3_BUCKET"}) {
		t.Errorf("show --json = %d %+v", r.code, tpl)
	}
}

func TestUnknownTemplateFails(t *testing.T) {
	r := run(t, nil, "templates", "show", "ai-ap")
	if r.code != exitcode.Failure {
		t.Errorf("code = %d, want 1", r.code)
	}
	for _, want := range []string{`unknown template "ai-ap"`, `did you mean "ai-app"`, "ai-app, nextjs-supabase-vercel, supabase-aws"} {
		if !strings.Contains(r.errOut, want) {
			t.Errorf("stderr lacks %q: %q", want, r.errOut)
		}
	}
	if r.out != "" {
		t.Errorf("stdout = %q", r.out)
	}
	// With --json, stdout is still one JSON document: the failure.
	r = run(t, nil, "templates", "show", "nope", "--json")
	if r.code != exitcode.Failure {
		t.Errorf("--json unknown: code %d", r.code)
	}
	if fail := decode[jsonout.Failure](t, r.out); !strings.Contains(fail.Error, `unknown template "nope"`) || fail.ExitCode != exitcode.Failure {
		t.Errorf("--json unknown: %+v", fail)
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bogus"}, `unknown command "bogus" for "stack"`},
		{[]string{"templats"}, `did you mean "templates"?`},
		{[]string{"templates", "bogus"}, `unknown command "bogus" for "stack templates"`},
		{[]string{"templates", "show"}, "needs TEMPLATE"},
		{[]string{"templates", "show", "a", "b"}, "takes 1 argument"},
		{[]string{"version", "extra"}, "takes no arguments"},
		{[]string{"providers", "--bogus"}, "unknown flag: --bogus"},
		{[]string{"--bogus"}, "unknown flag: --bogus"},
		{[]string{"version", "--json=maybe"}, "invalid argument"},
	} {
		r := run(t, nil, tc.args...)
		if r.code != exitcode.Usage {
			t.Errorf("%v: code %d, want 2 (stderr %q)", tc.args, r.code, r.errOut)
		}
		if !strings.Contains(r.errOut, tc.want) || !strings.Contains(r.errOut, "--help' for usage") {
			t.Errorf("%v: stderr %q lacks %q and a help hint", tc.args, r.errOut, tc.want)
		}
		if r.out != "" {
			t.Errorf("%v: stdout %q", tc.args, r.out)
		}
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{nil, {"--help"}, {"help"}} {
		r := run(t, nil, args...)
		if r.code != 0 || !strings.Contains(r.out, "never writes a plaintext secret") || !strings.Contains(r.out, "phantom") {
			t.Errorf("%v = %d\n%s", args, r.code, r.out)
		}
	}
}

func TestMainMapsErrors(t *testing.T) {
	ios, _, _, errOut := term.Test()
	code := Main(context.Background(), []string{"stack", "bogus"}, ios.In, ios.Out, ios.ErrOut)
	if code != exitcode.Usage || !strings.Contains(errOut.String(), "unknown command") {
		t.Errorf("Main = %d %q", code, errOut)
	}
	if code := Main(context.Background(), []string{"stack", "version"}, ios.In, ios.Out, ios.ErrOut); code != 0 {
		t.Errorf("Main version = %d", code)
	}
}

func TestFlagsReachOptions(t *testing.T) {
	f := newTestFactory(t)
	var got *TemplatesShowOptions
	cmd := newTemplatesShowCmd(f, func(o *TemplatesShowOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"ai-app", "--json"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got == nil || got.Name != "ai-app" || !got.JSON {
		t.Errorf("options = %+v", got)
	}

	var pv *ProvidersOptions
	pc := newProvidersCmd(f, func(o *ProvidersOptions) error { pv = o; return nil })
	pc.SetArgs([]string{"--json"})
	if err := pc.Execute(); err != nil || pv == nil || !pv.JSON {
		t.Errorf("providers options = %+v, %v", pv, err)
	}
}

// pendingProviders are named by templates but not built yet; the later stack
// issue adds them. When one is registered, delete it here so the slot check
// below covers it.
var pendingProviders = []string{}

// TestTemplatesMatchRegistry keeps templates and providers in step: every
// template service names a registered provider (or a pending one), and asks
// for exactly the slots that provider fills.
func TestTemplatesMatchRegistry(t *testing.T) {
	f := newTestFactory(t)
	for _, tpl := range f.Templates.List() {
		for _, s := range tpl.Services {
			p, err := f.Providers.Get(s.Provider)
			if err != nil {
				if !slices.Contains(pendingProviders, s.Provider) {
					t.Errorf("template %s, service %s: %v", tpl.Name, s.Name, err)
				}
				continue
			}
			var slots []string
			for _, sl := range p.Info().Slots {
				slots = append(slots, sl.Name)
			}
			if !slices.Equal(s.Slots, slots) {
				t.Errorf("template %s, service %s: slots %v, provider %s fills %v", tpl.Name, s.Name, s.Slots, s.Provider, slots)
			}
		}
	}
	for _, name := range pendingProviders {
		if _, err := f.Providers.Get(name); err == nil {
			t.Errorf("provider %s is registered now: remove it from pendingProviders", name)
		}
	}
}
