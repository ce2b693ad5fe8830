//go:build unix

package cli

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"phantomstack.dev/phantom/internal/config"
	"phantomstack.dev/shared/exitcode"
)

func testProject(t *testing.T) *Project {
	dir := t.TempDir()
	return &Project{Dir: dir, ConfigPath: filepath.Join(dir, ConfigFile), Config: config.New()}
}

// loadWithin runs loadEnvFile and fails the test if it has not returned
// after 10 s (a FIFO used to block init forever; issue 13 item 10).
func loadWithin(t *testing.T, p *Project, path string) (*envFile, error) {
	t.Helper()
	type res struct {
		e   *envFile
		err error
	}
	ch := make(chan res, 1)
	go func() { e, err := loadEnvFile(p, path); ch <- res{e, err} }()
	select {
	case r := <-ch:
		return r.e, r.err
	case <-time.After(10 * time.Second):
		t.Fatalf("loadEnvFile(%s) still blocked after 10 s", path)
		return nil, nil
	}
}

func TestLoadEnvFileRefusesFIFO(t *testing.T) {
	p := testProject(t)
	if err := syscall.Mkfifo(filepath.Join(p.Dir, ".env.local"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := loadWithin(t, p, ".env.local")
	if exitcode.Code(err) != exitcode.Refused || !strings.Contains(err.Error(), "named pipe (FIFO)") {
		t.Fatalf("FIFO: %v (exit %d)", err, exitcode.Code(err))
	}
}

func TestLoadEnvFileSizeLimit(t *testing.T) {
	p := testProject(t)
	line := "SETTING=value-0123456789\n"
	at := []byte(strings.Repeat(line, MaxEnvFileSize/len(line)))
	at = append(at, strings.Repeat("#", MaxEnvFileSize-len(at))...)
	if err := os.WriteFile(filepath.Join(p.Dir, ".env"), at, 0o600); err != nil {
		t.Fatal(err)
	}
	if e, err := loadWithin(t, p, ".env"); err != nil || !e.Exists {
		t.Fatalf("a file of exactly %d bytes: %v", MaxEnvFileSize, err)
	}
	if err := os.WriteFile(filepath.Join(p.Dir, ".env"), append(at, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := loadWithin(t, p, ".env")
	if exitcode.Code(err) != exitcode.Refused || !strings.Contains(err.Error(), "larger than 16 MiB") {
		t.Fatalf("one byte over the limit: %v", err)
	}
}
