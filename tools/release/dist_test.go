package main

// These tests check the dist/ that `make release-snapshot` wrote; `make
// release-test` runs them with DIST and RELEASE_KEYS set (.ci/run does
// both). A tool missing on a developer's machine (ssh-keygen, npm, ruby)
// skips its test; under CI=1 it fails instead.

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// dist returns the dist directory and the snapshot's version (no v).
func dist(t *testing.T) (string, string) {
	t.Helper()
	d := os.Getenv("DIST")
	if d == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("DIST is not set: run make release-snapshot release-test")
		}
		t.Skip("DIST is not set: run make release-snapshot release-test")
	}
	version, _, err := readDist(d)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return d, version
}

func keys(t *testing.T) string {
	t.Helper()
	k := os.Getenv("RELEASE_KEYS")
	if k == "" {
		t.Fatal("RELEASE_KEYS is not set (the repository's release/ directory): run make release-test")
	}
	return k
}

// need returns the path of tool, or skips (fails under CI) without it.
func need(t *testing.T, tool, debianPkg string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed (CI must have it: apt-get install %s)", tool, debianPkg)
		}
		t.Skipf("%s is not installed (apt-get install %s)", tool, debianPkg)
	}
	return p
}

func sha256File(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func archives(t *testing.T, d string) []string {
	t.Helper()
	entries, err := os.ReadDir(d)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if archiveName.MatchString(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out
}

// TestTwelveArchives: one archive per tool per target, 2 × 6.
func TestTwelveArchives(t *testing.T) {
	d, version := dist(t)
	got := map[string]bool{}
	for _, a := range archives(t, d) {
		got[a] = true
	}
	if len(got) != 12 {
		t.Errorf("%d archives in %s, want 12: %v", len(got), d, got)
	}
	for _, tool := range []string{"phantom", "stack"} {
		for _, goos := range []string{"linux", "darwin", "windows"} {
			for _, arch := range []string{"amd64", "arm64"} {
				ext := ".tar.gz"
				if goos == "windows" {
					ext = ".zip"
				}
				if name := tool + "_" + version + "_" + goos + "_" + arch + ext; !got[name] {
					t.Errorf("no %s", name)
				}
			}
		}
	}
}

// TestChecksumsMatch: every archive and SBOM is in checksums.txt, with its
// SHA-256.
func TestChecksumsMatch(t *testing.T) {
	d, _ := dist(t)
	f, err := os.Open(filepath.Join(d, "checksums.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	listed := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Fatalf("checksums.txt: bad line %q", sc.Text())
		}
		listed[name] = true
		if got := sha256File(t, filepath.Join(d, name)); got != sum {
			t.Errorf("%s: sha256 %s, checksums.txt says %s", name, got, sum)
		}
	}
	for _, a := range archives(t, d) {
		for _, name := range []string{a, a + ".spdx.json"} {
			if !listed[name] {
				t.Errorf("%s is not in checksums.txt", name)
			}
		}
	}
}

// verify runs `ssh-keygen -Y verify`, as docs/install.md tells users to.
func verify(t *testing.T, allowedSigners, identity, file, sig string) (bool, string) {
	t.Helper()
	in, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	cmd := exec.Command(need(t, "ssh-keygen", "openssh-client"), "-Y", "verify", "-f", allowedSigners, "-I", identity, "-n", "file", "-s", sig)
	cmd.Stdin = in
	out, err := cmd.CombinedOutput()
	return err == nil, string(out)
}

// TestSignatureVerifies: checksums.txt.sig verifies with the snapshot key
// committed in release/snapshot/, fails once one byte of checksums.txt is
// flipped, and fails with the release key: a snapshot never passes for a
// release.
func TestSignatureVerifies(t *testing.T) {
	d, _ := dist(t)
	k := keys(t)
	sums, sig := filepath.Join(d, "checksums.txt"), filepath.Join(d, "checksums.txt.sig")
	snapshotSigners := filepath.Join(k, "snapshot", "allowed_signers")
	if ok, out := verify(t, snapshotSigners, "snapshot@phantomstack.dev", sums, sig); !ok {
		t.Fatalf("checksums.txt.sig does not verify with the snapshot key: %s", out)
	}
	data, err := os.ReadFile(sums)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, len(data) / 2, len(data) - 2} {
		flipped := bytes.Clone(data)
		flipped[i] ^= 0x01
		p := filepath.Join(t.TempDir(), "checksums.txt")
		if err := os.WriteFile(p, flipped, 0o644); err != nil {
			t.Fatal(err)
		}
		if ok, out := verify(t, snapshotSigners, "snapshot@phantomstack.dev", p, sig); ok {
			t.Errorf("byte %d flipped: the signature still verifies: %s", i, out)
		}
	}
	if ok, _ := verify(t, filepath.Join(k, "allowed_signers"), "release@phantomstack.dev", sums, sig); ok {
		t.Error("a snapshot's signature verifies with the release key")
	}
}

// TestLinuxBinariesReportTheStampedVersion runs each linux/amd64 binary
// from its archive: version --json says the snapshot's version, its commit
// and date, and that it is no release.
func TestLinuxBinariesReportTheStampedVersion(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("runs the linux/amd64 binaries")
	}
	d, version := dist(t)
	for _, tool := range []string{"phantom", "stack"} {
		name := tool + "_" + version + "_linux_amd64.tar.gz"
		data, err := os.ReadFile(filepath.Join(d, name))
		if err != nil {
			t.Fatal(err)
		}
		bin, err := readBinary(name, data, tool)
		if err != nil {
			t.Fatal(err)
		}
		exe := filepath.Join(t.TempDir(), tool)
		if err := os.WriteFile(exe, bin, 0o755); err != nil {
			t.Fatal(err)
		}
		home := t.TempDir()
		cmd := exec.Command(exe, "version", "--json")
		cmd.Env = []string{"HOME=" + home, "PHANTOM_HOME=" + filepath.Join(home, ".phantom"), "STACK_HOME=" + filepath.Join(home, ".stack"), "PATH=/usr/bin:/bin"}
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s version --json: %v", tool, err)
		}
		var v struct {
			Version, Commit, Date string
			Release               *bool
		}
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatalf("%s version --json: %v\n%s", tool, err, out)
		}
		if v.Version != "v"+version || !regexp.MustCompile(`^[0-9a-f]{40}$`).MatchString(v.Commit) || v.Release == nil || *v.Release {
			t.Errorf("%s version --json = %s, want version v%s, a commit, release false", tool, out, version)
		}
		if _, err := time.Parse(time.RFC3339, v.Date); err != nil {
			t.Errorf("%s version --json: date %q: %v", tool, v.Date, err)
		}
		if !strings.Contains(version, "-snapshot.") || !strings.HasPrefix(v.Commit, version[strings.LastIndex(version, ".")+1:]) {
			t.Errorf("snapshot version %q does not end in the commit %s", version, v.Commit)
		}
	}
}

// TestSBOMPerArchive: each archive has an SPDX 2.3 document naming the
// binary inside it by SHA-256, and its Go modules.
func TestSBOMPerArchive(t *testing.T) {
	d, _ := dist(t)
	for _, a := range archives(t, d) {
		raw, err := os.ReadFile(filepath.Join(d, a+".spdx.json"))
		if err != nil {
			t.Errorf("no SBOM for %s: %v", a, err)
			continue
		}
		var doc spdxDoc
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Errorf("%s.spdx.json: %v", a, err)
			continue
		}
		m := archiveName.FindStringSubmatch(a)
		exe := m[1]
		if m[3] == "windows" {
			exe += ".exe"
		}
		data, err := os.ReadFile(filepath.Join(d, a))
		if err != nil {
			t.Fatal(err)
		}
		bin, err := readBinary(a, data, exe)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(bin)
		if doc.SPDXVersion != "SPDX-2.3" || len(doc.Packages) < 3 || doc.Packages[0].Name != exe ||
			len(doc.Packages[0].Checksums) != 1 || doc.Packages[0].Checksums[0].Value != hex.EncodeToString(sum[:]) {
			t.Errorf("%s.spdx.json does not describe %s (sha256 %x): %.300s", a, exe, sum, raw)
		}
		var std, cobra bool
		for _, p := range doc.Packages {
			std = std || p.Name == "stdlib"
			cobra = cobra || p.Name == "github.com/spf13/cobra"
		}
		if !std || !cobra {
			t.Errorf("%s.spdx.json lacks stdlib or github.com/spf13/cobra", a)
		}
	}
}

// TestNPMPackagesInstallFromTarballs packs the generated npm packages,
// installs the main package and this platform's binary package from the
// tarballs into a temporary prefix with no registry (--offline, and a
// registry address nothing listens on), and runs phantom and stack through
// npm's bin shims.
func TestNPMPackagesInstallFromTarballs(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("installs the linux-x64 packages")
	}
	d, version := dist(t)
	npm := need(t, "npm", "npm")
	need(t, "node", "nodejs")
	tmp := t.TempDir()
	packs, prefix, cache := filepath.Join(tmp, "packs"), filepath.Join(tmp, "prefix"), filepath.Join(tmp, "cache")
	for _, p := range []string{packs, prefix} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	env := append(os.Environ(), "npm_config_cache="+cache, "npm_config_registry=http://127.0.0.1:9/",
		"npm_config_update_notifier=false", "npm_config_fund=false", "npm_config_audit=false")
	run := func(dir string, args ...string) string {
		t.Helper()
		cmd := exec.Command(npm, args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("npm %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	var tarballs []string
	for _, pkg := range []string{"phantom-secrets", "phantom-linux-x64", "phantom-stack", "stack-linux-x64"} {
		run(filepath.Join(d, "npm", pkg), "pack", "--pack-destination", packs)
	}
	entries, _ := os.ReadDir(packs)
	for _, e := range entries {
		tarballs = append(tarballs, filepath.Join(packs, e.Name()))
	}
	if len(tarballs) != 4 {
		t.Fatalf("npm pack made %d tarballs, want 4: %v", len(tarballs), tarballs)
	}
	run(prefix, append([]string{"install", "--offline", "--no-save", "--ignore-scripts=false"}, tarballs...)...)
	for _, tool := range []string{"phantom", "stack"} {
		shim := filepath.Join(prefix, "node_modules", ".bin", tool)
		cmd := exec.Command(shim, "version", "--json")
		home := t.TempDir()
		cmd.Env = append(os.Environ(), "HOME="+home, "PHANTOM_HOME="+filepath.Join(home, ".phantom"), "STACK_HOME="+filepath.Join(home, ".stack"))
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s (npm shim) version --json: %v\n%s", tool, err, out)
		}
		var v struct{ Version string }
		if err := json.Unmarshal(out, &v); err != nil || v.Version != "v"+version {
			t.Errorf("%s (npm shim) version --json = %s, want version v%s", tool, out, version)
		}
		// The exit code passes through the shim (2: a usage error).
		cmd = exec.Command(shim, "no-such-command")
		cmd.Env = append(os.Environ(), "HOME="+home)
		if err := cmd.Run(); err == nil || cmd.ProcessState.ExitCode() != 2 {
			t.Errorf("%s (npm shim) no-such-command: %v, want exit 2", tool, err)
		}
	}
	// No install script: the esbuild pattern needs none.
	for _, pkg := range []string{"phantom-secrets", "phantom-stack"} {
		raw, err := os.ReadFile(filepath.Join(d, "npm", pkg, "package.json"))
		if err != nil {
			t.Fatal(err)
		}
		var pj map[string]any
		if err := json.Unmarshal(raw, &pj); err != nil {
			t.Fatal(err)
		}
		if _, ok := pj["scripts"]; ok {
			t.Errorf("%s/package.json has scripts", pkg)
		}
		if opt, _ := pj["optionalDependencies"].(map[string]any); len(opt) != 6 {
			t.Errorf("%s/package.json: %d optional platform packages, want 6", pkg, len(opt))
		}
	}
}

// TestHomebrewFormulae: both formulae parse (ruby -c) and each names the
// four macOS/Linux archives by their release URL and checksums.txt's sha256.
func TestHomebrewFormulae(t *testing.T) {
	d, version := dist(t)
	ruby := need(t, "ruby", "ruby")
	urlRE := regexp.MustCompile(`(?m)^\s+url "([^"]+)"\n\s+sha256 "([0-9a-f]{64})"$`)
	for _, tool := range []string{"phantom", "stack"} {
		f := filepath.Join(d, "homebrew", "Formula", tool+".rb")
		if out, err := exec.Command(ruby, "-c", f).CombinedOutput(); err != nil || !strings.Contains(string(out), "Syntax OK") {
			t.Errorf("ruby -c %s: %v\n%s", f, err, out)
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ms := urlRE.FindAllStringSubmatch(string(raw), -1)
		if len(ms) != 4 {
			t.Errorf("%s: %d url/sha256 pairs, want 4 (macOS and Linux × arm, intel)", f, len(ms))
		}
		seen := map[string]bool{}
		for _, m := range ms {
			name := m[1][strings.LastIndex(m[1], "/")+1:]
			seen[name] = true
			if want := releaseURL("phantomstack/phantomstack", version, name); m[1] != want {
				t.Errorf("%s: url %s, want %s", f, m[1], want)
			}
			if got := sha256File(t, filepath.Join(d, name)); got != m[2] {
				t.Errorf("%s: %s sha256 %s, the archive's is %s", f, name, m[2], got)
			}
		}
		for _, goos := range []string{"darwin", "linux"} {
			for _, arch := range []string{"amd64", "arm64"} {
				if name := tool + "_" + version + "_" + goos + "_" + arch + ".tar.gz"; !seen[name] {
					t.Errorf("%s: no url for %s", f, name)
				}
			}
		}
		if !strings.Contains(string(raw), `version "`+version+`"`) {
			t.Errorf("%s: no version %q", f, version)
		}
	}
}
