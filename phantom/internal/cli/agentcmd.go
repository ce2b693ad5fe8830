package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"phantomstack.dev/phantom/internal/agent"
	"phantomstack.dev/phantom/internal/harden"
	"phantomstack.dev/shared/exitcode"
)

// newAgentCmd is `phantom agent`: the process `phantom unlock` starts.
// People use unlock and lock; serve is not meant to be run by hand.
func newAgentCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "phantom's agent: holds one unlocked vault's key (see 'phantom unlock')",
		Long: `phantom's agent is a background process that holds one vault's key after
'phantom unlock' and runs phantom's commands for that vault. Start it with
'phantom unlock' and stop it with 'phantom lock'; see docs/phantom.md, "The agent".`,
		Args: groupArgs,
		RunE: helpRun,
	}
	cmd.AddCommand(newAgentServeCmd(f))
	return cmd
}

type agentServeOptions struct {
	F                     *Factory
	Socket, Home, Project string
	Idle                  time.Duration
}

func newAgentServeCmd(f *Factory) *cobra.Command {
	o := &agentServeOptions{F: f}
	cmd := &cobra.Command{
		Use:    "serve",
		Short:  "Serve one vault (started by 'phantom unlock' with the key on fd 3)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f.Command = "phantom agent"
			return agentServeRun(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.Socket, "socket", "", "socket path")
	cmd.Flags().StringVar(&o.Home, "home", "", "PHANTOM_HOME of the vault")
	cmd.Flags().StringVar(&o.Project, "project", "", "project id of the vault")
	cmd.Flags().DurationVar(&o.Idle, "idle", DefaultAgentIdle, "lock after this long without use")
	return cmd
}

// agentServeRun reads the key from fd 3, listens, says "ok" on fd 4 and
// serves until locked. Anything that goes wrong before it listens is
// written to fd 4 for unlock to show.
func agentServeRun(ctx context.Context, o *agentServeOptions) error {
	ready := os.NewFile(4, "ready")
	keyIn := os.NewFile(3, "key")
	if ready == nil || keyIn == nil || o.Socket == "" || o.Home == "" || o.Project == "" {
		return exitcode.Errorf(exitcode.Usage, "phantom agent serve is started by 'phantom unlock'; run that instead")
	}
	fail := func(err error) error {
		fmt.Fprintf(ready, "error: %v\n", err)
		ready.Close()
		return exitcode.Silent{Code: exitcode.Failure}
	}
	// main hardened this process already; the test binary's does not, and
	// hardening twice is harmless. Then: nobody may be tracing it, and once
	// non-dumpable nobody can start to (agent.SelfCheck).
	if err := harden.Process(); err != nil {
		return fail(err)
	}
	if err := agent.SelfCheck(); err != nil {
		return fail(err)
	}
	buf := make([]byte, 65)
	n, _ := io.ReadFull(keyIn, buf)
	keyIn.Close()
	if n != 32 {
		clear(buf)
		return fail(fmt.Errorf("expected a 32-byte key on fd 3, got %d bytes", n))
	}
	key, err := agent.NewKey(buf[:n])
	clear(buf)
	if err != nil {
		return fail(err)
	}
	ln, err := agent.Listen(o.Socket)
	if err != nil {
		key.Wipe()
		return fail(err)
	}
	d := &agentDaemon{home: o.Home, project: o.Project, key: key, idle: o.Idle, ln: ln,
		last: time.Now(), stopped: make(chan struct{})}
	fmt.Fprintln(ready, "ok")
	ready.Close()
	// SIGTERM (and Ctrl-C, had it a terminal) locks: the key is wiped, the
	// socket removed.
	stop := context.AfterFunc(ctx, d.lock)
	defer stop()
	d.serve(context.WithoutCancel(ctx))
	return nil
}
