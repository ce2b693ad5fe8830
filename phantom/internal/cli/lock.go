package cli

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"phantomstack.dev/phantom/internal/agent"
	"phantomstack.dev/phantom/internal/audit"
	"phantomstack.dev/shared/jsonout"
)

// LockOptions configures `phantom lock`.
type LockOptions struct {
	F    *Factory
	All  bool
	JSON bool
}

// LockResult is `phantom lock --json`'s document.
type LockResult struct {
	// Locked counts the agents that forgot their key.
	Locked int `json:"locked"`
	// Stopped counts sockets served by something that was not a verifiable
	// phantom agent, whose process was stopped.
	Stopped int `json:"stopped,omitempty"`
}

func newLockCmd(f *Factory, runF func(*LockOptions) error) *cobra.Command {
	opts := &LockOptions{F: f}
	cmd := &cobra.Command{
		Use:   "lock [--all]",
		Short: "Make phantom's agent forget this vault's key (or every vault's)",
		Long: `Stop the agent that 'phantom unlock' started for this project's vault: it wipes
the key from memory and exits. With --all, every agent of yours for this
PHANTOM_HOME. Later commands open the vault themselves again (a hardened
vault then needs its passphrase typed).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f.Command = "phantom lock"
			if runF != nil {
				return runF(opts)
			}
			return lockRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.All, "all", false, "lock every vault's agent")
	jsonout.AddFlag(cmd, &opts.JSON, "print JSON")
	return cmd
}

func lockRun(ctx context.Context, o *LockOptions) error {
	f := o.F
	home, err := f.Home()
	if err != nil {
		return err
	}
	var (
		paths []string
		p     *Project
	)
	if o.All {
		paths, _ = filepath.Glob(filepath.Join(agent.SocketDir(f.Env, home), "*.sock"))
	} else {
		if p, err = f.Project(); err != nil {
			return err
		}
		paths = []string{agent.SocketPath(f.Env, home, p.ID())}
	}
	var res LockResult
	for _, path := range paths {
		switch lockAgent(ctx, path) {
		case lockDone:
			res.Locked++
		case lockStoppedImpostor:
			res.Stopped++
		}
	}
	if p != nil && res.Locked+res.Stopped > 0 {
		f.record(p, audit.Event{Op: "agent.lock"})
	}
	if o.JSON {
		return jsonout.Write(f.IO.Out, res)
	}
	switch {
	case res.Locked+res.Stopped == 0 && o.All:
		f.IO.Infof("No phantom agent was running; nothing to lock.")
	case res.Locked+res.Stopped == 0:
		f.IO.Infof("No phantom agent holds this vault's key; nothing to lock.")
	case res.Locked > 0:
		f.IO.Successf("Locked %d agent(s): the key is gone from memory.", res.Locked)
	}
	if res.Stopped > 0 {
		f.IO.Warnf("%d socket(s) were served by something that is not a verifiable phantom agent; its process was stopped.", res.Stopped)
	}
	return nil
}

type lockOutcome int

const (
	lockNone lockOutcome = iota
	lockDone
	lockStoppedImpostor
)

func lockAgent(ctx context.Context, path string) lockOutcome {
	dctx, cancel := context.WithTimeout(ctx, agentDialTimeout)
	c, err := agent.Dial(dctx, path)
	cancel()
	if err != nil {
		var imp *agent.ImpostorError
		if errors.As(err, &imp) {
			stopImpostor(path, imp.PID)
			return lockStoppedImpostor
		}
		if errors.Is(err, agent.ErrNotRunning) {
			os.Remove(path) // stale: nobody answers on it
		}
		return lockNone
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(agentDialTimeout))
	if err := c.Send(agent.TypeLock, nil); err != nil {
		return lockNone
	}
	typ, _, err := c.Recv()
	if err != nil || typ != agent.TypeQuit {
		return lockNone
	}
	return lockDone
}

// lockAgentOf locks the agent of p's vault, if one runs: after a re-key
// its key no longer opens the vault, and the next command must open it
// (or `phantom unlock` start a new agent) with the new key.
func (f *Factory) lockAgentOf(p *Project) {
	if home, err := f.Home(); err == nil {
		lockAgent(context.Background(), agent.SocketPath(f.Env, home, p.ID()))
	}
}
