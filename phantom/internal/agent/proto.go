package agent

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
)

// ProtocolVersion is the wire protocol both sides announce in their hello.
// Any change to a frame's meaning or payload bumps it: an agent and a CLI of
// different versions refuse each other with a clear message instead of
// misreading frames.
const ProtocolVersion = 1

// Frame types (protocol v1). Control payloads are JSON; data payloads
// (TypeStdin, TypeStdout, TypeStderr, TypePromptReply) are raw bytes.
const (
	TypeHello        = 'H' // both ways, first: {"version":1,"pid":N}
	TypeRun          = 'R' // client→agent: {"argv":[...],"cwd":"...","env":[...],"tty":{"in":b,"out":b,"err":b}}
	TypeRead         = 'r' // agent→client: {"n":N}; the client answers TypeStdin or TypeStdinEOF
	TypeStdin        = 'I' // client→agent: at most N bytes of stdin
	TypeStdinEOF     = 'i' // client→agent: stdin is at end of file
	TypeStdout       = 'O' // agent→client: stdout bytes
	TypeStderr       = 'E' // agent→client: stderr bytes
	TypePrompt       = 'P' // agent→client: {"prompt":"..."}; the client answers TypePromptReply or TypePromptCancel
	TypePromptReply  = 'p' // client→agent: the typed bytes
	TypePromptCancel = 'c' // client→agent: {"error":"..."}
	TypeSignal       = 'S' // client→agent: {"signal":"interrupt"}
	TypeExecPlan     = 'X' // agent→client: {"args":[...],"env":[...],"dir":"...","mask_names":[...],...}
	TypeChildStarted = 'C' // client→agent: {"pid":N}
	TypeChildExited  = 'W' // client→agent: {"code":N}
	TypeQuit         = 'Q' // agent→client: {"code":N}, the command's exit status
	TypeProve        = 'K' // client→agent: {"nonce":"hex"}; the agent answers TypeProof
	TypeProof        = 'k' // agent→client: {"mac":"hex"} = HMAC(data key, "phantom agent proof v1" || nonce)
	TypeLock         = 'L' // client→agent: wipe the key, answer TypeQuit {"code":0}, exit
	TypeFailure      = 'F' // either way: {"error":"..."}
)

// MaxFrame is the largest payload a frame may carry (1 MiB). The length
// prefix covers the type byte too, so it is at most MaxFrame+1. Larger
// streams are split by the sender; a larger prefix is refused by Recv
// before anything is allocated.
const MaxFrame = 1 << 20

// Hello is the payload of TypeHello, sent first by both sides.
type Hello struct {
	Version int `json:"version"`
	PID     int `json:"pid"`
}

// Failure is the payload of TypeFailure (and of TypePromptCancel).
type Failure struct {
	Error string `json:"error"`
}

var (
	// ErrNotRunning: no agent serves the socket (no socket file, or a stale
	// one nobody answers on). The CLI treats the vault as locked.
	ErrNotRunning = errors.New("no phantom agent is running for this vault")
	// ErrRunning: Listen found a live agent already answering on the socket.
	ErrRunning = errors.New("a phantom agent is already running for this vault")
	// ErrFrameTooLarge: a frame's length prefix is above MaxFrame+1.
	ErrFrameTooLarge = fmt.Errorf("agent protocol: frame larger than %d bytes", MaxFrame+1)
	// ErrEmptyFrame: a frame's length prefix is 0 (every frame has a type byte).
	ErrEmptyFrame = errors.New("agent protocol: empty frame (length 0)")
)

// ImpostorError says that the process serving the agent socket failed a
// peer check, so nothing was sent to it.
type ImpostorError struct {
	Path   string // the socket
	PID    int    // the serving process, as the kernel reports it (0 if unknown)
	Reason string // which check failed
}

func (e *ImpostorError) Error() string {
	who := "an unknown process"
	stop := ""
	if e.PID > 0 {
		who = fmt.Sprintf("process %d", e.PID)
		stop = fmt.Sprintf(" See what it is with `ps -p %d -o pid,user,args`; if it is an agent from an earlier phantom binary (after an upgrade), stop it with `kill %d`.", e.PID, e.PID)
	}
	return fmt.Sprintf("refusing the phantom agent socket %s: it is served by %s, which is not a genuine phantom agent (%s). Nothing was sent to it.%s Then run `phantom unlock` in your own terminal to start a real agent in its place.",
		e.Path, who, e.Reason, stop)
}

// Peer is the process at the other end of a connection, as the kernel
// reports it (SO_PEERCRED on Linux, LOCAL_PEERCRED/LOCAL_PEERPID on macOS):
// for the agent, the connecting client; for the client, the process that
// called listen on the socket.
type Peer struct {
	UID, PID int
}

// SocketDir is the directory that holds the agent sockets:
// $XDG_RUNTIME_DIR/phantom when XDG_RUNTIME_DIR is an absolute path to a
// directory we own that no one else can write (the per-user runtime
// directory, tmpfs, removed at logout), else home/run (home is
// $PHANTOM_HOME). env is os.Getenv in production.
func SocketDir(env func(string) string, home string) string {
	if x := env("XDG_RUNTIME_DIR"); x != "" && filepath.IsAbs(x) && runtimeDirOK(x) {
		return filepath.Join(x, "phantom")
	}
	return filepath.Join(home, "run")
}

// SocketPath is the socket of one vault's agent: SocketDir plus the first
// 16 hex digits of sha256(home + "\x00" + projectID) and ".sock". The name
// is a hash so that it stays short (sun_path holds 108 bytes on Linux, 104
// on macOS) and says nothing about the project; home is part of it so two
// PHANTOM_HOMEs sharing one runtime directory never collide.
func SocketPath(env func(string) string, home, projectID string) string {
	sum := sha256.Sum256([]byte(home + "\x00" + projectID))
	return filepath.Join(SocketDir(env, home), hex.EncodeToString(sum[:])[:16]+".sock")
}
