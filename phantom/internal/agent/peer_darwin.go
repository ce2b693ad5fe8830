package agent

import (
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// peerCred is the peer's uid (LOCAL_PEERCRED) and pid (LOCAL_PEERPID),
// unix(4) on macOS.
func peerCred(uc *net.UnixConn) (Peer, error) {
	raw, err := uc.SyscallConn()
	if err != nil {
		return Peer{}, err
	}
	var (
		xu         *unix.Xucred
		pid        int
		cerr, perr error
	)
	if err := raw.Control(func(fd uintptr) {
		xu, cerr = unix.GetsockoptXucred(int(fd), unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
		pid, perr = unix.GetsockoptInt(int(fd), unix.SOL_LOCAL, unix.LOCAL_PEERPID)
	}); err != nil {
		return Peer{}, err
	}
	if cerr != nil {
		return Peer{}, fmt.Errorf("LOCAL_PEERCRED: %w", cerr)
	}
	if perr != nil {
		pid = 0
	}
	return Peer{UID: int(xu.Uid), PID: pid}, nil
}

// checkServer on macOS checks the uid only: macOS has no /proc, and the
// agent denies debuggers itself (PT_DENY_ATTACH, internal/harden). macOS
// is compile-checked only (docs/platforms.md).
func checkServer(p Peer) string {
	if p.UID != os.Geteuid() {
		return fmt.Sprintf("it runs as uid %d, not as you (uid %d)", p.UID, os.Geteuid())
	}
	return ""
}

// SelfCheck has nothing to check on macOS: harden.Process denies
// debuggers (PT_DENY_ATTACH), and a process that makes that request while
// it is already traced exits (ptrace(2) on macOS).
func SelfCheck() error { return nil }
