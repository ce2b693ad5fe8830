package leakscan

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

const ghKey = "ghp_Zx8Qw2Er4Ty6Ui8Op0As2Df4Gh6Jk8Lz9Xcv"

// A NUL byte in the first 8000 bytes marks a binary file: skipped, said so.
func TestBinarySkipped(t *testing.T) {
	rep := scanText(t, Options{}, "logo.png", "\x89PNG\r\n\x1a\n\x00\x00"+ghKey)
	if len(rep.Findings) != 0 || len(rep.Scanned.Skipped) != 1 || rep.Scanned.Skipped[0].Reason != "binary" {
		t.Fatalf("%+v %+v", rep.Findings, rep.Scanned.Skipped)
	}
}

// Non-UTF-8 bytes around a key do not hide it, and the report stays valid.
func TestNonUTF8(t *testing.T) {
	rep := scanText(t, Options{}, "latin1-\xe9.txt", "caf\xe9 \xff\xfe token = \""+ghKey+"\" \xc3\x28\n")
	if len(rep.Findings) != 1 || rep.Findings[0].Rule != "github-pat" {
		t.Fatalf("%+v", rep.Findings)
	}
}

// endless yields n bytes of filler text without holding them.
type endless struct {
	n, off int
	line   []byte
}

func (e *endless) Read(p []byte) (int, error) {
	if e.off >= e.n {
		return 0, io.EOF
	}
	k := 0
	for k < len(p) && e.off < e.n {
		c := copy(p[k:], e.line[e.off%len(e.line):])
		c = min(c, e.n-e.off)
		k += c
		e.off += c
	}
	return k, nil
}

// A huge file is streamed with bounded memory, and a secret on its last
// line is found with the right line number; a line longer than a block
// (minified code) does not hide a secret across the cut.
func TestHugeFileAndLongLines(t *testing.T) {
	filler := &endless{n: 96 << 20, line: []byte("lorem ipsum dolor sit amet consectetur adipiscing elit sed do\n")}
	lines := filler.n / len(filler.line)
	filler.n = lines * len(filler.line)
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapSys
	// The known-value layer alone: the pattern rules would take most of
	// a minute on 96 MiB here, and the bound is about the streaming.
	s, _ := New(Options{NoEnv: true, NoPatterns: true, Known: NewKnown([]KnownValue{{Name: "K", Value: []byte(ghKey), Version: "1"}})})
	if err := s.ScanReader("big.txt", "", io.MultiReader(filler, strings.NewReader("token = \""+ghKey+"\"\n"))); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&ms)
	if grew := int64(ms.HeapSys) - int64(before); grew > 64<<20 {
		t.Fatalf("heap grew by %d MiB scanning a 96 MiB file", grew>>20)
	}
	rep := s.Report("worktree")
	if len(rep.Findings) != 1 || rep.Findings[0].Line != lines+1 {
		t.Fatalf("findings %+v, want one on line %d", rep.Findings, lines+1)
	}

	// One 3 MiB line with the key straddling the first 1 MiB cut, and
	// another right after it.
	long := bytes.Repeat([]byte("a;"), chunkSize/2)
	cut := len(long) - len(ghKey)/2
	line := string(long[:cut]) + " \"" + ghKey + "\" " + strings.Repeat("b;", chunkSize) + "\nnext = \"" + ghKey + "\"\n"
	rep = scanText(t, Options{NoEnv: true}, "min.js", line)
	if len(rep.Findings) != 2 || rep.Findings[0].Line != 1 || rep.Findings[1].Line != 2 {
		t.Fatalf("long line: %+v", rep.Findings)
	}
}

// A symbolic link loop neither traps the walk nor fails the scan.
func TestSymlinkLoop(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "d"), 0o755)
	os.Symlink(filepath.Join(dir, "d"), filepath.Join(dir, "d", "self"))
	os.Symlink(filepath.Join(dir, "b"), filepath.Join(dir, "a"))
	os.Symlink(filepath.Join(dir, "a"), filepath.Join(dir, "b"))
	os.WriteFile(filepath.Join(dir, "d", "k.go"), []byte("x := \""+ghKey+"\"\n"), 0o644)
	s, _ := New(Options{Root: dir})
	if err := s.ScanPaths([]string{dir, filepath.Join(dir, "a")}); err != nil {
		t.Fatal(err)
	}
	rep := s.Report("worktree")
	if len(rep.Findings) != 1 || rep.Findings[0].File != "d/k.go" {
		t.Fatalf("%+v", rep.Findings)
	}
	if len(rep.Scanned.Skipped) != 1 || !strings.Contains(rep.Scanned.Skipped[0].Reason, "symbolic link") {
		t.Fatalf("skipped %+v", rep.Scanned.Skipped)
	}
}

func needGit(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("git is not installed")
		}
		t.Skip("git is not installed")
	}
}

func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

func staged(t *testing.T, dir string) *Report {
	t.Helper()
	s, _ := New(Options{Root: dir})
	if err := s.ScanStaged(context.Background(), dir, nil); err != nil {
		t.Fatal(err)
	}
	return s.Report("staged")
}

// --staged on a repository with no commits, a detached HEAD, a staged
// deletion, a rename, a binary file, and an env file (scanned whole).
func TestStagedEdgeCases(t *testing.T) {
	needGit(t)
	dir := t.TempDir()
	git(t, dir, "init", "-q")
	write := func(name, content string) {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
		os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644)
	}
	// No commits yet.
	write("a.go", "package a\n\nvar k = \""+ghKey+"\"\n")
	write("bin.dat", "\x00\x01"+ghKey)
	git(t, dir, "add", ".")
	rep := staged(t, dir)
	if len(rep.Findings) != 1 || rep.Findings[0].File != "a.go" || rep.Findings[0].Line != 3 {
		t.Fatalf("empty repo: %+v", rep.Findings)
	}
	if len(rep.Scanned.Skipped) != 1 || rep.Scanned.Skipped[0].File != "bin.dat" {
		t.Fatalf("binary: %+v", rep.Scanned.Skipped)
	}
	git(t, dir, "commit", "-q", "-m", "one")
	// Detached HEAD, a rename and a deletion: nothing added, nothing found.
	git(t, dir, "checkout", "-q", "--detach")
	git(t, dir, "mv", "a.go", "b.go")
	git(t, dir, "rm", "-q", "bin.dat")
	if rep := staged(t, dir); len(rep.Findings) != 0 {
		t.Fatalf("rename/deletion: %+v", rep.Findings)
	}
	// A rename with an added line: only that line.
	write("b.go", "package a\n\nvar k = \""+ghKey+"\"\nvar j = \"ghp_"+strings.Repeat("Qw3Er5Ty7U", 3)+"i9Op1A\"\n")
	git(t, dir, "add", "b.go")
	rep = staged(t, dir)
	if len(rep.Findings) != 1 || rep.Findings[0].File != "b.go" || rep.Findings[0].Line != 4 {
		t.Fatalf("rename+edit: %+v", rep.Findings)
	}
	// An env file is scanned whole: the old plaintext line counts too.
	write(".env", "SESSION_SECRET=q8Xr2Lm9Vt4Kp7Zs1Wd3\n")
	git(t, dir, "add", ".env")
	git(t, dir, "commit", "-q", "-m", "two")
	write(".env", "SESSION_SECRET=q8Xr2Lm9Vt4Kp7Zs1Wd3\nPORT=3000\n")
	git(t, dir, "add", ".env")
	rep = staged(t, dir)
	if len(rep.Findings) != 1 || rep.Findings[0].File != ".env" || rep.Findings[0].Line != 1 {
		t.Fatalf("env file: %+v", rep.Findings)
	}
	// The working tree is not what --staged reads.
	write("c.go", "var z = \""+ghKey+"\"\n")
	git(t, dir, "reset", "-q")
	if rep := staged(t, dir); len(rep.Findings) != 0 {
		t.Fatalf("unstaged file scanned: %+v", rep.Findings)
	}
}

// --history finds a key added in an old commit and later deleted, and an
// empty repository has nothing to scan.
func TestHistory(t *testing.T) {
	needGit(t)
	dir := t.TempDir()
	git(t, dir, "init", "-q")
	hist := func() *Report {
		s, _ := New(Options{Root: dir})
		if err := s.ScanHistory(context.Background(), dir, nil); err != nil {
			t.Fatal(err)
		}
		return s.Report("history")
	}
	if rep := hist(); len(rep.Findings) != 0 || rep.Scanned.Commits != 0 {
		t.Fatalf("empty repo: %+v", rep)
	}
	os.WriteFile(filepath.Join(dir, "k.py"), []byte("x = 1\nk = \""+ghKey+"\"\n"), 0o644)
	git(t, dir, "add", ".")
	git(t, dir, "commit", "-q", "-m", "add")
	os.WriteFile(filepath.Join(dir, "k.py"), []byte("x = 1\n"), 0o644)
	git(t, dir, "commit", "-q", "-am", "remove")
	rep := hist()
	if len(rep.Findings) != 1 || rep.Findings[0].Line != 2 || len(rep.Findings[0].Commit) != 40 || rep.Scanned.Commits != 2 {
		t.Fatalf("history: %+v", rep)
	}
}

// A staged line longer than git's output buffer arrives in pieces: the key
// at its end is still found, on the right line, and a long removed line is
// not mistaken for anything.
func TestStagedLongLines(t *testing.T) {
	needGit(t)
	dir := t.TempDir()
	git(t, dir, "init", "-q")
	old := strings.Repeat("x;", 200<<10) + "\n"
	os.WriteFile(filepath.Join(dir, "min.js"), []byte(old), 0o644)
	git(t, dir, "add", ".")
	git(t, dir, "commit", "-q", "-m", "one")
	long := strings.Repeat("a;", 1536<<10) + " \"" + ghKey + "\"\n"
	os.WriteFile(filepath.Join(dir, "min.js"), []byte("// header\n"+long), 0o644)
	git(t, dir, "add", ".")
	rep := staged(t, dir)
	if len(rep.Findings) != 1 || rep.Findings[0].Line != 2 || rep.Findings[0].File != "min.js" {
		t.Fatalf("%+v", rep.Findings)
	}
}
