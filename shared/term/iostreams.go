// Package term holds the terminal plumbing both CLIs share: the I/O streams
// with TTY detection (so commands never touch os.Stdout directly), prompts,
// and the colour theme. Interactive UI goes to ErrOut; data goes to Out.
package term

import (
	"bytes"
	"context"
	"io"
	"os"

	xterm "golang.org/x/term"
)

// IOStreams are a command's standard streams plus what it needs to know about
// them. Tests build them with Test().
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	// SecretReader, when set, reads hidden input instead of the terminal:
	// phantom's agent asks the client that holds the terminal
	// (docs/phantom.md, "The agent").
	SecretReader func(ctx context.Context, prompt string) ([]byte, error)

	stdinTTY, stdoutTTY, stderrTTY bool
	colorEnabled                   bool
	// ttyIn is the file to read hidden input from when stdin is a terminal.
	ttyIn *os.File
}

// System returns streams for the given files, detecting terminals. Colour is
// on only when stderr is a terminal and NO_COLOR is unset.
func System(in io.Reader, out, errOut io.Writer) *IOStreams {
	s := &IOStreams{In: in, Out: out, ErrOut: errOut}
	if f, ok := in.(*os.File); ok && xterm.IsTerminal(int(f.Fd())) {
		s.stdinTTY = true
		s.ttyIn = f
	}
	if f, ok := out.(*os.File); ok && xterm.IsTerminal(int(f.Fd())) {
		s.stdoutTTY = true
	}
	if f, ok := errOut.(*os.File); ok && xterm.IsTerminal(int(f.Fd())) {
		s.stderrTTY = true
	}
	_, noColor := os.LookupEnv("NO_COLOR")
	s.colorEnabled = s.stderrTTY && !noColor && os.Getenv("TERM") != "dumb"
	return s
}

// Test returns streams backed by buffers, none of them terminals.
func Test() (*IOStreams, *bytes.Buffer, *bytes.Buffer, *bytes.Buffer) {
	in, out, errOut := &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut}, in, out, errOut
}

// IsStdinTTY reports whether stdin is an interactive terminal.
func (s *IOStreams) IsStdinTTY() bool { return s.stdinTTY }

// IsStdoutTTY reports whether stdout is an interactive terminal.
func (s *IOStreams) IsStdoutTTY() bool { return s.stdoutTTY }

// IsStderrTTY reports whether stderr is an interactive terminal.
func (s *IOStreams) IsStderrTTY() bool { return s.stderrTTY }

// CanPrompt reports whether the user can answer a prompt: stdin and stderr
// (where prompts are written) are both terminals.
func (s *IOStreams) CanPrompt() bool { return s.stdinTTY && s.stderrTTY }

// ColorEnabled reports whether decoration may be written to stderr.
func (s *IOStreams) ColorEnabled() bool { return s.colorEnabled }

// SetColor overrides colour detection: phantom's agent colours what it
// sends back as the client's terminal would (docs/phantom.md, "The agent").
func (s *IOStreams) SetColor(on bool) { s.colorEnabled = on }

// SetTTY overrides terminal detection; for tests of the interactive paths.
func (s *IOStreams) SetTTY(stdin, stdout, stderr bool) {
	s.stdinTTY, s.stdoutTTY, s.stderrTTY = stdin, stdout, stderr
}
