package agent

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// helloTimeout bounds the hello on both sides, so a peer that connects and
// says nothing cannot hold up the agent's accept loop or a CLI for long.
const helloTimeout = 5 * time.Second

// Conn is one framed connection between the CLI and the agent. Send and
// SendJSON may be called from several goroutines at once; Recv from one.
type Conn struct {
	nc   net.Conn
	peer Peer

	wmu sync.Mutex // one frame is one Write: frames never interleave

	rerr error // sticky: after a bad frame the stream is out of step
}

func newConn(nc net.Conn, peer Peer) *Conn { return &Conn{nc: nc, peer: peer} }

// Send writes one frame. A payload above MaxFrame is refused before
// anything is written (split it: data frames may be sent in pieces).
func (c *Conn) Send(typ byte, payload []byte) error {
	if len(payload) > MaxFrame {
		return fmt.Errorf("agent protocol: frame %q payload of %d bytes is above the %d-byte limit", typ, len(payload), MaxFrame)
	}
	buf := make([]byte, 5+len(payload))
	binary.BigEndian.PutUint32(buf, uint32(1+len(payload)))
	buf[4] = typ
	copy(buf[5:], payload)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := c.nc.Write(buf)
	return err
}

// SendJSON writes one frame whose payload is v as JSON.
func (c *Conn) SendJSON(typ byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("agent protocol: encoding frame %q: %w", typ, err)
	}
	return c.Send(typ, b)
}

// readChunk is how much Recv allocates at a time for a frame's body, so a
// length prefix that lies costs no more memory than the bytes that arrive.
const readChunk = 64 << 10

// Recv reads one frame. A length prefix of 0 or above MaxFrame+1 is
// refused (ErrEmptyFrame, ErrFrameTooLarge) before its body is read; the
// connection is then out of step and every later Recv returns the same
// error, so the caller should close it. A clean end of stream between
// frames is io.EOF; one inside a frame is io.ErrUnexpectedEOF.
func (c *Conn) Recv() (typ byte, payload []byte, err error) {
	if c.rerr != nil {
		return 0, nil, c.rerr
	}
	typ, payload, err = readFrame(c.nc)
	if err != nil {
		c.rerr = err
	}
	return typ, payload, err
}

func readFrame(r io.Reader) (byte, []byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	switch {
	case n == 0:
		return 0, nil, ErrEmptyFrame
	case n > MaxFrame+1:
		return 0, nil, ErrFrameTooLarge
	}
	body := make([]byte, 0, min(int(n), readChunk))
	for len(body) < int(n) {
		want := min(int(n)-len(body), readChunk)
		body = append(body, make([]byte, want)...)
		if _, err := io.ReadFull(r, body[len(body)-want:]); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, nil, err
		}
	}
	return body[0], body[1:], nil
}

// Peer is the process at the other end, as the kernel reported it when
// the connection was made.
func (c *Conn) Peer() Peer { return c.peer }

// Close closes the connection.
func (c *Conn) Close() error { return c.nc.Close() }

// SetDeadline sets the read and write deadline (the zero time clears it).
func (c *Conn) SetDeadline(t time.Time) error { return c.nc.SetDeadline(t) }

// RecvJSON reads one frame of type want and decodes its JSON payload into
// v. A TypeFailure frame is returned as an error carrying its message.
func (c *Conn) RecvJSON(want byte, v any) error {
	typ, payload, err := c.Recv()
	if err != nil {
		return err
	}
	if typ == TypeFailure && want != TypeFailure {
		var f Failure
		if json.Unmarshal(payload, &f) != nil || f.Error == "" {
			f.Error = "the other side failed without saying why"
		}
		return &RemoteError{Msg: f.Error}
	}
	if typ != want {
		return fmt.Errorf("agent protocol: expected frame %q, got %q", want, typ)
	}
	if err := json.Unmarshal(payload, v); err != nil {
		return fmt.Errorf("agent protocol: frame %q: %w", typ, err)
	}
	return nil
}

// RemoteError is a TypeFailure the other side sent.
type RemoteError struct{ Msg string }

func (e *RemoteError) Error() string { return e.Msg }

// clientHello sends our hello and checks the agent's (the client side).
func clientHello(c *Conn) error {
	if err := c.SendJSON(TypeHello, Hello{Version: ProtocolVersion, PID: os.Getpid()}); err != nil {
		return fmt.Errorf("sending hello to the phantom agent: %w", err)
	}
	var h Hello
	if err := c.RecvJSON(TypeHello, &h); err != nil {
		var re *RemoteError
		if errors.As(err, &re) {
			return fmt.Errorf("the phantom agent (process %d) refused this phantom: %s", c.peer.PID, re.Msg)
		}
		return fmt.Errorf("no hello from the phantom agent (process %d): %w", c.peer.PID, err)
	}
	if h.Version != ProtocolVersion {
		msg := versionMismatch(h.Version, c.peer.PID)
		_ = c.SendJSON(TypeFailure, Failure{Error: msg})
		return errors.New(msg)
	}
	return nil
}

// serverHello reads the client's hello and answers it (the agent side).
func serverHello(c *Conn) error {
	var h Hello
	if err := c.RecvJSON(TypeHello, &h); err != nil {
		return fmt.Errorf("no hello from client process %d: %w", c.peer.PID, err)
	}
	if h.Version != ProtocolVersion {
		msg := fmt.Sprintf("this phantom agent (process %d) speaks protocol version %d and the phantom that connected speaks version %d: they are different phantom builds. Stop the agent with `kill %d`, then run `phantom unlock` again with the phantom you use.", os.Getpid(), ProtocolVersion, h.Version, os.Getpid())
		_ = c.SendJSON(TypeFailure, Failure{Error: msg})
		return errors.New(msg)
	}
	return c.SendJSON(TypeHello, Hello{Version: ProtocolVersion, PID: os.Getpid()})
}

func versionMismatch(theirs, pid int) string {
	return fmt.Sprintf("the phantom agent (process %d) speaks protocol version %d and this phantom speaks version %d: they are different phantom builds. Stop the agent with `kill %d`, then run `phantom unlock` again.", pid, theirs, ProtocolVersion, pid)
}
