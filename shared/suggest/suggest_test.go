package suggest

import "testing"

// TestNearest is the one "did you mean" table: configuration keys (from
// phantom's config), command typos, provider and template names (stack).
func TestNearest(t *testing.T) {
	keys := []string{"version", "project_id", "audit", "env_files"}
	commands := []string{"init", "add", "remove", "list", "status", "sync", "rotate", "why", "env", "unprotect", "exec", "start", "stop", "trust", "vault", "audit", "version", "completion"}
	providers := []string{"anthropic", "aws", "github", "openai", "resend", "stripe", "supabase", "vercel"}
	templates := []string{"ai-app", "nextjs-supabase-vercel", "supabase-aws"}
	for _, tc := range []struct {
		got        string
		candidates []string
		want       string
	}{
		// configuration keys
		{"verison", keys, "version"},
		{"VERSION", keys, "version"},
		{"projectid", keys, "project_id"},
		{"project-id", keys, "project_id"},
		{"project", keys, "project_id"},
		{"env", keys, "env_files"},
		{"envfiles", keys, "env_files"},
		{"audt", keys, "audit"},
		{"x", keys, ""},
		{"ab", keys, ""},
		{"environment", keys, ""},
		{"versions_x", keys, "version"},
		{"roject_id", keys, "project_id"},
		// commands: a swap of two letters is one edit, so "lsit" is "list"
		// (distance 1), not "init" (2), which plain Levenshtein ties.
		{"lsit", commands, "list"},
		{"LIST", commands, "list"},
		{"stauts", commands, "status"},
		{"rmeove", commands, "remove"},
		{"unprotec", commands, "unprotect"},
		{"frobnicate", commands, ""},
		{"", commands, ""},
		// provider names (stack add opnai)
		{"opnai", providers, "openai"},
		{"SUPABSE", providers, "supabase"},
		{"anthrpoic", providers, "anthropic"},
		{"nosuch", providers, ""},
		// template names
		{"ai-ap", templates, "ai-app"},
		{"wordpress", templates, ""},
		// nothing to choose from
		{"list", nil, ""},
	} {
		if s := Nearest(tc.got, tc.candidates); s != tc.want {
			t.Errorf("Nearest(%q) = %q, want %q", tc.got, s, tc.want)
		}
	}
}

func TestDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"abc", "", 3},
		{"", "abc", 3},
		{"list", "list", 0},
		{"ca", "ac", 1},     // one transposition
		{"lsit", "list", 1}, // one transposition
		{"lsit", "init", 2}, // two substitutions
		{"kitten", "sitting", 3},
		{"ca", "abc", 3}, // optimal string alignment: no edit of a transposed pair
		{string(make([]byte, 65)), string(make([]byte, 65)), 0},
	} {
		if d := Distance(tc.a, tc.b); d != tc.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", tc.a, tc.b, d, tc.want)
		}
	}
	long := string(make([]byte, 65))
	if d := Distance(long, long+"x"); d < 3 {
		t.Errorf("over 64 bytes: distance %d, want far apart", d)
	}
}
