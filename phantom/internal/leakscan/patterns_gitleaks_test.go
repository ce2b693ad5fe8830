package leakscan

// gitleaks itself is imported here only, in a test file, so it is not
// linked into the phantom binary (docs/decisions.md, "phantom check:
// patterns from gitleaks, as data"). These tests hold the embedded rule set
// and phantom's matcher to the gitleaks version phantom/go.mod pins.

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/zricethezav/gitleaks/v8/config"
	"github.com/zricethezav/gitleaks/v8/detect"
	"github.com/zricethezav/gitleaks/v8/logging"
)

// TestRulesAreGitleaksDefault fails when phantom/go.mod moves to another
// gitleaks without refreshing rules/gitleaks.toml (rules/README.md).
func TestRulesAreGitleaksDefault(t *testing.T) {
	if gitleaksTOML != config.DefaultConfig {
		t.Fatal("rules/gitleaks.toml differs from the pinned gitleaks' config.DefaultConfig; refresh it: cd phantom && go generate ./internal/leakscan/")
	}
	rs, err := patternDetector()
	if err != nil {
		t.Fatal(err)
	}
	logging.Logger = zerolog.Nop()
	d, err := detect.NewDetectorDefaultConfig()
	if err != nil {
		t.Fatal(err)
	}
	if len(rs.rules) != len(d.Config.Rules) {
		t.Errorf("phantom loads %d rules, gitleaks %d", len(rs.rules), len(d.Config.Rules))
	}
}

// TestLoadRulesRefusesUnknownKeys: a rule feature the matcher does not
// implement must fail loading, not be silently ignored.
func TestLoadRulesRefusesUnknownKeys(t *testing.T) {
	for _, src := range []string{
		"[[rules]]\nid = \"x\"\nregex = 'a'\n[[rules.required]]\nid = \"y\"\n",
		"[extend]\nuseDefault = true\n",
		"[[rules]]\nid = \"x\"\nregex = 'a'\nskipReport = true\n",
	} {
		if _, err := loadRules(src); err == nil {
			t.Errorf("loadRules accepted %q", src)
		}
	}
}

type diffFinding struct {
	Rule, Secret string
	Line         int
}

func gitleaksFindings(d *detect.Detector, rel, block string) []diffFinding {
	var out []diffFinding
	for _, f := range d.Detect(detect.Fragment{Raw: block, FilePath: rel}) {
		out = append(out, diffFinding{f.RuleID, f.Secret, 1 + f.StartLine})
	}
	slices.SortFunc(out, cmpFinding)
	return out
}

func phantomFindings(rs *ruleSet, rel, block string) []diffFinding {
	var out []diffFinding
	for _, h := range scanPatterns(rs, rel, 1, block) {
		out = append(out, diffFinding{h.rule, h.secret, h.line})
	}
	slices.SortFunc(out, cmpFinding)
	return out
}

func cmpFinding(a, b diffFinding) int {
	return strings.Compare(fmt.Sprint(a.Line, a.Rule, a.Secret), fmt.Sprint(b.Line, b.Rule, b.Secret))
}

type diffInput struct{ rel, block string }

// diffInputs: the labelled corpus, the generated corpus, the same files
// glued into multi-line blocks (line numbers, generic findings shadowed by
// specific ones), CRLF and gitleaks:allow variants, and gitleaks' own rule
// sources and test data (examples of every provider format).
func diffInputs(t *testing.T) []diffInput {
	var in []diffInput
	err := filepath.WalkDir("testdata/corpus", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		in = append(in, diffInput{strings.TrimPrefix(filepath.ToSlash(p), "testdata/corpus/"), string(b)})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var glued strings.Builder
	for i, it := range genCorpus() {
		in = append(in, diffInput{it.File, it.content})
		in = append(in, diffInput{it.File, strings.ReplaceAll(it.content, "\n", "\r\n")})
		in = append(in, diffInput{it.File, strings.ReplaceAll(it.content, "\n", " # gitleaks:allow\n")})
		in = append(in, diffInput{it.File, strings.TrimRight(it.content, "\n")})
		glued.WriteString(it.content)
		if i%7 == 6 {
			in = append(in, diffInput{fmt.Sprintf("glued%d.txt", i), glued.String()})
			glued.Reset()
		}
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/zricethezav/gitleaks/v8").Output()
	if err != nil {
		t.Fatalf("go list gitleaks: %v", err)
	}
	dir := strings.TrimSpace(string(out))
	for _, sub := range []string{"cmd/generate/config/rules", "testdata"} {
		root := filepath.Join(dir, sub)
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil || len(b) > 1<<20 || slices.Contains(b, 0) {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			in = append(in, diffInput{sub + "/" + filepath.ToSlash(rel), string(b)})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return in
}

// TestMatcherAgreesWithGitleaks runs gitleaks' detector (default config,
// library defaults: no decoding passes) and phantom's matcher over the same
// blocks and requires the same findings: rule id, line and secret.
func TestMatcherAgreesWithGitleaks(t *testing.T) {
	logging.Logger = zerolog.Nop()
	d, err := detect.NewDetectorDefaultConfig()
	if err != nil {
		t.Fatal(err)
	}
	rs, err := patternDetector()
	if err != nil {
		t.Fatal(err)
	}
	inputs := diffInputs(t)
	total, diffs := 0, 0
	for _, in := range inputs {
		want := gitleaksFindings(d, in.rel, in.block)
		got := phantomFindings(rs, in.rel, in.block)
		total += len(want)
		if !slices.Equal(got, want) {
			diffs++
			if diffs <= 20 {
				t.Errorf("%s: phantom %v, gitleaks %v", in.rel, got, want)
			}
		}
	}
	t.Logf("%d blocks, %d gitleaks findings, %d blocks differ", len(inputs), total, diffs)
	if total < 500 {
		t.Errorf("only %d findings: the inputs do not exercise the rules", total)
	}
}
