// Package cli is phantom's command-line interface: one file per command, each
// with an Options struct and a run function that reads and writes only
// through the Factory's streams, so tests run the real CLI in-process.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"phantomstack.dev/shared/exitcode"
	"phantomstack.dev/shared/interrupt"
	"phantomstack.dev/shared/jsonout"
	"phantomstack.dev/shared/term"
)

// Main runs phantom with args (args[0] is the program name) and returns the
// process exit code. It is the only place errors become exit codes. ctx is
// the one main made (shared/interrupt): Ctrl-C cancels it, and every
// command reads it from cmd.Context().
func Main(ctx context.Context, args []string, in io.Reader, out, errOut io.Writer) int {
	environ := isolateTLSAndProxyEnv()
	f := NewFactory(term.System(in, out, errOut))
	f.Environ = func() []string { return slices.Clone(environ) }
	if code, ok := forward(ctx, f, args[1:]); ok {
		return code
	}
	return RunContext(ctx, f, args[1:])
}

// tlsProxyEnv are the variables through which whoever sets phantom's
// environment decides whom phantom's own connections trust and go
// through. With SSL_CERT_FILE naming its CA and HTTPS_PROXY its CONNECT
// proxy, an agent received every key a built-in route sent
// (docs/security.md). phantom's connections use the system roots and
// connect directly; a route that needs a CA or a proxy names them in its
// approved [routes.NAME] table.
var tlsProxyEnv = []string{"SSL_CERT_FILE", "SSL_CERT_DIR",
	"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "all_proxy", "no_proxy"}

// isolateTLSAndProxyEnv removes tlsProxyEnv from this process's environment
// before anything reads it (crypto/x509 loads the system roots, and
// net/http the proxy settings, once, on first use) and returns the
// environment as it was: a child started by exec still gets them.
func isolateTLSAndProxyEnv() []string {
	environ := os.Environ()
	for _, k := range tlsProxyEnv {
		os.Unsetenv(k)
	}
	return environ
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
	root.SetOut(f.IO.Out) // --help and completion scripts are what the user asked for
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
// its parent's), else what holds for every phantom command: each file is
// written whole (a temporary file renamed over it, docs/architecture.md §3),
// so a Ctrl-C never leaves one half-written.
func interruptedState(cmd *cobra.Command) string {
	for c := cmd; c != nil; c = c.Parent() {
		if s := c.Annotations[annotationInterrupted]; s != "" {
			return s
		}
	}
	return "no file was left half-written: phantom replaces the vault and env files whole, so each is as it was or fully updated"
}

// usageError marks a command-line mistake (exit 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return exitcode.New(exitcode.Usage, usageError{fmt.Errorf(format, args...)})
}

// isUsageError recognises cobra's own flag and argument errors, which are
// plain errors with fixed wording.
func isUsageError(err error) bool {
	var u usageError
	if errors.As(err, &u) {
		return true
	}
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "flag needs an argument", "invalid argument", "accepts ", "requires at least", "requires at most", "requires exactly", "if any flags in the group", "none of the others can be"} {
		if strings.HasPrefix(msg, p) || strings.Contains(msg, " "+p) {
			return true
		}
	}
	return false
}

// getenv is the process environment; tests replace Factory.Env instead.
var getenv = os.Getenv
