package stack_test

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The module dependency rules of docs/architecture.md §2, checked on the real import
// graph (`go list -deps -test`, so test-only imports count too):
//
//   - phantom imports no stack, providers or templates package;
//   - stack imports no phantom package (it talks to phantom only through the
//     phantom CLI);
//   - providers imports no project module but shared.
type depRule struct {
	pattern string   // package pattern, relative to the workspace root
	own     []string // the checked module itself
	allowed []string // project modules it may import besides itself (nil: any not denied)
	denied  []string // project modules it must not import
	mustSee []string // packages that must appear, so an empty listing cannot pass vacuously
}

const project = "phantomstack.dev/"

var depRules = []depRule{
	{
		pattern: "./phantom/...",
		own:     []string{project + "phantom"},
		denied:  []string{project + "stack", project + "providers", project + "templates"},
	},
	{
		pattern: "./stack/...",
		own:     []string{project + "stack"},
		denied:  []string{project + "phantom"},
		mustSee: []string{project + "stack/internal/cli", project + "providers", project + "templates", project + "shared/term"},
	},
	{
		pattern: "./providers/...",
		own:     []string{project + "providers"},
		allowed: []string{project + "shared"},
		mustSee: []string{project + "providers", project + "providers/apikey"},
	},
}

func TestModuleDependencyRules(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go tool is not installed; cannot list the import graph")
	}
	root := workspaceRoot(t)
	recordInputs(t, root)
	for _, rule := range depRules {
		t.Run(strings.Trim(rule.pattern, "./"), func(t *testing.T) {
			t.Parallel()
			graph := goListDeps(t, goBin, root, rule.pattern)
			if len(graph) == 0 {
				if len(rule.mustSee) > 0 {
					t.Fatalf("go list %s matched no packages", rule.pattern)
				}
				t.Logf("%s has no packages yet; nothing to check", rule.pattern)
				return
			}
			for _, p := range rule.mustSee {
				if _, ok := graph[p]; !ok {
					t.Errorf("%s is missing from the import graph of %s; the listing is incomplete", p, rule.pattern)
				}
			}
			for _, v := range rule.violations(graph) {
				t.Error(v)
			}
		})
	}
}

// TestDependencyRuleCatchesViolations proves the checker is not vacuous.
func TestDependencyRuleCatchesViolations(t *testing.T) {
	graph := map[string][]string{
		project + "phantom/internal/cli":                                                {"fmt", project + "shared/term", project + "stack/internal/pipeline"},
		project + "phantom/internal/vault":                                              {project + "templates"},
		project + "phantom/internal/proxy [" + project + "phantom/internal/proxy.test]": {project + "shared/token"},
		project + "phantom/internal/proxy_test [" + project + "phantom/internal/proxy.test]": {
			project + "phantom/internal/proxy [" + project + "phantom/internal/proxy.test]", project + "providers/apikey",
		},
		project + "phantom/internal/proxy.test": {project + "phantom/internal/proxy_test [" + project + "phantom/internal/proxy.test]"},
		project + "stack/internal/pipeline":     {"os"},
		project + "templates":                   nil,
		project + "providers/apikey":            nil,
		project + "shared/term":                 {project + "phantomish/x"},
		project + "shared/token":                nil,
		project + "phantomish/x":                nil, // another module that only shares a prefix
		"github.com/spf13/cobra":                nil,
	}
	got := depRules[0].violations(graph)
	want := []string{
		project + "phantom/internal/cli imports " + project + "stack/internal/pipeline",
		project + "phantom/internal/proxy_test [" + project + "phantom/internal/proxy.test] imports " + project + "providers/apikey",
		project + "phantom/internal/vault imports " + project + "templates",
	}
	for _, w := range want {
		if !slices.ContainsFunc(got, func(g string) bool { return strings.Contains(g, w) }) {
			t.Errorf("missing violation %q in %q", w, got)
		}
	}
	if len(got) != 3 {
		t.Errorf("got %d violations, want 3: %q", len(got), got)
	}

	prov := depRules[2].violations(map[string][]string{
		project + "providers/apikey": {project + "shared/token", project + "providers", project + "templates"},
		project + "shared/token":     nil,
		project + "providers":        nil,
		project + "templates":        nil,
	})
	if len(prov) != 1 || !strings.Contains(prov[0], "providers/apikey imports "+project+"templates") {
		t.Errorf("providers violations = %q", prov)
	}
}

// violations lists every import edge that breaks the rule.
func (r depRule) violations(graph map[string][]string) []string {
	var out []string
	for pkg, imports := range graph {
		for _, imp := range imports {
			if r.forbids(basePath(imp)) {
				out = append(out, pkg+" imports "+imp+" (docs/architecture.md §2: "+r.explain()+")")
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func (r depRule) forbids(p string) bool {
	if !strings.HasPrefix(p, project) || inAny(p, r.own) {
		return false
	}
	if inAny(p, r.denied) {
		return true
	}
	return r.allowed != nil && !inAny(p, r.allowed)
}

func (r depRule) explain() string {
	if r.allowed != nil {
		return r.own[0] + " may import only " + strings.Join(r.allowed, ", ")
	}
	return r.own[0] + " must not import " + strings.Join(r.denied, ", ")
}

// inAny reports whether package p is in one of the modules.
func inAny(p string, modules []string) bool {
	for _, m := range modules {
		if p == m || strings.HasPrefix(p, m+"/") {
			return true
		}
	}
	return false
}

// basePath strips go list's test decorations: "p [p.test]", the external
// test package "p_test" and the test main "p.test" all belong to p.
func basePath(p string) string {
	if i := strings.IndexByte(p, ' '); i >= 0 {
		p = p[:i]
	}
	return strings.TrimSuffix(strings.TrimSuffix(p, ".test"), "_test")
}

// goListDeps returns package → imports for pattern and everything it
// depends on, tests included. A pattern that matches no packages (a module
// with no Go files yet) gives an empty graph.
func goListDeps(t *testing.T, goBin, root, pattern string) map[string][]string {
	t.Helper()
	cmd := exec.Command(goBin, "list", "-e", "-deps", "-test",
		"-f", "{{.ImportPath}}\t{{join .Imports \"\\t\"}}", pattern)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOWORK="+filepath.Join(root, "go.work"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if strings.Contains(stderr.String(), "matched no packages") {
			return nil
		}
		t.Fatalf("go list %s: %v\n%s", pattern, err, stderr.String())
	}
	// One line per package: its path, then its imports, tab-separated (test
	// variants such as "p [p.test]" contain a space, never a tab).
	graph := map[string][]string{}
	for line := range strings.Lines(string(out)) {
		fields := strings.Split(strings.TrimRight(line, "\r\n"), "\t")
		if fields[0] == "" {
			continue
		}
		var imports []string
		for _, imp := range fields[1:] {
			if imp != "" {
				imports = append(imports, imp)
			}
		}
		graph[fields[0]] = imports
	}
	return graph
}

// recordInputs stats every Go source and go.mod in the workspace. The go
// command's test cache only knows about files the test process itself
// touches, not what the go list child reads; without this, an import added
// to phantom would not re-run a cached pass of this test.
func recordInputs(t *testing.T, root string) {
	t.Helper()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "node_modules", "testdata", "bin":
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(path, ".go") || d.Name() == "go.mod" || d.Name() == "go.work" {
			_, err = os.Stat(path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// workspaceRoot walks up from the working directory to the go.work file.
func workspaceRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.work above the test's directory")
		}
		dir = parent
	}
}
