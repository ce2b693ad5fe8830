//go:build linux

package cli

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
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

// TestAddApprovesRouteOnTerminal: stack add openai on a terminal, with
// STACK_OPENAI_API_URL pointing at a local sandbox. stack points phantom's
// openai route there too (.phantom.toml), explains why an approval is
// needed, and hands the terminal to `phantom trust`, whose own prompt the
// person answers. Afterwards nothing is pending, so stack exec runs (issue 13
// item 24).
func TestAddApprovesRouteOnTerminal(t *testing.T) {
	phantom, stack := buildPhantomBin(t), buildStackBin(t)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer sk-good-approve-0123456789" {
			http.Error(w, `{"error":"invalid key"}`, http.StatusUnauthorized)
			return
		}
		io.WriteString(w, `{"data":[]}`)
	}))
	defer api.Close()
	root := t.TempDir()
	dir := filepath.Join(root, "app")
	os.MkdirAll(dir, 0o755)
	env := []string{
		"PATH=" + filepath.Dir(phantom) + string(os.PathListSeparator) + os.Getenv("PATH"), "HOME=" + root, "TERM=xterm", "NO_COLOR=1",
		"PHANTOM_BIN=" + phantom, "PHANTOM_HOME=" + filepath.Join(root, "phantom-home"),
		"STACK_HOME=" + filepath.Join(root, "stack-home"), "PHANTOM_VAULT_PASSPHRASE=pty-test-pass",
		"STACK_OPENAI_API_URL=" + api.URL, "OPENAI_API_KEY=sk-good-approve-0123456789",
	}
	run := func(name string, args ...string) (string, error) {
		cmd := exec.Command(name, args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run(stack, "init"); err != nil {
		t.Fatalf("stack init: %v\n%s", err, out)
	}

	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatalf("opening a pty: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	cmd := exec.Command(stack, "add", "openai")
	cmd.Dir, cmd.Env = dir, env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
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
	text := func() string { mu.Lock(); defer mu.Unlock(); return screen.String() }
	for deadline := time.Now().Add(60 * time.Second); !strings.Contains(text(), `Type "trust"`); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("phantom trust never asked; screen:\n%s", text())
		}
	}
	io.WriteString(ptmx, "trust\r")
	werr := make(chan error, 1)
	go func() { werr <- cmd.Wait() }()
	select {
	case err = <-werr:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("stack add did not finish; screen:\n%s", text())
	}
	time.Sleep(100 * time.Millisecond)
	s := text()
	if err != nil {
		t.Fatalf("stack add: %v; screen:\n%s", err, s)
	}
	// stack's explanation comes first, then phantom's own prompt.
	for _, want := range []string{
		"STACK_OPENAI_API_URL is set, so phantom's openai route goes there too",
		"route openai → " + api.URL,
		"could be anyone's server, so phantom asks a person",
		"Running phantom trust so you can approve it now",
		"Approved 1 route",
	} {
		if !strings.Contains(s, want) {
			t.Fatalf("screen lacks %q:\n%s", want, s)
		}
	}
	if i, j := strings.Index(s, "Running phantom trust"), strings.Index(s, `Type "trust"`); i < 0 || j < i {
		t.Fatalf("stack's explanation does not lead into phantom's prompt:\n%s", s)
	}
	if strings.Contains(s, "sk-good-approve") {
		t.Fatal("the key was shown")
	}
	toml, _ := os.ReadFile(filepath.Join(dir, ".phantom.toml"))
	if !strings.Contains(string(toml), "[routes.openai]\n") || !strings.Contains(string(toml), `upstream = "`+api.URL+`"`) {
		t.Fatalf(".phantom.toml has no route to the sandbox:\n%s", toml)
	}
	out, err := run(phantom, "trust", "--json")
	if err != nil || !strings.Contains(out, `"routes": []`) {
		t.Fatalf("still pending after the approval: %v\n%s", err, out)
	}
	out, err = run(stack, "exec", "--", "sh", "-c", "echo ran")
	if err != nil || !strings.Contains(out, "ran") {
		t.Fatalf("stack exec after the add: %v\n%s", err, out)
	}
}
