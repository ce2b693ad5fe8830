package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"phantomstack.dev/phantom/internal/audit"
	"phantomstack.dev/shared/exitcode"
)

// RevealOptions configures `phantom reveal`.
type RevealOptions struct {
	F    *Factory
	Name string
}

func newRevealCmd(f *Factory, runF func(*RevealOptions) error) *cobra.Command {
	opts := &RevealOptions{F: f}
	cmd := &cobra.Command{
		Use:         "reveal NAME",
		Annotations: readOnlyInterrupted,
		Short:       "Show a secret's value on your terminal (interactive only)",
		Long: `Print NAME's real value, for a human at a terminal.

reveal works only when both standard input and standard output are an
interactive terminal, and only after you type the confirmation it asks for.
There is deliberately no flag to skip this: a command that an AI agent or a
script can run must never be able to print a secret. Every reveal is recorded
in the audit log.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f.Command = "phantom reveal"
			opts.Name = args[0]
			if runF != nil {
				return runF(opts)
			}
			return revealRun(cmd.Context(), opts)
		},
	}
	return cmd
}

func revealRun(ctx context.Context, o *RevealOptions) error {
	f := o.F
	if !f.IO.IsStdinTTY() || !f.IO.IsStdoutTTY() || !f.IO.IsStderrTTY() {
		return exitcode.Errorf(exitcode.Refused, "reveal only prints to an interactive terminal (stdin, stdout and stderr must all be a TTY); it cannot be scripted or piped.\nTo use %s in a program, run it under: phantom exec -- <command>", o.Name)
	}
	p, err := f.Project()
	if err != nil {
		return err
	}
	v, err := f.OpenVault(ctx, p, false)
	if err != nil {
		return err
	}
	s := v.Payload().Secrets[o.Name]
	if s == nil {
		return exitcode.Errorf(exitcode.NotFound, "%s is not in the vault (see: phantom list)", o.Name)
	}
	want := "reveal " + o.Name
	if err := f.IO.ConfirmTyped(ctx, fmt.Sprintf("This prints the real value of %s on this terminal.", o.Name), want); err != nil {
		return promptErr(err, "phantom reveal")
	}
	// The event is written before the value is shown; in "required" mode a
	// failed write means nothing is shown.
	if err := f.record(p, audit.Event{Op: "secret.reveal", Name: o.Name, Detail: withChain("")}); err != nil {
		return err
	}
	f.IO.Out.Write(s.Value)
	fmt.Fprintln(f.IO.Out)
	return nil
}
