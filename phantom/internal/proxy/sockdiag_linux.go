package proxy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// sock_diag (netlink, what ss(8) uses) finds one TCP socket by its exact
// address pair in the kernel's connection hash: microseconds, whatever the
// number of sockets, where reading /proc/net/tcp formats the whole table
// (milliseconds on a busy machine; BenchmarkProcPeerUIDLive). It needs the
// tcp_diag module, which the kernel loads on first use where it can; when
// the self-test below fails the proxy falls back to /proc/net/tcp.
// Layouts: linux/inet_diag.h (struct inet_diag_req_v2, inet_diag_msg), a
// stable kernel ABI.

const (
	nlmsgHdrLen    = unix.SizeofNlMsghdr // 16
	diagReqLen     = 56                  // struct inet_diag_req_v2
	diagMsgLen     = 72                  // struct inet_diag_msg
	tcpListen      = 0x0A
	tcpNewSynRecv  = 0x0C
	diagNoCookie   = 0xFFFFFFFF
	diagRecvBufLen = 1024
)

var (
	diagOnce sync.Once
	diagErr  error
)

// diagWorks runs the self-test once: a loopback connection of our own must
// come back with our uid.
func diagWorks() error {
	diagOnce.Do(func() { diagErr = diagSelfTest() })
	return diagErr
}

func diagSelfTest() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return err
	}
	defer c.Close()
	s, err := ln.Accept()
	if err != nil {
		return err
	}
	defer s.Close()
	local, _ := addrPortOf(s.LocalAddr())
	remote, _ := addrPortOf(s.RemoteAddr())
	uid, err := diagPeerUID(local, remote)
	if err != nil {
		return err
	}
	if uid != os.Geteuid() {
		return fmt.Errorf("sock_diag says our own socket belongs to uid %d", uid)
	}
	return nil
}

// diagPeerUID asks sock_diag for the peer socket of local↔remote (its own
// local address is our remote one) and returns its uid. An IPv4 query also
// finds an AF_INET6 peer that connected through ::ffff:127.0.0.1: the
// kernel hashes such a connection by its IPv4 addresses.
func diagPeerUID(local, remote netip.AddrPort) (int, error) {
	peer := netip.AddrPortFrom(remote.Addr().Unmap(), remote.Port())
	us := netip.AddrPortFrom(local.Addr().Unmap(), local.Port())
	if peer.Addr().Is4() != us.Addr().Is4() {
		return -1, errPeerNotFound
	}
	family := byte(unix.AF_INET6)
	if peer.Addr().Is4() {
		family = unix.AF_INET
	}

	var req [nlmsgHdrLen + diagReqLen]byte
	ne := binary.NativeEndian
	ne.PutUint32(req[0:], uint32(len(req)))
	ne.PutUint16(req[4:], unix.SOCK_DIAG_BY_FAMILY)
	ne.PutUint16(req[6:], unix.NLM_F_REQUEST)
	ne.PutUint32(req[8:], 1) // seq
	r := req[nlmsgHdrLen:]
	r[0], r[1] = family, unix.IPPROTO_TCP
	ne.PutUint32(r[4:], 0xFFFFFFFF) // every state; an exact lookup ignores it
	putDiagID(r[8:], peer, us)

	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return -1, fmt.Errorf("sock_diag: %w", err)
	}
	defer unix.Close(fd)
	// The kernel answers within the send; the timeout only bounds a kernel
	// that does not.
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 2})
	if err := unix.Sendto(fd, req[:], 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return -1, fmt.Errorf("sock_diag: %w", err)
	}
	var resp [diagRecvBufLen]byte
	n, _, err := unix.Recvfrom(fd, resp[:], 0)
	if err != nil {
		return -1, fmt.Errorf("sock_diag: %w", err)
	}
	return parseDiagReply(resp[:n], peer.Port(), us.Port())
}

// putDiagID writes struct inet_diag_sockid for the socket whose local end
// is src: ports and addresses in network order, no interface, no cookie.
func putDiagID(b []byte, src, dst netip.AddrPort) {
	binary.BigEndian.PutUint16(b[0:], src.Port())
	binary.BigEndian.PutUint16(b[2:], dst.Port())
	if src.Addr().Is4() {
		s, d := src.Addr().As4(), dst.Addr().As4()
		copy(b[4:], s[:])
		copy(b[20:], d[:])
	} else {
		s, d := src.Addr().As16(), dst.Addr().As16()
		copy(b[4:], s[:])
		copy(b[20:], d[:])
	}
	binary.NativeEndian.PutUint32(b[36:], 0) // idiag_if
	binary.NativeEndian.PutUint32(b[40:], diagNoCookie)
	binary.NativeEndian.PutUint32(b[44:], diagNoCookie)
}

// parseDiagReply reads the kernel's answer: one inet_diag_msg, or an error
// (ENOENT: no such socket). The answer must be the connected socket asked
// for — the kernel's lookup falls back to a listener on the address when
// the connection is gone, and a TIME_WAIT entry or an orphan (inode 0) has
// no owner any more — else the peer counts as not found.
func parseDiagReply(b []byte, peerPort, usPort uint16) (int, error) {
	ne := binary.NativeEndian
	if len(b) < nlmsgHdrLen {
		return -1, errors.New("sock_diag: short reply")
	}
	l, typ := ne.Uint32(b[0:]), ne.Uint16(b[4:])
	if int(l) > len(b) || l < nlmsgHdrLen {
		return -1, errors.New("sock_diag: malformed reply")
	}
	body := b[nlmsgHdrLen:l]
	switch typ {
	case unix.NLMSG_ERROR:
		if len(body) < 4 {
			return -1, errors.New("sock_diag: malformed error reply")
		}
		errno := unix.Errno(-int32(ne.Uint32(body)))
		if errno == unix.ENOENT {
			return -1, errPeerNotFound
		}
		return -1, fmt.Errorf("sock_diag: %w", errno)
	case unix.SOCK_DIAG_BY_FAMILY:
	default:
		return -1, fmt.Errorf("sock_diag: unexpected reply type %d", typ)
	}
	if len(body) < diagMsgLen {
		return -1, errors.New("sock_diag: short inet_diag_msg")
	}
	state := body[1]
	sport, dport := binary.BigEndian.Uint16(body[4:]), binary.BigEndian.Uint16(body[6:])
	uid, inode := ne.Uint32(body[64:]), ne.Uint32(body[68:])
	if sport != peerPort || dport != usPort || state == tcpTimeWait || state == tcpListen || state == tcpNewSynRecv || inode == 0 {
		return -1, errPeerNotFound
	}
	return int(uid), nil
}
