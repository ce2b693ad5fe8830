// Package interrupt makes the one signal-aware context each binary's main
// creates and every command uses through cmd.Context(): Ctrl-C (SIGINT) or
// SIGTERM cancels it, the command stops where it is, and the CLI's Main
// reports what was left with exit code 130 (docs/architecture.md §9).
package interrupt

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"phantomstack.dev/shared/exitcode"
	"phantomstack.dev/shared/term"
)

// Signal is the cancellation cause of a context made by NotifyContext.
type Signal struct{ Sig os.Signal }

func (s *Signal) Error() string {
	if s.Sig == os.Interrupt {
		return "interrupted (Ctrl-C)"
	}
	return "interrupted (" + s.Sig.String() + ")"
}

// Grace is how long after the first signal further ones are absorbed. A
// terminal sends Ctrl-C to the whole process group and a parent (stack, a
// shell script) may forward the same signal: both arrive together and must
// count as one. A signal after Grace ends the process the default way, so a
// command that does not stop can still be killed with a second Ctrl-C.
const Grace = time.Second

// NotifyContext returns a context cancelled, with a *Signal cause, by the
// first SIGINT or SIGTERM. stop releases the signals; call it before exit.
//
// Code that must see a signal itself (phantom exec forwards it to its
// child, phantom start shuts its proxy down) registers its own
// signal.Notify as well: while it is registered, a later signal still goes
// to it and does not kill the process.
func NotifyContext(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	var once sync.Once
	release := func() { once.Do(func() { signal.Stop(sigs) }) }
	done := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			cancel(&Signal{Sig: s})
		case <-done:
			return
		}
		select {
		case <-time.After(Grace):
		case <-done:
		}
		release()
	}()
	var stopOnce sync.Once
	return ctx, func() {
		stopOnce.Do(func() {
			close(done)
			release()
			cancel(context.Canceled)
		})
	}
}

// Cause returns the signal that cancelled ctx, if one did.
func Cause(ctx context.Context) (*Signal, bool) {
	var s *Signal
	if errors.As(context.Cause(ctx), &s) {
		return s, true
	}
	return nil, false
}

// Message reports whether err ended a command because it was interrupted
// and, if so, the one line to print: the command's own message when it
// returned an exitcode.Interrupted error (it knows what it left: stack
// add's journal), else what interrupted it and state, the caller's
// description of what such a command leaves. Errors a command returns
// after Ctrl-C are consequences of it (a cancelled request, a child
// stopped by the same signal) and are not shown.
func Message(ctx context.Context, err error, state string) (string, bool) {
	if err == nil {
		return "", false
	}
	if exitcode.Code(err) == exitcode.Interrupted {
		return err.Error(), true
	}
	if _, bySignal := Cause(ctx); !bySignal && !errors.Is(err, term.ErrInterrupted) {
		return "", false
	}
	return By(ctx) + "; " + state, true
}

// By names what interrupted ctx's command, for messages: the signal when
// one did, else Ctrl-C (read as a key by a spinner, which owns the
// terminal, so no signal was sent).
func By(ctx context.Context) string {
	if s, ok := Cause(ctx); ok {
		return s.Error()
	}
	return "interrupted (Ctrl-C)"
}
