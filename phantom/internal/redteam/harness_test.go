//go:build linux

package redteam

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The agent's programs: the test binary re-executes itself as one of these
// when REDTEAM_CHILD names it, so a "child" is a real process of its own
// (under phantom exec it is phantom's child, with phantom as its parent).
var children = map[string]func(args []string) int{}

// phantomBin is the phantom binary under attack, built once like a release
// (static, CGO_ENABLED=0, -trimpath).
var phantomBin string

func TestMain(m *testing.M) {
	if name := os.Getenv("REDTEAM_CHILD"); name != "" {
		fn, ok := children[name]
		if !ok {
			fmt.Fprintf(os.Stderr, "redteam: no child %q\n", name)
			os.Exit(2)
		}
		os.Exit(fn(os.Args[1:]))
	}
	dir, err := os.MkdirTemp("", "redteam-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	phantomBin = filepath.Join(dir, "phantom")
	build := exec.Command("go", "build", "-trimpath", "-o", phantomBin, "phantomstack.dev/phantom/cmd/phantom")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "redteam: building phantom:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Passphrase is the vault passphrase the human set up. Tests give it to
// phantom (as CI would) and assert it never reaches what the agent reads.
const Passphrase = "redteam-vault-passphrase-7f3a"

// Secret is one value in the victim's vault.
type Secret struct{ Name, Value string }

// Agent is one attacker session: a project with a protected vault (set up
// by the human before the attack), a PHANTOM_HOME, and the environment the
// agent's commands run with. It has no terminal: stdin is a pipe or empty,
// stdout and stderr are captured.
type Agent struct {
	t       *testing.T
	Dir     string // the project
	Home    string // PHANTOM_HOME
	Env     []string
	Secrets []Secret
}

// NewAgent sets up a project whose .env holds secrets (a fresh random value
// for each name), protects it with `phantom init` as the human would, and
// returns the agent's session. extraEnv is added to every command's env.
func NewAgent(t *testing.T, names []string, extraEnv ...string) *Agent {
	t.Helper()
	root := t.TempDir()
	a := &Agent{t: t, Dir: filepath.Join(root, "app"), Home: filepath.Join(root, "phantom-home")}
	if err := os.MkdirAll(filepath.Join(root, "home"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(a.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	a.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + filepath.Join(root, "home"),
		"PHANTOM_HOME=" + a.Home,
		"PHANTOM_VAULT_PASSPHRASE=" + Passphrase,
		"NO_COLOR=1",
		"TMPDIR=" + os.TempDir(),
	}, extraEnv...)
	var env strings.Builder
	for _, n := range names {
		s := Secret{Name: n, Value: RandomValue(n)}
		a.Secrets = append(a.Secrets, s)
		fmt.Fprintf(&env, "%s=%s\n", s.Name, s.Value)
	}
	a.WriteFile(".env", env.String())
	a.MustPhantom("", "init", "--yes")
	return a
}

// RandomValue is a credential-looking value that occurs nowhere else.
func RandomValue(name string) string {
	b := make([]byte, 16)
	rand.Read(b)
	prefix := "sk-redteam-"
	switch {
	case strings.HasPrefix(name, "AWS_ACCESS_KEY_ID"):
		return "AKIA" + strings.ToUpper(hex.EncodeToString(b[:8]))
	case strings.Contains(name, "SUPABASE") || strings.Contains(name, "ANON"):
		prefix = "sb-redteam-"
	}
	return prefix + hex.EncodeToString(b)
}

// Value returns the vaulted value of name.
func (a *Agent) Value(name string) string {
	for _, s := range a.Secrets {
		if s.Name == name {
			return s.Value
		}
	}
	a.t.Fatalf("no secret %s in this agent's vault", name)
	return ""
}

// Values lists every vaulted value and the passphrase: none may leak.
func (a *Agent) Values() []string {
	out := []string{Passphrase}
	for _, s := range a.Secrets {
		out = append(out, s.Value)
	}
	return out
}

// WriteFile writes a file in the project, as the agent can.
func (a *Agent) WriteFile(name, content string) {
	a.t.Helper()
	p := filepath.Join(a.Dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		a.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		a.t.Fatal(err)
	}
}

// ReadFile reads a file in the project.
func (a *Agent) ReadFile(name string) string {
	a.t.Helper()
	b, err := os.ReadFile(filepath.Join(a.Dir, name))
	if err != nil {
		a.t.Fatal(err)
	}
	return string(b)
}

// Result is what a command gave the agent.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// Out is everything the agent read from the command.
func (r Result) Out() string { return r.Stdout + r.Stderr }

// Command returns a command run by the agent: in the project, with the
// agent's environment, no terminal (stdin from the given string).
func (a *Agent) Command(ctx context.Context, stdin string, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = a.Dir
	cmd.Env = a.Env
	cmd.Stdin = strings.NewReader(stdin)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// Run runs a program as the agent and returns its output (bounded: 60 s).
func (a *Agent) Run(stdin string, name string, args ...string) Result {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := a.Command(ctx, stdin, name, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := Result{Stdout: out.String(), Stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.Code = ee.ExitCode()
	} else if err != nil {
		a.t.Fatalf("run %s %v: %v", name, args, err)
	}
	return r
}

// Phantom runs the phantom binary as the agent.
func (a *Agent) Phantom(stdin string, args ...string) Result {
	a.t.Helper()
	return a.Run(stdin, phantomBin, args...)
}

// MustPhantom runs phantom and fails the test unless it exits 0.
func (a *Agent) MustPhantom(stdin string, args ...string) Result {
	a.t.Helper()
	r := a.Phantom(stdin, args...)
	if r.Code != 0 {
		a.t.Fatalf("phantom %v: exit %d\n%s", args, r.Code, r.Out())
	}
	return r
}

// Sh runs a shell command line as the agent.
func (a *Agent) Sh(script string) Result {
	a.t.Helper()
	return a.Run("", "sh", "-c", script)
}

// Child returns argv that runs the named child program of this test binary
// (for `phantom exec -- …`); the env var that selects it goes in a.Env via
// ChildEnv.
func Child(name string, args ...string) []string {
	self, err := os.Executable()
	if err != nil {
		panic(err)
	}
	return append([]string{"env", "REDTEAM_CHILD=" + name, self}, args...)
}

// Encodings are the forms an agent could get a value in: raw, base64 (std
// and URL, padded or not), hex (both cases), percent-encoded, JSON-escaped.
func Encodings(v string) []string {
	b := []byte(v)
	js, _ := json.Marshal(v)
	return []string{
		v,
		base64.StdEncoding.EncodeToString(b),
		base64.RawStdEncoding.EncodeToString(b),
		base64.URLEncoding.EncodeToString(b),
		base64.RawURLEncoding.EncodeToString(b),
		hex.EncodeToString(b),
		strings.ToUpper(hex.EncodeToString(b)),
		url.QueryEscape(v),
		strings.Trim(string(js), `"`),
	}
}

// Leaks returns the encodings of values found in data.
func Leaks(data []byte, values ...string) []string {
	var out []string
	for _, v := range values {
		if v == "" {
			continue
		}
		for _, e := range Encodings(v) {
			if len(e) >= 8 && bytes.Contains(data, []byte(e)) {
				out = append(out, e)
			}
		}
	}
	return out
}

// AssertNoValue fails when any of values, in any of its Encodings, is in data.
func AssertNoValue(t *testing.T, where string, data []byte, values ...string) {
	t.Helper()
	for _, e := range Leaks(data, values...) {
		t.Errorf("a secret value (as %.12q…) reached %s", e, where)
	}
}

// AssertNoValueInTree walks root (files the agent can read) for values.
func AssertNoValueInTree(t *testing.T, root string, values ...string) {
	t.Helper()
	filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		if b, err := os.ReadFile(path); err == nil {
			AssertNoValue(t, path, b, values...)
		}
		return nil
	})
}

// AssertClean checks the agent's command output and the project directory.
func (a *Agent) AssertClean(r Result) {
	a.t.Helper()
	AssertNoValue(a.t, "the agent's stdout", []byte(r.Stdout), a.Values()...)
	AssertNoValue(a.t, "the agent's stderr", []byte(r.Stderr), a.Values()...)
	AssertNoValueInTree(a.t, a.Dir, a.Values()...)
}

// AuditEvent is one audit log entry as the agent reads it.
type AuditEvent struct {
	Seq    uint64 `json:"seq"`
	Op     string `json:"op"`
	Name   string `json:"name"`
	Detail string `json:"detail"`
}

// Audit reads the audit log.
func (a *Agent) Audit() []AuditEvent {
	a.t.Helper()
	f, err := os.Open(filepath.Join(a.Home, "audit.log"))
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []AuditEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e AuditEvent
		if json.Unmarshal(sc.Bytes(), &e) == nil {
			out = append(out, e)
		}
	}
	return out
}

// AssertAudited fails unless the audit log has an event with op (and, when
// detail is not empty, a detail containing it).
func (a *Agent) AssertAudited(op, detail string) {
	a.t.Helper()
	for _, e := range a.Audit() {
		if e.Op == op && strings.Contains(e.Detail, detail) {
			return
		}
	}
	var ops []string
	for _, e := range a.Audit() {
		ops = append(ops, e.Op+"("+e.Detail+")")
	}
	a.t.Errorf("no audit event %s containing %q; the log has: %s", op, detail, strings.Join(ops, "; "))
}

// Listener is a loopback TCP listener the agent controls: it records every
// byte any connection sends it and answers each with a minimal HTTP 200.
type Listener struct {
	ln   net.Listener
	mu   sync.Mutex
	got  bytes.Buffer
	wg   sync.WaitGroup
	conn int
}

// Listen opens the agent's listener on 127.0.0.1.
func Listen(t *testing.T) *Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &Listener{ln: ln}
	l.wg.Add(1)
	go l.serve()
	t.Cleanup(l.Close)
	return l
}

func (l *Listener) serve() {
	defer l.wg.Done()
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		l.mu.Lock()
		l.conn++
		l.mu.Unlock()
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			buf := make([]byte, 32<<10)
			for {
				n, err := c.Read(buf)
				l.mu.Lock()
				l.got.Write(buf[:n])
				l.mu.Unlock()
				if n > 0 && bytes.Contains(buf[:n], []byte("\r\n\r\n")) {
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
				}
				if err != nil {
					return
				}
			}
		}()
	}
}

// Addr is host:port.
func (l *Listener) Addr() string { return l.ln.Addr().String() }

// URL is http://host:port.
func (l *Listener) URL() string { return "http://" + l.Addr() }

// Received is every byte the listener got so far.
func (l *Listener) Received() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.got.Bytes())
}

// Connections counts accepted connections.
func (l *Listener) Connections() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.conn
}

// Close stops the listener and waits for its connections.
func (l *Listener) Close() {
	l.ln.Close()
	l.wg.Wait()
}
