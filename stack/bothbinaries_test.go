package stack_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// testVersion, testCommit and testDate are what buildBoth links into
// phantom and stack: a release version, so both report a release build.
const (
	testVersion = "v9.8.7"
	testCommit  = "0123456789abcdef0123456789abcdef01234567"
	testDate    = "2026-12-07T03:00:00Z"
)

// buildBoth builds the real phantom and stack binaries with the -X flags
// the Makefile's LDFLAGS sets (one package, shared/buildinfo), and returns
// their directory. -buildvcs=false: a dirty work tree must not turn the
// release build into a development one on a developer's machine.
func buildBoth(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	const pkg = "phantomstack.dev/shared/buildinfo"
	cmd := exec.Command("go", "build", "-buildvcs=false", "-ldflags",
		"-X "+pkg+".Version="+testVersion+" -X "+pkg+".commit="+testCommit+" -X "+pkg+".date="+testDate,
		"-o", dir, "./phantom/cmd/phantom", "./stack/cmd/stack")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building phantom and stack: %v\n%s", err, out)
	}
	return dir
}

// runBin runs bin from binDir in dir, with an isolated home and nothing
// but binDir on PATH.
func runBin(t *testing.T, binDir, dir, bin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	home := t.TempDir()
	cmd := exec.Command(filepath.Join(binDir, bin), args...)
	cmd.Dir = dir
	cmd.Env = []string{"HOME=" + home, "PHANTOM_HOME=" + filepath.Join(home, ".phantom"), "STACK_HOME=" + filepath.Join(home, ".stack"),
		"NO_COLOR=1", "PATH=" + binDir}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("%s %v: %v", bin, args, err)
	}
	return out.String(), errOut.String(), code
}

// TestOneLinkerFlagVersionsBothBinaries: phantom and stack share one
// buildinfo (shared/buildinfo), so the Makefile's LDFLAGS set the version,
// commit and date both report, in all three forms, and the --json fields
// stay as documented; a release version is reported as a release build.
func TestOneLinkerFlagVersionsBothBinaries(t *testing.T) {
	bins, dir := buildBoth(t), t.TempDir()
	for _, tc := range []struct{ bin, short, long string }{
		{"phantom", "phantom " + testVersion + "\n", "phantom " + testVersion + " (protocol 1, " + runtime.Version() + ")\n"},
		{"stack", "stack " + testVersion + "\n", "stack " + testVersion + " (" + runtime.Version() + ")\n"},
	} {
		if out, errOut, code := runBin(t, bins, dir, tc.bin, "--version"); code != 0 || out != tc.short {
			t.Errorf("%s --version: %d %q %q, want %q", tc.bin, code, out, errOut, tc.short)
		}
		if out, errOut, code := runBin(t, bins, dir, tc.bin, "version"); code != 0 || out != tc.long {
			t.Errorf("%s version: %d %q %q, want %q", tc.bin, code, out, errOut, tc.long)
		}
		out, errOut, code := runBin(t, bins, dir, tc.bin, "version", "--json")
		var v map[string]any
		if code != 0 || json.Unmarshal([]byte(out), &v) != nil {
			t.Fatalf("%s version --json: %d %q %q", tc.bin, code, out, errOut)
		}
		if v["version"] != testVersion || v["go"] != runtime.Version() || v["commit"] != testCommit ||
			v["date"] != testDate || v["release"] != true {
			t.Errorf("%s version --json: %v", tc.bin, v)
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		want := "commit date go release version"
		if tc.bin == "phantom" {
			want = "capabilities commit date go protocol release version"
			if v["protocol"] != float64(1) {
				t.Errorf("phantom protocol = %v", v["protocol"])
			}
		}
		if got := strings.Join(slices.Sorted(slices.Values(keys)), " "); got != want {
			t.Errorf("%s version --json fields = %s, want %s", tc.bin, got, want)
		}
	}
}

// TestTyposSuggestTheSameInBothBinaries runs one typo table through the real
// phantom and stack binaries: both suggest through shared/suggest (one
// distance, where a swap of two letters is one edit), in the same words, with
// the same exit codes, for commands, subcommands and stack's provider names.
func TestTyposSuggestTheSameInBothBinaries(t *testing.T) {
	bins, project := buildBoth(t), t.TempDir()
	if _, errOut, code := runBin(t, bins, project, "stack", "init"); code != 0 {
		t.Fatalf("stack init: %d %s", code, errOut)
	}
	type typo struct {
		bins []string // the binaries that have this command line
		args []string
		code int
		want string // "" when nothing may be suggested
	}
	both := []string{"phantom", "stack"}
	for _, tc := range []typo{
		{both, []string{"lsit"}, 2, `unknown command "lsit" for "BIN" (did you mean "list"?)`},
		{both, []string{"LIST"}, 2, `unknown command "LIST" for "BIN" (did you mean "list"?)`},
		{both, []string{"stauts"}, 2, `unknown command "stauts" for "BIN" (did you mean "status"?)`},
		{both, []string{"verison"}, 2, `unknown command "verison" for "BIN" (did you mean "version"?)`},
		{both, []string{"frobnicate"}, 2, ""},
		{[]string{"phantom"}, []string{"vault", "rekeyy"}, 2, `unknown command "rekeyy" for "phantom vault" (did you mean "rekey"?)`},
		{[]string{"phantom"}, []string{"audit", "verfy"}, 2, `unknown command "verfy" for "phantom audit" (did you mean "verify"?)`},
		{[]string{"phantom"}, []string{"rmeove"}, 2, `(did you mean "remove"?)`},
		{[]string{"stack"}, []string{"templats"}, 2, `unknown command "templats" for "stack" (did you mean "templates"?)`},
		{[]string{"stack"}, []string{"env", "shwo"}, 2, `unknown command "shwo" for "stack env" (did you mean "show"?)`},
		{[]string{"stack"}, []string{"add", "opnai"}, 1, `unknown service "opnai"; did you mean "openai"?`},
		{[]string{"stack"}, []string{"add", "SUPABSE"}, 1, `did you mean "supabase"?`},
		{[]string{"stack"}, []string{"add", "nosuch"}, 1, ""},
		{[]string{"stack"}, []string{"templates", "show", "ai-ap"}, 1, `did you mean "ai-app"?`},
	} {
		for _, bin := range tc.bins {
			out, errOut, code := runBin(t, bins, project, bin, tc.args...)
			name := bin + " " + strings.Join(tc.args, " ")
			if code != tc.code || out != "" {
				t.Errorf("%s: exit %d, stdout %q; want exit %d and nothing on stdout", name, code, out, tc.code)
			}
			switch want := strings.ReplaceAll(tc.want, "BIN", bin); {
			case want == "" && strings.Contains(errOut, "did you mean"):
				t.Errorf("%s suggests something: %q", name, errOut)
			case want != "" && !strings.Contains(errOut, want):
				t.Errorf("%s: stderr %q lacks %q", name, errOut, want)
			}
		}
	}
}

// TestJSONFailuresPrintJSON runs failing commands of both real binaries with
// --json: stdout is still exactly one JSON document, with the reason in
// "error" (jsonout.WriteFailure, or the command's own report), and the exit
// code is the command's. A command-line mistake (exit 2, caught before the
// command runs) prints nothing on stdout, as before.
func TestJSONFailuresPrintJSON(t *testing.T) {
	bins, empty, project := buildBoth(t), t.TempDir(), t.TempDir()
	if _, errOut, code := runBin(t, bins, project, "stack", "init"); code != 0 {
		t.Fatalf("stack init: %d %s", code, errOut)
	}
	for _, tc := range []struct {
		dir  string
		bin  string
		args []string
		code int
	}{
		{empty, "phantom", []string{"list", "--json"}, 4},
		{empty, "phantom", []string{"remove", "NOPE", "--json"}, 4},
		{empty, "phantom", []string{"why", "NOPE", "--json"}, 4},
		{empty, "phantom", []string{"sync", "--env-file", ".env", "--json"}, 4},
		{empty, "phantom", []string{"vault", "rekey", "--to", "passphrase", "--json"}, 4},
		{empty, "stack", []string{"list", "--json"}, 1},
		{empty, "stack", []string{"templates", "show", "nope", "--json"}, 1},
		{empty, "stack", []string{"projects", "remove", "nosuch", "--json"}, 1},
		{empty, "stack", []string{"env", "export", "--example", "--json"}, 1},
		{project, "stack", []string{"info", "nosuch", "--json"}, 1},
		{project, "stack", []string{"add", "opnai", "--json"}, 1},
		{project, "stack", []string{"doctor", "--json"}, 1}, // its own report, with "error"
	} {
		name := tc.bin + " " + strings.Join(tc.args, " ")
		out, errOut, code := runBin(t, bins, tc.dir, tc.bin, tc.args...)
		if code != tc.code {
			t.Errorf("%s: exit %d, want %d (stderr %q)", name, code, tc.code, errOut)
		}
		dec := json.NewDecoder(strings.NewReader(out))
		var doc map[string]any
		if err := dec.Decode(&doc); err != nil || dec.More() {
			t.Errorf("%s: stdout is not one JSON document (%v): %q", name, err, out)
			continue
		}
		if msg, _ := doc["error"].(string); msg == "" || !strings.Contains(errOut, firstLine(msg)) {
			t.Errorf("%s: \"error\" = %q, want the reason stderr gives: %q", name, doc["error"], errOut)
		}
		if ec, ok := doc["exit_code"]; ok && ec != float64(tc.code) {
			t.Errorf("%s: exit_code %v, want %d", name, ec, tc.code)
		}
	}
	// A usage error is caught before the command runs: nothing on stdout.
	for _, bin := range []string{"phantom", "stack"} {
		if out, _, code := runBin(t, bins, empty, bin, "list", "--json", "--bogus"); code != 2 || out != "" {
			t.Errorf("%s list --json --bogus: exit %d, stdout %q", bin, code, out)
		}
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// TestReleasedStackCIInitPinsItsVersion: stack built as a release writes a
// workflow whose install step downloads and verifies phantom and stack of
// that same version (docs/install.md, "In CI"), and actionlint accepts it.
func TestReleasedStackCIInitPinsItsVersion(t *testing.T) {
	bins, project := buildBoth(t), t.TempDir()
	if _, errOut, code := runBin(t, bins, project, "stack", "init"); code != 0 {
		t.Fatalf("stack init: %d %s", code, errOut)
	}
	out, errOut, code := runBin(t, bins, project, "stack", "ci", "init", "--json")
	if code != 0 || strings.Contains(errOut, "install step fails") {
		t.Fatalf("stack ci init: %d %s %s", code, out, errOut)
	}
	wf := filepath.Join(project, ".github", "workflows", "stack-doctor.yml")
	b, err := os.ReadFile(wf)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"          version=" + testVersion + "\n",
		"releases/download/$version",
		"ssh-keygen -Y verify -f allowed_signers -I release@phantomstack.dev -n file -s checksums.txt.sig < checksums.txt",
		"sha256sum --strict -c sums",
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("workflow lacks %q", want)
		}
	}
	if strings.Contains(string(b), "::error::stack ci init wrote no install command") {
		t.Error("the install step still fails")
	}
	lint, err := buildActionlint()
	if err != nil {
		t.Fatalf("cannot build actionlint: %v", err)
	}
	if out, err := exec.Command(lint, "-no-color", "-shellcheck=", "-pyflakes=", wf).CombinedOutput(); err != nil {
		t.Errorf("actionlint: %v\n%s", err, out)
	}
}
