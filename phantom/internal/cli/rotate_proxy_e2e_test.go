package cli

import (
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRotateNamesRunningProxies: a running `phantom start` proxy and a
// running `phantom exec` proxy loaded the tokens when they started. After
// rotate, rotate names both with how to restart them, and the start
// proxy's 403 for the new token says it predates the rotation and how to
// restart it (before: rotate said nothing and the 403 told the user to run
// sync, which changes nothing).
func TestRotateNamesRunningProxies(t *testing.T) {
	s := newSandbox(t, "PHANTOM_VAULT_PASSPHRASE=rotate-proxy-pass-123")
	s.write(".env", "OPENAI_API_KEY=sk-proj-RotateProxy0123456789abcdefGHIJ\n")
	s.mustRun("", "init", "--yes")

	out := s.mustRun("", "start", "-d")
	t.Cleanup(func() { s.run("", "stop") })
	m := regexp.MustCompile(`(?m)^export OPENAI_BASE_URL='([^']+)'$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no OPENAI_BASE_URL export:\n%s", out)
	}
	base := m[1]

	// A phantom exec whose command runs until we end it.
	execCmd := exec.Command(s.bin, "exec", "--", "sleep", "30")
	execCmd.Dir, execCmd.Env = s.dir, s.env
	if err := execCmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { execCmd.Wait(); close(done) }()
	t.Cleanup(func() {
		execCmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			execCmd.Process.Kill()
		}
	})
	reg := filepath.Join(s.home, "proxy", "*.exec."+strconv.Itoa(execCmd.Process.Pid)+".json")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if ms, _ := filepath.Glob(reg); len(ms) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("phantom exec registered no proxy (%s)", reg)
		}
		time.Sleep(50 * time.Millisecond)
	}

	rout, rerr, code := s.run("", "rotate", "--json")
	if code != 0 {
		t.Fatalf("rotate: exit %d\n%s", code, rerr)
	}
	var res struct {
		RunningProxies []RunningProxy `json:"running_proxies"`
	}
	if err := json.Unmarshal([]byte(rout), &res); err != nil {
		t.Fatalf("rotate --json: %v\n%s", err, rout)
	}
	kinds := map[string]RunningProxy{}
	for _, rp := range res.RunningProxies {
		kinds[rp.Kind] = rp
	}
	if st, ok := kinds["start"]; !ok || st.Restart != restartStart {
		t.Errorf("rotate did not name the phantom start proxy: %s", rout)
	}
	if ex, ok := kinds["exec"]; !ok || ex.PID != execCmd.Process.Pid || ex.Command != "sleep" {
		t.Errorf("rotate did not name the phantom exec proxy (pid %d): %s", execCmd.Process.Pid, rout)
	}
	for _, want := range []string{"2 running proxy(ies) of this project still hold the old tokens", restartStart, "stop sleep and run it again with phantom exec"} {
		if !strings.Contains(rerr, want) {
			t.Errorf("rotate's warning lacks %q:\n%s", want, rerr)
		}
	}

	// The registration and state files hold no value.
	s.assertNoPlaintext("sk-proj-RotateProxy0123456789abcdefGHIJ")

	// The new token reaches the old proxy: a 403 that says why and what to do.
	newTok := envToken(t, s.read(".env"), "OPENAI_API_KEY")
	req, _ := http.NewRequest("GET", base+"/models", nil)
	req.Header.Set("Authorization", "Bearer "+newTok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var eb struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	json.Unmarshal(body, &eb)
	if resp.StatusCode != 403 || !strings.Contains(eb.Error.Message, "as this proxy loaded it at") ||
		!strings.Contains(eb.Error.Message, "phantom rotate") || !strings.Contains(eb.Error.Message, restartStart) {
		t.Errorf("403 for the new token: %d %s", resp.StatusCode, body)
	}

	// The exec registration goes away with the exec.
	execCmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("phantom exec did not end after SIGTERM")
	}
	if ms, _ := filepath.Glob(reg); len(ms) != 0 {
		t.Errorf("exec left its registration behind: %v", ms)
	}
}
