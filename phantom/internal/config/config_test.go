package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const pid = "0123456789abcdef0123456789abcdef"

// head is a minimal valid [phantom] table; it is 3 lines long.
const head = "[phantom]\nversion = 1\nproject_id = \"" + pid + "\"\n"

func mustParse(t *testing.T, src string) *Config {
	t.Helper()
	c, err := parse(FileName, []byte(src))
	if err != nil {
		t.Fatalf("parse:\n%s\nerror: %v", src, err)
	}
	return c
}

func TestLoadValid(t *testing.T) {
	tests := []struct {
		name      string
		src       string
		audit     string
		envFiles  []string
		overrides Overrides
		policies  map[string]string
	}{
		{
			name:     "minimal",
			src:      head,
			audit:    "on",
			envFiles: []string{".env", ".env.local"},
			policies: map[string]string{},
		},
		{
			name: "full with comments everywhere",
			src: `# top comment
[phantom]   # the table
version = 1 # schema
project_id = "` + pid + `"
audit = "required"
env_files = [
  ".env",        # base
  "./config/../.env.local", # cleaned
  'apps/web/.env',
] # end

[classify] # overrides
secret = ["MY_INTERNAL_*", "X?_KEY"]
public = ["SENTRY_DSN", "[AB]_PUBLIC"]

[secrets.DATABASE_URL]
policy = "inject"

[secrets."OPENAI_API_KEY"]
policy = 'proxy'
`,
			audit:     "required",
			envFiles:  []string{".env", ".env.local", "apps/web/.env"},
			overrides: Overrides{Secret: []string{"MY_INTERNAL_*", "X?_KEY"}, Public: []string{"SENTRY_DSN", "[AB]_PUBLIC"}},
			policies:  map[string]string{"DATABASE_URL": "inject", "OPENAI_API_KEY": "proxy"},
		},
		{
			name: "inline and dotted tables",
			src: `phantom = { version = 1, project_id = "` + pid + `", audit = "off" }
classify.public = ["A_*"]
[secrets]
A = { policy = "deny" }
B.policy = "inject"
`,
			audit:     "off",
			envFiles:  []string{".env", ".env.local"},
			overrides: Overrides{Public: []string{"A_*"}},
			policies:  map[string]string{"A": "deny", "B": "inject"},
		},
		{
			name:     "explicit empty env_files and empty secrets",
			src:      head + "env_files = []\n[secrets]\n[secrets.EMPTY]\n",
			audit:    "on",
			envFiles: []string{},
			policies: map[string]string{},
		},
		{
			name:     "CRLF and BOM",
			src:      "\xef\xbb\xbf# c\r\n[phantom]\r\nversion = 1\r\nproject_id = \"" + pid + "\"\r\n\r\n[secrets.K]\r\npolicy = \"deny\"\r\n",
			audit:    "on",
			envFiles: []string{".env", ".env.local"},
			policies: map[string]string{"K": "deny"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, tt.src)
			if c.ProjectID() != pid {
				t.Errorf("ProjectID = %q", c.ProjectID())
			}
			if c.AuditMode() != tt.audit {
				t.Errorf("AuditMode = %q, want %q", c.AuditMode(), tt.audit)
			}
			if got := c.EnvFiles(); !reflect.DeepEqual(got, tt.envFiles) {
				t.Errorf("EnvFiles = %q, want %q", got, tt.envFiles)
			}
			if got := c.Overrides(); !reflect.DeepEqual(got, tt.overrides) {
				t.Errorf("Overrides = %q, want %q", got, tt.overrides)
			}
			for name, want := range tt.policies {
				if got, ok := c.Policy(name); !ok || got != want {
					t.Errorf("Policy(%s) = %q, %v; want %q, true", name, got, ok, want)
				}
			}
			if got, ok := c.Policy("NOT_SET"); ok || got != "" {
				t.Errorf("Policy(NOT_SET) = %q, %v", got, ok)
			}
			if got := len(c.m.policies); got != len(tt.policies) {
				t.Errorf("%d policies, want %d", got, len(tt.policies))
			}
		})
	}
}

func TestAccessorsReturnCopies(t *testing.T) {
	c := mustParse(t, head+"env_files = [\"a\"]\n[classify]\nsecret = [\"S\"]\n")
	c.EnvFiles()[0] = "changed"
	c.Overrides().Secret[0] = "changed"
	if c.EnvFiles()[0] != "a" || c.Overrides().Secret[0] != "S" {
		t.Fatal("accessors expose internal slices")
	}
	d := mustParse(t, head)
	d.EnvFiles()[0] = "changed"
	if defaultEnvFiles[0] != ".env" {
		t.Fatal("EnvFiles exposes defaultEnvFiles")
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string // the first error, "line: message"
	}{
		// Unknown keys, with the line and the nearest valid key.
		{"typo in secrets", head + "\n[secrets.DATABASE_URL]\n# how the app gets it\npolcy = \"inject\"\n",
			`7: unknown key "polcy" in [secrets.DATABASE_URL]; did you mean "policy"?`},
		{"typo in phantom", "# c\n[phantom]\nversion = 1\nprojectid = \"" + pid + "\"\n",
			`4: unknown key "projectid" in [phantom]; did you mean "project_id"?`},
		{"prefix in phantom", head + "env = [\".env\"]\n",
			`4: unknown key "env" in [phantom]; did you mean "env_files"?`},
		{"case in phantom", head + "Audit = \"on\"\n",
			`4: unknown key "Audit" in [phantom]; did you mean "audit"?`},
		{"transposition in classify", head + "[classify]\nsecret = []\npubilc = [\"X\"]\n",
			`6: unknown key "pubilc" in [classify]; did you mean "public"?`},
		{"no suggestion", head + "[classify]\nwhatever = 1\n",
			`5: unknown key "whatever" in [classify]`},
		{"key in the wrong table", head + "policy = \"deny\"\n",
			`4: unknown key "policy" in [phantom]; it belongs in [secrets.<NAME>]`},
		{"unknown top-level table", head + "\n[phantm.extra]\nx = 1\n",
			`5: unknown table [phantm]; did you mean [phantom]?`},
		{"unknown top-level table no suggestion", head + "[zzz.openai]\nupstream = \"x\"\n",
			`4: unknown table [zzz]`},
		{"route upstream not a URL", head + "[routes.openai]\nupstream = \"x\"\n",
			`5: routes.openai.upstream must be an absolute URL such as https://api.example.com`},
		{"route upstream plain http", head + "[routes.openai]\nupstream = \"http://api.example.com\"\n",
			`5: routes.openai.upstream must use https (plain http is accepted only for a loopback host)`},
		{"route unknown key", head + "[routes.mine]\nupstrem = \"https://x.example\"\n",
			`5: unknown key "upstrem" in [routes.mine]; did you mean "upstream"?`},
		{"route bad name", head + "[routes.My_Route]\nupstream = \"https://x.example\"\n",
			`4: invalid route name "My_Route": use lowercase letters, digits and - (it becomes a URL path segment)`},
		{"unknown top-level key", "version = 1\n" + head,
			`1: unknown key "version" at the top level; it belongs in [phantom]`},
		{"typo in inline table", head + "[secrets]\nA = { policy = \"deny\" }\nB = { polic = \"deny\" }\n",
			`6: unknown key "polic" in [secrets.B]; did you mean "policy"?`},
		{"typo in dotted key", "secrets.A.plicy = \"deny\"\n" + head,
			`1: unknown key "plicy" in [secrets.A]; did you mean "policy"?`},
		{"dotted key under a header", head + "secrets.A.policy = \"deny\"\n",
			`4: unknown key "secrets" in [phantom]`},
		{"typo in quoted header", head + "[\"secrets\".\"A\"]\n'polcy' = \"deny\"\n",
			`5: unknown key "polcy" in [secrets.A]; did you mean "policy"?`},
		{"line counting across multi-line values", head + "env_files = [\n\".env\",\n]\n[classify]\nsecret = [\"\"\"A\n[fake]\npolcy = 1\"\"\"]\n# ''' \"\"\"\nsecrte = []\n",
			`12: unknown key "secrte" in [classify]; did you mean "secret"?`},

		// Wrong types.
		{"version as string", "[phantom]\nversion = \"1\"\nproject_id = \"" + pid + "\"\n",
			`2: phantom.version must be an integer, not a string`},
		{"phantom not a table", "phantom = 1\n",
			`1: [phantom] must be a table, not an integer (1)`},
		{"env_files not an array", head + "env_files = \".env\"\n",
			`4: phantom.env_files must be an array of strings, not a string`},
		{"env_files element", head + "env_files = [\n  \".env\",\n  42,\n]\n",
			`6: phantom.env_files must be an array of strings, but element 2 is an integer (42)`},
		{"secret not a table", head + "[secrets]\nA = 1\n",
			`5: secrets.A must be a table, not an integer (1)`},
		// A secret value pasted into the file is never echoed.
		{"secret value in [secrets]", head + "[secrets]\nOPENAI_API_KEY = \"sk-proj-0123456789abcdef\"\n",
			"5: secrets.OPENAI_API_KEY must be a table ([secrets.OPENAI_API_KEY] with a policy), not a string; secret values never go in .phantom.toml, which is committed: store it with `phantom add OPENAI_API_KEY --stdin` and delete this line"},
		{"secret value at the top level", "STRIPE_SECRET_KEY = \"sk_live_0123456789abcdef\"\n" + head,
			"1: unknown key \"STRIPE_SECRET_KEY\" at the top level; secret values never go in .phantom.toml, which is committed: store them with `phantom add STRIPE_SECRET_KEY --stdin`"},
		{"secret value as a policy", head + "[secrets.K]\npolicy = \"sk_live_0123456789abcdef\"\n",
			`5: invalid policy (a 24-character value, not shown) for K; use "proxy", "inject" or "deny"`},
		{"secret value as an unquoted value", head + "[secrets.K]\npolicy = abcdefghijklmnopqrstuvwxyz0123\n",
			`5: invalid TOML: expected value but found "abcd…" instead`},
		{"array of tables", head + "[[secrets.A]]\npolicy = \"deny\"\n",
			`4: secrets.A must be a table, not an array of tables`},
		{"policy not a string", head + "[secrets.A]\npolicy = true\n",
			`5: secrets.A.policy must be a string, not a boolean (true)`},

		// Bad values.
		{"bad audit", head + "audit = \"requried\"\n",
			`4: invalid audit "requried"; use "on", "off" or "required"; did you mean "required"?`},
		{"bad policy", head + "[secrets.DATABASE_URL]\npolicy = \"injct\"\n",
			`5: invalid policy "injct" for DATABASE_URL; use "proxy", "inject" or "deny"; did you mean "inject"?`},
		{"bad project_id", "[phantom]\nversion = 1\nproject_id = \"a1b2c3d4e5f60718\"\n",
			`3: phantom.project_id must be 32 lowercase hex digits (128 random bits), got "a1b2c3d4e5f60718"`},
		{"uppercase project_id", "[phantom]\nversion = 1\nproject_id = \"" + strings.ToUpper(pid) + "\"\n",
			`3: phantom.project_id must be 32 lowercase hex digits (128 random bits), got "0123456789ABCDEF0123456789ABCDEF"; did you mean "` + pid + `"?`},
		{"project_id not hex", "[phantom]\nversion = 1\nproject_id = \"0123456789abcdef0123456789abcdeg\"\n",
			`3: phantom.project_id must be 32 lowercase hex digits (128 random bits), got (a 32-character value, not shown)`},
		{"newer version", "[phantom]\nversion = 2\nproject_id = \"whatever\"\nnew_key = 1\n[routes.x]\n",
			`2: written by a newer phantom (version = 2; this phantom reads version 1); upgrade phantom`},
		{"version zero", "[phantom]\nversion = 0\nproject_id = \"" + pid + "\"\n",
			`2: invalid version 0; this phantom reads version 1`},
		{"missing phantom", "# nothing\n",
			"1: missing [phantom] table (with version and project_id); run `phantom init` to create one"},
		{"missing project_id", "# c\n[phantom]\nversion = 1\n",
			`2: missing project_id in [phantom]; it names this project's vault, so restore it from git history rather than inventing one`},
		{"missing version", "[phantom]\nproject_id = \"" + pid + "\"\n",
			`1: missing version in [phantom] (add: version = 1)`},
		{"bad secret name", head + "[secrets.my-key]\npolicy = \"deny\"\n",
			`4: invalid secret name "my-key" in [secrets]: use an env var name (letters, digits and _, not starting with a digit)`},
		{"secret name starting with a digit", head + "[secrets.1KEY]\n",
			`4: invalid secret name "1KEY" in [secrets]: use an env var name (letters, digits and _, not starting with a digit)`},
		{"absolute env file", head + "env_files = [\".env\", \"/etc/passwd\"]\n",
			`4: env_files entry "/etc/passwd" must be a path relative to the project directory`},
		{"escaping env file", head + "env_files = [\n\"a/../../.env\"]\n",
			`5: env_files entry "a/../../.env" is outside the project directory`},
		{"backslash env file", head + "env_files = ['..\\x']\n",
			`4: env_files entry "..\\x" uses a backslash; write paths with forward slashes (the file is shared across systems)`},
		{"windows drive env file", head + "env_files = ['C:x']\n",
			`4: env_files entry "C:x" must be a path relative to the project directory`},
		{"project dir as env file", head + "env_files = ['./']\n",
			`4: env_files entry "./" names the project directory itself, not a file`},
		{"duplicate env file", head + "env_files = ['.env', './.env']\n",
			`4: env_files lists ".env" twice`},
		{"empty env file", head + "env_files = ['']\n",
			`4: env_files entry "" is empty`},
		{"bad glob", head + "[classify]\nsecret = [\"MY_[A-\"]\n",
			`5: classify.secret pattern "MY_[A-" is not a valid glob (use * and ? wildcards, [A-Z] classes, \ to escape)`},
		{"glob with slash", head + "[classify]\npublic = [\"a/b\"]\n",
			`5: classify.public pattern "a/b" contains '/', which never occurs in an env var name`},
		{"pattern in both lists", head + "[classify]\nsecret = [\"X_*\"]\npublic = [\n\"Y\",\n\"X_*\"]\n",
			`8: pattern "X_*" is in both classify.secret and classify.public`},

		// TOML syntax errors.
		{"syntax error", head + "\n[secrets.A]\npolicy = \n",
			`6: invalid TOML: expected value but found '\n' instead`},
		{"unterminated string", head + "audit = \"on\n",
			`4: invalid TOML: strings cannot contain newlines`},
		{"duplicate key", head + "version = 1\n",
			`4: invalid TOML: Key 'phantom.version' has already been defined.`},
		{"duplicate table", head + "[phantom]\n",
			`4: invalid TOML: Key 'phantom' has already been defined.`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse(FileName, []byte(tt.src))
			if err == nil {
				t.Fatalf("no error for:\n%s", tt.src)
			}
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error is %T, want ErrorList: %v", err, err)
			}
			if got := strings.TrimPrefix(list[0].Error(), FileName+":"); got != tt.want {
				t.Errorf("first error:\n got %s\nwant %s\nall: %v", got, tt.want, err)
			}
			var e *Error
			if !errors.As(err, &e) || e != list[0] {
				t.Errorf("errors.As(*Error) does not find the first error")
			}
		})
	}
}

func TestLoadReportsEveryErrorInLineOrder(t *testing.T) {
	src := head + `audit = "of"
[secrets.Z]
polcy = "x"
[classify]
secert = []
`
	_, err := parse(FileName, []byte(src))
	want := FileName + `:4: invalid audit "of"; use "on", "off" or "required"; did you mean "off"?
` + FileName + `:6: unknown key "polcy" in [secrets.Z]; did you mean "policy"?
` + FileName + `:8: unknown key "secert" in [classify]; did you mean "secret"?`
	if err == nil || err.Error() != want {
		t.Fatalf("got\n%v\nwant\n%s", err, want)
	}
}

func TestLoadNamesTheFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, FileName)
	os.WriteFile(p, []byte(head+"\n\n[secrets.DATABASE_URL]\npolcy = \"inject\"\n"), 0o644)
	_, err := Load(p)
	want := p + `:7: unknown key "polcy" in [secrets.DATABASE_URL]; did you mean "policy"?`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}

	_, err = Load(filepath.Join(dir, "missing.toml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v, want os.ErrNotExist", err)
	}
}

func TestFind(t *testing.T) {
	root := t.TempDir()
	deep := filepath.Join(root, "a", "b", "c")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}

	_, err := Find(deep)
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("Find without a config: %v, want ErrNotFound", err)
	}
	want := "no .phantom.toml in " + deep + " or any parent; run `phantom init` first"
	if err.Error() != want {
		t.Errorf("message:\n got %s\nwant %s", err, want)
	}

	// A directory of that name is not a config.
	os.Mkdir(filepath.Join(root, "a", "b", FileName), 0o755)
	os.WriteFile(filepath.Join(root, "a", FileName), []byte(head), 0o644)
	for _, start := range []string{deep, filepath.Join(root, "a", "b"), filepath.Join(root, "a")} {
		got, err := Find(start)
		if err != nil || got != filepath.Join(root, "a") {
			t.Errorf("Find(%s) = %q, %v", start, got, err)
		}
	}

	// The nearest one wins.
	os.WriteFile(filepath.Join(deep, FileName), []byte(head), 0o644)
	if got, _ := Find(deep); got != deep {
		t.Errorf("Find = %q, want %q", got, deep)
	}

	// Relative start directories work.
	t.Chdir(deep)
	if got, err := Find("."); err != nil || got != deep {
		t.Errorf("Find(.) = %q, %v", got, err)
	}
}

func TestNew(t *testing.T) {
	a, b := New(), New()
	if !validProjectID(a.ProjectID()) || a.ProjectID() == b.ProjectID() {
		t.Fatalf("project ids %q %q", a.ProjectID(), b.ProjectID())
	}
	if a.AuditMode() != AuditOn || !reflect.DeepEqual(a.EnvFiles(), defaultEnvFiles) || a.Path() != "" {
		t.Fatalf("defaults: %q %q %q", a.AuditMode(), a.EnvFiles(), a.Path())
	}
	if !a.m.envSet {
		t.Error("New should write env_files out so users see it")
	}
	text := string(a.Bytes())
	for _, want := range []string{"# .phantom.toml", "Commit this file", "holds no secrets", "project_id = \"" + a.ProjectID() + "\""} {
		if !strings.Contains(text, want) {
			t.Errorf("rendered file lacks %q:\n%s", want, text)
		}
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, FileName)
	c := New()
	if err := c.SetSecretPolicy("DATABASE_URL", PolicyInject); err != nil {
		t.Fatal(err)
	}
	if err := c.AddEnvFile("apps/api/.env"); err != nil {
		t.Fatal(err)
	}
	if err := c.Save(p); err != nil {
		t.Fatal(err)
	}
	if c.Path() != p {
		t.Errorf("Path = %q", c.Path())
	}
	st, err := os.Stat(p)
	if err != nil || st.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v, %v; want 0644", st.Mode(), err)
	}
	d, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.m, d.m) || string(c.src) != string(d.src) {
		t.Fatalf("round trip changed the config:\n%+v\n%+v", c.m, d.m)
	}
	if pol, ok := d.Policy("DATABASE_URL"); pol != PolicyInject || !ok {
		t.Errorf("Policy = %q %v", pol, ok)
	}

	// Saving the same config again is fine (nothing changed on disk) and
	// keeps the file's mode.
	os.Chmod(p, 0o600)
	if err := d.SetSecretPolicy("DATABASE_URL", PolicyDeny); err != nil {
		t.Fatal(err)
	}
	if err := d.Save(p); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
		t.Errorf("Save changed the mode to %v", st.Mode())
	}
	if err := d.Save(p); err != nil {
		t.Fatalf("second save: %v", err)
	}
	e, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if pol, _ := e.Policy("DATABASE_URL"); pol != PolicyDeny {
		t.Errorf("Policy after save = %q", pol)
	}
}

func TestSaveRefusesToClobber(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, FileName)
	first := New()
	if err := first.Save(p); err != nil {
		t.Fatal(err)
	}
	// A second New over an existing project would orphan its vault.
	if err := New().Save(p); !errors.Is(err, ErrExists) {
		t.Fatalf("New().Save over an existing file: %v, want ErrExists", err)
	}
	loaded, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.ProjectID() != first.ProjectID() {
		t.Fatal("project_id changed")
	}
	// A user edit between Load and Save is not lost.
	edited := append(loaded.Bytes(), "# my note\n"...)
	os.WriteFile(p, edited, 0o644)
	loaded.SetSecretPolicy("A", PolicyDeny)
	if err := loaded.Save(p); !errors.Is(err, ErrChanged) {
		t.Fatalf("Save after an external edit: %v, want ErrChanged", err)
	}
	if got, _ := os.ReadFile(p); string(got) != string(edited) {
		t.Fatal("file was overwritten")
	}
}

func TestSaveThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real.toml")
	os.WriteFile(real, []byte(head), 0o644)
	link := filepath.Join(dir, FileName)
	if err := os.Symlink("real.toml", link); err != nil {
		t.Skip(err)
	}
	c, err := Load(link)
	if err != nil {
		t.Fatal(err)
	}
	c.SetSecretPolicy("A", PolicyDeny)
	if err := c.Save(link); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink == 0 {
		t.Fatal("symlink replaced by a file")
	}
	if got, _ := os.ReadFile(real); !strings.Contains(string(got), "[secrets.A]") {
		t.Fatalf("target not updated:\n%s", got)
	}
}
