package cli

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"phantomstack.dev/phantom/internal/agent"
	"phantomstack.dev/phantom/internal/audit"
	"phantomstack.dev/phantom/internal/run"
	"phantomstack.dev/phantom/internal/vault"
	"phantomstack.dev/shared/exitcode"
	"phantomstack.dev/shared/interrupt"
	"phantomstack.dev/shared/term"
)

// agentDaemon is one `phantom agent serve` process: it holds one vault's
// data key (in locked memory) and runs forwarded commands for clients of
// the same user until it is locked, idle for too long, or the vault's key
// changes (docs/phantom.md, "The agent").
type agentDaemon struct {
	home, project string
	key           *agent.Key
	idle          time.Duration
	ln            *agent.Listener

	mu      sync.Mutex
	active  int
	last    time.Time
	stopped chan struct{}
	stop    sync.Once
}

// lock forgets the key and stops serving; every later command opens the
// vault itself.
func (d *agentDaemon) lock() {
	d.stop.Do(func() {
		d.mu.Lock()
		d.key.Wipe()
		d.mu.Unlock()
		d.ln.Close()
		close(d.stopped)
	})
}

// serve accepts connections until the agent is locked.
func (d *agentDaemon) serve(ctx context.Context) {
	go d.idleLoop()
	for {
		c, err := d.ln.Accept()
		if err != nil {
			select {
			case <-d.stopped:
				return
			default:
			}
			if errors.Is(err, os.ErrClosed) {
				return
			}
			continue // a refused peer or a failed hello ends only that connection
		}
		go d.handle(ctx, c)
	}
}

func (d *agentDaemon) idleLoop() {
	t := time.NewTicker(min(d.idle/4+time.Millisecond, time.Minute))
	defer t.Stop()
	for {
		select {
		case <-d.stopped:
			return
		case now := <-t.C:
			d.mu.Lock()
			expired := d.active == 0 && now.Sub(d.last) >= d.idle
			d.mu.Unlock()
			if expired {
				d.lock()
				return
			}
		}
	}
}

func (d *agentDaemon) busy(delta int) {
	d.mu.Lock()
	d.active += delta
	d.last = time.Now()
	d.mu.Unlock()
}

// keyCopy is a copy of the data key, or nil once locked.
func (d *agentDaemon) keyCopy() []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	select {
	case <-d.stopped:
		return nil
	default:
	}
	return slices.Clone(d.key.Bytes())
}

func (d *agentDaemon) handle(ctx context.Context, c *agent.Conn) {
	defer c.Close()
	d.busy(1)
	defer d.busy(-1)
	typ, payload, err := c.Recv()
	if err != nil {
		return
	}
	switch typ {
	case agent.TypeProve:
		var m proveMsg
		if json.Unmarshal(payload, &m) != nil {
			return
		}
		nonce, err := hex.DecodeString(m.Nonce)
		if err != nil || len(nonce) < 16 || len(nonce) > 64 {
			c.SendJSON(agent.TypeFailure, failureMsg{Error: "a proof needs a nonce of 16 to 64 bytes"})
			return
		}
		key := d.keyCopy()
		if key == nil {
			c.SendJSON(agent.TypeFailure, failureMsg{Error: "locked"})
			return
		}
		mac := vault.Proof(key, nonce)
		clear(key)
		c.SendJSON(agent.TypeProof, proofMsg{MAC: hex.EncodeToString(mac)})
	case agent.TypeLock:
		c.SendJSON(agent.TypeQuit, quitMsg{Code: 0})
		d.lock()
	case agent.TypeRun:
		var req runRequest
		if err := json.Unmarshal(payload, &req); err != nil || len(req.Argv) == 0 {
			c.SendJSON(agent.TypeFailure, failureMsg{Error: "malformed run request"})
			return
		}
		if _, ok := forwardCommand(NewRootCmd(NewFactory(term.System(nil, io.Discard, io.Discard))), req.Argv); !ok {
			// Human-only commands run in the client's own process, never
			// here: the agent cannot tell a person from a program. phantom's
			// own client never sends one, so this is someone speaking to
			// the socket directly: audited.
			d.recordRefused(c, req.Argv)
			c.SendJSON(agent.TypeFailure, failureMsg{Error: fmt.Sprintf("'phantom %s' is not run by the agent", strings.Join(req.Argv, " "))})
			return
		}
		code, err := d.runSafely(ctx, c, req)
		if err != nil {
			c.SendJSON(agent.TypeFailure, failureMsg{Error: err.Error()})
			return
		}
		c.SendJSON(agent.TypeQuit, quitMsg{Code: code})
	default:
		c.SendJSON(agent.TypeFailure, failureMsg{Error: fmt.Sprintf("unexpected frame %q", typ)})
	}
}

// runSafely runs a forwarded command; a panic in it ends that command, not
// the agent and every other client's command with it. The panic's value
// is not sent: it could hold a value.
func (d *agentDaemon) runSafely(ctx context.Context, c *agent.Conn, req runRequest) (code int, err error) {
	defer func() {
		if recover() != nil {
			err = errors.New("the command failed inside the agent (internal error); run it again with PHANTOM_AGENT=off to see the error")
		}
	}()
	return d.run(ctx, c, req), nil
}

// recordRefused audits a run request the agent refused, in the log of the
// vault's own home (the request's environment does not choose where). Only
// the command's name is recorded, not its arguments.
func (d *agentDaemon) recordRefused(c *agent.Conn, argv []string) {
	f := NewFactory(term.System(nil, io.Discard, io.Discard))
	f.Env = func(k string) string {
		if k == "PHANTOM_HOME" {
			return d.home
		}
		return ""
	}
	f.Command = "phantom agent"
	what := "an unknown command"
	if cmd, _, err := NewRootCmd(f).Find(argv); err == nil && cmd != nil {
		what = "'" + cmd.CommandPath() + "'"
		if slices.Contains(forwardable, cmd.Name()) {
			what += " with a human-only flag (--no-masking, --body-secret) or --help"
		}
	}
	f.record(nil, audit.Event{Op: "agent.refused", Project: d.project,
		Detail: fmt.Sprintf("refused: %s sent to the agent's socket by pid %d; human-only commands never run in the agent", what, c.Peer().PID)})
}

// run runs one forwarded command line in this process with the client's
// arguments, working directory and environment.
func (d *agentDaemon) run(ctx context.Context, c *agent.Conn, req runRequest) int {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	rc := newRemoteClient(c, cancel)
	go rc.readLoop()
	defer rc.close()

	io := &term.IOStreams{In: rc.stdin(), Out: rc.writer(agent.TypeStdout), ErrOut: rc.writer(agent.TypeStderr)}
	io.SetTTY(req.TTY.In, req.TTY.Out, req.TTY.Err)
	io.SetColor(req.Color)
	io.SecretReader = rc.readSecret
	env := envMap(req.Env)
	f := NewFactory(io)
	f.Env = func(k string) string { return env[k] }
	f.Environ = func() []string { return slices.Clone(req.Env) }
	f.Getwd = func() (string, error) { return req.Cwd, nil }
	f.served = &servedVault{home: d.home, project: d.project, key: d.keyCopy, keyChanged: d.lock, client: rc}
	code := RunContext(ctx, f, req.Argv)
	rc.out.flush()
	return code
}

func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// servedVault is set on a Factory that runs inside the agent: OpenVault
// uses the agent's key for its vault, and exec hands the child to the
// client.
type servedVault struct {
	home, project string
	key           func() []byte
	keyChanged    func()
	client        *remoteClient
}

// remoteClient is the client end of one forwarded command: its streams,
// prompts and child.
type remoteClient struct {
	c      *agent.Conn
	cancel context.CancelCauseFunc
	out    *outBuf

	stdinCh  chan []byte // nil slice: EOF
	promptCh chan []byte // nil: cancelled
	childCh  chan childExited
	done     chan struct{}
	once     sync.Once
}

func newRemoteClient(c *agent.Conn, cancel context.CancelCauseFunc) *remoteClient {
	return &remoteClient{c: c, cancel: cancel, out: &outBuf{c: c},
		stdinCh: make(chan []byte, 1), promptCh: make(chan []byte, 1),
		childCh: make(chan childExited, 1), done: make(chan struct{})}
}

func (r *remoteClient) close() { r.once.Do(func() { close(r.done) }) }

// readLoop dispatches what the client sends while its command runs. A
// closed connection counts as Ctrl-C: nobody is left to read the output.
func (r *remoteClient) readLoop() {
	for {
		typ, payload, err := r.c.Recv()
		if err != nil {
			r.cancel(&interrupt.Signal{Sig: os.Interrupt})
			r.close()
			return
		}
		switch typ {
		case agent.TypeStdin:
			r.stdinCh <- payload
		case agent.TypeStdinEOF:
			r.stdinCh <- nil
		case agent.TypePromptReply:
			r.promptCh <- payload
		case agent.TypePromptCancel:
			r.promptCh <- nil
		case agent.TypeChildExited:
			var m childExited
			json.Unmarshal(payload, &m)
			r.childCh <- m
		case agent.TypeSignal:
			var m signalMsg
			json.Unmarshal(payload, &m)
			sig := os.Signal(os.Interrupt)
			if m.Signal == "terminate" {
				sig = syscall.SIGTERM
			}
			r.cancel(&interrupt.Signal{Sig: sig})
		}
	}
}

// outBuf holds a command's stdout and stderr writes, in their order, and
// sends them as frames: before the agent reads stdin, prompts or hands
// over a child, at the end, at 32 KiB, or 10 ms after the first pending
// byte (progress output still arrives while a command works). A listing
// written line by line otherwise costs a frame, and two system calls on
// each side, per line.
type outBuf struct {
	mu    sync.Mutex
	c     *agent.Conn
	segs  []outSeg
	size  int
	timer *time.Timer
}

type outSeg struct {
	typ byte
	b   []byte
}

func (o *outBuf) write(typ byte, p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if n := len(o.segs); n > 0 && o.segs[n-1].typ == typ {
		o.segs[n-1].b = append(o.segs[n-1].b, p...)
	} else {
		o.segs = append(o.segs, outSeg{typ, append([]byte(nil), p...)})
	}
	o.size += len(p)
	if o.size >= 32<<10 {
		return len(p), o.flushLocked()
	}
	if o.timer == nil {
		o.timer = time.AfterFunc(10*time.Millisecond, func() { o.flush() })
	}
	return len(p), nil
}

func (o *outBuf) flush() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.flushLocked()
}

func (o *outBuf) flushLocked() error {
	if o.timer != nil {
		o.timer.Stop()
		o.timer = nil
	}
	segs := o.segs
	o.segs, o.size = nil, 0
	for _, sg := range segs {
		for b := sg.b; len(b) > 0; {
			m := min(len(b), agent.MaxFrame)
			if err := o.c.Send(sg.typ, b[:m]); err != nil {
				return err
			}
			b = b[m:]
		}
	}
	return nil
}

type streamWriter struct {
	o   *outBuf
	typ byte
}

func (w streamWriter) Write(p []byte) (int, error) { return w.o.write(w.typ, p) }

func (r *remoteClient) writer(typ byte) io.Writer { return streamWriter{r.out, typ} }

// remoteStdin reads the client's stdin on demand.
type remoteStdin struct {
	r   *remoteClient
	eof bool
}

func (r *remoteClient) stdin() io.Reader { return &remoteStdin{r: r} }

func (s *remoteStdin) Read(p []byte) (int, error) {
	if s.eof {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	s.r.out.flush()
	if err := s.r.c.SendJSON(agent.TypeRead, readRequest{N: min(len(p), agent.MaxFrame)}); err != nil {
		return 0, err
	}
	select {
	case b := <-s.r.stdinCh:
		if b == nil {
			s.eof = true
			return 0, io.EOF
		}
		return copy(p, b), nil
	case <-s.r.done:
		return 0, io.ErrUnexpectedEOF
	}
}

// readSecret asks the client to read hidden input on its terminal.
func (r *remoteClient) readSecret(ctx context.Context, prompt string) ([]byte, error) {
	r.out.flush()
	if err := r.c.SendJSON(agent.TypePrompt, promptRequest{Prompt: prompt}); err != nil {
		return nil, err
	}
	select {
	case b := <-r.promptCh:
		if b == nil {
			return nil, term.ErrCancelled
		}
		return b, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", term.ErrInterrupted, context.Cause(ctx))
	case <-r.done:
		return nil, term.ErrCancelled
	}
}

// runChild hands exec's child to the client, which starts it in the user's
// terminal, and waits for its exit status.
func (r *remoteClient) runChild(plan execPlan) (int, error) {
	r.out.flush()
	if err := r.c.SendJSON(agent.TypeExecPlan, plan); err != nil {
		return exitcode.Failure, err
	}
	select {
	case m := <-r.childCh:
		if m.StartFailed {
			return m.Code, &run.StartError{Name: plan.Args[0], Code: m.Code, Err: errors.New(m.Error)}
		}
		if m.Error != "" {
			return m.Code, errors.New(m.Error)
		}
		return m.Code, nil
	case <-r.done:
		return exitcode.Failure, errors.New("the client went away while its command ran")
	}
}

// checkProof is how unlock checks that an agent holds the vault's key.
func checkProof(key, nonce []byte, macHex string) bool {
	mac, err := hex.DecodeString(macHex)
	return err == nil && vault.CheckProof(key, nonce, mac)
}

// serves reports whether opts name the vault this agent holds.
func (s *servedVault) serves(opts vault.Options) bool {
	return opts.Home == s.home && opts.ProjectID == s.project
}

// open opens the agent's vault with its key: no keychain, no passphrase.
// A key that no longer opens it (the vault was re-keyed, hardened or
// softened since the unlock) locks the agent.
func (s *servedVault) open(opts vault.Options) (*vault.Vault, error) {
	key := s.key()
	if key == nil {
		return nil, &vault.Error{Kind: vault.ErrNoKeySource, Detail: "the phantom agent was locked while the command ran; run it again"}
	}
	defer clear(key)
	v, err := vault.OpenWithKey(opts, key)
	if errors.Is(err, vault.ErrKeyChanged) || errors.Is(err, vault.ErrWrongKey) {
		s.keyChanged()
	}
	return v, err
}

// hardened reports whether the agent's vault is hardened now.
func (s *servedVault) hardened() bool {
	path, err := vault.Path(vault.Options{Home: s.home, ProjectID: s.project})
	return err == nil && vault.PeekKeySource(path) == vault.Hardened
}
