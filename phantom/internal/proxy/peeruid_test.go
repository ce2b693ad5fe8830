package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakePeers replaces the platform lookup for one test: every connection's
// peer socket is owned by uid, or the lookup fails with err.
func fakePeers(t *testing.T, owner int, lookup func(local, remote netip.AddrPort) (int, error)) {
	t.Helper()
	oldLookup, oldReady, oldOwner := peerLookup, peerLookupReady, proxyOwner
	peerLookup, peerLookupReady, proxyOwner = lookup, nil, func() int { return owner }
	t.Cleanup(func() { peerLookup, peerLookupReady, proxyOwner = oldLookup, oldReady, oldOwner })
}

type refusals struct {
	mu  sync.Mutex
	got []PeerRefusal
}

func (r *refusals) add(p PeerRefusal) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, p)
}

func (r *refusals) list() []PeerRefusal {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]PeerRefusal(nil), r.got...)
}

// TestOtherUserRefusedBeforeReading: a connection whose peer socket belongs
// to another uid is closed before its request is read: no answer at all
// (not even a 401 or 400), nothing upstream, no request event, and one
// refusal reported with the peer's uid. The owner's connections work.
func TestOtherUserRefusedBeforeReading(t *testing.T) {
	var up seen
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { up.add(r) }))
	defer upstream.Close()
	var mu sync.Mutex
	peerUID := 1001
	fakePeers(t, 1000, func(local, remote netip.AddrPort) (int, error) {
		if !local.Addr().IsLoopback() || !remote.Addr().IsLoopback() {
			t.Errorf("lookup got %v %v", local, remote)
		}
		mu.Lock()
		defer mu.Unlock()
		return peerUID, nil
	})
	var ref refusals
	h := start(t, upstream.URL, nil, func(o *Options) { o.RefusedPeer = ref.add })

	// Another user, with the full session-token URL: the connection dies.
	for _, u := range []string{h.url("openai", "/v1/models"), "http://" + h.srv.Addr() + "/_phantom/" + h.srv.SessionToken() + "/_aws/credentials"} {
		req := newReq(t, "GET", u, "")
		req.Header.Set("Authorization", "Bearer "+openaiTok)
		tr := &http.Transport{DisableKeepAlives: true}
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			t.Fatalf("another user's request got an answer: %d %s", resp.StatusCode, b)
		}
	}
	// Raw: not a single byte comes back.
	c, err := net.Dial("tcp", h.srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("GET /_phantom/" + h.srv.SessionToken() + "/_health HTTP/1.1\r\nHost: x\r\n\r\n"))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if b, _ := io.ReadAll(c); len(b) != 0 {
		t.Fatalf("another user read %q", b)
	}
	c.Close()

	if len(up.reqs) != 0 {
		t.Fatalf("the upstream got %d requests from another user", len(up.reqs))
	}
	select {
	case e := <-h.events:
		t.Fatalf("a refused connection made a request event: %+v", e)
	default:
	}
	got := ref.list()
	if len(got) != 3 {
		t.Fatalf("refusals: %+v, want 3", got)
	}
	for _, r := range got {
		if r.UID != 1001 || r.Owner != 1000 || !strings.Contains(r.Reason, "uid 1001") || !strings.HasPrefix(r.Remote, "127.0.0.1:") {
			t.Errorf("refusal %+v", r)
		}
	}

	// The owner: served.
	mu.Lock()
	peerUID = 1000
	mu.Unlock()
	req := newReq(t, "GET", h.url("openai", "/v1/models"), "")
	req.Header.Set("Authorization", "Bearer "+openaiTok)
	if resp, body := do(t, req); resp.StatusCode != 200 {
		t.Fatalf("owner: %d %s", resp.StatusCode, body)
	}
	if r, _ := up.last(t); r.Header.Get("Authorization") != "Bearer "+openaiValue {
		t.Fatal("owner's request was not proxied with the key")
	}
	if n := len(ref.list()); n != 3 {
		t.Fatalf("owner's request was refused (%d refusals)", n)
	}
}

// TestPeerNotFoundFailsClosed: when the lookup cannot find the peer (it
// closed, or /proc says nothing), the connection is refused, uid -1.
func TestPeerNotFoundFailsClosed(t *testing.T) {
	fakePeers(t, 1000, func(local, remote netip.AddrPort) (int, error) {
		return -1, errors.New("no such socket")
	})
	var ref refusals
	h := start(t, "http://127.0.0.1:1", nil, func(o *Options) { o.RefusedPeer = ref.add })
	c, err := net.Dial("tcp", h.srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("GET /_phantom/" + h.srv.SessionToken() + "/_health HTTP/1.1\r\nHost: x\r\n\r\n"))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if b, _ := io.ReadAll(c); len(b) != 0 {
		t.Fatalf("an unattributed connection read %q", b)
	}
	got := ref.list()
	if len(got) != 1 || got[0].UID != -1 || !strings.Contains(got[0].Reason, "not found") {
		t.Fatalf("refusals %+v", got)
	}
}

// TestRootPeerRefusedUnlessOwnerIsRoot: uid 0 is just another uid.
func TestRootPeerRefusedUnlessOwnerIsRoot(t *testing.T) {
	for _, tc := range []struct {
		owner int
		serve bool
	}{{1000, false}, {0, true}} {
		fakePeers(t, tc.owner, func(local, remote netip.AddrPort) (int, error) { return 0, nil })
		h := start(t, "http://127.0.0.1:1", nil, nil)
		resp, err := http.Get("http://" + h.srv.Addr() + "/_phantom/" + h.srv.SessionToken() + "/_health")
		if err == nil {
			resp.Body.Close()
		}
		if served := err == nil && resp.StatusCode == 200; served != tc.serve {
			t.Errorf("owner %d, root peer: served=%v (err %v)", tc.owner, served, err)
		}
	}
}

// TestListenFailsWhenOwnerCannotBeChecked: no lookup possible (e.g. /proc
// not mounted): the proxy does not start rather than serve anyone.
func TestListenFailsWhenOwnerCannotBeChecked(t *testing.T) {
	fakePeers(t, 1000, func(local, remote netip.AddrPort) (int, error) { return 1000, nil })
	peerLookupReady = func() error { return errors.New("open /proc/net/tcp: no such file or directory") }
	s, err := New(Options{Secrets: secrets()})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Listen("")
	if err == nil || !strings.Contains(err.Error(), "/proc/net/tcp") || !strings.Contains(err.Error(), "only the user who started it") {
		t.Fatalf("Listen: %v", err)
	}
}

// BenchmarkNewConnection is a request on a fresh connection (what a client
// without keep-alive pays every time), with the owner check and without:
// the difference is the check's cost per connection. Keep-alive clients pay
// it once per connection.
func BenchmarkNewConnection(b *testing.B) {
	for _, check := range []bool{true, false} {
		name := "owner-check"
		if !check {
			name = "no-check"
		}
		b.Run(name, func(b *testing.B) {
			if check && peerLookup == nil {
				b.Skip("no owner check on this platform")
			}
			old := peerLookup
			if !check {
				peerLookup = nil
			}
			s, err := New(Options{Secrets: secrets()})
			if err == nil {
				err = s.Listen("")
			}
			peerLookup = old
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				s.Shutdown(ctx)
			})
			cl := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
			u := "http://" + s.Addr() + "/_phantom/" + s.SessionToken() + "/_health"
			b.ReportAllocs()
			for b.Loop() {
				resp, err := cl.Get(u)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatal(resp.Status)
				}
			}
		})
	}
}
