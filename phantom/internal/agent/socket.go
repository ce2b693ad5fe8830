package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Dial connects to the agent socket at path, checks the process serving
// it (checkServer: same uid, not traced, not dumpable, same executable
// where the kernel shows it) before sending anything, then exchanges the
// hello. It returns ErrNotRunning (wrapped) when no agent answers and an
// *ImpostorError when the server fails a check.
func Dial(ctx context.Context, path string) (*Conn, error) {
	if err := supported(); err != nil {
		return nil, err
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("%w (nothing answers on %s)", ErrNotRunning, path)
		}
		return nil, fmt.Errorf("connecting to the phantom agent at %s: %w", path, err)
	}
	uc := nc.(*net.UnixConn)
	peer, err := peerCred(uc)
	if err != nil {
		uc.Close()
		return nil, &ImpostorError{Path: path, Reason: "the kernel does not say which process serves the socket: " + err.Error()}
	}
	if reason := checkServer(peer); reason != "" {
		uc.Close()
		return nil, &ImpostorError{Path: path, PID: peer.PID, Reason: reason}
	}
	c := newConn(uc, peer)
	deadline := time.Now().Add(helloTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	c.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	herr := clientHello(c)
	if !stop() && herr == nil {
		herr = ctx.Err()
	}
	if herr != nil {
		c.Close()
		return nil, herr
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

// Listener is the agent's socket. Accept serves only peers of the agent's
// own uid.
type Listener struct {
	// OnRefused, when set, is called for each connection Accept refused
	// because its peer is another user (or the kernel would not say who
	// it is: UID -1), so the agent can audit it.
	OnRefused func(p Peer)
	// OnError, when set, is called for each connection Accept dropped
	// because its hello failed (a probe, an old phantom, a client that
	// said nothing for helloTimeout).
	OnError func(p Peer, err error)

	ul    *net.UnixListener
	path  string
	made  os.FileInfo // the socket file as created, to remove only our own
	close sync.Once
}

// Listen creates the agent socket at path. The directory is created 0700,
// or checked (not a symbolic link, ours, tightened to 0700 when it is
// group or world accessible); the socket is 0600. A socket file nobody
// answers on (left by an agent that was killed) is removed; a live one
// makes Listen return ErrRunning (wrapped).
//
// Two agents starting at the same instant for the same vault can both see
// the socket stale; the loser's socket is replaced. `phantom unlock` is a
// human at a terminal, so this is not guarded further.
func Listen(path string) (*Listener, error) {
	if err := supported(); err != nil {
		return nil, err
	}
	if err := prepareDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	fi, err := os.Lstat(path)
	switch {
	case err == nil:
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("%s exists and is not a socket, so phantom will not replace it: look at what it is, remove it (`rm %s`) and try again", path, path)
		}
		nc, derr := net.DialTimeout("unix", path, 2*time.Second)
		if derr == nil {
			nc.Close()
			return nil, fmt.Errorf("%w: a process answers on %s", ErrRunning, path)
		}
		if !errors.Is(derr, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("cannot tell whether an agent still serves %s: %w", path, derr)
		}
		// Stale: the agent that made it is gone.
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("removing the stale agent socket %s: %w", path, err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("checking the agent socket %s: %w", path, err)
	}
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("%w: %s was created by another process just now", ErrRunning, path)
		}
		return nil, fmt.Errorf("creating the agent socket %s: %w", path, err)
	}
	// Close removes the file itself, and only if it is still ours.
	ul.SetUnlinkOnClose(false)
	made, err := os.Lstat(path)
	if err == nil {
		err = os.Chmod(path, 0o600)
	}
	if err != nil {
		ul.Close()
		os.Remove(path)
		return nil, fmt.Errorf("securing the agent socket %s: %w", path, err)
	}
	return &Listener{ul: ul, path: path, made: made}, nil
}

// Accept waits for the next connection from a process of the agent's own
// uid and completes the hello with it. Connections from other users are
// closed at once (OnRefused); connections whose hello fails are closed
// (OnError). It returns an error only when the listener fails or is
// closed. The hello is bounded by helloTimeout.
func (l *Listener) Accept() (*Conn, error) {
	for {
		uc, err := l.ul.AcceptUnix()
		if err != nil {
			return nil, err
		}
		peer, err := peerCred(uc)
		if err != nil {
			peer = Peer{UID: -1}
		}
		if err != nil || peer.UID != os.Geteuid() {
			uc.Close()
			if l.OnRefused != nil {
				l.OnRefused(peer)
			}
			continue
		}
		c := newConn(uc, peer)
		c.SetDeadline(time.Now().Add(helloTimeout))
		if err := serverHello(c); err != nil {
			c.Close()
			if l.OnError != nil {
				l.OnError(peer, err)
			}
			continue
		}
		c.SetDeadline(time.Time{})
		return c, nil
	}
}

// Close stops listening and removes the socket file if it is still the one
// Listen created (same device and inode): an agent that lost its socket to
// a newer one must not remove the newer one. Idempotent.
func (l *Listener) Close() error {
	var err error
	l.close.Do(func() {
		err = l.ul.Close()
		if fi, serr := os.Lstat(l.path); serr == nil && os.SameFile(fi, l.made) {
			if rerr := os.Remove(l.path); rerr != nil && err == nil {
				err = rerr
			}
		}
	})
	return err
}

// Addr is the socket's path.
func (l *Listener) Addr() string { return l.path }
