// TEMPORARY lead stub; replaced by wip/agent at merge.
package agent

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

const ProtocolVersion = 1

const (
	TypeHello        = 'H'
	TypeRun          = 'R'
	TypeRead         = 'r'
	TypeStdin        = 'I'
	TypeStdinEOF     = 'i'
	TypeStdout       = 'O'
	TypeStderr       = 'E'
	TypePrompt       = 'P'
	TypePromptReply  = 'p'
	TypePromptCancel = 'c'
	TypeSignal       = 'S'
	TypeExecPlan     = 'X'
	TypeChildStarted = 'C'
	TypeChildExited  = 'W'
	TypeQuit         = 'Q'
	TypeProve        = 'K'
	TypeProof        = 'k'
	TypeLock         = 'L'
	TypeFailure      = 'F'
)

const MaxFrame = 1 << 20

func SocketDir(env func(string) string, home string) string {
	if d := env("XDG_RUNTIME_DIR"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "phantom")
	}
	return filepath.Join(home, "run")
}

func SocketPath(env func(string) string, home, projectID string) string {
	s := sha256.Sum256([]byte(home + "\x00" + projectID))
	return filepath.Join(SocketDir(env, home), hex.EncodeToString(s[:8])+".sock")
}

var ErrNotRunning = errors.New("no phantom agent is running for this vault")
var ErrRunning = errors.New("a phantom agent already serves this socket")

type ImpostorError struct {
	Path   string
	PID    int
	Reason string
}

func (e *ImpostorError) Error() string { return fmt.Sprintf("impostor %s pid %d: %s", e.Path, e.PID, e.Reason) }

type Peer struct{ UID, PID int }

type Conn struct {
	c  net.Conn
	mu sync.Mutex
}

func (c *Conn) Send(typ byte, payload []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := make([]byte, 5+len(payload))
	binary.BigEndian.PutUint32(b, uint32(1+len(payload)))
	b[4] = typ
	copy(b[5:], payload)
	_, err := c.c.Write(b)
	return err
}

func (c *Conn) SendJSON(typ byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.Send(typ, b)
}

func (c *Conn) Recv() (byte, []byte, error) {
	var h [4]byte
	if _, err := io.ReadFull(c.c, h[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(h[:])
	if n < 1 || n > MaxFrame+1 {
		return 0, nil, errors.New("bad frame")
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(c.c, b); err != nil {
		return 0, nil, err
	}
	return b[0], b[1:], nil
}

func (c *Conn) Peer() Peer                     { return Peer{} }
func (c *Conn) Close() error                   { return c.c.Close() }
func (c *Conn) SetDeadline(t time.Time) error  { return c.c.SetDeadline(t) }

func Dial(ctx context.Context, path string) (*Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, ErrNotRunning
	}
	c := &Conn{c: nc}
	c.SendJSON(TypeHello, map[string]int{"version": 1, "pid": os.Getpid()})
	if _, _, err := c.Recv(); err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

type Listener struct {
	OnRefused func(p Peer)
	l         net.Listener
	path      string
}

func Listen(path string) (*Listener, error) {
	os.MkdirAll(filepath.Dir(path), 0o700)
	if nc, err := net.Dial("unix", path); err == nil {
		nc.Close()
		return nil, ErrRunning
	}
	os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	os.Chmod(path, 0o600)
	return &Listener{l: l, path: path}, nil
}

func (l *Listener) Accept() (*Conn, error) {
	nc, err := l.l.Accept()
	if err != nil {
		return nil, err
	}
	c := &Conn{c: nc}
	if _, _, err := c.Recv(); err != nil {
		nc.Close()
		return nil, err
	}
	c.SendJSON(TypeHello, map[string]int{"version": 1, "pid": os.Getpid()})
	return c, nil
}
func (l *Listener) Close() error { l.l.Close(); return os.Remove(l.path) }
func (l *Listener) Addr() string { return l.path }

func SelfCheck() error { return nil }

type Key struct{ b []byte }

func NewKey(b []byte) (*Key, error) { return &Key{b: append([]byte(nil), b...)}, nil }
func (k *Key) Bytes() []byte        { return k.b }
func (k *Key) Wipe() {
	for i := range k.b {
		k.b[i] = 0
	}
}
func (k *Key) Locked() bool { return false }

func Supported() bool { return true }
