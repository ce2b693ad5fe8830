package cli

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"phantomstack.dev/shared/buildinfo"
	"phantomstack.dev/stack/internal/config"
)

// The install step's key is the repository's release key (release/
// allowed_signers, docs/install.md), byte for byte.
func TestCIReleaseSignerIsTheRepositoryKey(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "release", "allowed_signers"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(b)); got != ciReleaseSigner {
		t.Errorf("release/allowed_signers = %q, ciReleaseSigner = %q", got, ciReleaseSigner)
	}
}

// A released stack pins its own version; a development build writes no
// install step of its own (the step fails saying to choose one).
func TestCIInitPinsTheReleaseVersion(t *testing.T) {
	old := ciRelease
	t.Cleanup(func() { ciRelease = old })
	ciRelease = func() bool { return false }
	ciProject(t)
	r := run(t, nil, "ci", "init", "--json")
	if r.code != 0 || !strings.Contains(r.out, `"install": ""`) || !strings.Contains(r.errOut, "development build") {
		t.Fatalf("dev build: %d %s %s", r.code, r.out, r.errOut)
	}
	ciRelease = func() bool { return true }
	dir := ciProject(t)
	r = run(t, nil, "ci", "init")
	if r.code != 0 || strings.Contains(r.errOut, "install step fails") {
		t.Fatalf("release build: %d %s", r.code, r.errOut)
	}
	wf, err := os.ReadFile(filepath.Join(dir, ".github", "workflows", "stack-doctor.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"          version=" + buildinfo.Current() + "\n", "ssh-keygen -Y verify", "sha256sum --strict -c sums", ciReleaseSigner, `>> "$GITHUB_PATH"`} {
		if !strings.Contains(string(wf), want) {
			t.Errorf("workflow lacks %q", want)
		}
	}
	if strings.Contains(string(wf), "::error::stack ci init wrote no install command") {
		t.Error("a released stack's workflow still fails its install step")
	}
}

// TestCIReleaseInstallVerifies runs the install step's script against a
// local release (curl is a stand-in that copies files; no network): signed
// with the snapshot-only key in release/snapshot/, trusted here under the
// release identity. It installs and puts the binaries on GITHUB_PATH; a
// flipped byte in checksums.txt, a tampered archive, and the real release key
// (which did not sign this) each stop it before anything is installed.
func TestCIReleaseInstallVerifies(t *testing.T) {
	for _, tool := range []string{"bash", "ssh-keygen", "tar", "sha256sum", "awk"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is not installed", tool)
			}
			t.Skipf("%s is not installed", tool)
		}
	}
	const version = "v1.2.3"
	snapshotKey := filepath.Join("..", "..", "..", "release", "snapshot", "snapshot-signing-key")
	pub, err := os.ReadFile(snapshotKey + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(pub))
	trustSnapshot := `release@phantomstack.dev namespaces="file" ` + fields[0] + " " + fields[1]

	type tamper int
	const (
		none tamper = iota
		flipChecksums
		tamperArchive
		releaseKey
	)
	for _, tc := range []struct {
		name   string
		tamper tamper
		ok     bool
	}{{"genuine", none, true}, {"flipped checksums", flipChecksums, false}, {"tampered archive", tamperArchive, false}, {"release key", releaseKey, false}} {
		t.Run(tc.name, func(t *testing.T) {
			rel, work := t.TempDir(), t.TempDir()
			var sums strings.Builder
			for _, tool := range []string{"phantom", "stack"} {
				name := fmt.Sprintf("%s_%s_linux_%s.tar.gz", tool, version[1:], ciArch(t))
				data := tarGz(t, map[string]string{tool: "#!/bin/sh\necho " + tool + " " + version + "\n", "README.md": "readme\n"})
				fmt.Fprintf(&sums, "%x  %s\n", sha256.Sum256(data), name)
				if tc.tamper == tamperArchive && tool == "stack" {
					data = tarGz(t, map[string]string{tool: "#!/bin/sh\necho evil\n"})
				}
				if err := os.WriteFile(filepath.Join(rel, name), data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(rel, "checksums.txt"), []byte(sums.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			key := filepath.Join(t.TempDir(), "key")
			raw, err := os.ReadFile(snapshotKey)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(key, raw, 0o600); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command("ssh-keygen", "-Y", "sign", "-q", "-n", "file", "-f", key, filepath.Join(rel, "checksums.txt")).CombinedOutput(); err != nil {
				t.Fatalf("signing: %v\n%s", err, out)
			}
			if tc.tamper == flipChecksums {
				b, _ := os.ReadFile(filepath.Join(rel, "checksums.txt"))
				b[3] ^= 1
				os.WriteFile(filepath.Join(rel, "checksums.txt"), b, 0o644)
			}
			// curl -fsSL --retry 3 -O URL [-O URL]: copy each URL's file
			// from the local release directory.
			fake := filepath.Join(t.TempDir(), "bin")
			os.MkdirAll(fake, 0o755)
			curl := "#!/bin/sh\nfor a; do case $a in https://*) cp \"" + rel + "/${a##*/}\" . || exit 22;; esac; done\n"
			if err := os.WriteFile(filepath.Join(fake, "curl"), []byte(curl), 0o755); err != nil {
				t.Fatal(err)
			}
			script := ciReleaseInstall(version)
			if tc.tamper != releaseKey {
				script = strings.Replace(script, ciReleaseSigner, trustSnapshot, 1)
			}
			runner, ghPath := filepath.Join(work, "runner"), filepath.Join(work, "github_path")
			os.MkdirAll(runner, 0o755)
			cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script)
			cmd.Dir = work
			cmd.Env = append(os.Environ(), "PATH="+fake+string(os.PathListSeparator)+os.Getenv("PATH"), "RUNNER_TEMP="+runner, "GITHUB_PATH="+ghPath)
			out, err := cmd.CombinedOutput()
			installed := filepath.Join(runner, "phantomstack", "bin")
			if !tc.ok {
				if err == nil {
					t.Fatalf("the install step succeeded:\n%s", out)
				}
				if _, err := os.Stat(ghPath); err == nil {
					t.Error("GITHUB_PATH was written")
				}
				if entries, _ := os.ReadDir(installed); len(entries) != 0 {
					t.Errorf("installed %v", entries)
				}
				return
			}
			if err != nil {
				t.Fatalf("install step: %v\n%s", err, out)
			}
			p, _ := os.ReadFile(ghPath)
			if strings.TrimSpace(string(p)) != installed {
				t.Errorf("GITHUB_PATH = %q, want %q", p, installed)
			}
			for _, tool := range []string{"phantom", "stack"} {
				got, err := exec.Command(filepath.Join(installed, tool)).Output()
				if err != nil || string(got) != tool+" "+version+"\n" {
					t.Errorf("installed %s: %q %v", tool, got, err)
				}
			}
		})
	}
}

// ciProject makes a project with one service and enters it.
func ciProject(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("STACK_HOME", filepath.Join(dir, ".stack"))
	c := config.New(dir, "")
	c.SetService(&config.Service{Name: "openai", Provider: "openai", Secrets: []string{"OPENAI_API_KEY"}})
	if err := c.Save(nil); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	return dir
}

func ciArch(t *testing.T) string {
	out, err := exec.Command("uname", "-m").Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(out)) == "x86_64" {
		return "amd64"
	}
	return "arm64"
}

func tarGz(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}
