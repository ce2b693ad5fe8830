package stack_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// testVersion is what bothBinaries links into phantom and stack.
const testVersion = "v9.8.7-onebuild"

// buildBoth builds the real phantom and stack binaries with the one -X
// flag the Makefile's LDFLAGS sets, and returns their directory.
func buildBoth(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-ldflags", "-X phantomstack.dev/shared/buildinfo.Version="+testVersion,
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
// buildinfo (shared/buildinfo), so the Makefile's single -X sets the version
// both report, in all three forms, and the --json fields stay as documented.
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
		if v["version"] != testVersion || v["go"] != runtime.Version() {
			t.Errorf("%s version --json: %v", tc.bin, v)
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		want := "go version"
		if tc.bin == "phantom" {
			want = "capabilities go protocol version" // commit only when the build recorded one
			if v["protocol"] != float64(1) {
				t.Errorf("phantom protocol = %v", v["protocol"])
			}
		}
		if got := strings.Join(slices.Sorted(slices.Values(keys)), " "); got != want && got != strings.Replace(want, "go", "commit go", 1) {
			t.Errorf("%s version --json fields = %s, want %s", tc.bin, got, want)
		}
	}
}
