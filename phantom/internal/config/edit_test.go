package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// userFile is a hand-edited config full of comments and odd layout.
const userFile = `# Project config, see the wiki.
# Second comment line.

[phantom]  # identity
version    = 1
project_id = "` + pid + `"   # never change
audit = "on"

env_files = [
  ".env",       # shared
  ".env.local", # mine
]

# --- classification ---
[classify]
secret = ["MY_INTERNAL_*"]  # ours

# --- secrets ---
[secrets.DATABASE_URL]
# the app connects directly
policy = "inject"   # needs the real value

[secrets.STRIPE_SECRET_KEY]
policy = 'proxy'

# trailing comment at the end
`

func TestSetSecretPolicyEdits(t *testing.T) {
	tests := []struct {
		name, src, secret, policy, want string
	}{
		{
			name: "replace an existing value, keeping its comment",
			src:  userFile, secret: "DATABASE_URL", policy: "deny",
			want: strings.Replace(userFile, `policy = "inject"   # needs`, `policy = "deny"   # needs`, 1),
		},
		{
			name: "replace a literal string value",
			src:  userFile, secret: "STRIPE_SECRET_KEY", policy: "deny",
			want: strings.Replace(userFile, `policy = 'proxy'`, `policy = "deny"`, 1),
		},
		{
			name: "new table after the other secrets, before the trailing comment",
			src:  userFile, secret: "OPENAI_API_KEY", policy: "proxy",
			want: strings.Replace(userFile, "policy = 'proxy'\n", "policy = 'proxy'\n\n[secrets.OPENAI_API_KEY]\npolicy = \"proxy\"\n", 1),
		},
		{
			name: "existing header without policy",
			src:  head + "\n[secrets.A]  # mine\n\n# next\n[classify]\n", secret: "A", policy: "deny",
			want: head + "\n[secrets.A]  # mine\npolicy = \"deny\"\n\n# next\n[classify]\n",
		},
		{
			name: "no secrets yet, file without final newline",
			src:  head + "audit = \"on\" # x", secret: "K", policy: "inject",
			want: head + "audit = \"on\" # x\n\n[secrets.K]\npolicy = \"inject\"\n",
		},
		{
			name: "no secrets yet, file ending in a blank line",
			src:  head + "\n", secret: "K", policy: "inject",
			want: head + "\n[secrets.K]\npolicy = \"inject\"\n",
		},
		{
			name: "inline table value",
			src:  head + "[secrets]\nA = { policy = \"inject\" } # c\n", secret: "A", policy: "deny",
			want: head + "[secrets]\nA = { policy = \"deny\" } # c\n",
		},
		{
			name: "empty inline table",
			src:  head + "[secrets]\nA = {} # c\n", secret: "A", policy: "deny",
			want: head + "[secrets]\nA = { policy = \"deny\" } # c\n",
		},
		{
			name: "inline secrets table",
			src:  "secrets = { A = { policy = \"inject\" } } # c\n" + head, secret: "B", policy: "deny",
			want: "secrets = { A = { policy = \"inject\" }, B.policy = \"deny\" } # c\n" + head,
		},
		{
			name: "dotted keys",
			src:  head + "[secrets]\nA.policy = \"inject\" # c\n", secret: "A", policy: "deny",
			want: head + "[secrets]\nA.policy = \"deny\" # c\n",
		},
		{
			name: "top-level dotted keys cannot take a header after them",
			src:  "secrets.A.policy = \"inject\"\nphantom.version = 1\nphantom.project_id = \"" + pid + "\"\n", secret: "B", policy: "deny",
			want: "secrets.A.policy = \"inject\"\nphantom.version = 1\nphantom.project_id = \"" + pid + "\"\n\n[secrets.B]\npolicy = \"deny\"\n",
		},
		{
			name: "CRLF file",
			src:  strings.ReplaceAll(head+"\n[secrets.A]\npolicy = \"inject\"\n", "\n", "\r\n"), secret: "B", policy: "proxy",
			want: strings.ReplaceAll(head+"\n[secrets.A]\npolicy = \"inject\"\n\n[secrets.B]\npolicy = \"proxy\"\n", "\n", "\r\n"),
		},
		{
			name: "same policy is a no-op",
			src:  userFile, secret: "DATABASE_URL", policy: "inject",
			want: userFile,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, tt.src)
			if err := c.SetSecretPolicy(tt.secret, tt.policy); err != nil {
				t.Fatal(err)
			}
			if got := string(c.Bytes()); got != tt.want {
				t.Fatalf("got:\n%s\nwant:\n%s", got, tt.want)
			}
			if p, ok := c.Policy(tt.secret); !ok || p != tt.policy {
				t.Fatalf("Policy = %q, %v", p, ok)
			}
			// The text and the model agree.
			d := mustParse(t, string(c.Bytes()))
			if p, _ := d.Policy(tt.secret); p != tt.policy {
				t.Fatalf("reloaded Policy = %q", p)
			}
		})
	}
}

func TestSetSecretPolicyRejects(t *testing.T) {
	c := mustParse(t, head)
	for _, tc := range []struct{ name, policy, want string }{
		{"my-key", "deny", `invalid secret name "my-key": use an env var name (letters, digits and _, not starting with a digit)`},
		{"", "deny", `invalid secret name "": use an env var name (letters, digits and _, not starting with a digit)`},
		{"OK", "injct", `invalid policy "injct"; use "proxy", "inject" or "deny"; did you mean "inject"?`},
	} {
		err := c.SetSecretPolicy(tc.name, tc.policy)
		if err == nil || err.Error() != tc.want {
			t.Errorf("SetSecretPolicy(%q, %q) = %v, want %s", tc.name, tc.policy, err, tc.want)
		}
	}
	if string(c.Bytes()) != head {
		t.Fatal("a rejected edit changed the text")
	}
}

func TestAddEnvFileEdits(t *testing.T) {
	tests := []struct {
		name, src, file, want string
	}{
		{
			name: "multi-line array with trailing comma and comments",
			src:  userFile, file: "apps/web/.env",
			want: strings.Replace(userFile, "  \".env.local\", # mine\n", "  \".env.local\", # mine\n  \"apps/web/.env\",\n", 1),
		},
		{
			name: "multi-line array without trailing comma",
			src:  head + "env_files = [\n\t\".env\" # c\n]\n", file: "b.env",
			want: head + "env_files = [\n\t\".env\", # c\n\t\"b.env\"\n]\n",
		},
		{
			name: "single-line array",
			src:  head + "env_files = [\".env\"]   # c\n", file: "./b.env",
			want: head + "env_files = [\".env\", \"b.env\"]   # c\n",
		},
		{
			name: "empty array",
			src:  head + "env_files = [ ]\n", file: "b.env",
			want: head + "env_files = [\"b.env\"]\n",
		},
		{
			name: "unset: written after the last [phantom] key, defaults kept",
			src:  "# c\n" + head + "audit = \"on\" # a\n\n# classify\n[classify]\n", file: "b.env",
			want: "# c\n" + head + "audit = \"on\" # a\nenv_files = [\".env\", \".env.local\", \"b.env\"]\n\n# classify\n[classify]\n",
		},
		{
			name: "unset, inline [phantom]",
			src:  "phantom = { version = 1, project_id = \"" + pid + "\" }\n", file: "b.env",
			want: "phantom = { version = 1, project_id = \"" + pid + "\", env_files = [\".env\", \".env.local\", \"b.env\"] }\n",
		},
		{
			name: "CRLF",
			src:  strings.ReplaceAll(head+"env_files = [\n  \".env\",\n]\n", "\n", "\r\n"), file: "b.env",
			want: strings.ReplaceAll(head+"env_files = [\n  \".env\",\n  \"b.env\",\n]\n", "\n", "\r\n"),
		},
		{
			name: "already listed",
			src:  userFile, file: "./.env.local",
			want: userFile,
		},
		{
			name: "default when unset",
			src:  head, file: ".env",
			want: head,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, tt.src)
			if err := c.AddEnvFile(tt.file); err != nil {
				t.Fatal(err)
			}
			if got := string(c.Bytes()); got != tt.want {
				t.Fatalf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestAddEnvFileRejects(t *testing.T) {
	c := mustParse(t, userFile)
	for file, want := range map[string]string{
		"../.env":     `env file "../.env" is outside the project directory`,
		"/etc/passwd": `env file "/etc/passwd" must be a path relative to the project directory`,
		"":            `env file "" is empty`,
	} {
		if err := c.AddEnvFile(file); err == nil || err.Error() != want {
			t.Errorf("AddEnvFile(%q) = %v, want %s", file, err, want)
		}
	}
}

// TestEditsKeepComments runs both edits on a commented file through Save
// and Load and checks that every original line is still there, in order.
func TestEditsKeepComments(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, FileName)
	if err := os.WriteFile(p, []byte(userFile), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []func() error{
		func() error { return c.SetSecretPolicy("OPENAI_API_KEY", PolicyProxy) },
		func() error { return c.AddEnvFile("apps/web/.env.local") },
		func() error { return c.SetSecretPolicy("STRIPE_SECRET_KEY", PolicyDeny) },
		func() error { return c.SetSecretPolicy("OPENAI_API_KEY", PolicyDeny) },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Save(p); err != nil {
		t.Fatal(err)
	}
	saved, _ := os.ReadFile(p)
	got := strings.Split(string(saved), "\n")
	i := 0
	for _, line := range strings.Split(userFile, "\n") {
		if line == "policy = 'proxy'" {
			line = `policy = "deny"` // the one value we changed
		}
		for i < len(got) && got[i] != line {
			i++
		}
		if i == len(got) {
			t.Fatalf("line %q lost or out of order:\n%s", line, saved)
		}
		i++
	}
	d, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if pol, _ := d.Policy("OPENAI_API_KEY"); pol != PolicyDeny {
		t.Errorf("OPENAI_API_KEY policy %q", pol)
	}
	if ef := d.EnvFiles(); len(ef) != 3 || ef[2] != "apps/web/.env.local" {
		t.Errorf("EnvFiles = %q", ef)
	}
}
