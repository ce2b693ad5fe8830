package agent

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

func pipe(t *testing.T) (*Conn, *Conn) {
	t.Helper()
	a, b := net.Pipe()
	ca, cb := newConn(a, Peer{}), newConn(b, Peer{})
	t.Cleanup(func() { ca.Close(); cb.Close() })
	deadline := time.Now().Add(10 * time.Second)
	ca.SetDeadline(deadline)
	cb.SetDeadline(deadline)
	return ca, cb
}

func TestFrameRoundTrip(t *testing.T) {
	a, b := pipe(t)
	frames := []struct {
		typ     byte
		payload []byte
	}{
		{TypeStdout, []byte("hello")},
		{TypeStdinEOF, nil},
		{TypeStdin, bytes.Repeat([]byte{0, 0xff, '\n'}, 1000)},
		{TypeStderr, bytes.Repeat([]byte("x"), MaxFrame)}, // the largest allowed
	}
	go func() {
		for _, f := range frames {
			if err := a.Send(f.typ, f.payload); err != nil {
				t.Error(err)
				return
			}
		}
		a.SendJSON(TypeQuit, map[string]int{"code": 3})
	}()
	for i, f := range frames {
		typ, payload, err := b.Recv()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if typ != f.typ || !bytes.Equal(payload, f.payload) {
			t.Fatalf("frame %d: got %q with %d bytes, want %q with %d", i, typ, len(payload), f.typ, len(f.payload))
		}
	}
	var q struct{ Code int }
	if err := b.RecvJSON(TypeQuit, &q); err != nil || q.Code != 3 {
		t.Fatalf("RecvJSON: %+v, %v", q, err)
	}
}

func TestSendRefusesOversizePayload(t *testing.T) {
	a, _ := pipe(t)
	// net.Pipe is synchronous: a Send that wrote anything would block
	// here with nobody reading, so returning at all shows nothing was written.
	err := a.Send(TypeStdout, make([]byte, MaxFrame+1))
	if err == nil || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("Send of MaxFrame+1 bytes: %v, want a refusal", err)
	}
}

func TestRecvRefusesBadLengths(t *testing.T) {
	for _, tc := range []struct {
		n    uint32
		want error
	}{
		{0, ErrEmptyFrame},
		{MaxFrame + 2, ErrFrameTooLarge},
		{1 << 31, ErrFrameTooLarge},
		{0xffffffff, ErrFrameTooLarge},
	} {
		a, b := pipe(t)
		go func() {
			var hdr [4]byte
			binary.BigEndian.PutUint32(hdr[:], tc.n)
			a.nc.Write(hdr[:]) // and no body: Recv must not wait for it
		}()
		_, _, err := b.Recv()
		if !errors.Is(err, tc.want) {
			t.Fatalf("length %d: %v, want %v", tc.n, err, tc.want)
		}
		// The stream is out of step: the error sticks.
		if _, _, err2 := b.Recv(); !errors.Is(err2, tc.want) {
			t.Fatalf("length %d: second Recv %v, want the same error", tc.n, err2)
		}
	}
}

func TestRecvTruncatedFrame(t *testing.T) {
	a, b := pipe(t)
	go func() {
		a.nc.Write([]byte{0, 0, 0, 10, 'O', 'a', 'b'})
		a.Close()
	}()
	if _, _, err := b.Recv(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated frame: %v, want io.ErrUnexpectedEOF", err)
	}
}

// readConn is a net.Conn that reads from fixed bytes (for FuzzRecv).
type readConn struct {
	net.Conn
	r io.Reader
}

func (c readConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// FuzzRecv: Recv on arbitrary bytes never panics, never returns a payload
// above MaxFrame, and the frames it returns are exactly the input's prefix.
func FuzzRecv(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 'i'})
	f.Add([]byte{0, 0, 0, 6, 'O', 'h', 'e', 'l', 'l', 'o', 0, 0, 0, 0})
	f.Add([]byte{0, 0x10, 0, 2, 'O'})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		c := newConn(readConn{r: bytes.NewReader(data)}, Peer{})
		var again bytes.Buffer
		for range len(data) + 1 {
			typ, payload, err := c.Recv()
			if err != nil {
				if !bytes.HasPrefix(data, again.Bytes()) {
					t.Fatalf("frames read are not a prefix of the input")
				}
				rest := data[again.Len():]
				switch {
				case errors.Is(err, io.EOF):
					if len(rest) != 0 {
						t.Fatalf("io.EOF with %d bytes unread", len(rest))
					}
				case errors.Is(err, io.ErrUnexpectedEOF):
					if len(rest) == 0 {
						t.Fatal("io.ErrUnexpectedEOF at a frame boundary")
					}
				case errors.Is(err, ErrEmptyFrame), errors.Is(err, ErrFrameTooLarge):
					n := binary.BigEndian.Uint32(rest)
					if (n == 0) != errors.Is(err, ErrEmptyFrame) || (n > 0 && n <= MaxFrame+1) {
						t.Fatalf("length %d refused with %v", n, err)
					}
				default:
					t.Fatalf("unexpected error %v", err)
				}
				if _, _, err2 := c.Recv(); err2 != err {
					t.Fatalf("error did not stick: %v then %v", err, err2)
				}
				return
			}
			if len(payload) > MaxFrame {
				t.Fatalf("payload of %d bytes", len(payload))
			}
			var hdr [5]byte
			binary.BigEndian.PutUint32(hdr[:], uint32(1+len(payload)))
			hdr[4] = typ
			again.Write(hdr[:])
			again.Write(payload)
		}
		t.Fatal("Recv did not reach the end of the input")
	})
}
