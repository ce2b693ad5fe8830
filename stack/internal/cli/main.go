// Package cli is stack's command-line interface: one file per command, each
// with an Options struct and a run function that reads and writes only
// through the Factory's streams, so tests run the real CLI in-process.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"phantomstack.dev/shared/cmdutil"
	"phantomstack.dev/shared/exitcode"
	"phantomstack.dev/shared/interrupt"
	"phantomstack.dev/shared/jsonout"
	"phantomstack.dev/shared/term"
)

// Main runs stack with args (args[0] is the program name) and returns the
// process exit code. It is the only place where errors become exit codes.
// ctx is the one main made (shared/interrupt): Ctrl-C cancels it, and every
// command reads it from cmd.Context().
func Main(ctx context.Context, args []string, in io.Reader, out, errOut io.Writer) int {
	f, err := NewFactory(term.System(in, out, errOut))
	if err != nil {
		fmt.Fprintf(errOut, "error: %v\n", err)
		return exitcode.Failure
	}
	return RunContext(ctx, f, args[1:])
}

// Run executes one command line with a prepared factory (tests; no signal
// handling).
func Run(f *Factory, args []string) int {
	return RunContext(context.Background(), f, args)
}

// RunContext executes one command line with a prepared factory; ctx reaches
// every command as cmd.Context().
func RunContext(ctx context.Context, f *Factory, args []string) int {
	root := NewRootCmd(f)
	root.SetArgs(args)
	root.SetIn(f.IO.In)
	root.SetOut(f.IO.Out) // --help output is what the user asked for
	root.SetErr(f.IO.ErrOut)
	// Once the command line is parsed, a command run with --json gets a
	// stdout that notices whether its result was printed, so a failure
	// still leaves one JSON document there (jsonout.WriteFailure).
	out := f.IO.Out
	defer func() { f.IO.Out = out }()
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		f.IO.Out = jsonout.Track(cmd, out)
		return nil
	}
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitcode.OK
	}
	var silent exitcode.Silent
	if errors.As(err, &silent) {
		// The command has said why on stderr.
		jsonout.WriteFailure(f.IO.Out, cmd, errors.New("failed; stderr says why"), silent.Code)
		return silent.Code
	}
	if msg, ok := interrupt.Message(ctx, err, interruptedState(cmd)); ok {
		fmt.Fprintf(f.IO.ErrOut, "%s %s\n", f.IO.Theme().Fail("error:"), msg)
		return exitcode.Interrupted
	}
	code := exitcode.Code(err)
	if isUsageError(err) {
		code = exitcode.Usage
	}
	jsonout.WriteFailure(f.IO.Out, cmd, err, code)
	fmt.Fprintf(f.IO.ErrOut, "%s %s\n", f.IO.Theme().Fail("error:"), err)
	if code == exitcode.Usage && cmd != nil {
		fmt.Fprintf(f.IO.ErrOut, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	return code
}

// annotationInterrupted names the cobra annotation in which a command says
// what an interruption leaves, for the one-line message Main prints.
const annotationInterrupted = "interrupted"

// readOnlyInterrupted is the state a command that changes nothing leaves.
var readOnlyInterrupted = map[string]string{annotationInterrupted: "nothing was changed"}

// interruptedState is what an interrupted cmd left: its own annotation (or
// its parent's), else what holds for every stack command: each file is
// written whole (a temporary file renamed over it), so a Ctrl-C never
// leaves one half-written.
func interruptedState(cmd *cobra.Command) string {
	for c := cmd; c != nil; c = c.Parent() {
		if s := c.Annotations[annotationInterrupted]; s != "" {
			return s
		}
	}
	return "no file was left half-written: stack replaces .stack.toml and the env files whole, so each is as it was or fully updated"
}

// usageError marks a command-line mistake: exit code 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return exitcode.New(exitcode.Usage, usageError{fmt.Errorf(format, args...)})
}

// isUsageError reports a usage error: ours (flag and argument errors are
// wrapped by the root's FlagErrorFunc and by noArgs/exactArgs), or one of the
// few cobra still returns as a plain error from Find ("unknown command").
func isUsageError(err error) bool {
	var u usageError
	if errors.As(err, &u) {
		return true
	}
	return strings.HasPrefix(err.Error(), "unknown command ")
}

// noArgs rejects positional arguments: on a command with subcommands as an
// unknown subcommand (with phantom's "did you mean", cmdutil.UnknownCommand),
// otherwise as an unexpected argument.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if cmd.HasAvailableSubCommands() {
		return usageErrorf("%s", cmdutil.UnknownCommand(cmd, args[0]))
	}
	return usageErrorf("%q takes no arguments, got %q", cmd.CommandPath(), strings.Join(args, " "))
}

// exactArgs requires n positional arguments, named for the message.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == len(names) {
			return nil
		}
		if len(args) < len(names) {
			return usageErrorf("%q needs %s", cmd.CommandPath(), strings.Join(names[len(args):], " "))
		}
		return usageErrorf("%q takes %d argument(s) (%s), got %d", cmd.CommandPath(), len(names), strings.Join(names, " "), len(args))
	}
}
