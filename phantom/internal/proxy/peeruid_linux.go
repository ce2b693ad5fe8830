package proxy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"sync"
)

// On Linux the owner of the other end of a loopback connection is known to
// the kernel: the peer's socket is the one whose local address is the
// connection's remote address and whose remote address is the connection's
// local address, and its owner is the uid that created it. Both ends of a
// loopback connection are in the same network namespace, so the proxy's
// own view holds the peer. The lookup asks sock_diag (sockdiag_linux.go)
// and, where that is unavailable, reads /proc/net/tcp and /proc/net/tcp6,
// whose uid column is the same owner (proc(5), "/proc/net/tcp").

func init() {
	peerLookup = linuxPeerUID
	peerLookupReady = func() error {
		if diagWorks() == nil {
			return nil
		}
		f, err := os.Open(procNetTCP)
		if err != nil {
			return err
		}
		return f.Close()
	}
}

func linuxPeerUID(local, remote netip.AddrPort) (int, error) {
	if diagWorks() == nil {
		return diagPeerUID(local, remote)
	}
	return procPeerUID(local, remote)
}

const (
	procNetTCP  = "/proc/net/tcp"
	procNetTCP6 = "/proc/net/tcp6"
	// tcpTimeWait is the st column of a TIME_WAIT entry, which has no
	// owner (uid and inode print as 0).
	tcpTimeWait = 0x06
)

var errPeerNotFound = errors.New("no such socket (the peer closed it, or it is in another network namespace)")

// procBufs are the read buffers: a line is at most ~200 bytes, a buffer
// holds hundreds, and the pool keeps the lookup free of allocations.
var procBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// procPeerUID finds the peer socket of the connection local↔remote and
// returns its uid. A peer on an IPv4 listener is in /proc/net/tcp, or in
// /proc/net/tcp6 as ::ffff:a.b.c.d when its socket is AF_INET6.
func procPeerUID(local, remote netip.AddrPort) (int, error) {
	peer := netip.AddrPortFrom(remote.Addr().Unmap(), remote.Port())
	us := netip.AddrPortFrom(local.Addr().Unmap(), local.Port())
	var nb procNeedle
	if peer.Addr().Is4() && us.Addr().Is4() {
		uid, err := scanProcFile(procNetTCP, nb.build(peer, us))
		if !errors.Is(err, errPeerNotFound) {
			return uid, err
		}
		peer = netip.AddrPortFrom(netip.AddrFrom16(peer.Addr().As16()), peer.Port())
		us = netip.AddrPortFrom(netip.AddrFrom16(us.Addr().As16()), us.Port())
	}
	return scanProcFile(procNetTCP6, nb.build(peer, us))
}

func scanProcFile(path string, needle []byte) (int, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return -1, errPeerNotFound // no IPv6 in this kernel: no tcp6 peer either
	} else if err != nil {
		return -1, err
	}
	defer f.Close()
	bp := procBufs.Get().(*[]byte)
	defer procBufs.Put(bp)
	return scanProcNet(f, *bp, needle)
}

// procNeedle is the start of a /proc/net/tcp{,6} line for one socket, as
// the kernel prints it: ": LOCAL:PORT REMOTE:PORT " with each address as
// 32-bit words in %08X of their in-memory (host-order) value and ports in
// %04X. The ": " that ends the sl column anchors it, so no other column can
// match.
type procNeedle struct {
	b [2 + 2*(32+1+4+1)]byte
}

func (n *procNeedle) build(local, remote netip.AddrPort) []byte {
	b := append(n.b[:0], ':', ' ')
	b = appendProcAddr(b, local)
	b = append(b, ' ')
	b = appendProcAddr(b, remote)
	return append(b, ' ')
}

const upperHex = "0123456789ABCDEF"

func appendProcAddr(b []byte, ap netip.AddrPort) []byte {
	a := ap.Addr()
	if a.Is4() {
		ip := a.As4()
		b = appendHex32(b, binary.NativeEndian.Uint32(ip[:]))
	} else {
		ip := a.As16()
		for i := 0; i < 16; i += 4 {
			b = appendHex32(b, binary.NativeEndian.Uint32(ip[i:]))
		}
	}
	p := ap.Port()
	return append(b, ':', upperHex[p>>12], upperHex[p>>8&0xf], upperHex[p>>4&0xf], upperHex[p&0xf])
}

func appendHex32(b []byte, v uint32) []byte {
	for s := 28; s >= 0; s -= 4 {
		b = append(b, upperHex[v>>uint(s)&0xf])
	}
	return b
}

// scanProcNet reads a /proc/net/tcp{,6} table from r in buf-sized pieces
// and returns the uid of the line that starts with needle. It stops at the
// first live match, so the kernel formats no more of the table than it must.
// A TIME_WAIT entry or one with inode 0 (the owner closed the socket) does
// not count: a peer that is gone is refused like an unknown one.
func scanProcNet(r io.Reader, buf, needle []byte) (int, error) {
	n := 0
	for {
		m, rerr := r.Read(buf[n:])
		n += m
		end := n
		if rerr == nil {
			end = bytes.LastIndexByte(buf[:n], '\n') + 1 // complete lines only
		}
		for chunk := buf[:end]; ; {
			i := bytes.Index(chunk, needle)
			if i < 0 {
				break
			}
			line := chunk[i+len(needle):]
			if j := bytes.IndexByte(line, '\n'); j >= 0 {
				line = line[:j]
			}
			st, uid, inode, ok := parseProcRest(line)
			if !ok {
				return -1, fmt.Errorf("unexpected line format in the kernel's socket table: %q", line)
			}
			if st != tcpTimeWait && inode != 0 {
				return uid, nil
			}
			chunk = chunk[i+len(needle)+len(line):]
		}
		if rerr == io.EOF {
			return -1, errPeerNotFound
		} else if rerr != nil {
			return -1, rerr
		}
		n = copy(buf, buf[end:n])
		if n == len(buf) {
			return -1, errors.New("a line of the kernel's socket table is longer than the read buffer")
		}
	}
}

// parseProcRest parses what follows the addresses on a line:
// "st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...".
func parseProcRest(line []byte) (st, uid int, inode uint64, ok bool) {
	var field [7][]byte
	for k := range field {
		for len(line) > 0 && line[0] == ' ' {
			line = line[1:]
		}
		j := bytes.IndexByte(line, ' ')
		if j < 0 {
			j = len(line)
		}
		if j == 0 {
			return 0, 0, 0, false
		}
		field[k], line = line[:j], line[j:]
	}
	s, ok1 := parseUint(field[0], 16)
	u, ok2 := parseUint(field[4], 10)
	ino, ok3 := parseUint(field[6], 10)
	if !ok1 || !ok2 || !ok3 || u > 1<<32-1 {
		return 0, 0, 0, false
	}
	return int(s), int(u), ino, true
}

func parseUint(b []byte, base uint64) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		var d uint64
		switch {
		case '0' <= c && c <= '9':
			d = uint64(c - '0')
		case base == 16 && 'A' <= c && c <= 'F':
			d = uint64(c-'A') + 10
		case base == 16 && 'a' <= c && c <= 'f':
			d = uint64(c-'a') + 10
		default:
			return 0, false
		}
		v = v*base + d
	}
	return v, true
}
