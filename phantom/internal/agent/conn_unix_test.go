//go:build unix

package agent

import (
	"bytes"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Frames sent from many goroutines at once arrive whole (one Write per frame).
func TestSendConcurrent(t *testing.T) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	conns := [2]*Conn{}
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "pair")
		nc, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = newConn(nc, Peer{})
		defer conns[i].Close()
		conns[i].SetDeadline(time.Now().Add(10 * time.Second))
	}
	a, b := conns[0], conns[1]
	const senders, each = 8, 150
	var wg sync.WaitGroup
	for i := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := bytes.Repeat([]byte{byte('a' + i)}, 100000+i)
			for range each {
				if err := a.Send(TypeStdout, p); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for range senders * each {
		typ, p, err := b.Recv()
		if err != nil {
			t.Fatalf("interleaved frames: %v", err)
		}
		if len(p) == 0 {
			t.Fatalf("interleaved frame: type %q, empty", typ)
		}
		i := int(p[0] - 'a')
		if typ != TypeStdout || len(p) != 100000+i || !bytes.Equal(p, bytes.Repeat(p[:1], len(p))) {
			t.Fatalf("interleaved frame: type %q, %d bytes", typ, len(p))
		}
	}
	wg.Wait()
}
