package proxy

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"phantomstack.dev/phantom/internal/awscreds"
	"phantomstack.dev/phantom/internal/catalog"
	"phantomstack.dev/shared/token"
)

const (
	openaiValue = "sk-proj-REALVALUE-0123456789abcdefghij"
	stripeValue = "sk_live_REALSTRIPE_0123456789abcdef"
	vercelValue = "vercel-REAL-token-0123456789"
	storedValue = "postgres://u:REALDBPASS@db/app"
)

var (
	openaiTok = token.New()
	stripeTok = token.New()
	vercelTok = token.New()
	storedTok = token.New()
)

type awsCreds = awscreds.Credentials

func secrets() []Secret {
	return []Secret{
		{Name: "OPENAI_API_KEY", Token: openaiTok, Value: openaiValue},
		{Name: "STRIPE_SECRET_KEY", Token: stripeTok, Value: stripeValue},
		{Name: "VERCEL_TOKEN", Token: vercelTok, Value: vercelValue},
		{Name: "DATABASE_URL", Token: storedTok, Value: storedValue},
	}
}

// seen is what an upstream received.
type seen struct {
	mu   sync.Mutex
	reqs []*http.Request
	body [][]byte
}

func (s *seen) add(r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = append(s.reqs, r)
	s.body = append(s.body, b)
}

func (s *seen) last(t *testing.T) (*http.Request, string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.reqs) == 0 {
		t.Fatal("upstream received nothing")
	}
	return s.reqs[len(s.reqs)-1], string(s.body[len(s.body)-1])
}

// upstreamTLS starts an HTTPS upstream (HTTP/2 enabled) and returns a
// transport that trusts only its certificate.
func upstreamTLS(t *testing.T, h http.Handler) (*httptest.Server, *http.Transport) {
	t.Helper()
	up := httptest.NewUnstartedServer(h)
	up.EnableHTTP2 = true
	up.StartTLS()
	t.Cleanup(up.Close)
	pool := x509.NewCertPool()
	pool.AddCert(up.Certificate())
	tr := NewTransport(time.Minute)
	tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	return up, tr
}

type harness struct {
	srv    *Server
	events chan Event
}

func start(t *testing.T, upstream string, tr http.RoundTripper, mod func(*Options)) *harness {
	t.Helper()
	routes := []catalog.Route{}
	for _, name := range []string{"openai", "stripe", "vercel", "anthropic"} {
		r, _ := catalog.Lookup(name)
		r.Upstream = upstream
		routes = append(routes, r)
	}
	h := &harness{events: make(chan Event, 1000)}
	o := Options{Routes: routes, Secrets: secrets(), Transport: tr, Audit: func(e Event) { h.events <- e }}
	if mod != nil {
		mod(&o)
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	h.srv = s
	return h
}

func (h *harness) url(route, path string) string { return h.srv.MountURL(route) + path }

func do(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func newReq(t *testing.T, method, url, body string) *http.Request {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestSessionTokenRequired(t *testing.T) {
	var up seen
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { up.add(r) }))
	defer upstream.Close()
	h := start(t, upstream.URL, nil, nil)
	base := "http://" + h.srv.Addr()
	for _, u := range []string{
		base + "/openai/v1/models",                                   // no token
		base + "/_phantom/" + strings.Repeat("0", 64) + "/openai/v1", // wrong token
		base + "/_phantom/" + h.srv.SessionToken()[:63] + "/openai/v1",
		base + "/_phantom/_health",
		base + "/_health",
	} {
		resp, body := do(t, newReq(t, "GET", u, ""))
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "session token") {
			t.Errorf("%s: %d %s", u, resp.StatusCode, body)
		}
	}
	// Header carrier.
	req := newReq(t, "GET", base+"/openai/v1/models", "")
	req.Header.Set(HeaderToken, h.srv.SessionToken())
	if resp, body := do(t, req); resp.StatusCode != 200 {
		t.Fatalf("header token: %d %s", resp.StatusCode, body)
	}
	r, _ := up.last(t)
	if r.Header.Get(HeaderToken) != "" || strings.Contains(r.URL.String(), h.srv.SessionToken()) {
		t.Fatal("the session token went upstream")
	}
	if r.URL.Path != "/v1/models" {
		t.Fatalf("upstream path %q", r.URL.Path)
	}
	// Health needs the token too.
	if resp, _ := do(t, newReq(t, "GET", base+"/_phantom/"+h.srv.SessionToken()+"/_health", "")); resp.StatusCode != 200 {
		t.Fatalf("health with token: %d", resp.StatusCode)
	}
}

func TestHeaderAuthOnlyRefusesPathToken(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer upstream.Close()
	h := start(t, upstream.URL, nil, func(o *Options) { o.HeaderAuthOnly = true })
	base := "http://" + h.srv.Addr()
	resp, _ := do(t, newReq(t, "GET", base+"/_phantom/"+h.srv.SessionToken()+"/openai/v1/models", ""))
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("path token in header-only mode: %d", resp.StatusCode)
	}
	if strings.Contains(h.srv.MountURL("openai"), h.srv.SessionToken()) {
		t.Fatal("header-only mount URL carries the token")
	}
}

func TestListenLoopbackOnly(t *testing.T) {
	s, err := New(Options{Secrets: secrets()})
	if err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:0"} {
		if err := s.Listen(addr); err == nil {
			t.Fatalf("listened on %s", addr)
		}
	}
}

func TestSubstitutionScope(t *testing.T) {
	var up seen
	upstream, tr := upstreamTLS(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		up.add(r)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"proto":%d}`, r.ProtoMajor)
	}))
	h := start(t, upstream.URL, tr, nil)

	prompt := `{"model":"gpt","messages":[{"role":"user","content":"my key is ` + openaiTok + `"}]}`
	req := newReq(t, "POST", h.url("openai", "/v1/chat/completions"), prompt)
	req.Header.Set("Authorization", "Bearer "+openaiTok)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "agent "+openaiTok)
	resp, body := do(t, req)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	r, got := up.last(t)
	if r.Header.Get("Authorization") != "Bearer "+openaiValue {
		t.Fatalf("upstream Authorization %q", r.Header.Get("Authorization"))
	}
	if got != prompt {
		t.Fatalf("the prompt was changed:\n%s", got)
	}
	if r.Header.Get("User-Agent") != "agent "+openaiTok {
		t.Fatalf("a token in a non-credential header was substituted: %q", r.Header.Get("User-Agent"))
	}
	if r.Header.Get("Accept-Encoding") != "identity" {
		t.Fatalf("Accept-Encoding %q", r.Header.Get("Accept-Encoding"))
	}
	if r.ProtoMajor != 2 {
		t.Fatalf("upstream spoke HTTP/%d, want 2", r.ProtoMajor)
	}
	for _, xf := range []string{"X-Forwarded-For", "X-Forwarded-Host", "Forwarded"} {
		if r.Header.Get(xf) != "" {
			t.Fatalf("%s added", xf)
		}
	}
	ev := <-h.events
	if ev.Route != "openai" || len(ev.Secrets) != 1 || ev.Secrets[0] != "OPENAI_API_KEY" || ev.Status != 200 || ev.BytesIn != int64(len(prompt)) {
		t.Fatalf("audit event %+v", ev)
	}
}

func TestInjectionWhenNoCredential(t *testing.T) {
	var up seen
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { up.add(r) }))
	defer upstream.Close()
	h := start(t, upstream.URL, nil, nil)
	do(t, newReq(t, "GET", h.url("stripe", "/v1/charges"), ""))
	r, _ := up.last(t)
	if r.Header.Get("Authorization") != "Bearer "+stripeValue {
		t.Fatalf("no injection: %q", r.Header.Get("Authorization"))
	}
	// A credential the client sent itself is not replaced by injection.
	req := newReq(t, "GET", h.url("stripe", "/v1/charges"), "")
	req.Header.Set("Authorization", "Bearer sk_test_clients_own")
	do(t, req)
	if r, _ := up.last(t); r.Header.Get("Authorization") != "Bearer sk_test_clients_own" {
		t.Fatalf("client credential replaced: %q", r.Header.Get("Authorization"))
	}
}

func TestRefusedTokens(t *testing.T) {
	var up seen
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { up.add(r) }))
	defer upstream.Close()
	h := start(t, upstream.URL, nil, nil)
	for _, tc := range []struct{ tok, want string }{
		{stripeTok, "STRIPE_SECRET_KEY may not be sent to route openai"},
		{storedTok, "DATABASE_URL may not be sent to route openai"},
		{token.New(), "not in this project's vault"},
	} {
		req := newReq(t, "GET", h.url("openai", "/v1/models"), "")
		req.Header.Set("Authorization", "Bearer "+tc.tok)
		resp, body := do(t, req)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, tc.want) {
			t.Errorf("%d %s", resp.StatusCode, body)
		}
	}
	up.mu.Lock()
	defer up.mu.Unlock()
	if len(up.reqs) != 0 {
		t.Fatalf("%d refused requests reached the upstream", len(up.reqs))
	}
}

func TestUnknownRoute(t *testing.T) {
	h := start(t, "http://127.0.0.1:1", nil, nil)
	resp, body := do(t, newReq(t, "GET", h.url("nosuch", "/x"), ""))
	if resp.StatusCode != 404 || !strings.Contains(body, `no route \"nosuch\"`) {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
}

func TestDeclaredBodyField(t *testing.T) {
	var up seen
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { up.add(r) }))
	defer upstream.Close()
	h := start(t, upstream.URL, nil, nil)
	// Vercel's env upsert: the value field carries a token that may go to
	// Vercel; the comment field is left alone.
	body := `{"key":"VERCEL_TOKEN","value":"` + vercelTok + `","comment":"` + vercelTok + `","type":"encrypted"}`
	req := newReq(t, "POST", h.url("vercel", "/v10/projects/p/env?upsert=true"), body)
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Authorization", "Bearer "+vercelTok)
	resp, rb := do(t, req)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, rb)
	}
	r, got := up.last(t)
	want := `{"key":"VERCEL_TOKEN","value":"` + vercelValue + `","comment":"` + vercelTok + `","type":"encrypted"}`
	if got != want {
		t.Fatalf("upstream body\n got %s\nwant %s", got, want)
	}
	if r.ContentLength != int64(len(want)) {
		t.Fatalf("content-length %d", r.ContentLength)
	}
	// A token of a secret not allowed on the route, in a declared field.
	body = `{"value":"` + openaiTok + `"}`
	req = newReq(t, "POST", h.url("vercel", "/v10/projects/p/env"), body)
	req.Header.Set("Content-Type", "application/json")
	if resp, rb := do(t, req); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("disallowed token in body field: %d %s", resp.StatusCode, rb)
	}
}

func TestResponseScrubbing(t *testing.T) {
	big := strings.Repeat("x", 2<<20) // over the buffered limit: streamed
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Echo", "key="+openaiValue)
		switch r.URL.Path {
		case "/small":
			fmt.Fprintf(w, `{"echo":%q,"db":%q}`, r.Header.Get("Authorization"), storedValue)
		case "/big":
			w.Header().Set("Content-Length", fmt.Sprint(len(big)+2*len(openaiValue)))
			io.WriteString(w, openaiValue+big+openaiValue)
		case "/chunked":
			fl := w.(http.Flusher)
			for i := 0; i < len(openaiValue); i += 5 {
				io.WriteString(w, openaiValue[i:min(i+5, len(openaiValue))])
				fl.Flush()
			}
		}
	}))
	defer upstream.Close()
	h := start(t, upstream.URL, nil, nil)
	for _, path := range []string{"/small", "/big", "/chunked"} {
		req := newReq(t, "GET", h.url("openai", path), "")
		req.Header.Set("Authorization", "Bearer "+openaiTok)
		resp, body := do(t, req)
		for _, v := range []string{openaiValue, storedValue} {
			if strings.Contains(body, v) || strings.Contains(fmt.Sprint(resp.Header), v) {
				t.Fatalf("%s: a real value reached the client", path)
			}
		}
		if !strings.Contains(body, openaiTok) || !strings.Contains(resp.Header.Get("X-Echo"), openaiTok) {
			t.Fatalf("%s: value not replaced by its token: %.200s", path, body)
		}
		if path == "/small" && !strings.Contains(body, storedTok) {
			t.Fatalf("%s: DATABASE_URL not scrubbed", path)
		}
		if path == "/big" && len(body) != len(big)+2*len(openaiTok) {
			t.Fatalf("big body length %d", len(body))
		}
	}
}

func TestGzipAnywayIsDecodedAndScrubbed(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/gzip":
			w.Header().Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			io.WriteString(zw, "leak: "+openaiValue)
			zw.Close()
		case "/br":
			w.Header().Set("Content-Encoding", "br")
			io.WriteString(w, "\x0b\x02\x80"+openaiValue)
		}
	}))
	defer upstream.Close()
	h := start(t, upstream.URL, nil, nil)
	resp, body := do(t, newReq(t, "GET", h.url("openai", "/gzip"), ""))
	if resp.StatusCode != 200 || body != "leak: "+openaiTok || resp.Header.Get("Content-Encoding") != "" {
		t.Fatalf("gzip: %d %q %q", resp.StatusCode, body, resp.Header.Get("Content-Encoding"))
	}
	resp, body = do(t, newReq(t, "GET", h.url("openai", "/br"), ""))
	if resp.StatusCode != http.StatusBadGateway || strings.Contains(body, openaiValue) || !strings.Contains(body, "cannot scrub") {
		t.Fatalf("br: %d %s", resp.StatusCode, body)
	}
}

func TestSSEFlushedPerEvent(t *testing.T) {
	next := make(chan struct{})
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fl := w.(http.Flusher)
		for i := 0; i < 5; i++ {
			fmt.Fprintf(w, "data: {\"n\":%d,\"k\":%q}\n\n", i, openaiValue)
			fl.Flush()
			// The next event is sent only after the client has read this
			// one: a proxy that buffers would deadlock here (bounded below).
			select {
			case <-next:
			case <-time.After(10 * time.Second):
				return
			}
		}
	}))
	defer upstream.Close()
	h := start(t, upstream.URL, nil, nil)
	resp, err := http.Get(h.url("openai", "/v1/stream"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	for i := 0; i < 5; i++ {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if !strings.Contains(line, fmt.Sprintf(`"n":%d`, i)) || strings.Contains(line, openaiValue) || !strings.Contains(line, openaiTok) {
			t.Fatalf("event %d: %q", i, line)
		}
		br.ReadString('\n')
		next <- struct{}{}
	}
}

func TestBodyLimit(t *testing.T) {
	var up seen
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { up.add(r) }))
	defer upstream.Close()
	h := start(t, upstream.URL, nil, func(o *Options) { o.MaxBodyBytes = 1024 })
	big := strings.Repeat("a", 4096)

	// Known length, streamed route (no declared fields).
	resp, body := do(t, newReq(t, "POST", h.url("openai", "/v1/files"), big))
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(body, "1024") {
		t.Fatalf("content-length: %d %s", resp.StatusCode, body)
	}
	// Unknown length (chunked), streamed.
	req := newReq(t, "POST", h.url("openai", "/v1/files"), "")
	req.Body = io.NopCloser(strings.NewReader(big))
	req.ContentLength = -1
	resp, body = do(t, req)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("chunked: %d %s", resp.StatusCode, body)
	}
	// Unknown length on a route with declared fields (buffered path).
	req = newReq(t, "POST", h.url("vercel", "/v10/projects/p/env"), "")
	req.Body = io.NopCloser(strings.NewReader(`{"value":"` + big + `"}`))
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	resp, _ = do(t, req)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("buffered chunked: %d", resp.StatusCode)
	}
	// Under the limit passes.
	resp, _ = do(t, newReq(t, "POST", h.url("openai", "/v1/files"), big[:1000]))
	if resp.StatusCode != 200 {
		t.Fatalf("under the limit: %d", resp.StatusCode)
	}
}

func TestRateLimit(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer upstream.Close()
	h := start(t, upstream.URL, nil, func(o *Options) { o.Rate = 0.5; o.Burst = 3 })
	codes := []int{}
	var last *http.Response
	for i := 0; i < 5; i++ {
		req := newReq(t, "GET", h.url("openai", "/v1/models"), "")
		req.Header.Set("Authorization", "Bearer "+openaiTok)
		resp, _ := do(t, req)
		codes = append(codes, resp.StatusCode)
		last = resp
	}
	if fmt.Sprint(codes) != "[200 200 200 429 429]" {
		t.Fatalf("codes %v", codes)
	}
	if ra := last.Header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Fatalf("Retry-After %q", ra)
	}
	// Another secret has its own bucket.
	resp, _ := do(t, newReq(t, "GET", h.url("stripe", "/v1/charges"), ""))
	if resp.StatusCode != 200 {
		t.Fatalf("stripe limited by openai's bucket: %d", resp.StatusCode)
	}
}

func TestUpstreamFailures(t *testing.T) {
	// Nothing listening.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String()
	ln.Close()
	h := start(t, dead, nil, nil)
	resp, body := do(t, newReq(t, "GET", h.url("openai", "/v1/models"), ""))
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "upstream request failed") || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("dead upstream: %d %s", resp.StatusCode, body)
	}
	if strings.Contains(body, openaiValue) {
		t.Fatal("value in the error")
	}

	// An upstream that resets the connection.
	reset := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _, _ := w.(http.Hijacker).Hijack()
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
	}))
	defer reset.Close()
	h = start(t, reset.URL, nil, nil)
	if resp, _ := do(t, newReq(t, "GET", h.url("openai", "/x"), "")); resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("reset: %d", resp.StatusCode)
	}

	// An upstream that hangs before answering: the idle timeout ends it.
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-time.After(10 * time.Second):
		}
	}))
	defer hang.Close()
	defer close(release)
	h = start(t, hang.URL, NewTransport(200*time.Millisecond), func(o *Options) { o.IdleTimeout = 200 * time.Millisecond })
	if resp, body := do(t, newReq(t, "GET", h.url("openai", "/x"), "")); resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("hang: %d %s", resp.StatusCode, body)
	}
}

// TestUnreachableIsMarked: the proxy's own 502 carries X-Phantom-Error and
// the reason, so a client (stack doctor) tells it from an upstream's 502
// without reading the body; an upstream's 502 passes through unmarked.
func TestUnreachableIsMarked(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String()
	ln.Close()
	h := start(t, dead, nil, nil)
	resp, _ := do(t, newReq(t, "GET", h.url("openai", "/v1/models"), ""))
	if resp.StatusCode != http.StatusBadGateway || resp.Header.Get(ErrorHeader) != "upstream-unreachable" {
		t.Fatalf("dead upstream: %d %q", resp.StatusCode, resp.Header.Get(ErrorHeader))
	}
	if d := resp.Header.Get(ErrorDetailHeader); !strings.Contains(d, "connection refused") || strings.Contains(d, openaiValue) {
		t.Fatalf("reason: %q", d)
	}

	own := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "bad gateway", http.StatusBadGateway)
	}))
	defer own.Close()
	h = start(t, own.URL, nil, nil)
	resp, _ = do(t, newReq(t, "GET", h.url("openai", "/x"), ""))
	if resp.StatusCode != http.StatusBadGateway || resp.Header.Get(ErrorHeader) != "" || resp.Header.Get(ErrorDetailHeader) != "" {
		t.Fatalf("upstream's own 502 was marked: %d %v", resp.StatusCode, resp.Header)
	}
}

func TestIdleStreamIsCut(t *testing.T) {
	release := make(chan struct{})
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: 1\n\n")
		w.(http.Flusher).Flush()
		select { // then silence
		case <-release:
		case <-time.After(10 * time.Second):
		}
	}))
	defer upstream.Close()
	defer close(release) // before Close, which waits for the handler
	h := start(t, upstream.URL, nil, func(o *Options) { o.IdleTimeout = 300 * time.Millisecond })
	resp, err := http.Get(h.url("openai", "/s"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	done := make(chan string, 1)
	go func() { b, _ := io.ReadAll(resp.Body); done <- string(b) }()
	select {
	case b := <-done:
		if !strings.HasPrefix(b, "data: 1") {
			t.Fatalf("stream %q", b)
		}
	case <-time.After(8 * time.Second):
		t.Fatal("an idle stream was never cut")
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	var hits int
	var mu sync.Mutex
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
	}))
	defer target.Close()
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/elsewhere", http.StatusFound)
	}))
	defer upstream.Close()
	h := start(t, upstream.URL, nil, nil)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req := newReq(t, "GET", h.url("openai", "/v1/x"), "")
	req.Header.Set("Authorization", "Bearer "+openaiTok)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || !strings.HasSuffix(resp.Header.Get("Location"), "/elsewhere") {
		t.Fatalf("%d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	mu.Lock()
	defer mu.Unlock()
	if hits != 0 {
		t.Fatal("the proxy followed the redirect")
	}
}

func TestWebSocketUpgradeAndQueryCredential(t *testing.T) {
	var gotQuery string
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotQuery = r.URL.RawQuery
		if r.Header.Get("Upgrade") != "websocket" {
			http.Error(w, "want upgrade", 400)
			return
		}
		c, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		// Echo one line.
		line, _ := brw.ReadString('\n')
		brw.WriteString("echo " + line)
		brw.Flush()
	}))
	defer upstream.Close()
	sup, _ := catalog.Lookup("supabase")
	sup.Upstream = upstream.URL
	anon := token.New()
	h := start(t, upstream.URL, nil, func(o *Options) {
		o.Routes = append(o.Routes, sup)
		o.Secrets = append(o.Secrets, Secret{Name: "SUPABASE_ANON_KEY", Token: anon, Value: "anon-REAL-value-123"})
	})
	c, err := net.Dial("tcp", h.srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	path := "/_phantom/" + h.srv.SessionToken() + "/supabase/realtime/v1/websocket?apikey=" + anon + "&vsn=1.0.0"
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", path)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 101 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	fmt.Fprintf(c, "hello\n")
	line, err := br.ReadString('\n')
	if err != nil || line != "echo hello\n" {
		t.Fatalf("echo %q %v", line, err)
	}
	if gotQuery != "apikey=anon-REAL-value-123&vsn=1.0.0" {
		t.Fatalf("upstream query %q", gotQuery)
	}
}

func TestClientDisconnectMidStream(t *testing.T) {
	stopped := make(chan struct{})
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(stopped)
		w.Header().Set("Content-Type", "text/event-stream")
		for i := 0; i < 1000; i++ {
			if _, err := fmt.Fprintf(w, "data: %d\n\n", i); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}))
	defer upstream.Close()
	h := start(t, upstream.URL, nil, nil)
	resp, err := http.Get(h.url("openai", "/s"))
	if err != nil {
		t.Fatal(err)
	}
	bufio.NewReader(resp.Body).ReadString('\n')
	resp.Body.Close() // the client goes away
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("the upstream request was not cancelled after the client left")
	}
}

func TestAWSCredentialsEndpoint(t *testing.T) {
	h := start(t, "http://127.0.0.1:1", nil, func(o *Options) {
		o.AWS = func() (awsCreds, error) {
			return awsCreds{AccessKeyID: "AKIAEXAMPLE", SecretAccessKey: "aws-REAL-secret"}, nil
		}
	})
	var uri, tok string
	for _, kv := range h.srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "AWS_CONTAINER_CREDENTIALS_FULL_URI":
			uri = v
		case "AWS_CONTAINER_AUTHORIZATION_TOKEN":
			tok = v
		}
	}
	if uri == "" || tok == "" {
		t.Fatalf("env %v", h.srv.Env())
	}
	req := newReq(t, "GET", uri, "")
	req.Header.Set("Authorization", tok)
	resp, body := do(t, req)
	var got map[string]any
	json.Unmarshal([]byte(body), &got)
	if resp.StatusCode != 200 || got["AccessKeyId"] != "AKIAEXAMPLE" {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	// Without the session token in the path: 401 before the endpoint.
	resp, _ = do(t, newReq(t, "GET", strings.Replace(uri, h.srv.SessionToken(), strings.Repeat("1", 64), 1), ""))
	if resp.StatusCode != 401 {
		t.Fatalf("no session token: %d", resp.StatusCode)
	}
}

func TestNoValueInAuditEvents(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "bad key "+r.Header.Get("Authorization"), 401)
	}))
	defer upstream.Close()
	h := start(t, upstream.URL, nil, nil)
	req := newReq(t, "GET", h.url("openai", "/v1/models"), "")
	req.Header.Set("Authorization", "Bearer "+openaiTok)
	do(t, req)
	do(t, newReq(t, "GET", "http://"+h.srv.Addr()+"/x", ""))
	var all bytes.Buffer
	for i := 0; i < 2; i++ {
		select {
		case e := <-h.events:
			fmt.Fprintf(&all, "%+v\n", e)
		case <-time.After(5 * time.Second):
			t.Fatal("missing audit event")
		}
	}
	for _, v := range []string{openaiValue, stripeValue, h.srv.SessionToken()} {
		if strings.Contains(all.String(), v) {
			t.Fatalf("audit events carry a secret:\n%s", all.String())
		}
	}
}
