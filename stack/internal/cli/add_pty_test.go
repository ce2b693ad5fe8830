//go:build linux

package cli

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

var (
	stackOnce     sync.Once
	stackBin      string
	stackBuildErr error
)

func buildStackBin(t *testing.T) string {
	t.Helper()
	stackOnce.Do(func() {
		dir, err := os.MkdirTemp("", "stack-cli-stack-")
		if err != nil {
			stackBuildErr = err
			return
		}
		stackBin = filepath.Join(dir, "stack")
		cmd := exec.Command("go", "build", "-o", stackBin, "./stack/cmd/stack")
		cmd.Dir = filepath.Join("..", "..", "..")
		if out, err := cmd.CombinedOutput(); err != nil {
			stackBuildErr = &exec.Error{Name: string(out), Err: err}
		}
	})
	if stackBuildErr != nil {
		t.Fatalf("building stack: %v", stackBuildErr)
	}
	return stackBin
}

// TestAddCtrlCAtMaskedPrompt: stack add on a terminal, no key in the
// environment, so it asks for a masked paste; the user presses Ctrl-C.
// stack exits 130, stores nothing, leaves .stack.toml as it was, and puts
// the terminal back (echo on) instead of dying with echo off.
func TestAddCtrlCAtMaskedPrompt(t *testing.T) {
	phantom, stack := buildPhantomBin(t), buildStackBin(t)
	root := t.TempDir()
	dir := filepath.Join(root, "app")
	os.MkdirAll(dir, 0o755)
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + root, "TERM=xterm", "NO_COLOR=1",
		"PHANTOM_BIN=" + phantom, "PHANTOM_HOME=" + filepath.Join(root, "phantom-home"),
		"STACK_HOME=" + filepath.Join(root, "stack-home"), "PHANTOM_VAULT_PASSPHRASE=pty-test-pass",
		// Never reached: the prompt is interrupted before any check.
		"STACK_OPENAI_API_URL=http://127.0.0.1:9",
	}
	runPlain := func(args ...string) string {
		cmd := exec.Command(stack, args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("stack %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	runPlain("init")
	toml0, _ := os.ReadFile(filepath.Join(dir, ".stack.toml"))

	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatalf("opening a pty: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	cmd := exec.Command(stack, "add", "openai")
	cmd.Dir, cmd.Env = dir, env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	// Its own session with the pty as controlling terminal, so ^C typed
	// on the terminal becomes SIGINT for stack, as at a shell.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var screen bytes.Buffer
	var mu sync.Mutex
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			mu.Lock()
			screen.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	seen := func(s string) bool { mu.Lock(); defer mu.Unlock(); return strings.Contains(screen.String(), s) }
	for deadline := time.Now().Add(30 * time.Second); !seen("input hidden"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no masked prompt; screen:\n%s", screen.String())
		}
	}
	// Wait until echo is off (the prompt is reading), then type ^C.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if !echoOn(t, tty) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("echo never turned off for the masked prompt")
		}
	}
	io.WriteString(ptmx, "sk-partial\x03")
	werr := make(chan error, 1)
	go func() { werr <- cmd.Wait() }()
	select {
	case err = <-werr:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("stack did not stop on ^C; screen:\n%s", screen.String())
	}
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 130 {
		t.Fatalf("exit: %v (want exit status 130, not death by signal); screen:\n%s", err, screen.String())
	}
	time.Sleep(100 * time.Millisecond)
	if !seen("error: interrupted (Ctrl-C); nothing was stored") {
		t.Fatalf("screen:\n%s", screen.String())
	}
	if !echoOn(t, tty) {
		t.Fatal("stack left the terminal with echo off")
	}
	if b, _ := os.ReadFile(filepath.Join(dir, ".stack.toml")); !bytes.Equal(b, toml0) {
		t.Fatalf(".stack.toml changed:\n%s", b)
	}
	if _, err := os.Stat(filepath.Join(dir, ".env.local")); err == nil {
		t.Fatal(".env.local was written")
	}
	list := exec.Command(phantom, "list", "--json")
	list.Dir, list.Env = dir, env
	out, _ := list.CombinedOutput()
	if strings.Contains(string(out), "OPENAI_API_KEY") {
		t.Fatalf("stored after ^C: %s", out)
	}
	if strings.Contains(screen.String(), "sk-partial") {
		t.Fatal("the typed key was echoed")
	}
}
