package term

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	xterm "golang.org/x/term"
)

// readPassword reads one line without echo. Ctrl-C still reaches the
// process as SIGINT (x/term turns echo off, not signals), which cancels the
// command's context (shared/interrupt): the terminal is put back and
// ErrInterrupted returned, where x/term's ReadPassword alone would leave
// echo off. The abandoned read ends with the process.
func readPassword(ctx context.Context, fd int) ([]byte, error) {
	state, err := xterm.GetState(fd)
	if err != nil {
		return xterm.ReadPassword(fd)
	}
	b, err := whileWaiting(ctx, func() ([]byte, error) { return xterm.ReadPassword(fd) })
	if errors.Is(err, ErrInterrupted) {
		xterm.Restore(fd, state)
	}
	return b, err
}

// whileWaiting runs read and returns its result, or ErrInterrupted as soon
// as ctx is cancelled: a read from a terminal or a pipe does not return on
// a signal by itself. The read left behind ends with the process, which is
// about to exit.
func whileWaiting[T any](ctx context.Context, read func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := read()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, fmt.Errorf("%w: %w", ErrInterrupted, context.Cause(ctx))
	}
}

// ReadAll reads r to its end, or until ctx is cancelled (ErrInterrupted):
// a value piped on stdin by a writer that never closes it must not make
// Ctrl-C hang.
func ReadAll(ctx context.Context, r io.Reader) ([]byte, error) {
	return whileWaiting(ctx, func() ([]byte, error) { return io.ReadAll(r) })
}

// ErrNoTTY is returned by prompts when there is no terminal to ask on.
var ErrNoTTY = errors.New("no interactive terminal")

// ErrCancelled is returned when the user interrupts or declines a prompt.
var ErrCancelled = errors.New("cancelled")

// ReadSecret prints prompt on stderr and reads one line from the terminal
// without echo. It refuses when stdin is not a terminal: a secret typed into
// a pipe would be visible to whatever wrote the pipe.
// Ctrl-C (ctx cancelled) returns ErrInterrupted.
func (s *IOStreams) ReadSecret(ctx context.Context, prompt string) ([]byte, error) {
	if !s.stdinTTY {
		return nil, ErrNoTTY
	}
	if s.SecretReader != nil {
		return s.SecretReader(ctx, prompt)
	}
	fmt.Fprint(s.ErrOut, prompt)
	var (
		b   []byte
		err error
	)
	if s.ttyIn != nil {
		b, err = readPassword(ctx, int(s.ttyIn.Fd()))
	} else {
		// Test streams marked as a TTY: read a plain line.
		var line string
		line, err = whileWaiting(ctx, func() (string, error) {
			line, err := bufio.NewReader(s.In).ReadString('\n')
			if err == io.EOF && line != "" {
				err = nil
			}
			return line, err
		})
		b = []byte(strings.TrimRight(line, "\r\n"))
	}
	fmt.Fprintln(s.ErrOut)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, ErrCancelled
		}
		return nil, err
	}
	return b, nil
}

// ReadLine prints prompt on stderr and reads one visible line from stdin.
// Ctrl-C (ctx cancelled) returns ErrInterrupted: in a terminal's line mode
// the signal does not end the read by itself.
func (s *IOStreams) ReadLine(ctx context.Context, prompt string) (string, error) {
	if !s.stdinTTY {
		return "", ErrNoTTY
	}
	fmt.Fprint(s.ErrOut, prompt)
	line, err := whileWaiting(ctx, func() (string, error) { return readLine(s.In) })
	if errors.Is(err, ErrInterrupted) {
		fmt.Fprintln(s.ErrOut) // the error goes on its own line, not after the prompt
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			return "", ErrCancelled
		}
		return "", err
	}
	return line, nil
}

// ConfirmTyped asks the user to type want exactly; anything else cancels.
// It is the gate for operations that show or restore plaintext.
func (s *IOStreams) ConfirmTyped(ctx context.Context, question, want string) error {
	if !s.CanPrompt() {
		return ErrNoTTY
	}
	got, err := s.ReadLine(ctx, fmt.Sprintf("%s\nType %q to continue: ", question, want))
	if err != nil {
		return err
	}
	if strings.TrimSpace(got) != want {
		return ErrCancelled
	}
	return nil
}

// readLine reads up to a newline one byte at a time so that nothing past the
// line is consumed from a shared stdin.
func readLine(r io.Reader) (string, error) {
	var sb strings.Builder
	var b [1]byte
	for {
		n, err := r.Read(b[:])
		if n == 1 {
			if b[0] == '\n' {
				return strings.TrimRight(sb.String(), "\r"), nil
			}
			sb.WriteByte(b[0])
		}
		if err != nil {
			if err == io.EOF && sb.Len() > 0 {
				return strings.TrimRight(sb.String(), "\r"), nil
			}
			return "", err
		}
	}
}

// ContextPrompter is s's prompts bound to one command's context, for code
// that takes a prompter without a context parameter (stack's providers,
// providers.Prompter): Ctrl-C still ends a prompt with ErrInterrupted.
type ContextPrompter struct {
	s   *IOStreams
	ctx context.Context
}

// Prompter binds s's prompts to ctx, the command's context.
func (s *IOStreams) Prompter(ctx context.Context) ContextPrompter {
	return ContextPrompter{s: s, ctx: ctx}
}

func (p ContextPrompter) CanPrompt() bool { return p.s.CanPrompt() }

func (p ContextPrompter) ReadSecret(prompt string) ([]byte, error) {
	return p.s.ReadSecret(p.ctx, prompt)
}

func (p ContextPrompter) ReadLine(prompt string) (string, error) {
	return p.s.ReadLine(p.ctx, prompt)
}
