package proxy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"testing/iotest"
	"time"

	"golang.org/x/sys/unix"
)

// The fixtures are /proc/net/tcp{,6} as a little-endian kernel prints them
// (copied from a real one, uids edited): the proxy listens on
// 127.0.0.1:44085 (AC35), the peer is 127.0.0.1:35670 (8B56).
const procTCPFixture = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode                                                     
   0: 0100007F:AC35 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 79891 1 000000004f3adc61 100 0 0 10 0                      
   1: 0100007F:8B56 0100007F:AC35 06 00000000:00000000 03:00000F5C 00000000     0        0 0 3 000000003e697eaa                                      
   2: 0100007F:AC35 0100007F:8B56 01 00000000:00000000 02:000005DA 00000000  1000        0 79894 2 00000000e3de359a 20 0 0 10 -1                     
   3: 0100007F:8B56 0100007F:AC35 01 00000000:00000000 02:000005DA 00000000  1001        0 79895 2 00000000e3de359b 20 0 0 10 -1                     
   4: 0100007F:8B57 0100007F:AC35 08 00000000:00000000 00:00000000 00000000  1001        0 0 2 00000000e3de359c 20 0 0 10 -1                      
   5: 020200C0:B58A 507100CB:01BB 01 00000000:00000000 02:00000008 00000000     0        0 78820 2 000000004170b9aa 21 5 1 33 -1                     
`

// The proxy on [::1]:34805 (87F5) with a peer [::1]:40000 (9C40) owned by
// 1002, and a peer that reached the IPv4 proxy from an AF_INET6 socket as
// ::ffff:127.0.0.1:35672 (8B58), owned by 1003.
const procTCP6Fixture = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:87F5 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 79895 2 00000000e2d1d175 100 0 0 10 0
   1: 00000000000000000000000001000000:87F5 00000000000000000000000001000000:9C40 01 00000000:00000000 00:00000000 00000000  1000        0 79900 2 00000000e2d1d176 20 0 0 10 -1
   2: 00000000000000000000000001000000:9C40 00000000000000000000000001000000:87F5 01 00000000:00000000 00:00000000 00000000  1002        0 79901 2 00000000e2d1d177 20 0 0 10 -1
   3: 0000000000000000FFFF00000100007F:8B58 0000000000000000FFFF00000100007F:AC35 01 00000000:00000000 02:000005DC 00000000  1003        0 79893 3 000000002c9c0ac0 20 0 0 10 -1
`

func littleEndian() bool { return binary.NativeEndian.Uint16([]byte{1, 0}) == 1 }

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func TestProcNeedle(t *testing.T) {
	if !littleEndian() {
		t.Skip("the expected strings are a little-endian kernel's")
	}
	var nb procNeedle
	for _, tc := range []struct {
		local, remote netip.AddrPort
		want          string
	}{
		{ap("127.0.0.1:35670"), ap("127.0.0.1:44085"), ": 0100007F:8B56 0100007F:AC35 "},
		{ap("[::1]:40000"), ap("[::1]:34805"), ": 00000000000000000000000001000000:9C40 00000000000000000000000001000000:87F5 "},
		{ap("[::ffff:127.0.0.1]:35672"), ap("[::ffff:127.0.0.1]:44085"), ": 0000000000000000FFFF00000100007F:8B58 0000000000000000FFFF00000100007F:AC35 "},
		{ap("10.1.2.3:1"), ap("192.0.2.1:65535"), ": 0302010A:0001 010200C0:FFFF "},
	} {
		if got := string(nb.build(tc.local, tc.remote)); got != tc.want {
			t.Errorf("%v %v: %q, want %q", tc.local, tc.remote, got, tc.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { nb.build(ap("[::1]:40000"), ap("[::1]:34805")) }); n != 0 {
		t.Errorf("building a needle allocates %v times", n)
	}
}

// TestScanProcNet: the peer's line is found by its own (local, remote)
// pair — not the proxy's reversed line, not a TIME_WAIT entry of the same
// pair, not an orphan (inode 0) — whatever the read sizes.
func TestScanProcNet(t *testing.T) {
	if !littleEndian() {
		t.Skip("the fixtures are a little-endian kernel's")
	}
	for _, tc := range []struct {
		name          string
		table         string
		peer, us      netip.AddrPort
		want          int
		wantNotFound  bool
		wantMalformed bool
	}{
		{"v4 peer past its TIME_WAIT twin", procTCPFixture, ap("127.0.0.1:35670"), ap("127.0.0.1:44085"), 1001, false, false},
		{"the proxy's own end", procTCPFixture, ap("127.0.0.1:44085"), ap("127.0.0.1:35670"), 1000, false, false},
		{"orphaned peer (closed)", procTCPFixture, ap("127.0.0.1:35671"), ap("127.0.0.1:44085"), -1, true, false},
		{"no such peer", procTCPFixture, ap("127.0.0.1:1"), ap("127.0.0.1:44085"), -1, true, false},
		{"v6 peer", procTCP6Fixture, ap("[::1]:40000"), ap("[::1]:34805"), 1002, false, false},
		{"v4-mapped peer", procTCP6Fixture, ap("[::ffff:127.0.0.1]:35672"), ap("[::ffff:127.0.0.1]:44085"), 1003, false, false},
		{"v4 address in the v6 table", procTCP6Fixture, ap("127.0.0.1:35672"), ap("127.0.0.1:44085"), -1, true, false},
		{"truncated line", "   3: 0100007F:8B56 0100007F:AC35 01 00000000:00000000\n", ap("127.0.0.1:35670"), ap("127.0.0.1:44085"), -1, false, true},
	} {
		for _, bufSize := range []int{32 << 10, 512, 200} {
			for _, oneByte := range []bool{false, true} {
				var nb procNeedle
				r := strings.NewReader(tc.table)
				var rd interface{ Read([]byte) (int, error) } = r
				if oneByte {
					rd = iotest.OneByteReader(r)
				}
				uid, err := scanProcNet(rd, make([]byte, bufSize), nb.build(tc.peer, tc.us))
				switch {
				case tc.wantNotFound:
					if !errors.Is(err, errPeerNotFound) {
						t.Errorf("%s (buf %d): %d, %v; want not found", tc.name, bufSize, uid, err)
					}
				case tc.wantMalformed:
					if err == nil || !strings.Contains(err.Error(), "unexpected line format") {
						t.Errorf("%s: %d, %v; want a format error", tc.name, uid, err)
					}
				case err != nil || uid != tc.want:
					t.Errorf("%s (buf %d, one byte %v): %d, %v; want %d", tc.name, bufSize, oneByte, uid, err, tc.want)
				}
			}
		}
	}
}

// TestScanProcNetAllocs: the scan is allocation-free (a new connection
// must not cost garbage proportional to the machine's socket count).
func TestScanProcNetAllocs(t *testing.T) {
	table, peer, us := benchTable(1000)
	var nb procNeedle
	needle := nb.build(peer, us)
	buf := make([]byte, 32<<10)
	r := bytes.NewReader(table)
	if n := testing.AllocsPerRun(20, func() {
		r.Reset(table)
		if uid, err := scanProcNet(r, buf, needle); err != nil || uid != 1000 {
			t.Fatal(uid, err)
		}
	}); n != 0 {
		t.Errorf("scanning a 1,000-socket table allocates %v times", n)
	}
}

// TestPeerUIDLive asks the running kernel, through sock_diag and through
// /proc/net/tcp{,6}, about real loopback connections: IPv4, IPv6, and an
// AF_INET6 socket reaching the IPv4 listener through ::ffff:127.0.0.1 (Go
// reports that peer as 127.0.0.1). A peer that closed is not found.
func TestPeerUIDLive(t *testing.T) {
	me := os.Geteuid()
	if err := diagWorks(); err != nil {
		// Not a failure: the proxy falls back to /proc (checked below).
		t.Logf("sock_diag unavailable here (%v); only /proc/net/tcp is tested", err)
	}
	lookups := []struct {
		name string
		fn   func(local, remote netip.AddrPort) (int, error)
	}{{"proc", procPeerUID}}
	if diagWorks() == nil {
		lookups = append(lookups, struct {
			name string
			fn   func(local, remote netip.AddrPort) (int, error)
		}{"sock_diag", diagPeerUID})
	}
	check := func(t *testing.T, ln net.Listener, client net.Conn) {
		t.Helper()
		srv, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		local, _ := addrPortOf(srv.LocalAddr())
		remote, _ := addrPortOf(srv.RemoteAddr())
		for _, lk := range lookups {
			if uid, err := lk.fn(local, remote); err != nil || uid != me {
				t.Fatalf("%s: peer %v of %v: uid %d, %v; want %d", lk.name, remote, local, uid, err, me)
			}
			// A pair no socket has is not found.
			if _, err := lk.fn(remote, netip.AddrPortFrom(local.Addr(), 1)); !errors.Is(err, errPeerNotFound) {
				t.Fatalf("%s: a pair with no socket: %v", lk.name, err)
			}
		}
		// Once the peer has closed its socket it no longer counts.
		client.Close()
		for _, lk := range lookups {
			deadline := time.Now().Add(5 * time.Second)
			for {
				_, err = lk.fn(local, remote)
				if errors.Is(err, errPeerNotFound) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: closed peer still found: %v", lk.name, err)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
	}
	t.Run("ipv4", func(t *testing.T) {
		ln := listenT(t, "127.0.0.1:0")
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		check(t, ln, c)
	})
	t.Run("ipv6", func(t *testing.T) {
		ln, err := net.Listen("tcp", "[::1]:0")
		if err != nil {
			t.Skipf("no IPv6 loopback here: %v", err)
		}
		defer ln.Close()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		check(t, ln, c)
	})
	t.Run("ipv4-mapped", func(t *testing.T) {
		ln := listenT(t, "127.0.0.1:0")
		c, err := dialMapped(ln.Addr().(*net.TCPAddr).Port)
		if err != nil {
			t.Skipf("no AF_INET6 sockets here: %v", err)
		}
		check(t, ln, c)
	})
}

// TestParseDiagReply: only the connected socket asked for counts; the
// kernel's fallback to a listener, TIME_WAIT entries, orphans and ENOENT
// are "not found"; other errors are errors.
func TestParseDiagReply(t *testing.T) {
	ne := binary.NativeEndian
	msg := func(state byte, sport, dport uint16, uid, inode uint32) []byte {
		b := make([]byte, nlmsgHdrLen+diagMsgLen)
		ne.PutUint32(b[0:], uint32(len(b)))
		ne.PutUint16(b[4:], unix.SOCK_DIAG_BY_FAMILY)
		m := b[nlmsgHdrLen:]
		m[0], m[1] = unix.AF_INET, state
		binary.BigEndian.PutUint16(m[4:], sport)
		binary.BigEndian.PutUint16(m[6:], dport)
		ne.PutUint32(m[64:], uid)
		ne.PutUint32(m[68:], inode)
		return b
	}
	errReply := func(errno unix.Errno) []byte {
		b := make([]byte, nlmsgHdrLen+4+nlmsgHdrLen)
		ne.PutUint32(b[0:], uint32(len(b)))
		ne.PutUint16(b[4:], unix.NLMSG_ERROR)
		ne.PutUint32(b[nlmsgHdrLen:], uint32(-int32(errno)))
		return b
	}
	for _, tc := range []struct {
		name     string
		reply    []byte
		want     int
		notFound bool
	}{
		{"established", msg(1, 35670, 44085, 1001, 7), 1001, false},
		{"close-wait", msg(8, 35670, 44085, 0, 7), 0, false},
		{"listener fallback", msg(tcpListen, 35670, 0, 1000, 7), -1, true},
		{"time-wait", msg(tcpTimeWait, 35670, 44085, 0, 0), -1, true},
		{"orphan", msg(4, 35670, 44085, 1000, 0), -1, true},
		{"other ports", msg(1, 35671, 44085, 1000, 7), -1, true},
		{"ENOENT", errReply(unix.ENOENT), -1, true},
		{"EPERM", errReply(unix.EPERM), -1, false},
		{"short", []byte{1, 2, 3}, -1, false},
	} {
		uid, err := parseDiagReply(tc.reply, 35670, 44085)
		switch {
		case tc.notFound:
			if !errors.Is(err, errPeerNotFound) {
				t.Errorf("%s: %d, %v; want not found", tc.name, uid, err)
			}
		case tc.want < 0:
			if err == nil || errors.Is(err, errPeerNotFound) {
				t.Errorf("%s: %d, %v; want an error", tc.name, uid, err)
			}
		case err != nil || uid != tc.want:
			t.Errorf("%s: %d, %v; want %d", tc.name, uid, err, tc.want)
		}
	}
}

func listenT(t testing.TB, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// dialMapped connects an AF_INET6 socket to ::ffff:127.0.0.1:port, which Go's
// Dial refuses to do ("no suitable address"): what a dual-stack client does.
func dialMapped(port int) (net.Conn, error) {
	fd, err := syscall.Socket(syscall.AF_INET6, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "mapped")
	defer f.Close()
	if err := syscall.Connect(fd, &syscall.SockaddrInet6{Port: port, Addr: [16]byte{10: 0xff, 11: 0xff, 12: 127, 15: 1}}); err != nil {
		return nil, err
	}
	return net.FileConn(f)
}

// benchTable is a /proc/net/tcp of n sockets with the wanted one last.
func benchTable(n int) (table []byte, peer, us netip.AddrPort) {
	var b bytes.Buffer
	b.WriteString(strings.SplitAfter(procTCPFixture, "\n")[0])
	var nb procNeedle
	us = ap("127.0.0.1:44085")
	for i := 0; i < n; i++ {
		p := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(20000+i))
		needle := nb.build(p, us)
		fmt.Fprintf(&b, "%4d%s01 00000000:00000000 02:000005DA 00000000  1000        0 %d 2 00000000e3de359a 20 0 0 10 -1                     \n", i, needle, 80000+i)
		peer = p
	}
	return b.Bytes(), peer, us
}

// BenchmarkScanProcNet is the parsing alone, on a 1,000-socket table with
// the peer on the last line (the worst case).
func BenchmarkScanProcNet(b *testing.B) {
	table, peer, us := benchTable(1000)
	buf := make([]byte, 32<<10)
	var nb procNeedle
	needle := nb.build(peer, us)
	b.SetBytes(int64(len(table)))
	b.ReportAllocs()
	for b.Loop() {
		if uid, err := scanProcNet(bytes.NewReader(table), buf, needle); err != nil || uid != 1000 {
			b.Fatal(uid, err)
		}
	}
}

// BenchmarkPeerUIDLive is one lookup as the proxy does it per new
// connection, against the running kernel with 1,000 more loopback sockets
// (500 connections, both ends) open and the peer opened last: through
// sock_diag (what the proxy uses) and through /proc/net/tcp (its fallback).
func BenchmarkPeerUIDLive(b *testing.B) {
	ln := listenT(b, "127.0.0.1:0")
	accepted := make(chan net.Conn, 600)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	var conns []net.Conn
	b.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	var srv net.Conn
	for i := 0; i < 501; i++ {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		srv = <-accepted
		conns = append(conns, c, srv)
	}
	local, _ := addrPortOf(srv.LocalAddr())
	remote, _ := addrPortOf(srv.RemoteAddr())
	for _, lk := range []struct {
		name string
		fn   func(local, remote netip.AddrPort) (int, error)
	}{{"sock_diag", diagPeerUID}, {"proc", procPeerUID}} {
		b.Run(lk.name, func(b *testing.B) {
			if lk.name == "sock_diag" && diagWorks() != nil {
				b.Skipf("sock_diag unavailable: %v", diagWorks())
			}
			b.ReportAllocs()
			for b.Loop() {
				if uid, err := lk.fn(local, remote); err != nil || uid != os.Geteuid() {
					b.Fatal(uid, err)
				}
			}
		})
	}
}
