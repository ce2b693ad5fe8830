package agent

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// childEnv makes the test binary run one of the helper programs below
// instead of the tests (the re-exec pattern): a stand-in agent, a client,
// or the self-check.
const childEnv = "AGENT_TEST_CHILD"

func TestMain(m *testing.M) {
	if name := os.Getenv(childEnv); name != "" {
		os.Exit(runChild(name, os.Args[1:]))
	}
	// The test process plays the CLI and, in-process, the agent: make it
	// non-dumpable as internal/harden makes every phantom process, so the
	// client's "peer is non-dumpable" check holds for an in-process server
	// when the tests run as a normal user.
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "prctl:", err)
		os.Exit(2)
	}
	os.Exit(m.Run())
}

func runChild(name string, args []string) int {
	switch name {
	case "serve": // args: socket path. A stand-in agent.
		if os.Getenv("AGENT_TEST_DUMPABLE") == "" {
			if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
				fmt.Println("prctl:", err)
				return 2
			}
		}
		l, err := Listen(args[0])
		if err != nil {
			fmt.Println("listen:", err)
			return 2
		}
		fmt.Printf("ready %d\n", os.Getpid())
		for {
			c, err := l.Accept()
			if err != nil {
				return 2
			}
			go func() {
				defer c.Close()
				for {
					if _, _, err := c.Recv(); err != nil {
						return
					}
				}
			}()
		}
	case "dial": // args: socket path. Prints what Dial said.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := Dial(ctx, args[0])
		if err != nil {
			var ie *ImpostorError
			fmt.Printf("dial error (impostor %v): %v\n", errors.As(err, &ie), err)
			return 1
		}
		c.Close()
		fmt.Println("dial ok")
		return 0
	case "rawdial": // args: socket path. Connects without Dial's checks.
		nc, err := net.DialTimeout("unix", args[0], 5*time.Second)
		if err != nil {
			fmt.Println("connect error:", err)
			return 1
		}
		c := newConn(nc, Peer{})
		c.SetDeadline(time.Now().Add(10 * time.Second))
		c.SendJSON(TypeHello, Hello{Version: ProtocolVersion, PID: os.Getpid()})
		typ, _, err := c.Recv()
		if err != nil {
			fmt.Println("closed without a hello:", err)
			return 0
		}
		fmt.Printf("got frame %q\n", typ)
		return 0
	case "selfcheck":
		if err := SelfCheck(); err != nil {
			fmt.Println("selfcheck:", err)
			return 1
		}
		fmt.Println("selfcheck ok")
		return 0
	}
	fmt.Println("unknown child", name)
	return 2
}

// unavailable skips on a developer machine and fails in CI, where nothing
// may skip (.ci/run sets CI=1 and installs the tools).
func unavailable(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// shortTemp is a fresh directory with a short path (sun_path holds 108
// bytes; t.TempDir's paths can be longer than that).
func shortTemp(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "ag")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func sockPath(t *testing.T) string {
	return filepath.Join(shortTemp(t), "phantom", "t.sock")
}

type child struct {
	cmd *exec.Cmd
	pid int // the serving process (not strace's)
}

// startServe starts `serve path` from exe (under wrap, e.g. strace, when
// given) and waits for it to listen. The whole process group is killed at
// cleanup, so a tracer's tracee goes too.
func startServe(t *testing.T, exe string, wrap []string, cred *syscall.Credential, extraEnv []string, path string) *child {
	t.Helper()
	argv := append(append([]string{}, wrap...), exe, path)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append([]string{childEnv + "=serve", "PATH=" + os.Getenv("PATH")}, extraEnv...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: cred}
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		cancel()
	})
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(out).ReadString('\n')
		line <- s
		io.Copy(io.Discard, out)
	}()
	select {
	case s := <-line:
		f := strings.Fields(s)
		if len(f) != 2 || f[0] != "ready" {
			t.Fatalf("stand-in agent did not start: %q", s)
		}
		pid, _ := strconv.Atoi(f[1])
		return &child{cmd: cmd, pid: pid}
	case <-time.After(30 * time.Second):
		t.Fatal("stand-in agent did not start within 30 s")
	}
	return nil
}

func self(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// copySelf copies the test binary into a fresh directory others can read:
// a different file (device and inode) running the same code.
func copySelf(t *testing.T) string {
	t.Helper()
	dir := shortTemp(t)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(self(t))
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "agent.test")
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return dst
}

// otherUser is a second uid to run helpers as: nobody (65534 when the
// system has no such account; the kernel needs no account to switch to a
// uid). Switching needs root; CI runs as root.
func otherUser(t *testing.T) *syscall.Credential {
	t.Helper()
	if os.Geteuid() != 0 {
		unavailable(t, "needs root to run a helper as a second user; CI runs as root")
	}
	uid, gid := uint32(65534), uint32(65534)
	if u, err := user.Lookup("nobody"); err == nil {
		if n, err := strconv.ParseUint(u.Uid, 10, 32); err == nil && n != 0 {
			uid = uint32(n)
		}
		if n, err := strconv.ParseUint(u.Gid, 10, 32); err == nil && n != 0 {
			gid = uint32(n)
		}
	}
	return &syscall.Credential{Uid: uid, Gid: gid, Groups: []uint32{}}
}

// runHelper runs a helper program of exe to completion (bounded by 30 s).
func runHelper(t *testing.T, exe string, cred *syscall.Credential, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Env = []string{childEnv + "=" + name, "PATH=" + os.Getenv("PATH")}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	out, _ := cmd.CombinedOutput()
	return string(out)
}
