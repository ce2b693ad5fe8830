//go:build linux

package cli

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"phantomstack.dev/phantom/internal/agent"
)

// The agent's lifecycle with the real binary (issue 15): unlock starts it,
// commands run inside it, lock, the idle lock, a crash, two clients at once
// and a stale socket. docs/phantom.md, "The agent".

const agentPass = "agent-test-passphrase-1"

// newAgentSandbox is a sandbox with a passphrase vault holding
// OPENAI_API_KEY, and a short runtime directory for the agent's socket.
func newAgentSandbox(t *testing.T) (*sandbox, string) {
	t.Helper()
	rt, err := os.MkdirTemp("", "pa")
	if err != nil {
		t.Fatal(err)
	}
	s := newSandbox(t, "XDG_RUNTIME_DIR="+rt, "PHANTOM_VAULT_PASSPHRASE="+agentPass)
	t.Cleanup(func() {
		lockAllAgents(rt)
		os.RemoveAll(rt)
	})
	s.write(".env", "OPENAI_API_KEY=sk-test-agent-0123456789abcdef0123\n")
	s.mustRun("", "init", "--yes")
	return s, rt
}

// withoutPassphrase is the sandbox's environment without the passphrase:
// only an agent can open the vault then.
func (s *sandbox) withoutPassphrase() *sandbox {
	c := *s
	c.env = nil
	for _, kv := range s.env {
		if !strings.HasPrefix(kv, "PHANTOM_VAULT_PASSPHRASE=") {
			c.env = append(c.env, kv)
		}
	}
	return &c
}

func (s *sandbox) unlock(args ...string) UnlockResult {
	s.t.Helper()
	out := s.mustRun("", append([]string{"unlock", "--json"}, args...)...)
	var r UnlockResult
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.PID == 0 {
		s.t.Fatalf("unlock --json: %v\n%s", err, out)
	}
	return r
}

func agentSocket(t *testing.T, rt string) string {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(rt, "phantom", "*.sock"))
	if len(paths) != 1 {
		t.Fatalf("agent sockets: %v", paths)
	}
	return paths[0]
}

func TestAgentLifecycle(t *testing.T) {
	s, rt := newAgentSandbox(t)
	bare := s.withoutPassphrase()

	// Locked: without the passphrase and a terminal the vault stays shut.
	if _, errOut, code := bare.run("", "list"); code == 0 || !strings.Contains(errOut, "passphrase") {
		t.Fatalf("list before unlock: exit %d\n%s", code, errOut)
	}
	r := s.unlock()
	if !r.Started {
		t.Fatalf("first unlock did not start an agent: %+v", r)
	}
	sock := agentSocket(t, rt)
	st, err := os.Stat(sock)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode: %v %v", st.Mode(), err)
	}
	if st, err := os.Stat(filepath.Dir(sock)); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("socket dir mode: %v %v", st.Mode(), err)
	}

	// Unlocked: the same commands now work without any passphrase.
	if out := bare.mustRun("", "list"); !strings.Contains(out, "OPENAI_API_KEY") {
		t.Fatalf("list through the agent: %s", out)
	}
	bare.mustRun("sk-test-added-through-agent-000111\n", "add", "ADDED_KEY", "--stdin", "--env-file", ".env", "--policy", "inject")
	if out := bare.mustRun("", "exec", "--", "sh", "-c", "echo key=$ADDED_KEY"); !strings.Contains(out, "key=phm_") || strings.Contains(out, "sk-test-added") {
		t.Fatalf("exec through the agent must give the child the value and mask it in the output: %q", out)
	}
	if _, _, code := bare.run("", "exec", "--", "sh", "-c", "exit 7"); code != 7 {
		t.Fatalf("exec through the agent: exit %d, want the child's 7", code)
	}
	s.assertNoPlaintext("sk-test-added-through-agent-000111", "sk-test-agent-0123456789abcdef0123")

	// A second unlock finds the agent and checks it holds the key.
	if r2 := s.unlock(); r2.Started || r2.PID != r.PID || r2.Replaced != "" {
		t.Fatalf("second unlock: %+v, first %+v", r2, r)
	}

	// Two clients at once.
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, errOut, code := bare.run("", "list", "--json")
			if code != 0 || !strings.Contains(out, "ADDED_KEY") {
				errs <- errOut
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("concurrent list failed: %s", e)
	}

	// lock: the agent exits and removes its socket; the vault is shut again.
	_, errOut, code := bare.run("", "lock")
	if code != 0 || !strings.Contains(errOut, "Locked 1") {
		t.Fatalf("lock: exit %d\n%s", code, errOut)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Fatalf("socket still there after lock: %v", err)
	}
	waitGone(t, r.PID)
	if _, _, code := bare.run("", "list"); code == 0 {
		t.Fatal("list worked after lock without a passphrase")
	}
	if _, errOut, _ := bare.run("", "lock"); !strings.Contains(errOut, "nothing to lock") {
		t.Fatalf("second lock: %s", errOut)
	}
}

// waitGone waits until process pid has exited (bounded).
func waitGone(t *testing.T, pid int) {
	t.Helper()
	for i := 0; i < 100; i++ {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("agent pid %d still running", pid)
}

func TestAgentIdleLock(t *testing.T) {
	s, rt := newAgentSandbox(t)
	r := s.unlock("--idle", "1s")
	sock := agentSocket(t, rt)
	waitGone(t, r.PID)
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Fatalf("socket left after the idle lock: %v", err)
	}
	if _, _, code := s.withoutPassphrase().run("", "list"); code == 0 {
		t.Fatal("list worked after the idle lock without a passphrase")
	}
}

// A crashed agent (SIGKILL: no cleanup) leaves its socket behind. The next
// command must neither hang nor fail on it: it opens the vault itself, and
// unlock replaces the stale socket.
func TestAgentCrashLeavesStaleSocket(t *testing.T) {
	s, rt := newAgentSandbox(t)
	r := s.unlock()
	sock := agentSocket(t, rt)
	syscall.Kill(r.PID, syscall.SIGKILL)
	waitGone(t, r.PID)
	if _, err := os.Stat(sock); err != nil {
		t.Fatalf("SIGKILL should leave the socket: %v", err)
	}
	start := time.Now()
	_, errOut, code := s.withoutPassphrase().run("", "list")
	if code == 0 || !strings.Contains(errOut, "passphrase") {
		t.Fatalf("list with a dead agent: exit %d\n%s", code, errOut)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("list with a dead agent took %s", d)
	}
	if out := s.mustRun("", "list"); !strings.Contains(out, "OPENAI_API_KEY") {
		t.Fatalf("list with the passphrase and a stale socket: %s", out)
	}
	r2 := s.unlock()
	if !r2.Started || r2.PID == r.PID {
		t.Fatalf("unlock over a stale socket: %+v", r2)
	}
	if out := s.withoutPassphrase().mustRun("", "list"); !strings.Contains(out, "OPENAI_API_KEY") {
		t.Fatalf("list after the new unlock: %s", out)
	}
}

// An agent-controlled program serves the socket (the attacker killed the
// agent or got there first). A client sends it nothing — no argv, no
// environment, no stdin — and unlock replaces it.
func TestAgentImpostorGetsNothing(t *testing.T) {
	s, rt := newAgentSandbox(t)
	r := s.unlock()
	sock := agentSocket(t, rt)
	syscall.Kill(r.PID, syscall.SIGKILL)
	waitGone(t, r.PID)
	os.Remove(sock)

	// The impostor: another program (this test binary, re-run as a
	// "fakeagent" child) that answers the hello and records every frame.
	record := filepath.Join(t.TempDir(), "received")
	imp := exec.Command(os.Args[0], "-test.run=^TestFakeAgentProcess$")
	imp.Env = append(os.Environ(), "FAKE_AGENT_SOCKET="+sock, "FAKE_AGENT_RECORD="+record)
	if err := imp.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { imp.Process.Kill(); imp.Wait() }()
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}

	// The client sends it nothing and opens the vault itself (here with
	// the passphrase variable).
	_, errOut, code := s.run("sk-test-typed-into-the-impostor-42\n", "add", "VICTIM", "--stdin")
	if code != 0 || !strings.Contains(errOut, "Nothing was sent to it") {
		t.Fatalf("add against an impostor: exit %d\n%s", code, errOut)
	}
	// Without the passphrase the vault stays shut: the impostor is no way in.
	if _, errOut, code := s.withoutPassphrase().run("", "list"); code == 0 || !strings.Contains(errOut, "passphrase") {
		t.Fatalf("list without a passphrase against an impostor: exit %d\n%s", code, errOut)
	}
	got, _ := os.ReadFile(record)
	for _, leak := range []string{agentPass, "sk-test-typed-into-the-impostor-42", "VICTIM", "PHANTOM_VAULT_PASSPHRASE"} {
		if strings.Contains(string(got), leak) {
			t.Fatalf("the impostor received %q:\n%s", leak, got)
		}
	}

	// unlock proves the impostor holds nothing and starts a real agent.
	r2 := s.unlock()
	if !r2.Started || r2.Replaced == "" {
		t.Fatalf("unlock over an impostor: %+v", r2)
	}
	if out := s.withoutPassphrase().mustRun("", "list"); !strings.Contains(out, "OPENAI_API_KEY") {
		t.Fatalf("list after replacing the impostor: %s", out)
	}
}

// TestFakeAgentProcess is the impostor of TestAgentImpostorGetsNothing when
// run as its child; otherwise it does nothing.
func TestFakeAgentProcess(t *testing.T) {
	sock := os.Getenv("FAKE_AGENT_SOCKET")
	if sock == "" {
		return
	}
	rec, _ := os.Create(os.Getenv("FAKE_AGENT_RECORD"))
	defer rec.Close()
	os.MkdirAll(filepath.Dir(sock), 0o700)
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go func() { <-ctx.Done(); ln.Close() }()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			hello, _ := json.Marshal(map[string]int{"version": agent.ProtocolVersion, "pid": os.Getpid()})
			frame := append([]byte{0, 0, 0, byte(len(hello) + 1), agent.TypeHello}, hello...)
			buf := make([]byte, 64<<10)
			n, _ := c.Read(buf)
			rec.Write(buf[:n])
			c.Write(frame)
			for {
				n, err := c.Read(buf)
				rec.Write(buf[:n])
				if err != nil {
					return
				}
			}
		}()
	}
}

// phantom lock while an exec it serves runs: the child keeps running and
// its exit status is still the command's; the client says the agent went.
func TestAgentLockDuringExec(t *testing.T) {
	s, _ := newAgentSandbox(t)
	s.unlock()
	bare := s.withoutPassphrase()
	type result struct {
		errOut string
		code   int
	}
	done := make(chan result, 1)
	marker := filepath.Join(t.TempDir(), "started")
	go func() {
		_, errOut, code := bare.run("", "exec", "--", "sh", "-c", "touch "+marker+"; sleep 2; exit 4")
		done <- result{errOut, code}
	}()
	for i := 0; i < 200; i++ {
		if _, err := os.Stat(marker); err == nil {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	if _, errOut, code := bare.run("", "lock"); code != 0 || !strings.Contains(errOut, "Locked 1") {
		t.Fatalf("lock during exec: exit %d\n%s", code, errOut)
	}
	select {
	case r := <-done:
		if r.code != 4 || !strings.Contains(r.errOut, "the phantom agent stopped while the command ran") {
			t.Fatalf("exec after its agent was locked: exit %d\n%s", r.code, r.errOut)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("exec did not return after its agent was locked")
	}
}

// Ctrl-C reaches a forwarded command: `phantom add --stdin` waiting on a
// pipe that never closes stops inside the agent, exit 130 with one line,
// and the vault is unchanged.
func TestAgentInterruptForwarded(t *testing.T) {
	s, _ := newAgentSandbox(t)
	s.unlock()
	bare := s.withoutPassphrase()
	vaults := s.vaultFiles()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	cmd := exec.Command(bare.bin, "add", "NEW_KEY", "--stdin")
	cmd.Dir, cmd.Env, cmd.Stdin = bare.dir, bare.env, pr
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pr.Close()
	pw.Write([]byte("half-a-val"))
	if code := interruptAfter(t, cmd, 1500*time.Millisecond); code != 130 {
		t.Fatalf("exit %d, want 130; stderr:\n%s", code, stderr.String())
	}
	if !strings.HasPrefix(stderr.String(), "error: interrupted (Ctrl-C)") || strings.Count(stderr.String(), "\n") != 1 {
		t.Fatalf("want one line saying it was interrupted; stderr:\n%s", stderr.String())
	}
	if got := s.vaultFiles(); len(got) != 1 || got[filepathBase(vaults)] != vaults[filepathBase(vaults)] {
		t.Fatal("the vault file changed")
	}
	if out := bare.mustRun("", "list"); strings.Contains(out, "NEW_KEY") {
		t.Fatalf("the interrupted add stored NEW_KEY: %s", out)
	}
}
