package config

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

var envPatterns = []string{".env", ".env.*", "!.env.example"}

func TestEnsureGitignore(t *testing.T) {
	const block = GitignoreComment + "\n.env\n.env.*\n!.env.example\n"
	tests := []struct {
		name     string
		existing *string // nil: no file
		want     string
		added    []string
	}{
		{
			name: "no file", existing: nil,
			want: block, added: envPatterns,
		},
		{
			name: "empty file", existing: ptr(""),
			want: block, added: envPatterns,
		},
		{
			name: "no trailing newline", existing: ptr("node_modules\n# build\ndist"),
			want:  "node_modules\n# build\ndist\n\n" + block,
			added: envPatterns,
		},
		{
			name: "ends with a blank line", existing: ptr("dist\n\n"),
			want:  "dist\n\n" + block,
			added: envPatterns,
		},
		{
			name: "CRLF without trailing newline", existing: ptr("node_modules\r\n/dist"),
			want:  "node_modules\r\n/dist\r\n\r\n" + GitignoreComment + "\r\n.env\r\n.env.*\r\n!.env.example\r\n",
			added: envPatterns,
		},
		{
			name: "existing equivalent rules", existing: ptr("/.env  \n.env.*\r\n!/.env.example\n"),
			want:  "/.env  \n.env.*\r\n!/.env.example\n",
			added: nil,
		},
		{
			name: "some present", existing: ptr("/.env\nnode_modules\n"),
			want:  "/.env\nnode_modules\n\n" + GitignoreComment + "\n.env.*\n!.env.example\n",
			added: []string{".env.*", "!.env.example"},
		},
		{
			// The exception must follow the rule it excepts, or git ignores
			// .env.example again.
			name: "negation before a missing rule is repeated", existing: ptr(".env\n!.env.example\n"),
			want:  ".env\n!.env.example\n\n" + GitignoreComment + "\n.env.*\n!.env.example\n",
			added: []string{".env.*", "!.env.example"},
		},
		{
			name: "not fooled by similar lines", existing: ptr("#.env\n.env.local\n*.env\n"),
			want:  "#.env\n.env.local\n*.env\n\n" + block,
			added: envPatterns,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, ".gitignore")
			if tt.existing != nil {
				if err := os.WriteFile(p, []byte(*tt.existing), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			added, err := EnsureGitignore(dir, envPatterns)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(added, tt.added) {
				t.Errorf("added %q, want %q", added, tt.added)
			}
			got, _ := os.ReadFile(p)
			if string(got) != tt.want {
				t.Fatalf("got:\n%q\nwant:\n%q", got, tt.want)
			}
			st, _ := os.Stat(p)
			wantMode := os.FileMode(0o600) // an existing file keeps its mode
			if tt.existing == nil {
				wantMode = 0o644
			}
			if st.Mode().Perm() != wantMode {
				t.Errorf("mode %v, want %v", st.Mode().Perm(), wantMode)
			}

			// Idempotent: a second run adds nothing and changes no byte.
			added, err = EnsureGitignore(dir, envPatterns)
			if err != nil || added != nil {
				t.Fatalf("second run: added %q, %v", added, err)
			}
			again, _ := os.ReadFile(p)
			if string(again) != string(got) {
				t.Fatalf("second run changed the file:\n%q", again)
			}
		})
	}
}

func TestEnsureGitignoreNewPatternLater(t *testing.T) {
	dir := t.TempDir()
	if _, err := EnsureGitignore(dir, []string{".env"}); err != nil {
		t.Fatal(err)
	}
	added, err := EnsureGitignore(dir, []string{".env", ".env.local", ".env"})
	if err != nil || !reflect.DeepEqual(added, []string{".env.local"}) {
		t.Fatalf("added %q, %v", added, err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, ".gitignore"))
	want := GitignoreComment + "\n.env\n\n" + GitignoreComment + "\n.env.local\n"
	if string(got) != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestEnsureGitignoreRejectsBadPatterns(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"", "  ", "a\nb"} {
		if _, err := EnsureGitignore(dir, []string{p}); err == nil {
			t.Errorf("pattern %q accepted", p)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, ".gitignore")); !os.IsNotExist(err) {
		t.Fatal("file written for a rejected pattern")
	}
}

func ptr(s string) *string { return &s }
