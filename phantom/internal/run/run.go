// Package run starts the child of `phantom exec` the way a shell would: it
// inherits phantom's terminal and streams, receives every signal phantom
// receives, and its exit status becomes phantom's (128+N for a death by
// signal N, 127 for a command that does not exist, 126 for one that cannot
// be executed).
//
// A masked stream (phantom exec masks both unless --no-masking, on a
// terminal too) reaches the child as a pipe, and its output is masked on
// the way out: every secret value becomes its phm token, even across write
// boundaries. The child then sees no terminal on stdout/stderr
// (docs/decisions.md, "Masking on a terminal").
package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"phantomstack.dev/phantom/internal/scrub"
)

// Exit statuses a shell uses when it cannot run a command.
const (
	ExitNotFound      = 127
	ExitNotExecutable = 126
)

// drainGrace is how long, once the child has exited, phantom keeps reading
// masked output that is still arriving. What the child wrote before it
// exited is already in the pipe and is read at once; the grace only lets a
// last burst through. A background grandchild that still holds the pipe
// (`sleep 60 &`) does not keep phantom waiting: like `op run` and
// `dotenvx run`, phantom returns when the child exits (docs/decisions.md,
// "exec returns when the child exits").
const drainGrace = 50 * time.Millisecond

// drainMax bounds the whole drain after the child exits, for a grandchild
// that keeps writing. The grace is renewed before every read, so the
// child's last output (at most one pipe buffer) is never cut off by a slow
// reader of phantom's own stdout; only a pipe that stays empty for
// drainGrace, or drainMax in all, ends the drain.
const drainMax = 2 * time.Second

// Command is one child process.
type Command struct {
	Args []string // Args[0] is looked up in PATH from Env
	Env  []string
	Dir  string

	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Mask, when set, masks the streams listed in MaskStdout/MaskStderr.
	Mask                   *scrub.Replacer
	MaskStdout, MaskStderr bool

	// ForwardTerminalSignals also forwards SIGINT and SIGQUIT. Leave it off
	// when the child shares phantom's terminal: the terminal already sent
	// them to the whole foreground process group, and a second copy makes
	// many programs quit without cleaning up.
	ForwardTerminalSignals bool
}

// StartError says the command could not be started at all; Code is the
// shell's status for it.
type StartError struct {
	Name string
	Code int
	Err  error
}

func (e *StartError) Error() string {
	switch e.Code {
	case ExitNotFound:
		return fmt.Sprintf("%s: command not found", e.Name)
	case ExitNotExecutable:
		return fmt.Sprintf("%s: permission denied (not executable)", e.Name)
	}
	return fmt.Sprintf("%s: %v", e.Name, e.Err)
}

func (e *StartError) Unwrap() error { return e.Err }

// Run starts the child, waits for it, and returns its exit status. err is
// non-nil only when the child could not be started (a *StartError) or its
// output could not be written.
func (c *Command) Run(ctx context.Context) (int, error) {
	if len(c.Args) == 0 {
		return ExitNotFound, &StartError{Code: ExitNotFound, Err: errors.New("no command")}
	}
	path, code := lookPath(c.Args[0], c.Env)
	if code != 0 {
		return code, &StartError{Name: c.Args[0], Code: code, Err: fs.ErrNotExist}
	}
	cmd := exec.Command(path, c.Args[1:]...)
	cmd.Args[0] = c.Args[0]
	cmd.Env = c.Env
	cmd.Dir = c.Dir
	cmd.Stdin = c.Stdin

	var readEnds []*os.File
	var exitedAt atomic.Int64 // unix nanoseconds; 0 while the child runs
	var copies sync.WaitGroup
	var copyErr error
	var copyMu sync.Mutex
	attach := func(dst io.Writer, mask bool) (io.Writer, *os.File, error) {
		if !mask || c.Mask == nil || c.Mask.Len() == 0 {
			return dst, nil, nil
		}
		// A pipe of our own (not exec's) so we know when the child and
		// every grandchild holding it have finished writing.
		pr, pw, err := os.Pipe()
		if err != nil {
			return nil, nil, err
		}
		mw := c.Mask.NewWriter(dst)
		readEnds = append(readEnds, pr)
		copies.Add(1)
		go func() {
			defer copies.Done()
			err := drainCopy(mw, pr, &exitedAt)
			if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, os.ErrClosed) {
				err = nil // the child exited and the drain ended; see below
			}
			// Close flushes the bytes the masker held back (a possible
			// start of a value), masked, whether or not the copy ended
			// at end of file.
			if cerr := mw.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				copyMu.Lock()
				if copyErr == nil {
					copyErr = err
				}
				copyMu.Unlock()
			}
		}()
		return pw, pw, nil
	}
	var childEnds []*os.File
	out, pw, err := attach(c.Stdout, c.MaskStdout)
	if err != nil {
		return 1, err
	}
	if pw != nil {
		childEnds = append(childEnds, pw)
	}
	cmd.Stdout = out
	errOut, pw, err := attach(c.Stderr, c.MaskStderr)
	if err != nil {
		return 1, err
	}
	if pw != nil {
		childEnds = append(childEnds, pw)
	}
	cmd.Stderr = errOut

	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, forwarded...)
	// SIGINT and SIGQUIT are always caught, forwarded or not, so phantom
	// outlives the child and reports its status instead of dying first.
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGQUIT)
	defer signal.Stop(sigs)

	if err := cmd.Start(); err != nil {
		for _, f := range childEnds {
			f.Close()
		}
		for _, f := range readEnds {
			f.Close()
		}
		copies.Wait()
		code := 1
		switch {
		case errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EACCES):
			code = ExitNotExecutable
		case errors.Is(err, fs.ErrNotExist):
			code = ExitNotFound
		}
		return code, &StartError{Name: c.Args[0], Code: code, Err: err}
	}
	// The child holds its own copies of the write ends now.
	for _, f := range childEnds {
		f.Close()
	}

	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				if !c.ForwardTerminalSignals && (s == syscall.SIGINT || s == syscall.SIGQUIT) {
					continue
				}
				cmd.Process.Signal(s)
			case <-ctx.Done():
				stopChild(cmd.Process)
				ctx = context.Background()
			case <-done:
				return
			}
		}
	}()
	werr := cmd.Wait()
	close(done)
	// A grandchild left running may hold the pipes open forever. Everything
	// the child wrote is in the pipe by now; read it, then stop at the
	// deadline instead of at end of file. The deadline stops only a read
	// that waits: a read that finds data returns it.
	exitedAt.Store(time.Now().UnixNano())
	for _, f := range readEnds {
		if err := f.SetReadDeadline(time.Now().Add(drainGrace)); err != nil {
			// Not pollable (never on Linux or macOS): closing ends the copy.
			time.AfterFunc(drainGrace, func() { f.Close() })
		}
	}
	copies.Wait()
	for _, f := range readEnds {
		f.Close()
	}

	code = 0
	if werr != nil {
		var ee *exec.ExitError
		if !errors.As(werr, &ee) {
			return 1, werr
		}
		code = ExitCode(ee.ProcessState)
	}
	if copyErr != nil {
		return code, fmt.Errorf("writing the command's output: %w", copyErr)
	}
	return code, nil
}

// drainCopy copies r to w until end of file or, once the child has exited
// (exitedAt set), until a read waits longer than drainGrace or drainMax has
// passed since the exit. The deadline is set before each read, so bytes
// already in the pipe are always read, however slowly w takes them.
func drainCopy(w io.Writer, r *os.File, exitedAt *atomic.Int64) error {
	buf := make([]byte, 32<<10)
	for {
		if at := exitedAt.Load(); at != 0 {
			if time.Since(time.Unix(0, at)) > drainMax {
				return os.ErrDeadlineExceeded
			}
			r.SetReadDeadline(time.Now().Add(drainGrace))
		}
		n, rerr := r.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

// ExitCode is a shell's $? for a finished process.
func ExitCode(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}
