// Package exitcode maps errors to the process exit codes both CLIs document.
// Library code returns errors; only the CLI's Main turns them into a code.
package exitcode

import (
	"errors"
	"fmt"
)

// The codes of phantom's CLI contract (docs/architecture.md §6). stack uses the same
// numbers where the meaning matches and adds its own above them.
const (
	OK          = 0
	Failure     = 1
	Usage       = 2
	Unavailable = 3 // vault locked or key source unavailable
	NotFound    = 4
	Refused     = 5 // refused for safety
	// Interrupted is Ctrl-C (SIGINT) or SIGTERM: the command stopped at the
	// signal and said what it left. 130 is what shells report for a command
	// killed by SIGINT (128 + 2), so scripts read it the same either way.
	Interrupted = 130
)

// Error carries an exit code with an error.
type Error struct {
	Code int
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// New wraps err with code. A nil err stays nil.
func New(code int, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Code: code, Err: err}
}

// Errorf formats an error with code.
func Errorf(code int, format string, args ...any) error {
	return &Error{Code: code, Err: fmt.Errorf(format, args...)}
}

// Code returns the exit code carried by err: 0 for nil, the innermost Error's
// code when one is wrapped, else Failure.
func Code(err error) int {
	if err == nil {
		return OK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Failure
}

// Silent marks an error whose message was already shown; Main prints nothing.
type Silent struct{ Code int }

func (s Silent) Error() string { return fmt.Sprintf("exit status %d", s.Code) }
