package jsonout

import (
	"io"

	"github.com/spf13/cobra"
)

// annotation marks a --json flag registered by AddFlag, so Requested (and
// the test that walks both command trees) can tell it from a stray one.
const annotation = "phantomstack.dev/shared/jsonout"

// AddFlag registers --json on cmd, bound to p. usage says what the document
// holds; "" gives "print JSON". Every command of both binaries that prints
// data declares --json through here, so the failure document below covers
// all of them.
func AddFlag(cmd *cobra.Command, p *bool, usage string) {
	if usage == "" {
		usage = "print JSON"
	}
	cmd.Flags().BoolVar(p, "json", false, usage)
	// SetAnnotation fails only for an unknown flag; "json" was just added.
	_ = cmd.Flags().SetAnnotation("json", annotation, []string{"true"})
}

// Registered reports whether cmd's --json was declared with AddFlag.
func Registered(cmd *cobra.Command) bool {
	fl := cmd.Flags().Lookup("json")
	return fl != nil && len(fl.Annotations[annotation]) > 0
}

// Requested reports whether cmd has an AddFlag --json and it is on.
func Requested(cmd *cobra.Command) bool {
	return Registered(cmd) && cmd.Flags().Lookup("json").Value.String() == "true"
}

// Failure is stdout's document when a command run with --json fails before
// it printed its result: the error, as stderr also says it, and the exit
// code. A command whose result describes its own failure (stack doctor's
// report, phantom audit verify) prints that instead.
type Failure struct {
	Error    string `json:"error"`
	ExitCode int    `json:"exit_code"`
}

// Stdout is what a CLI gives its commands as stdout once it knows the
// command: Track wraps it when the command asked for --json, so that
// WriteFailure can tell whether a document was already printed.
type Stdout struct {
	w       io.Writer
	written bool
}

func (s *Stdout) Write(p []byte) (int, error) {
	if len(p) > 0 {
		s.written = true
	}
	return s.w.Write(p)
}

// Track returns out wrapped in a *Stdout when cmd asked for --json, and out
// itself otherwise (a command without --json may hand its stdout, an
// *os.File, to a child process, which a wrapper would turn into a pipe).
func Track(cmd *cobra.Command, out io.Writer) io.Writer {
	if !Requested(cmd) {
		return out
	}
	if _, ok := out.(*Stdout); ok {
		return out
	}
	return &Stdout{w: out}
}

// WriteFailure prints the Failure document for err on out when cmd asked
// for --json and nothing has been printed on out yet (out is Track's). It
// does nothing otherwise: without --json, stdout is not JSON; after a
// result, a second document would make stdout unparseable.
func WriteFailure(out io.Writer, cmd *cobra.Command, err error, code int) error {
	s, ok := out.(*Stdout)
	if !ok || s.written || cmd == nil || !Requested(cmd) {
		return nil
	}
	return Write(s, Failure{Error: err.Error(), ExitCode: code})
}

// CheckTree walks a command tree and returns what breaks the rule above:
// a runnable command that is not in noData (path → why it prints no data)
// without an AddFlag --json, one in noData with a --json, and a noData
// entry that names no command. Both binaries' tests call it.
func CheckTree(root *cobra.Command, noData map[string]string) []string {
	var problems []string
	seen := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		path := c.CommandPath()
		seen[path] = true
		_, exempt := noData[path]
		switch {
		case !c.Runnable() || c.Name() == "help":
		case exempt && c.Flags().Lookup("json") != nil:
			problems = append(problems, path+" has --json but is listed as printing no data")
		case !exempt && !Registered(c):
			problems = append(problems, path+": --json missing or not declared with jsonout.AddFlag")
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
	for path := range noData {
		if !seen[path] {
			problems = append(problems, "listed as printing no data but not a command: "+path)
		}
	}
	return problems
}
