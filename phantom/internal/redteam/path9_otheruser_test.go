//go:build linux

package redteam

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func init() {
	children["path9-app"] = path9App
	children["path9-argv"] = func([]string) int { time.Sleep(90 * time.Second); return 0 }
	children["path9-other"] = path9Other
}

// path9App is the owner's app under phantom exec. It starts a helper with
// the proxy URL in its argv (as a careless program does), so `ps` shows the
// session token to every user, also writes the URL into a world-readable
// log (the same leak where /proc is mounted hidepid), then waits until the
// test is done.
func path9App(args []string) int {
	dir := args[0]
	u := os.Getenv("OPENAI_BASE_URL")
	if !strings.Contains(u, "/_phantom/") {
		fmt.Fprintln(os.Stderr, "path9-app: no proxy URL in OPENAI_BASE_URL")
		return 1
	}
	self, _ := os.Executable()
	helper := exec.Command(self, "--url", u)
	helper.Env = append(os.Environ(), "REDTEAM_CHILD=path9-argv")
	if err := helper.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { helper.Process.Kill(); helper.Wait() }()
	os.WriteFile(filepath.Join(dir, "app.log"), []byte("openai base url: "+u+"\n"), 0o644)
	// Written whole, then renamed: the test reads "ready" as soon as it
	// exists and must never see it half written.
	os.WriteFile(filepath.Join(dir, "ready.tmp"), []byte(u), 0o600)
	os.Rename(filepath.Join(dir, "ready.tmp"), filepath.Join(dir, "ready"))
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(dir, "done")); err == nil {
			return 0
		}
	}
	return 1
}

// path9Attempt is one try of the other user.
type path9Attempt struct {
	What   string `json:"what"`
	Status int    `json:"status"`
	Body   string `json:"body"`
	Err    string `json:"err"`
}

// path9Other is the other local user: it finds the session-token URL the
// way one does, in `ps` output (/proc/*/cmdline), and uses it.
func path9Other(args []string) int {
	dir := args[0]
	var u, from string
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		for _, arg := range bytes.Split(b, []byte{0}) {
			if bytes.Contains(arg, []byte("/_phantom/")) && bytes.HasPrefix(arg, []byte("http://")) {
				u, from = string(arg), "ps"
			}
		}
	}
	if u == "" {
		if b, err := os.ReadFile(filepath.Join(dir, "app.log")); err == nil {
			u, from = strings.TrimSpace(strings.TrimPrefix(string(b), "openai base url: ")), "app.log"
		}
	}
	if u == "" {
		fmt.Fprintln(os.Stderr, "path9-other: found no proxy URL")
		return 1
	}
	pu, err := url.Parse(u)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	session := strings.TrimPrefix(pu.Path, "/_phantom/")
	session, _, _ = strings.Cut(session, "/")
	base := "http://" + pu.Host + "/_phantom/" + session
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var out []path9Attempt
	try := func(what, method, target, body string) {
		req, _ := http.NewRequest(method, target, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		a := path9Attempt{What: what}
		resp, err := client.Do(req)
		if err != nil {
			a.Err = err.Error()
		} else {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			a.Status, a.Body = resp.StatusCode, string(b)
		}
		out = append(out, a)
	}
	// No credential: the openai route would put the owner's key on it.
	try("openai models", "GET", u+"/models", "")
	try("openai chat", "POST", u+"/chat/completions", `{"model":"gpt-4o","messages":[]}`)
	try("aws credentials", "GET", base+"/_aws/credentials", "")
	try("health", "GET", base+"/_health", "")
	// Raw: whatever the proxy sends back, byte for byte.
	raw := path9Attempt{What: "raw"}
	if c, err := net.DialTimeout("tcp", pu.Host, 5*time.Second); err != nil {
		raw.Err = err.Error()
	} else {
		fmt.Fprintf(c, "GET %s/models HTTP/1.1\r\nHost: %s\r\n\r\n", pu.Path, pu.Host)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		b, err := io.ReadAll(c)
		c.Close()
		raw.Body = string(b)
		if err != nil {
			raw.Err = err.Error()
		}
	}
	out = append(out, raw)
	json.NewEncoder(os.Stdout).Encode(map[string]any{"url_from": from, "attempts": out})
	return 0
}

// TestPath9_OtherUser: another OS user on the machine reads the proxy's
// session-token URL from `ps` (the owner's app passed it to a helper in
// argv) and sends requests through the owner's proxy, with no credential of
// its own, so the proxy would attach the owner's key (and the AWS endpoint
// would hand out credentials). The proxy must close every such connection
// unread: no answer, nothing upstream, a proxy.refused audit event naming
// the user, and a warning to the owner. The owner's own request, on the
// same proxy, still goes through with the key (positive control).
func TestPath9_OtherUser(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the owner check is Linux-only; elsewhere the session token is the protection (docs/decisions.md, \"The proxy serves only its owner\")")
	}
	other := NewOtherUser(t)
	a := NewAgent(t, []string{"OPENAI_API_KEY"})
	// The approved upstream: a loopback server recording every byte. (Here
	// the listener plays the API the owner approved, not the attacker.)
	upstream := Listen(t)
	a.WriteFile(".phantom.toml", a.ReadFile(".phantom.toml")+fmt.Sprintf("\n[routes.openai]\nupstream = %q\n", upstream.URL()))
	a.ApproveRoutes()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := a.Command(ctx, "", phantomBin, append([]string{"exec", "--"}, Child("path9-app", other.Dir)...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ended := false
	finish := func() Result {
		if !ended {
			ended = true
			os.WriteFile(filepath.Join(other.Dir, "done"), nil, 0o644)
			cmd.Wait()
		}
		return Result{Stdout: stdout.String(), Stderr: stderr.String(), Code: cmd.ProcessState.ExitCode()}
	}
	defer finish()
	var proxyURL string
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if b, err := os.ReadFile(filepath.Join(other.Dir, "ready")); err == nil && len(b) > 0 {
			proxyURL = string(b)
			break
		}
		if time.Now().After(deadline) {
			r := finish()
			t.Fatalf("the app under phantom exec never became ready: exit %d\n%s", r.Code, r.Out())
		}
	}

	// The attack.
	r := other.Run(t, "path9-other", other.Dir)
	if r.Code != 0 {
		t.Fatalf("the other user's program: exit %d\n%s", r.Code, r.Out())
	}
	AssertNoValue(t, "the other user's output", []byte(r.Out()), a.Values()...)
	var got struct {
		From     string         `json:"url_from"`
		Attempts []path9Attempt `json:"attempts"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &got); err != nil || len(got.Attempts) != 5 {
		t.Fatalf("the other user's program printed %q (%v)", r.Stdout, err)
	}
	t.Logf("the other user found the URL in %s", got.From)
	for _, at := range got.Attempts {
		if at.Status != 0 || at.Body != "" {
			t.Errorf("%s: the other user got an answer: %d %q", at.What, at.Status, at.Body)
		}
	}
	if n := upstream.Connections(); n != 0 {
		t.Errorf("the upstream got %d connections from the other user's requests:\n%s", n, upstream.Received())
	}

	// Positive control: the owner, same URL, is served and the key is used.
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(proxyURL + "/models")
	if err != nil {
		t.Fatalf("the owner's own request: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ok" {
		t.Fatalf("the owner's own request: %d %q", resp.StatusCode, body)
	}
	if !bytes.Contains(upstream.Received(), []byte("Bearer "+a.Value("OPENAI_API_KEY"))) {
		t.Fatalf("the owner's request reached the upstream without the key:\n%s", upstream.Received())
	}

	res := finish()
	if res.Code != 0 {
		t.Fatalf("phantom exec: exit %d\n%s", res.Code, res.Out())
	}
	a.AssertClean(res)
	AssertNoValueInTree(t, other.Dir, a.Values()...)
	if !strings.Contains(res.Stderr, "refused a connection from uid") || !strings.Contains(res.Stderr, OtherUserName) {
		t.Errorf("phantom exec did not warn the owner about the other user:\n%s", res.Stderr)
	}
	a.AssertAudited("proxy.refused", OtherUserName)
	refused, served := 0, 0
	for _, e := range a.Audit() {
		switch e.Op {
		case "proxy.refused":
			refused++
			if !strings.Contains(e.Detail, fmt.Sprintf("uid %d (%s)", other.UID, OtherUserName)) {
				t.Errorf("refusal event does not name the user: %s", e.Detail)
			}
		case "proxy.request":
			served++
		}
	}
	if refused < len(got.Attempts) || served != 1 {
		t.Errorf("audit: %d proxy.refused (want one per connection, ≥ %d), %d proxy.request (want 1, the owner's)", refused, len(got.Attempts), served)
	}

	// The same through `phantom start -d`, the proxy that outlives a
	// command (its URL leaks the same way, e.g. from a shell's exports).
	st := a.MustPhantom("", "start", "-d")
	defer a.Phantom("", "stop")
	a.AssertClean(st)
	var startURL string
	for _, line := range strings.Split(st.Stdout, "\n") {
		if v, ok := strings.CutPrefix(line, "export OPENAI_BASE_URL='"); ok {
			startURL = strings.TrimSuffix(v, "'")
		}
	}
	if !strings.Contains(startURL, "/_phantom/") {
		t.Fatalf("phantom start -d printed no OPENAI_BASE_URL:\n%s", st.Out())
	}
	os.WriteFile(filepath.Join(other.Dir, "app.log"), []byte("openai base url: "+startURL+"\n"), 0o644)
	r = other.Run(t, "path9-other", other.Dir)
	AssertNoValue(t, "the other user's output (phantom start)", []byte(r.Out()), a.Values()...)
	got.Attempts = nil
	if err := json.Unmarshal([]byte(r.Stdout), &got); err != nil || len(got.Attempts) != 5 {
		t.Fatalf("the other user's program (phantom start) printed %q (%v)", r.Out(), err)
	}
	for _, at := range got.Attempts {
		if at.Status != 0 || at.Body != "" {
			t.Errorf("phantom start: %s: the other user got an answer: %d %q", at.What, at.Status, at.Body)
		}
	}
	if sp := a.Phantom("", "stop"); sp.Code != 0 {
		t.Fatalf("phantom stop: exit %d\n%s", sp.Code, sp.Out())
	}
	if n := upstream.Connections(); n != 1 {
		t.Errorf("the upstream got %d connections, want only the owner's one", n)
	}
	after := 0
	for _, e := range a.Audit() {
		if e.Op == "proxy.refused" {
			after++
		}
	}
	if after < refused+len(got.Attempts) {
		t.Errorf("phantom start: %d proxy.refused events after, %d before; want one per connection", after, refused)
	}
}
