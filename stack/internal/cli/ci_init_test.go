package cli

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"phantomstack.dev/stack/internal/config"
)

func ciTestConfig() *config.Config {
	c := config.New("/nonexistent", "")
	c.SetService(&config.Service{Name: "openai", Provider: "openai", Secrets: []string{"OPENAI_API_KEY"}})
	c.SetService(&config.Service{Name: "vercel", Provider: "vercel", Secrets: []string{"VERCEL_TOKEN"}, ResourceID: "prj_abc123", Meta: map[string]string{"team_id": "team_x1"}})
	c.SetService(&config.Service{Name: "db", Provider: "supabase", Secrets: []string{"SUPABASE_ANON_KEY"}})
	return c
}

// The workflow reads exactly the repository secrets the next steps name,
// each only through a ${{ secrets.X }} expression, and nothing else
// secret-shaped.
func TestCIWorkflowSecrets(t *testing.T) {
	fill, secrets := ciFillSteps(ciTestConfig())
	want := []string{"PHANTOM_VAULT_PASSPHRASE", "OPENAI_API_KEY", "VERCEL_TOKEN", "SUPABASE_ACCESS_TOKEN", "SUPABASE_DB_PASSWORD"}
	if !slices.Equal(secrets, want) {
		t.Fatalf("secrets %q, want %q", secrets, want)
	}
	wf := ciWorkflow("", fill, secrets)
	any := regexp.MustCompile(`secrets\.([A-Za-z0-9_-]+)`).FindAllStringSubmatch(wf, -1)
	expr := regexp.MustCompile(`\$\{\{ secrets\.([A-Z0-9_]+) \}\}`).FindAllStringSubmatch(wf, -1)
	if len(any) == 0 || len(any) != len(expr) {
		t.Fatalf("%d secrets.X references, %d of them in ${{ }} expressions; want all", len(any), len(expr))
	}
	var names []string
	for _, m := range expr {
		names = append(names, m[1])
	}
	slices.Sort(names)
	names = slices.Compact(names)
	sorted := slices.Sorted(slices.Values(want))
	if !slices.Equal(names, sorted) {
		t.Errorf("workflow reads secrets %q, want exactly %q", names, sorted)
	}
	// Each service's key goes to its own step only.
	if n := strings.Count(wf, "secrets.OPENAI_API_KEY"); n != 1 {
		t.Errorf("OPENAI_API_KEY is given to %d steps, want 1", n)
	}
	for _, bad := range []string{"phm_", "secrets: inherit", "pull_request_target", ": write", "cloud pull", "@latest"} {
		if strings.Contains(wf, bad) {
			t.Errorf("workflow contains %q", bad)
		}
	}
	for _, want := range []string{
		"          stack add openai\n",
		"          stack add vercel --use prj_abc123 --team team_x1\n",
		// no resource recorded: the step says what to do instead of guessing
		"::error::no resource id for db in .stack.local.toml",
		// no install command chosen: the step fails and says how to set it
		"::error::stack ci init wrote no install command: run stack ci init --force --install",
	} {
		if !strings.Contains(wf, want) {
			t.Errorf("workflow lacks %q:\n%s", want, wf)
		}
	}
}

// --install goes into the install step as given, one line per line.
func TestCIWorkflowInstall(t *testing.T) {
	wf := ciWorkflow("go install example.com/x/phantom@v1\nmake -C tools install", "", []string{"PHANTOM_VAULT_PASSPHRASE"})
	if !strings.Contains(wf, "        run: |\n          go install example.com/x/phantom@v1\n          make -C tools install\n") {
		t.Fatalf("install step:\n%s", wf)
	}
	if strings.Contains(wf, "::error::") {
		t.Fatal("a chosen install command still fails the step")
	}
}
