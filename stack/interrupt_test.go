package stack_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	supabasefake "phantomstack.dev/providers/fake/supabase"
)

// Ctrl-C ends any stack command cleanly (issue 13, code health): exit 130,
// one line saying it was interrupted and what it left, and stack's files,
// journal and phantom's vault as that line says. These run the real
// binaries, as a user at a shell does, against loopback servers that block.

var (
	stackBinOnce sync.Once
	stackBinDir  string
	stackBinErr  error
)

// builtStack builds ./stack/cmd/stack once per test run.
func builtStack(t *testing.T) string {
	t.Helper()
	stackBinOnce.Do(func() {
		stackBinDir, stackBinErr = os.MkdirTemp("", "stack-bin-")
		if stackBinErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", filepath.Join(stackBinDir, "stack"), "./stack/cmd/stack")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			stackBinErr = err
			os.Stderr.Write(out)
		}
	})
	if stackBinErr != nil {
		t.Fatalf("building stack: %v", stackBinErr)
	}
	return filepath.Join(stackBinDir, "stack")
}

// intSandbox is a project directory with stack and phantom on PATH.
type intSandbox struct {
	t        *testing.T
	stack    string
	phantom  string
	dir      string
	home     string
	env      []string
	stopHang func()
}

func newIntSandbox(t *testing.T) *intSandbox {
	t.Helper()
	root := t.TempDir()
	pdir := buildPhantom(t)
	s := &intSandbox{t: t, stack: builtStack(t), phantom: filepath.Join(pdir, "phantom"), dir: filepath.Join(root, "app"), home: filepath.Join(root, "phantom-home")}
	os.MkdirAll(s.dir, 0o755)
	s.env = []string{
		"PATH=" + pdir + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + filepath.Join(root, "home"),
		"PHANTOM_HOME=" + s.home,
		"STACK_HOME=" + filepath.Join(root, "stack-home"),
		"PHANTOM_VAULT_PASSPHRASE=interrupt-test-passphrase",
		"NO_COLOR=1",
	}
	return s
}

func (s *intSandbox) setenv(kv ...string) { s.env = append(s.env, kv...) }

func (s *intSandbox) command(args ...string) *exec.Cmd {
	cmd := exec.Command(s.stack, args...)
	cmd.Dir, cmd.Env = s.dir, s.env
	return cmd
}

func (s *intSandbox) mustRun(args ...string) string {
	s.t.Helper()
	cmd := s.command(args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		s.t.Fatalf("stack %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// snapshot reads every file of the project and of PHANTOM_HOME's vaults.
func (s *intSandbox) snapshot() map[string]string {
	s.t.Helper()
	out := map[string]string{}
	for _, root := range []string{s.dir, filepath.Join(s.home, "vaults")} {
		filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || strings.HasSuffix(p, ".lock") {
				return nil
			}
			b, _ := os.ReadFile(p)
			out[p] = string(b)
			return nil
		})
	}
	return out
}

func (s *intSandbox) assertUnchanged(before map[string]string) {
	s.t.Helper()
	after := s.snapshot()
	for p, b := range before {
		if after[p] != b {
			s.t.Errorf("%s changed", p)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			s.t.Errorf("%s appeared", p)
		}
	}
}

// lockedBuffer is a bytes.Buffer safe to read while a process writes it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// interrupt starts stack args and, once waitFor is on its stderr and then
// wait has passed (it must still be running: blocked), sends it SIGINT. It
// returns the exit code and stderr, and fails unless stack exits within 10
// seconds of the signal.
func (s *intSandbox) interrupt(waitFor string, wait time.Duration, args ...string) (int, string) {
	s.t.Helper()
	cmd := s.command(args...)
	var stdout, stderr lockedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(stderr.String(), waitFor); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			s.t.Fatalf("stack %v: %q never appeared on stderr:\n%s", args, waitFor, stderr.String())
		}
	}
	select {
	case err := <-done:
		s.t.Fatalf("stack %v ended before the signal: %v\n%s", args, err, stderr.String())
	case <-time.After(wait):
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		s.t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
		s.t.Fatalf("stack %v still running 10s after SIGINT\n%s", args, stderr.String())
	}
	errOut := stderr.String()
	if strings.Contains(errOut, "goroutine ") || strings.Contains(errOut, "panic:") {
		s.t.Fatalf("stack trace on stderr:\n%s", errOut)
	}
	return cmd.ProcessState.ExitCode(), errOut
}

// interruptedLine returns the one stderr line about the interruption; it
// fails unless there is exactly one, and it is the last.
func interruptedLine(t *testing.T, stderr string) string {
	t.Helper()
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	var hits []string
	for _, l := range lines {
		if strings.Contains(l, "interrupted") {
			hits = append(hits, l)
		}
	}
	if len(hits) != 1 || hits[0] != lines[len(lines)-1] || !strings.HasPrefix(hits[0], "error: interrupted (Ctrl-C); ") {
		t.Fatalf("want one last line \"error: interrupted (Ctrl-C); …\"; stderr:\n%s", stderr)
	}
	return hits[0]
}

// hangingServer accepts requests and never answers them (until the test ends).
func hangingServer(t *testing.T) string {
	t.Helper()
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	t.Cleanup(func() { close(stop); srv.Close() })
	return srv.URL
}

// keyServer accepts any sk-good key, like the OpenAI models endpoint.
func keyServer(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer sk-good") {
			http.Error(w, `{"error":"invalid key"}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"data":[]}`)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// trust approves phantom's pending routes on a terminal, as a person does.
func (s *intSandbox) trust() {
	s.t.Helper()
	cmd := exec.Command(s.phantom, "trust")
	cmd.Dir, cmd.Env = s.dir, append(s.env, "TERM=xterm")
	f, err := pty.Start(cmd)
	if err != nil {
		s.t.Fatal(err)
	}
	defer f.Close()
	var mu sync.Mutex
	var screen bytes.Buffer
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			mu.Lock()
			screen.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	read := func() string { mu.Lock(); defer mu.Unlock(); return screen.String() }
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(read(), `Type "trust"`); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			s.t.Fatalf("phantom trust never asked; screen:\n%s", read())
		}
	}
	f.Write([]byte("trust\r"))
	werr := make(chan error, 1)
	go func() { werr <- cmd.Wait() }()
	select {
	case err = <-werr:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		s.t.Fatalf("phantom trust did not finish; screen:\n%s", read())
	}
	if err != nil {
		s.t.Fatalf("phantom trust: %v\n%s", err, read())
	}
}

// TestInterruptDoctor: stack doctor waiting on an upstream that never
// answers (through phantom exec and its proxy) stops at Ctrl-C, and says it
// changed nothing.
func TestInterruptDoctor(t *testing.T) {
	s := newIntSandbox(t)
	s.setenv("STACK_OPENAI_API_URL=" + keyServer(t))
	s.mustRun("init")
	s.setenv("OPENAI_API_KEY=sk-good-interrupt-0123456789")
	s.mustRun("add", "openai")
	s.env = s.env[:len(s.env)-1] // the key is in the vault now

	// Point phantom's openai route at the server that never answers.
	hang := hangingServer(t)
	toml := filepath.Join(s.dir, ".phantom.toml")
	b, err := os.ReadFile(toml)
	if err != nil {
		t.Fatal(err)
	}
	up := regexp.MustCompile(`(?m)^upstream = "http://127\.0\.0\.1:[0-9]+"$`)
	if !up.Match(b) {
		t.Fatalf(".phantom.toml has no loopback openai route:\n%s", b)
	}
	os.WriteFile(toml, up.ReplaceAll(b, []byte(`upstream = "`+hang+`"`)), 0o600)
	s.trust()
	s.setenv("STACK_OPENAI_API_URL=" + hang)

	before := s.snapshot()
	code, stderr := s.interrupt("Checking ", 2*time.Second, "doctor")
	if code != 130 {
		t.Fatalf("exit %d, want 130; stderr:\n%s", code, stderr)
	}
	if l := interruptedLine(t, stderr); !strings.HasSuffix(l, "; nothing was changed") {
		t.Fatalf("line %q does not say nothing was changed", l)
	}
	s.assertUnchanged(before)
}

// TestInterruptAddVerifying: stack add openai checking the key with a
// provider that never answers stops at Ctrl-C before anything is stored.
func TestInterruptAddVerifying(t *testing.T) {
	s := newIntSandbox(t)
	s.mustRun("init")
	s.setenv("STACK_OPENAI_API_URL="+hangingServer(t), "OPENAI_API_KEY=sk-good-interrupt-0123456789")
	before := s.snapshot()
	code, stderr := s.interrupt("", 1500*time.Millisecond, "add", "openai")
	if code != 130 {
		t.Fatalf("exit %d, want 130; stderr:\n%s", code, stderr)
	}
	if l := interruptedLine(t, stderr); !strings.Contains(l, "nothing was stored and .stack.toml was not changed") {
		t.Fatalf("line %q", l)
	}
	s.assertUnchanged(before)
}

// TestInterruptAddKeepsJournal: Ctrl-C while stack add supabase waits to
// fetch the new project's keys (the API said 429, retry in a minute) rolls
// the add back; what the rollback cannot delete stays in the journal, the
// one line says so, and running the same command again resumes.
func TestInterruptAddKeepsJournal(t *testing.T) {
	srv := supabasefake.New(supabasefake.Options{ReadyAfter: time.Millisecond})
	url := srv.Start()
	t.Cleanup(srv.Close)
	srv.Throttle("GET /v1/projects/{ref}/api-keys", 1, -1, time.Minute)
	srv.AddFault(supabasefake.Fault{Route: "DELETE /v1/projects/{ref}", Status: 403, Times: -1})

	s := newIntSandbox(t)
	s.setenv("STACK_SUPABASE_API_URL="+url, "STACK_SUPABASE_PROJECT_URL="+url+"/project/{ref}", "SUPABASE_ACCESS_TOKEN="+srv.PersonalToken())
	s.mustRun("init")
	code, stderr := s.interrupt("Fetching Supabase's keys", 1500*time.Millisecond, "add", "supabase")
	if code != 130 {
		t.Fatalf("exit %d, want 130; stderr:\n%s", code, stderr)
	}
	l := interruptedLine(t, stderr)
	if !strings.Contains(l, "; left: upstream resource ") || !strings.HasSuffix(l, "run stack add supabase again to resume") {
		t.Fatalf("line %q does not say what was left and how to resume; stderr:\n%s", l, stderr)
	}
	local, _ := os.ReadFile(filepath.Join(s.dir, ".stack.local.toml"))
	if !strings.Contains(string(local), "resource_id") {
		t.Fatalf("the journal does not keep the project:\n%s", local)
	}
	if n := len(srv.Projects()); n != 1 {
		t.Fatalf("%d projects upstream, want 1", n)
	}

	// The suggested command resumes: no second project.
	srv.ClearFaults()
	out := s.mustRun("add", "supabase")
	if !strings.Contains(out, "Resuming an interrupted stack add supabase") {
		t.Fatalf("not resumed:\n%s", out)
	}
	if n := len(srv.Projects()); n != 1 {
		t.Fatalf("%d projects upstream after the resume, want 1", n)
	}
}

// TestInterruptWhileComingUpDeleteFails: Ctrl-C while a new Supabase project
// is still COMING_UP makes the provider delete it again; when that delete
// fails, the project must not be forgotten: the journal keeps it, the line
// says so, and the suggested command resumes it (no second project).
func TestInterruptWhileComingUpDeleteFails(t *testing.T) {
	srv := supabasefake.New(supabasefake.Options{ReadyAfter: time.Hour})
	url := srv.Start()
	t.Cleanup(srv.Close)
	srv.AddFault(supabasefake.Fault{Route: "DELETE /v1/projects/{ref}", Status: 403, Times: -1})

	s := newIntSandbox(t)
	s.setenv("STACK_SUPABASE_API_URL="+url, "STACK_SUPABASE_PROJECT_URL="+url+"/project/{ref}", "SUPABASE_ACCESS_TOKEN="+srv.PersonalToken())
	s.mustRun("init")
	code, stderr := s.interrupt("COMING_UP", 300*time.Millisecond, "add", "supabase")
	if code != 130 {
		t.Fatalf("exit %d, want 130; stderr:\n%s", code, stderr)
	}
	prs := srv.Projects()
	if len(prs) != 1 {
		t.Fatalf("%d projects upstream, want 1 (its delete was refused)", len(prs))
	}
	l := interruptedLine(t, stderr)
	if !strings.Contains(l, "; left: upstream resource ") || !strings.HasSuffix(l, "run stack add supabase again to resume") {
		t.Fatalf("line %q does not say the project is left and how to resume; stderr:\n%s", l, stderr)
	}
	local, _ := os.ReadFile(filepath.Join(s.dir, ".stack.local.toml"))
	if !strings.Contains(string(local), prs[0].Ref) {
		t.Fatalf("the journal does not keep project %s:\n%s", prs[0].Ref, local)
	}

	srv.ClearFaults()
	srv.SetStatus(prs[0].Ref, "ACTIVE_HEALTHY")
	out := s.mustRun("add", "supabase")
	if !strings.Contains(out, "Resuming an interrupted stack add supabase") {
		t.Fatalf("not resumed:\n%s", out)
	}
	if n := len(srv.Projects()); n != 1 {
		t.Fatalf("%d projects upstream after the resume, want 1", n)
	}
}
