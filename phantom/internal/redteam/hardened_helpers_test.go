//go:build linux

package redteam

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"phantomstack.dev/phantom/internal/agent"
)

// The hardened run's helpers (TestHardened*): the person at their own
// terminal, and the attacker's tools for phantom's agent (docs/security.md,
// "Hardened mode").

// humanStep is one prompt the person answers: wait until Expect is on
// their terminal, then type Send and Enter.
type humanStep struct {
	Expect, Send string
	// Before, when set, runs with phantom's pid once Expect is on the
	// terminal, before anything is typed (the attacker's moment).
	Before func(pid int)
}

// Human runs the agent's copy of phantom as the person at their own
// terminal: a pseudo-terminal this test owns (when the suite runs as root
// its slave belongs to root, so the attacker's uid cannot open it), with the
// same uid and environment as the attacker. Bounded: 90 s.
//
// A real person's terminal belongs to their uid, and a program of that uid
// can open it (/dev/pts/N) and race phantom for the typed passphrase: like
// "the wrong window", that is outside what phantom can check, and this
// harness does not model it.
func (ua *UserAgent) Human(steps []humanStep, args ...string) Result {
	ua.t.Helper()
	argv := ua.argv(ua.PhantomBin, args...)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = ua.Dir
	cmd.Env = ua.Env
	ptmx, err := pty.Start(cmd)
	if err != nil {
		ua.t.Fatalf("starting phantom %v on a terminal: %v", args, err)
	}
	defer ptmx.Close()
	var (
		mu  sync.Mutex
		out bytes.Buffer
	)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			mu.Lock()
			out.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	pos := 0
	for _, s := range steps {
		deadline := time.Now().Add(60 * time.Second)
		for {
			mu.Lock()
			i := strings.Index(out.String()[pos:], s.Expect)
			if i >= 0 {
				pos += i + len(s.Expect)
			}
			seen := out.String()
			mu.Unlock()
			if i >= 0 {
				break
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				ua.t.Fatalf("phantom %v: no %q on the terminal within 60s; it shows:\n%s", args, s.Expect, seen)
			}
			time.Sleep(20 * time.Millisecond)
		}
		// The prompt is printed before the terminal is switched to
		// no-echo; give it that instant so the passphrase is not echoed.
		time.Sleep(100 * time.Millisecond)
		if s.Before != nil {
			s.Before(cmd.Process.Pid) // setpriv execs phantom: the same pid
		}
		io.WriteString(ptmx, s.Send+"\r")
	}
	err = cmd.Wait()
	select {
	case <-readDone:
	case <-time.After(5 * time.Second):
	}
	mu.Lock()
	r := Result{Stdout: out.String()}
	mu.Unlock()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.Code = ee.ExitCode()
	} else if err != nil {
		ua.t.Fatalf("phantom %v on a terminal: %v\n%s", args, err, r.Stdout)
	}
	return r
}

// pyPTY is the attacker's own pseudo-terminal, made with Python's pty
// module: it runs argv on it and types the lines it reads on stdin, one
// whenever the program stops at something that looks like a prompt (or
// has been quiet for 2 s), then Ctrl-C and, if that is not enough, SIGKILL.
// What appears on the terminal is copied to stdout, where the attacker
// reads it.
const pyPTY = `
import os, pty, select, signal, sys, time
lines = sys.stdin.read().split("\n")
argv = sys.argv[1:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
out = b""; sent_at = 0; i = 0; last = time.time(); end = time.time() + 75; stage = 0
status = None
while time.time() < end:
    r, _, _ = select.select([fd], [], [], 0.1)
    if r:
        try:
            b = os.read(fd, 4096)
        except OSError:
            b = b""
        if not b:
            break
        out += b; last = time.time()
        sys.stdout.buffer.write(b); sys.stdout.flush()
        continue
    quiet = time.time() - last
    tail = out[sent_at:].rstrip()
    if i < len(lines):
        if (tail.endswith(b":") and quiet > 0.15) or quiet > 2:
            os.write(fd, lines[i].encode() + b"\r"); i += 1; sent_at = len(out); last = time.time()
    elif quiet > 2:
        if stage == 0:
            os.write(fd, b"\x03"); stage = 1; last = time.time()
        else:
            os.kill(pid, signal.SIGKILL); break
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status) & 0xff)
`

// OnScript runs phantom args on a pseudo-terminal script(1) makes for the
// attacker, with typed (all of it at once) as the keystrokes.
func (ua *UserAgent) OnScript(typed string, args ...string) Result {
	ua.t.Helper()
	return ua.RunAs(typed, "script", "-qefc", shellQuote(append([]string{ua.PhantomBin}, args...)), "/dev/null")
}

// OnPythonPTY runs phantom args on a pseudo-terminal Python's pty module
// makes for the attacker, typing each line of typed at a prompt.
func (ua *UserAgent) OnPythonPTY(typed string, args ...string) Result {
	ua.t.Helper()
	return ua.RunAs(typed, python3(ua.t), append([]string{"-c", pyPTY, ua.PhantomBin}, args...)...)
}

// clientReport is what the agentclient child got from phantom's agent.
type clientReport struct {
	DialError string            `json:"dial_error,omitempty"`
	Frames    string            `json:"frames"`  // the frame types received, in order
	Failure   string            `json:"failure"` // an 'F' frame's error
	Code      *int              `json:"code"`    // a 'Q' frame's exit status
	Plans     []json.RawMessage `json:"plans"`   // 'X' frames: what a child would get
	Err       string            `json:"err,omitempty"`
}

// agentclientTyped is what the agentclient child answers to the agent's
// prompts and stdin reads: every confirmation word phantom asks for and
// some passphrase guesses.
var agentclientTyped = []string{"no-masking", "trust", "yes", "y", "reveal", "unprotect", "soften", "redteam-vault-passphrase", "password", "phantom"}

func init() {
	// agentclient SOCKET RECORD ARGV-JSON: the attacker speaks phantom's
	// agent protocol itself (it is the same uid, so the agent accepts the
	// connection). It asks the agent to run ARGV, claims all three streams
	// are a terminal, answers every prompt and stdin read with
	// agentclientTyped, plays the child of any exec plan, appends every
	// payload it receives to RECORD and prints a clientReport.
	children["agentclient"] = func(args []string) int {
		var argv []string
		if err := json.Unmarshal([]byte(args[2]), &argv); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		var rep clientReport
		defer func() {
			b, _ := json.Marshal(rep)
			fmt.Println(string(b))
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := agent.Dial(ctx, args[0])
		cancel()
		if err != nil {
			rep.DialError = err.Error()
			return 1
		}
		defer c.Close()
		rec, err := os.OpenFile(args[1], os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			rep.Err = err.Error()
			return 1
		}
		defer rec.Close()
		cwd, _ := os.Getwd()
		c.SetDeadline(time.Now().Add(40 * time.Second))
		c.SendJSON(agent.TypeRun, map[string]any{"argv": argv, "cwd": cwd, "env": os.Environ(),
			"tty": map[string]bool{"in": true, "out": true, "err": true}})
		typed := slices.Clone(agentclientTyped)
		var pending []byte
		for {
			typ, payload, err := c.Recv()
			if err != nil {
				rep.Err = err.Error()
				return 0
			}
			rep.Frames += string(typ)
			rec.Write(payload)
			rec.Write([]byte{'\n'})
			switch typ {
			case agent.TypeRead:
				var r struct{ N int }
				json.Unmarshal(payload, &r)
				if len(pending) == 0 && len(typed) > 0 {
					pending, typed = []byte(typed[0]+"\n"), typed[1:]
				}
				if len(pending) == 0 || r.N <= 0 {
					c.Send(agent.TypeStdinEOF, nil)
					continue
				}
				n := min(r.N, len(pending))
				c.Send(agent.TypeStdin, pending[:n])
				pending = pending[n:]
			case agent.TypePrompt:
				if len(typed) == 0 {
					c.SendJSON(agent.TypePromptCancel, map[string]string{"error": "cancelled"})
					continue
				}
				c.Send(agent.TypePromptReply, []byte(typed[0]))
				typed = typed[1:]
			case agent.TypeExecPlan:
				rep.Plans = append(rep.Plans, json.RawMessage(slices.Clone(payload)))
				c.SendJSON(agent.TypeChildStarted, map[string]int{"pid": os.Getpid()})
				c.SendJSON(agent.TypeChildExited, map[string]int{"code": 0})
			case agent.TypeQuit:
				var q struct{ Code int }
				json.Unmarshal(payload, &q)
				rep.Code = &q.Code
				return 0
			case agent.TypeFailure:
				var f struct{ Error string }
				json.Unmarshal(payload, &f)
				rep.Failure = f.Error
				return 0
			}
		}
	}

	// fakeagent SOCKET RECORD PIDFILE MODE: the attacker's own daemon on
	// the agent's socket (after it killed the real one). MODE "plain" is
	// an ordinary process; "nondumpable" clears its dumpable flag first, as
	// a real agent does, to pass that check. For every connection it asks
	// for stdin, asks the client to prompt for the vault passphrase, and
	// answers a proof request with a made-up MAC; it appends everything it
	// receives to RECORD. It serves for at most 60 s.
	children["fakeagent"] = func(args []string) int {
		sock, record, pidfile, mode := args[0], args[1], args[2], args[3]
		if mode == "nondumpable" {
			if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
				fmt.Fprintln(os.Stderr, "prctl:", err)
				return 1
			}
		}
		ln, err := agent.Listen(sock)
		if err != nil {
			fmt.Fprintln(os.Stderr, "listen:", err)
			return 1
		}
		rec, err := os.OpenFile(record, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		var recMu sync.Mutex
		note := func(typ byte, b []byte) {
			recMu.Lock()
			fmt.Fprintf(rec, "%c %s\n", typ, b)
			recMu.Unlock()
		}
		os.WriteFile(pidfile, []byte(strconv.Itoa(os.Getpid())), 0o644)
		time.AfterFunc(60*time.Second, func() { ln.Close(); os.Exit(0) })
		for {
			c, err := ln.Accept()
			if err != nil {
				return 0
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				for {
					typ, payload, err := c.Recv()
					if err != nil {
						return
					}
					note(typ, payload)
					switch typ {
					case agent.TypeRun:
						c.SendJSON(agent.TypeRead, map[string]int{"n": 1 << 16})
						c.SendJSON(agent.TypePrompt, map[string]string{"prompt": "Vault passphrase: "})
					case agent.TypeProve:
						c.SendJSON(agent.TypeProof, map[string]string{"mac": strings.Repeat("00", 32)})
					case agent.TypeLock:
						c.SendJSON(agent.TypeQuit, map[string]int{"code": 0})
					}
				}
			}()
		}
	}
}

// agentSocketOf is the agent socket of ua's project ($PHANTOM_HOME/run:
// the harness sets no XDG_RUNTIME_DIR).
func agentSocketOf(t *testing.T, ua *UserAgent) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(ua.Home, "run", "*.sock"))
	if len(m) != 1 {
		t.Fatalf("agent sockets under %s: %v", filepath.Join(ua.Home, "run"), m)
	}
	return m[0]
}

// alive reports whether process pid exists.
func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// waitExit waits (bounded) until pid has gone.
func waitExit(t *testing.T, pid int) {
	t.Helper()
	for i := 0; i < 200; i++ {
		if !alive(pid) {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("process %d still runs", pid)
}

// python3 is a python3 the attacker's uid can run: when the suite runs as
// root the first one on PATH may live under /root (pyenv), which an
// ordinary user cannot reach.
func python3(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/python3", "/usr/local/bin/python3"} {
		if st, err := os.Stat(p); err == nil && st.Mode().Perm()&0o001 != 0 {
			return p
		}
	}
	p, err := exec.LookPath("python3")
	if err != nil {
		t.Fatalf("python3 not found: %v", err)
	}
	return p
}
