package agent

import (
	"bufio"
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestSocketPath(t *testing.T) {
	xdg := shortTemp(t)
	home := "/home/u/.phantom"
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

	p := SocketPath(env(map[string]string{"XDG_RUNTIME_DIR": xdg}), home, "proj-1")
	if !regexp.MustCompile(`^` + regexp.QuoteMeta(xdg) + `/phantom/[0-9a-f]{16}\.sock$`).MatchString(p) {
		t.Fatalf("SocketPath = %q", p)
	}
	if p2 := SocketPath(env(map[string]string{"XDG_RUNTIME_DIR": xdg}), home, "proj-2"); p2 == p {
		t.Fatal("two projects share a socket")
	}
	if p3 := SocketPath(env(map[string]string{"XDG_RUNTIME_DIR": xdg}), "/other/home", "proj-1"); p3 == p {
		t.Fatal("two homes share a socket")
	}
	for _, bad := range []string{"", "relative/dir", filepath.Join(xdg, "missing")} {
		if d := SocketDir(env(map[string]string{"XDG_RUNTIME_DIR": bad}), home); d != home+"/run" {
			t.Fatalf("XDG_RUNTIME_DIR=%q: SocketDir = %q, want %s/run", bad, d, home)
		}
	}
	// A runtime directory others can write is not used.
	open := shortTemp(t)
	os.Chmod(open, 0o777)
	if d := SocketDir(env(map[string]string{"XDG_RUNTIME_DIR": open}), home); d != home+"/run" {
		t.Fatalf("world-writable XDG_RUNTIME_DIR used: %q", d)
	}
}

func TestListenPermissionsAndDial(t *testing.T) {
	path := sockPath(t)
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.Addr() != path {
		t.Fatalf("Addr = %q", l.Addr())
	}
	for p, want := range map[string]fs.FileMode{filepath.Dir(path): 0o700, path: 0o600} {
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Fatalf("%s: mode %v, want %v", p, fi.Mode().Perm(), want)
		}
	}
	got := make(chan *Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			t.Error(err)
		}
		got <- c
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := <-got
	if s == nil {
		t.FailNow()
	}
	defer s.Close()
	want := Peer{UID: os.Geteuid(), PID: os.Getpid()}
	if c.Peer() != want || s.Peer() != want {
		t.Fatalf("peers %+v / %+v, want %+v", c.Peer(), s.Peer(), want)
	}
	if err := c.Send(TypeRun, []byte(`{"argv":["list"]}`)); err != nil {
		t.Fatal(err)
	}
	s.SetDeadline(time.Now().Add(5 * time.Second))
	if typ, p, err := s.Recv(); err != nil || typ != TypeRun || string(p) != `{"argv":["list"]}` {
		t.Fatalf("server got %q %q %v", typ, p, err)
	}
	l.Close()
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Close left the socket: %v", err)
	}
}

func TestListenRefusesSymlinkDir(t *testing.T) {
	base := shortTemp(t)
	real := filepath.Join(base, "elsewhere")
	os.Mkdir(real, 0o700)
	if err := os.Symlink(real, filepath.Join(base, "phantom")); err != nil {
		t.Fatal(err)
	}
	_, err := Listen(filepath.Join(base, "phantom", "t.sock"))
	if err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("Listen in a symlinked directory: %v", err)
	}
	if ents, _ := os.ReadDir(real); len(ents) != 0 {
		t.Fatalf("socket created through the symlink: %v", ents)
	}
}

func TestListenTightensOpenDir(t *testing.T) {
	path := sockPath(t)
	dir := filepath.Dir(path)
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o775) // group-writable, world-readable
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fi, _ := os.Stat(dir)
	if fi.Mode().Perm() != 0o700 {
		t.Fatalf("directory left at %v", fi.Mode().Perm())
	}
}

func TestListenRefusesForeignDir(t *testing.T) {
	other := otherUser(t)
	path := sockPath(t)
	dir := filepath.Dir(path)
	os.Mkdir(dir, 0o700)
	if err := os.Chown(dir, int(other.Uid), int(other.Gid)); err != nil {
		t.Fatal(err)
	}
	_, err := Listen(path)
	if err == nil || !strings.Contains(err.Error(), "not to you") {
		t.Fatalf("Listen in another user's directory: %v", err)
	}
	if _, err := os.Lstat(path); err == nil {
		t.Fatal("socket created in another user's directory")
	}
}

func TestListenRefusesLiveAgent(t *testing.T) {
	path := sockPath(t)
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	if _, err := Listen(path); !errors.Is(err, ErrRunning) {
		t.Fatalf("second Listen: %v, want ErrRunning", err)
	}
	// The live agent's socket is untouched.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, path)
	if err != nil {
		t.Fatalf("Dial after the refused Listen: %v", err)
	}
	c.Close()
}

func TestListenRefusesNonSocket(t *testing.T) {
	path := sockPath(t)
	os.MkdirAll(filepath.Dir(path), 0o700)
	os.WriteFile(path, []byte("x"), 0o600)
	if _, err := Listen(path); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("Listen over a regular file: %v", err)
	}
}

// An agent killed with SIGKILL leaves its socket file behind: Dial reports
// "not running" (no hang), and the next Listen replaces the stale file.
func TestStaleSocketAfterKill(t *testing.T) {
	path := sockPath(t)
	ch := startServe(t, self(t), nil, nil, nil, path)
	if err := syscall.Kill(ch.pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	ch.cmd.Wait()
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("the killed agent's socket should still be there: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := Dial(ctx, path); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Dial to a stale socket: %v, want ErrNotRunning", err)
	}
	l, err := Listen(path)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	l.Close()
	if _, err := Dial(ctx, filepath.Join(filepath.Dir(path), "none.sock")); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Dial with no socket: %v, want ErrNotRunning", err)
	}
}

// Close must not remove a newer agent's socket that replaced ours.
func TestCloseKeepsReplacedSocket(t *testing.T) {
	path := sockPath(t)
	old, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(path)
	newer, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer newer.Close()
	old.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("the old listener removed the newer socket: %v", err)
	}
}

func requireImpostor(t *testing.T, err error, pid int, reason string) {
	t.Helper()
	var ie *ImpostorError
	if !errors.As(err, &ie) {
		t.Fatalf("Dial: %v, want an ImpostorError", err)
	}
	if ie.PID != pid || !strings.Contains(ie.Reason, reason) {
		t.Fatalf("ImpostorError pid %d reason %q, want pid %d and %q", ie.PID, ie.Reason, pid, reason)
	}
	for _, s := range []string{"Nothing was sent", "phantom unlock", "ps -p"} {
		if !strings.Contains(ie.Error(), s) {
			t.Fatalf("message lacks %q: %s", s, ie.Error())
		}
	}
}

func dial(t *testing.T, path string) (*Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return Dial(ctx, path)
}

// A socket served by a different executable (a copy of this test binary:
// same code, another file) is refused. The kernel shows a non-dumpable
// peer's executable only to root, so this check runs as root (CI).
func TestDialRefusesOtherExecutable(t *testing.T) {
	if os.Geteuid() != 0 {
		unavailable(t, "the executable check needs root (the kernel hides a non-dumpable process's /proc/<pid>/exe from its own uid); CI runs as root")
	}
	path := sockPath(t)
	ch := startServe(t, copySelf(t), nil, nil, nil, path)
	_, err := dial(t, path)
	requireImpostor(t, err, ch.pid, "not the same file")

	// The same binary passes (the control).
	path2 := sockPath(t)
	startServe(t, self(t), nil, nil, nil, path2)
	c, err := dial(t, path2)
	if err != nil {
		t.Fatalf("Dial to the same executable: %v", err)
	}
	c.Close()
}

// A server that is another program altogether (Python) is refused too.
func TestDialRefusesPythonServer(t *testing.T) {
	if os.Geteuid() != 0 {
		unavailable(t, "the executable check needs root; CI runs as root")
	}
	py, err := exec.LookPath("python3")
	if err != nil {
		unavailable(t, "python3 not found: %v", err)
	}
	path := sockPath(t)
	os.MkdirAll(filepath.Dir(path), 0o700)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "-c", `
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1]); s.listen(4)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    c.sendall(b"\x00\x00\x00\x1bH{\"version\":1,\"pid\":1234}")
`, path)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("python server: %q %v", line, err)
	}
	_, err = dial(t, path)
	requireImpostor(t, err, cmd.Process.Pid, "python")
}

// A traced server is refused whatever it runs: the tracer can read its
// memory. Started under strace -f (the way an agent would try it).
func TestDialRefusesTracedServer(t *testing.T) {
	strace, err := exec.LookPath("strace")
	if err != nil {
		unavailable(t, "strace not found (Debian: package strace; .ci/run installs it): %v", err)
	}
	path := sockPath(t)
	ch := startServe(t, self(t), []string{strace, "-f", "-o", "/dev/null"}, nil, nil, path)
	_, err = dial(t, path)
	requireImpostor(t, err, ch.pid, "TracerPid")
}

// SelfCheck refuses to run under a tracer and passes without one.
func TestSelfCheck(t *testing.T) {
	if err := SelfCheck(); err != nil {
		t.Fatalf("SelfCheck in the test process: %v", err)
	}
	strace, err := exec.LookPath("strace")
	if err != nil {
		unavailable(t, "strace not found (Debian: package strace; .ci/run installs it): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, strace, "-f", "-o", "/dev/null", self(t))
	cmd.Env = []string{childEnv + "=selfcheck"}
	out, _ := cmd.CombinedOutput()
	if !strings.Contains(string(out), "is tracing it") {
		t.Fatalf("SelfCheck under strace: %s", out)
	}
}

// Accept serves only its own uid: a process of another user that reaches
// the socket (here the permissions are opened on purpose) gets no hello,
// and OnRefused reports it.
func TestAcceptRefusesOtherUser(t *testing.T) {
	other := otherUser(t)
	bin := copySelf(t)
	path := sockPath(t)
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	refused := make(chan Peer, 4)
	l.OnRefused = func(p Peer) { refused <- p }
	accepted := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			c.Close()
			err = errors.New("accepted")
		}
		accepted <- err
	}()
	for p, mode := range map[string]os.FileMode{filepath.Dir(filepath.Dir(path)): 0o755, filepath.Dir(path): 0o755, path: 0o777} {
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	out := runHelper(t, bin, other, "rawdial", path)
	if !strings.Contains(out, "closed without a hello") {
		t.Fatalf("another user's connection: %s", out)
	}
	select {
	case p := <-refused:
		if p.UID != int(other.Uid) || p.PID <= 0 {
			t.Fatalf("OnRefused(%+v), want uid %d", p, other.Uid)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("OnRefused was not called")
	}
	l.Close()
	if err := <-accepted; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept returned %v, want net.ErrClosed after Close", err)
	}
}

// As a normal user the client cannot see the server's executable; it
// checks that the server is non-dumpable instead. Run as a second user:
// a dumpable server (an impostor that forgot the flag) is refused, a
// non-dumpable one is accepted.
func TestDialAsUserChecksDumpable(t *testing.T) {
	other := otherUser(t)
	bin := copySelf(t)
	for _, tc := range []struct {
		dumpable bool
		want     string
	}{
		{true, "readable by your user"},
		{false, "dial ok"},
	} {
		xdg := shortTemp(t)
		if err := os.Chown(xdg, int(other.Uid), int(other.Gid)); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(xdg, "phantom", "t.sock")
		var env []string
		if tc.dumpable {
			env = []string{"AGENT_TEST_DUMPABLE=1"}
		}
		startServe(t, bin, nil, other, env, path)
		if out := runHelper(t, bin, other, "dial", path); !strings.Contains(out, tc.want) {
			t.Fatalf("dumpable=%v: %s", tc.dumpable, out)
		}
	}
}

func TestHelloVersionMismatch(t *testing.T) {
	path := sockPath(t)
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	errs := make(chan error, 1)
	l.OnError = func(_ Peer, err error) { errs <- err }
	go l.Accept()

	// An old or newer client: the agent answers 'F' and drops it.
	nc, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	c := newConn(nc, Peer{})
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.SendJSON(TypeHello, Hello{Version: 99, PID: 1})
	if err := c.RecvJSON(TypeHello, &Hello{}); err == nil || !strings.Contains(err.Error(), "version 99") {
		t.Fatalf("agent's answer to version 99: %v", err)
	}
	if err := <-errs; !strings.Contains(err.Error(), "version") {
		t.Fatalf("OnError: %v", err)
	}

	// An agent of another version: Dial fails with a message and sends 'F'.
	raw := sockPath(t)
	os.MkdirAll(filepath.Dir(raw), 0o700)
	ul, err := net.Listen("unix", raw)
	if err != nil {
		t.Fatal(err)
	}
	defer ul.Close()
	got := make(chan string, 1)
	go func() {
		nc, err := ul.Accept()
		if err != nil {
			return
		}
		s := newConn(nc, Peer{})
		s.SetDeadline(time.Now().Add(10 * time.Second))
		s.Recv()
		s.SendJSON(TypeHello, Hello{Version: 2, PID: os.Getpid()})
		typ, p, _ := s.Recv()
		got <- string(typ) + string(p)
	}()
	_, err = dial(t, raw)
	if err == nil || !strings.Contains(err.Error(), "version 2") || !strings.Contains(err.Error(), "phantom unlock") {
		t.Fatalf("Dial to a version 2 agent: %v", err)
	}
	if f := <-got; !strings.HasPrefix(f, "F") {
		t.Fatalf("agent got %q, want an F frame", f)
	}
}

// A server that accepts and never says hello cannot hang Dial past its
// context.
func TestDialSilentServerBounded(t *testing.T) {
	path := sockPath(t)
	os.MkdirAll(filepath.Dir(path), 0o700)
	ul, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ul.Close()
	go func() {
		nc, err := ul.Accept()
		if err == nil {
			time.Sleep(5 * time.Second)
			nc.Close()
		}
	}()
	// Cancelled, not timed out: a deadline alone would be copied onto the
	// connection; a cancel has to reach the hello in flight.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	if _, err := Dial(ctx, path); err == nil {
		t.Fatal("Dial to a silent server succeeded")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Dial took %v after its context was cancelled at 300 ms", d)
	}
}

func TestKey(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	k, err := NewKey(secret)
	if err != nil {
		t.Fatal(err)
	}
	if string(k.Bytes()) != string(secret) {
		t.Fatalf("Bytes = %q", k.Bytes())
	}
	var lim unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_MEMLOCK, &lim)
	// Root has CAP_IPC_LOCK and may lock regardless of the limit.
	if canLock := os.Geteuid() == 0 || lim.Cur >= uint64(unix.Getpagesize()); k.Locked() != canLock {
		t.Fatalf("Locked() = %v with RLIMIT_MEMLOCK %d (root %v)", k.Locked(), lim.Cur, os.Geteuid() == 0)
	}
	var atWipe []byte
	testHookWiped = func(mem []byte) { atWipe = append([]byte(nil), mem...) }
	defer func() { testHookWiped = nil }()
	k.Wipe()
	if len(atWipe) == 0 || strings.Trim(string(atWipe), "\x00") != "" {
		t.Fatalf("memory not zeroed before unmapping: %q", atWipe[:len(secret)])
	}
	if k.Bytes() != nil || k.Locked() {
		t.Fatal("Bytes or Locked after Wipe")
	}
	k.Wipe() // idempotent
	if _, err := NewKey(nil); err == nil {
		t.Fatal("NewKey(nil) succeeded")
	}
}

// The client talks only to a server of its own uid: root's CLI refuses an
// agent socket served by another user (who could have created it in a
// directory root searches).
func TestDialRefusesOtherUID(t *testing.T) {
	other := otherUser(t)
	bin := copySelf(t)
	xdg := shortTemp(t)
	if err := os.Chown(xdg, int(other.Uid), int(other.Gid)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(xdg, "phantom", "t.sock")
	ch := startServe(t, bin, nil, other, nil, path)
	_, err := dial(t, path)
	requireImpostor(t, err, ch.pid, "runs as uid")
}
