package cli

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"phantomstack.dev/phantom/internal/agent"
	"phantomstack.dev/phantom/internal/audit"
	"phantomstack.dev/shared/exitcode"
	"phantomstack.dev/shared/jsonout"
)

// DefaultAgentIdle is how long an agent keeps a key without being used.
const DefaultAgentIdle = 12 * time.Hour

// UnlockOptions configures `phantom unlock`.
type UnlockOptions struct {
	F    *Factory
	Idle time.Duration
	JSON bool
}

// UnlockResult is `phantom unlock --json`'s document.
type UnlockResult struct {
	Project string `json:"project"`
	PID     int    `json:"agent_pid"`
	// Started is false when an agent already held the key (its idle timer
	// starts again).
	Started bool      `json:"started"`
	LocksAt time.Time `json:"locks_at"`
	// Replaced names what served the agent's socket before, when it could
	// not show it holds the key (an impostor, or an agent of an old key).
	Replaced string `json:"replaced,omitempty"`
}

func newUnlockCmd(f *Factory, runF func(*UnlockOptions) error) *cobra.Command {
	opts := &UnlockOptions{F: f}
	cmd := &cobra.Command{
		Use:   "unlock [--idle DURATION]",
		Short: "Unlock this project's vault in phantom's agent",
		Long: `Open this project's vault once (typing its passphrase, or from the keychain)
and hand its key to a phantom agent: a background process of yours that keeps
the key in locked memory and runs phantom's commands for this vault, so they
no longer read the keychain or derive a key each time. A hardened vault
('phantom vault harden') can be used by programs only this way.

The key goes to the agent through a pipe from this process, never over a
socket. The agent locks after --idle without use, with 'phantom lock', or
when the vault's key changes. Run it in your own terminal.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f.Command = "phantom unlock"
			if opts.Idle < time.Second || opts.Idle > 30*24*time.Hour {
				return usageErrorf("--idle %s is outside 1s..720h", opts.Idle)
			}
			if runF != nil {
				return runF(opts)
			}
			return unlockRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().DurationVar(&opts.Idle, "idle", DefaultAgentIdle, "lock after this long without use")
	jsonout.AddFlag(cmd, &opts.JSON, "print JSON")
	return cmd
}

func unlockRun(ctx context.Context, o *UnlockOptions) error {
	f := o.F
	p, err := f.Project()
	if err != nil {
		return err
	}
	home, err := f.Home()
	if err != nil {
		return err
	}
	if !agent.Supported() {
		return exitcode.Errorf(exitcode.Unavailable, "phantom's agent does not run on %s yet; phantom opens the vault in each command instead (docs/platforms.md)", runtime.GOOS)
	}
	v, err := f.OpenVault(ctx, p, false)
	if err != nil {
		return err
	}
	key := v.DataKey()
	v.Close()
	defer clear(key)

	path := agent.SocketPath(f.Env, home, p.ID())
	res := UnlockResult{Project: p.ID(), LocksAt: f.Now().Add(o.Idle).UTC().Round(time.Second)}
	pid, holds, why := proveAgent(ctx, path, key)
	switch {
	case holds:
		res.PID = pid
	default:
		if why != "" {
			res.Replaced = why
			stopImpostor(path, pid)
		}
		if res.PID, err = startAgent(ctx, f, path, home, p.ID(), key, o.Idle); err != nil {
			return err
		}
		res.Started = true
	}
	f.record(p, audit.Event{Op: "agent.unlock", Detail: fmt.Sprintf("agent pid %d; idle lock %s", res.PID, o.Idle)})
	if o.JSON {
		return jsonout.Write(f.IO.Out, res)
	}
	if res.Replaced != "" {
		f.IO.Warnf("The agent socket was served by something that could not prove it holds this vault's key (%s); it was stopped and a real agent started.", res.Replaced)
	}
	if res.Started {
		f.IO.Successf("Unlocked: phantom's agent (pid %d) holds this vault's key until 'phantom lock' or %s without use.", res.PID, o.Idle)
	} else {
		f.IO.Successf("Already unlocked: phantom's agent (pid %d) holds this vault's key; it locks after %s without use.", res.PID, o.Idle)
	}
	return nil
}

// proveAgent asks whatever serves path to prove it holds key. pid is the
// server's (0 when none answers); why says what was wrong when something
// answered but did not prove it.
func proveAgent(ctx context.Context, path string, key []byte) (pid int, holds bool, why string) {
	dctx, cancel := context.WithTimeout(ctx, agentDialTimeout)
	defer cancel()
	c, err := agent.Dial(dctx, path)
	if err != nil {
		var imp *agent.ImpostorError
		if errors.As(err, &imp) {
			return imp.PID, false, imp.Reason
		}
		return 0, false, ""
	}
	defer c.Close()
	pid = c.Peer().PID
	nonce := make([]byte, 32)
	rand.Read(nonce)
	c.SetDeadline(time.Now().Add(agentDialTimeout))
	if err := c.SendJSON(agent.TypeProve, proveMsg{Nonce: hex.EncodeToString(nonce)}); err != nil {
		return pid, false, "it closed the connection"
	}
	typ, payload, err := c.Recv()
	if err != nil || typ != agent.TypeProof {
		return pid, false, "it did not answer the proof request"
	}
	var m proofMsg
	if json.Unmarshal(payload, &m) != nil || !checkProof(key, nonce, m.MAC) {
		return pid, false, "its proof does not match this vault's key"
	}
	return pid, true, ""
}

// stopImpostor makes room on the socket: it asks the server to lock, then
// stops its process (the peer the kernel named for the socket, of this
// user) and removes the socket.
func stopImpostor(path string, pid int) {
	if c, err := agent.Dial(context.Background(), path); err == nil {
		c.Send(agent.TypeLock, nil)
		c.Close()
	}
	if pid > 1 && pid != os.Getpid() {
		if proc, err := os.FindProcess(pid); err == nil {
			proc.Kill()
		}
	}
	os.Remove(path)
}

// startAgent starts `phantom agent serve` from this very executable (on
// Linux /proc/self/exe: the kernel's own reference to the file this process
// runs, whatever has happened to its path since) and hands it the key
// through an inherited pipe. It returns once the agent listens.
func startAgent(ctx context.Context, f *Factory, path, home, project string, key []byte, idle time.Duration) (int, error) {
	exe, err := selfExecutable()
	if err != nil {
		return 0, exitcode.Errorf(exitcode.Failure, "cannot find phantom's own executable to start the agent: %v", err)
	}
	keyR, keyW, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		keyR.Close()
		keyW.Close()
		return 0, err
	}
	cmd := exec.Command(exe, "agent", "serve", "--socket", path, "--home", home, "--project", project, "--idle", idle.String())
	cmd.Args[0] = "phantom"
	cmd.Env = agentEnv(f)
	cmd.ExtraFiles = []*os.File{keyR, readyW} // fd 3, fd 4
	cmd.SysProcAttr = detachedProcess()
	err = cmd.Start()
	keyR.Close()
	readyW.Close()
	if err != nil {
		keyW.Close()
		readyR.Close()
		return 0, exitcode.Errorf(exitcode.Failure, "could not start phantom's agent: %v", err)
	}
	keyW.Write(key)
	keyW.Close()
	defer readyR.Close()
	type ready struct {
		line string
		err  error
	}
	done := make(chan ready, 1)
	go func() {
		line, err := bufio.NewReader(readyR).ReadString('\n')
		done <- ready{strings.TrimSpace(line), err}
	}()
	var r ready
	select {
	case r = <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		return 0, exitcode.Errorf(exitcode.Failure, "phantom's agent did not start within 10s; nothing was unlocked")
	case <-ctx.Done():
		cmd.Process.Kill()
		return 0, ctx.Err()
	}
	if r.line != "ok" {
		cmd.Wait()
		msg := strings.TrimPrefix(r.line, "error: ")
		if msg == "" {
			msg = "it exited without saying why"
		}
		return 0, exitcode.Errorf(exitcode.Failure, "phantom's agent could not start: %s", msg)
	}
	pid := cmd.Process.Pid
	cmd.Process.Release()
	return pid, nil
}

// agentEnv is the agent process's own environment: what locating files
// needs, nothing secret. Each forwarded command brings its client's.
func agentEnv(f *Factory) []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "USER", "LANG", "LC_ALL", "TMPDIR", "XDG_RUNTIME_DIR", "PHANTOM_HOME", "DBUS_SESSION_BUS_ADDRESS"} {
		if v := f.Env(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	return env
}

func selfExecutable() (string, error) {
	if runtime.GOOS == "linux" {
		if _, err := os.Stat("/proc/self/exe"); err == nil {
			return "/proc/self/exe", nil
		}
	}
	return os.Executable()
}
