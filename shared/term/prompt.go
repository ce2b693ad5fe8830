package term

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	xterm "golang.org/x/term"
)

// readPassword reads one line without echo. Ctrl-C (SIGINT; the terminal
// still generates it) puts the terminal back and returns ErrInterrupted:
// x/term's ReadPassword alone would leave echo off when the signal kills
// the process mid-read. The abandoned read ends with the process.
func readPassword(fd int) ([]byte, error) {
	state, err := xterm.GetState(fd)
	if err != nil {
		return xterm.ReadPassword(fd)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	defer signal.Stop(sig)
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		b, err := xterm.ReadPassword(fd)
		done <- result{b, err}
	}()
	select {
	case r := <-done:
		return r.b, r.err
	case <-sig:
		xterm.Restore(fd, state)
		return nil, ErrInterrupted
	}
}

// ErrNoTTY is returned by prompts when there is no terminal to ask on.
var ErrNoTTY = errors.New("no interactive terminal")

// ErrCancelled is returned when the user interrupts or declines a prompt.
var ErrCancelled = errors.New("cancelled")

// ReadSecret prints prompt on stderr and reads one line from the terminal
// without echo. It refuses when stdin is not a terminal: a secret typed into
// a pipe would be visible to whatever wrote the pipe.
func (s *IOStreams) ReadSecret(prompt string) ([]byte, error) {
	if !s.stdinTTY {
		return nil, ErrNoTTY
	}
	fmt.Fprint(s.ErrOut, prompt)
	var (
		b   []byte
		err error
	)
	if s.ttyIn != nil {
		b, err = readPassword(int(s.ttyIn.Fd()))
	} else {
		// Test streams marked as a TTY: read a plain line.
		var line string
		line, err = bufio.NewReader(s.In).ReadString('\n')
		if err == io.EOF && line != "" {
			err = nil
		}
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
func (s *IOStreams) ReadLine(prompt string) (string, error) {
	if !s.stdinTTY {
		return "", ErrNoTTY
	}
	fmt.Fprint(s.ErrOut, prompt)
	line, err := readLine(s.In)
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
func (s *IOStreams) ConfirmTyped(question, want string) error {
	if !s.CanPrompt() {
		return ErrNoTTY
	}
	got, err := s.ReadLine(fmt.Sprintf("%s\nType %q to continue: ", question, want))
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
