package agent

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// peerCred is the peer's uid and pid from SO_PEERCRED (unix(7)): for the
// agent, the connecting client at connect time; for the client, the
// process that called listen on the socket.
func peerCred(uc *net.UnixConn) (Peer, error) {
	raw, err := uc.SyscallConn()
	if err != nil {
		return Peer{}, err
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return Peer{}, err
	}
	if cerr != nil {
		return Peer{}, fmt.Errorf("SO_PEERCRED: %w", cerr)
	}
	return Peer{UID: int(cred.Uid), PID: int(cred.Pid)}, nil
}

// checkServer is the client's check of the process serving the socket; it
// returns why the process is not a genuine agent, or "". In order:
//
//   - same uid: anything else is another user's program;
//   - not traced (TracerPid 0 in /proc/<pid>/status): a tracer reads and
//     changes its memory at will;
//   - not dumpable, when we are not root: a real agent clears the flag
//     (internal/harden), which makes the kernel give /proc/<pid>/mem to
//     root (proc(5)); a same-uid impostor that forgets it is caught;
//   - same executable (device and inode of /proc/<pid>/exe and
//     /proc/self/exe) whenever the kernel lets us stat it. For a
//     non-dumpable peer it does so only for root (ptrace access mode
//     check), so as a normal user the exe check cannot run: the residual
//     documented in docs/security.md. Nothing secret is ever sent over the
//     socket, which is why this is enough (see the package comment).
//
// The pid is the one the kernel recorded when the peer called listen; a
// process that exits between that and these reads fails the checks.
func checkServer(p Peer) string {
	if p.UID != os.Geteuid() {
		return fmt.Sprintf("it runs as uid %d, not as you (uid %d)", p.UID, os.Geteuid())
	}
	if p.PID <= 0 {
		return "the kernel does not report its process id (is it in another pid namespace?)"
	}
	tracer, err := tracerPID(fmt.Sprintf("/proc/%d/status", p.PID))
	if err != nil {
		return fmt.Sprintf("cannot read its status: %v", err)
	}
	if tracer != 0 {
		return fmt.Sprintf("it is being traced by process %d (TracerPid %d in /proc/%d/status), which can read and change its memory", tracer, tracer, p.PID)
	}
	if os.Geteuid() != 0 {
		var st unix.Stat_t
		if err := unix.Stat(fmt.Sprintf("/proc/%d/mem", p.PID), &st); err != nil {
			return fmt.Sprintf("cannot check whether its memory is protected: %v", err)
		}
		if st.Uid != 0 {
			return fmt.Sprintf("its memory is readable by your user (/proc/%d/mem belongs to uid %d, not root); a real phantom agent is non-dumpable", p.PID, st.Uid)
		}
	}
	theirs, err := os.Stat(fmt.Sprintf("/proc/%d/exe", p.PID))
	switch {
	case err == nil:
		ours, err := os.Stat("/proc/self/exe")
		if err != nil {
			return fmt.Sprintf("cannot stat this phantom's own executable: %v", err)
		}
		if !os.SameFile(theirs, ours) {
			target, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", p.PID))
			return fmt.Sprintf("it runs %q, which is not the same file as this phantom's executable", target)
		}
	case errors.Is(err, fs.ErrPermission):
		// Non-root and a non-dumpable peer: the kernel hides its
		// executable from us. See the comment above.
	default:
		return fmt.Sprintf("cannot check its executable: %v", err)
	}
	return ""
}

// tracerPID reads the TracerPid field of a /proc/<pid>/status file.
func tracerPID(statusFile string) (int, error) {
	b, err := os.ReadFile(statusFile)
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := bytes.CutPrefix(sc.Bytes(), []byte("TracerPid:")); ok {
			n, err := strconv.Atoi(string(bytes.TrimSpace(v)))
			if err != nil {
				return 0, fmt.Errorf("%s: bad TracerPid %q", statusFile, bytes.TrimSpace(v))
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("%s has no TracerPid line", statusFile)
}

// SelfCheck is for the agent process, after harden.Process(): it refuses
// to serve when something already traces it. Once the process is
// non-dumpable nobody of our uid can attach any more (ptrace(2), "ptrace
// access mode checking"), but a tracer that attached before the flag was
// cleared (an agent that started `strace -f phantom agent serve`, or
// attached in the instant between exec and prctl) keeps full access to
// the memory that is about to hold the key. Checked after hardening, a
// TracerPid of 0 therefore stays 0 for the life of the process.
func SelfCheck() error {
	tracer, err := tracerPID("/proc/self/status")
	if err != nil {
		return fmt.Errorf("phantom agent cannot check whether it is being traced: %w", err)
	}
	if tracer != 0 {
		return fmt.Errorf("phantom agent refuses to hold a key: process %d is tracing it (TracerPid in /proc/self/status) and could read the key from its memory; run `phantom unlock` in your own terminal, not under a debugger or tracer", tracer)
	}
	return nil
}
