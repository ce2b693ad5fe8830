package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"

	"phantomstack.dev/phantom/internal/agent"
	"phantomstack.dev/phantom/internal/audit"
	"phantomstack.dev/phantom/internal/run"
	"phantomstack.dev/phantom/internal/scrub"
	"phantomstack.dev/shared/exitcode"
	"phantomstack.dev/shared/interrupt"
)

// EnvAgent set to "off" makes this command open the vault itself even when
// an agent serves it (for debugging; it gains an attacker nothing: a hardened
// vault then needs its passphrase typed).
const EnvAgent = "PHANTOM_AGENT"

// forward runs args through the agent that serves this project's vault,
// when one does: the command runs inside the agent, which holds the key,
// and this process only carries its streams (docs/phantom.md, "The
// agent"). ok is false when the command is not forwardable or no agent
// answers; the caller then runs it here.
func forward(ctx context.Context, f *Factory, args []string) (code int, ok bool) {
	if f.Env(EnvAgent) == "off" {
		return 0, false
	}
	name, fwd := forwardCommand(NewRootCmd(f), args)
	if !fwd {
		return 0, false
	}
	p, err := f.Project()
	if err != nil {
		return 0, false
	}
	home, err := f.homePath()
	if err != nil {
		return 0, false
	}
	path := agent.SocketPath(f.Env, home, p.ID())
	if _, err := os.Lstat(path); err != nil {
		return 0, false
	}
	dctx, cancel := context.WithTimeout(ctx, agentDialTimeout)
	c, err := agent.Dial(dctx, path)
	cancel()
	if errors.Is(err, agent.ErrNotRunning) {
		return 0, false
	}
	if err != nil {
		// Something answers on the agent's socket that is not this
		// phantom's agent (an agent of an older phantom binary, or a
		// program imitating one): send it nothing, record it, and open the
		// vault here, which needs what it always needs.
		f.record(p, audit.Event{Op: "agent.refused", Detail: withChain(fmt.Sprintf("refused the agent socket %s: %v", path, err))})
		f.IO.Warnf("%v\nThis command opens the vault itself instead.", err)
		return 0, false
	}
	defer c.Close()
	return runForwarded(ctx, f, c, name, args), true
}

// agentDialTimeout bounds connecting to an agent and its hello.
const agentDialTimeout = 2e9

// runForwarded sends the run request and serves the agent's requests for
// this process's streams until it reports the exit status.
func runForwarded(ctx context.Context, f *Factory, c *agent.Conn, name string, args []string) int {
	cwd, err := f.Cwd()
	if err != nil {
		fmt.Fprintf(f.IO.ErrOut, "error: %v\n", err)
		return exitcode.Failure
	}
	req := runRequest{Argv: args, Cwd: cwd, Env: f.Environ(),
		TTY:   ttyState{In: f.IO.IsStdinTTY(), Out: f.IO.IsStdoutTTY(), Err: f.IO.IsStderrTTY()},
		Color: f.IO.ColorEnabled()}
	if err := c.SendJSON(agent.TypeRun, req); err != nil {
		return lostAgent(f, err)
	}
	// Ctrl-C reaches this process (the terminal's foreground group); the
	// agent's command stops the way it would here.
	stopSignal := context.AfterFunc(ctx, func() {
		sig := "interrupt"
		if s, ok := interrupt.Cause(ctx); ok && s.Sig != os.Interrupt {
			sig = "terminate"
		}
		c.SendJSON(agent.TypeSignal, signalMsg{Signal: sig})
	})
	defer stopSignal()
	// stdin is read only when the agent's command asks for it, so a
	// command that reads nothing never consumes what a shell pipes on.
	var stdinMu sync.Mutex
	var child chan int // the exit status of exec's child, once started
	exited := make(chan int, 1)
	frames := make(chan frame, 16)
	go func() {
		defer close(frames)
		for {
			typ, payload, err := c.Recv()
			frames <- frame{typ, payload, err}
			if err != nil {
				return
			}
		}
	}()
	for {
		var fr frame
		select {
		case code := <-exited:
			return code
		case fr = <-frames:
		}
		typ, payload, err := fr.typ, fr.payload, fr.err
		if err != nil {
			if child != nil {
				// Locked (or stopped) while the child runs: the child keeps
				// going without its proxy; its status is this command's.
				f.IO.Warnf("the phantom agent stopped while the command ran (locked, or killed); its proxy is gone")
				if code := <-child; code >= 0 {
					return code
				}
				return exitcode.Failure
			}
			return lostAgent(f, err)
		}
		switch typ {
		case agent.TypeStdout:
			f.IO.Out.Write(payload)
		case agent.TypeStderr:
			f.IO.ErrOut.Write(payload)
		case agent.TypeRead:
			var r readRequest
			if json.Unmarshal(payload, &r) != nil || r.N <= 0 || r.N > agent.MaxFrame {
				return lostAgent(f, errors.New("bad read request"))
			}
			go func() {
				stdinMu.Lock()
				defer stdinMu.Unlock()
				buf := make([]byte, r.N)
				n, err := f.IO.In.Read(buf)
				if n > 0 {
					c.Send(agent.TypeStdin, buf[:n])
				}
				if err != nil || n == 0 {
					c.Send(agent.TypeStdinEOF, nil)
				}
			}()
		case agent.TypePrompt:
			var pr promptRequest
			json.Unmarshal(payload, &pr)
			if !hiddenPromptAllowed(name, args, pr.Prompt) {
				// Only `phantom add NAME` asks for hidden input through the
				// agent. Anything else — "Vault passphrase:" above all —
				// would have whoever serves the socket collect what you
				// type (docs/security.md, "What remains in hardened mode").
				c.SendJSON(agent.TypePromptCancel, failureMsg{Error: "refused"})
				f.IO.Warnf("the phantom agent asked for hidden input this command never asks for (%q); refused", pr.Prompt)
				continue
			}
			go func() {
				stdinMu.Lock()
				defer stdinMu.Unlock()
				b, err := f.IO.ReadSecret(ctx, pr.Prompt)
				if err != nil {
					c.SendJSON(agent.TypePromptCancel, failureMsg{Error: err.Error()})
					return
				}
				c.Send(agent.TypePromptReply, b)
				clear(b)
			}()
		case agent.TypeExecPlan:
			var plan execPlan
			if err := json.Unmarshal(payload, &plan); err != nil {
				return lostAgent(f, err)
			}
			if child != nil {
				return lostAgent(f, errors.New("a second exec plan"))
			}
			child = make(chan int, 1)
			go func() {
				code := runPlannedChild(ctx, f, c, plan)
				if code >= 0 {
					// The child's status is the command's: return now, while
					// the agent closes the proxy and writes exec.exit (it
					// needs nothing more from this process).
					exited <- code
				}
				child <- code
			}()
		case agent.TypeQuit:
			var q quitMsg
			if err := json.Unmarshal(payload, &q); err != nil {
				return lostAgent(f, err)
			}
			return q.Code
		case agent.TypeFailure:
			var m failureMsg
			json.Unmarshal(payload, &m)
			fmt.Fprintf(f.IO.ErrOut, "%s the phantom agent refused: %s\n", f.IO.Theme().Fail("error:"), m.Error)
			return exitcode.Failure
		default:
			return lostAgent(f, fmt.Errorf("unexpected frame %q", typ))
		}
	}
}

type frame struct {
	typ     byte
	payload []byte
	err     error
}

// runPlannedChild starts `phantom exec`'s child as the agent planned it,
// here, in the user's terminal and process group, and reports its exit.
func runPlannedChild(ctx context.Context, f *Factory, c *agent.Conn, plan execPlan) int {
	cmd := &run.Command{
		Args: plan.Args, Env: plan.Env, Dir: plan.Dir,
		Stdin: f.IO.In, Stdout: f.IO.Out, Stderr: f.IO.ErrOut,
		Mask:                   scrub.New(scrub.WithEncodings(withPassphraseMask(f, plan.Mask))),
		MaskStdout:             plan.MaskOutput,
		MaskStderr:             plan.MaskOutput,
		ForwardTerminalSignals: !f.IO.IsStdinTTY(),
	}
	code, err := cmd.Run(context.WithoutCancel(ctx))
	msg := childExited{Code: code}
	if err != nil {
		msg.Error = err.Error()
		var se *run.StartError
		if errors.As(err, &se) {
			msg.Code, msg.StartFailed = se.Code, true
		} else if msg.Code == 0 {
			msg.Code = exitcode.Failure
		}
	}
	c.SendJSON(agent.TypeChildExited, msg)
	if msg.StartFailed {
		return -1 // the agent says why and sends the status
	}
	return msg.Code
}

// withPassphraseMask adds the vault passphrase from this process's
// environment to the agent's mask table, as exec does without an agent.
func withPassphraseMask(f *Factory, mask map[string]string) map[string]string {
	out := make(map[string]string, len(mask)+1)
	for k, v := range mask {
		out[k] = v
	}
	for k, v := range passphraseMask(f) {
		if _, taken := out[k]; !taken && k != "" {
			out[k] = v
		}
	}
	return out
}

func lostAgent(f *Factory, err error) int {
	if errors.Is(err, io.EOF) {
		err = errors.New("it closed the connection")
	}
	fmt.Fprintf(f.IO.ErrOut, "%s lost the phantom agent before the command finished (%v); it may have been locked or stopped. Run the command again (it opens the vault itself when no agent serves it).\n", f.IO.Theme().Fail("error:"), err)
	return exitcode.Failure
}

// hiddenPromptAllowed reports whether a hidden prompt the agent asks the
// client to show is one the command would show itself: only `phantom add
// NAME`'s "Value for NAME (hidden): ", for a NAME on this command line.
func hiddenPromptAllowed(command string, args []string, prompt string) bool {
	if command != "add" {
		return false
	}
	name, ok := strings.CutPrefix(prompt, "Value for ")
	if !ok {
		return false
	}
	name, ok = strings.CutSuffix(name, " (hidden): ")
	return ok && name != "" && slices.Contains(args, name)
}
