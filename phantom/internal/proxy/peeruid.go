package proxy

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
)

// The proxy serves only the OS user who started it (docs/security.md): the
// session token is in the child's environment, but a program may put a
// base URL in its argv, where `ps` shows it to every user of the machine.
// Where the platform can tell who owns the other end of a loopback
// connection (Linux: peeruid_linux.go), a connection from any other user is
// closed before a byte of it is read. Elsewhere the session token is the
// only protection (docs/decisions.md, "The proxy serves only its owner").

// PeerRefusal is a connection the proxy closed unread because its peer
// socket is not owned by the user running the proxy. It never carries a
// value (nothing of the connection was read).
type PeerRefusal struct {
	Remote string // the peer's address, e.g. 127.0.0.1:51234
	UID    int    // the peer socket's owner; -1 when it could not be found
	Owner  int    // the uid the proxy serves
	Reason string // why, for the audit log
}

// errPeerRefused ends a connection from another user. http.Server treats a
// read *net.OpError as the client going away: it closes the connection and
// writes nothing (not even a 400), which is what a refusal should do.
var errPeerRefused = errors.New("connection refused: the peer is not the user running the proxy")

// peerLookup returns the uid owning the peer socket of a loopback TCP
// connection, given the connection's local and remote address as the proxy
// sees them. nil where the platform cannot tell (then no check runs).
// Tests replace it.
var peerLookup func(local, remote netip.AddrPort) (uid int, err error)

// peerLookupReady reports whether peerLookup can work on this machine
// (Linux: /proc/net/tcp is readable); Listen fails closed when it cannot.
var peerLookupReady func() error

// proxyOwner is the uid the proxy serves. Tests replace it.
var proxyOwner = os.Geteuid

// ownerOnly wraps ln so that every accepted connection is checked against
// the proxy's owner before anything is read from it; with no lookup on this
// platform it returns ln as it is. When the check cannot work it closes ln
// and fails: the proxy does not serve what it cannot attribute.
func ownerOnly(ln net.Listener, refused func(PeerRefusal), logf func(string, ...any)) (net.Listener, error) {
	if peerLookup == nil {
		return ln, nil
	}
	if peerLookupReady != nil {
		if err := peerLookupReady(); err != nil {
			ln.Close()
			return nil, fmt.Errorf("cannot tell which user opens a connection to the proxy (%v), and it serves only the user who started it; phantom needs a readable /proc/net/tcp (a normal Linux /proc mount)", err)
		}
	}
	return &ownerListener{Listener: ln, owner: proxyOwner(), lookup: peerLookup, refused: refused, logf: logf}, nil
}

type ownerListener struct {
	net.Listener
	owner   int
	lookup  func(local, remote netip.AddrPort) (int, error)
	refused func(PeerRefusal)
	logf    func(string, ...any)
}

// Accept hands every connection to http.Server unchecked: the check runs in
// the connection's own goroutine at its first Read or Write (as tls.Conn
// does its handshake), so one slow lookup never holds up the accept loop
// and parallel connections are checked in parallel.
func (l *ownerListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &ownerConn{Conn: c, l: l}, nil
}

type ownerConn struct {
	net.Conn
	l    *ownerListener
	once sync.Once
	err  error
}

// check decides once whether the peer may be served; a refused connection
// is reported and closed at once (its unread request is discarded, the
// peer sees the connection reset or closed, never an answer).
func (c *ownerConn) check() error {
	c.once.Do(func() {
		uid, reason := -1, ""
		local, lok := addrPortOf(c.Conn.LocalAddr())
		remote, rok := addrPortOf(c.Conn.RemoteAddr())
		switch {
		case !lok || !rok:
			reason = "not a TCP connection"
		default:
			u, err := c.l.lookup(local, remote)
			switch {
			case err != nil:
				reason = "peer socket not found: " + err.Error()
			case u != c.l.owner:
				uid, reason = u, fmt.Sprintf("peer socket owned by uid %d, the proxy serves uid %d", u, c.l.owner)
			default:
				return
			}
		}
		c.err = &net.OpError{Op: "read", Net: "tcp", Source: c.Conn.LocalAddr(), Addr: c.Conn.RemoteAddr(), Err: errPeerRefused}
		// Reported before the close, so the refusal is on record by the
		// time the peer sees its connection end.
		if c.l.logf != nil {
			c.l.logf("proxy: refused a connection from %s: %s", c.Conn.RemoteAddr(), reason)
		}
		if c.l.refused != nil {
			c.l.refused(PeerRefusal{Remote: c.Conn.RemoteAddr().String(), UID: uid, Owner: c.l.owner, Reason: reason})
		}
		c.Conn.Close()
	})
	return c.err
}

func (c *ownerConn) Read(p []byte) (int, error) {
	if err := c.check(); err != nil {
		return 0, err
	}
	return c.Conn.Read(p)
}

func (c *ownerConn) Write(p []byte) (int, error) {
	if err := c.check(); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

func addrPortOf(a net.Addr) (netip.AddrPort, bool) {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.AddrPort{}, false
	}
	return ta.AddrPort(), true
}
