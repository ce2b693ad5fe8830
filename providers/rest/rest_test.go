package rest

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"phantomstack.dev/providers"
)

const secretToken = "tok_SECRET_0123456789abcdef"

// server is an httptest server on loopback whose handler answers call n
// (1-based) with answer(n, w, r).
type server struct {
	*httptest.Server
	calls atomic.Int32
	auth  sync.Map // Authorization headers seen
}

func newServer(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request)) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(s.calls.Add(1))
		s.auth.Store(r.Header.Get("Authorization"), true)
		answer(n, w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// waits records the policy's waits and returns at once.
type waits struct {
	mu sync.Mutex
	d  []time.Duration
}

func (w *waits) sleep(ctx context.Context, d time.Duration) error {
	w.mu.Lock()
	w.d = append(w.d, d)
	w.mu.Unlock()
	return ctx.Err()
}

// client points at s with a secret path in its base, as under phantom
// exec, where the proxy mount holds the session token.
func client(s *server, w *waits) *Client {
	c := &Client{
		Service: "Acme",
		Base:    s.URL + "/_phantom/SESSIONSECRET/acme",
		HTTP:    s.Client(),
		Token:   func() []byte { return []byte(secretToken) },
	}
	if w != nil {
		c.Sleep = w.sleep
	}
	return c
}

// noSecret fails when an error string holds the credential or the secret
// base path.
func noSecret(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range []string{secretToken, "SESSIONSECRET"} {
		if strings.Contains(err.Error(), s) {
			t.Fatalf("error %q holds %q", err, s)
		}
	}
}

func TestRetryAfter429Then200(t *testing.T) {
	for _, tc := range []struct {
		name, header string
		min, max     time.Duration
	}{
		{"seconds", "2", 2 * time.Second, 2 * time.Second},
		{"http date", time.Now().Add(4 * time.Second).UTC().Format(http.TimeFormat), time.Second, 4 * time.Second},
		{"capped", "3600", DefaultMaxWait, DefaultMaxWait},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
				if n == 1 {
					w.Header().Set("Retry-After", tc.header)
					w.WriteHeader(http.StatusTooManyRequests)
					io.WriteString(w, `{"message":"slow down"}`)
					return
				}
				io.WriteString(w, `{"name":"ok"}`)
			})
			var ws waits
			var out struct{ Name string }
			err := client(s, &ws).Do(context.Background(), Request{Method: http.MethodGet, Path: "/v1/thing", Out: &out})
			if err != nil || out.Name != "ok" || s.calls.Load() != 2 {
				t.Fatalf("err %v, out %+v, %d calls", err, out, s.calls.Load())
			}
			if len(ws.d) != 1 || ws.d[0] < tc.min || ws.d[0] > tc.max {
				t.Fatalf("waited %v, want one wait in [%v, %v]", ws.d, tc.min, tc.max)
			}
			if _, ok := s.auth.Load("Bearer " + secretToken); !ok {
				t.Fatal("the credential was not sent as a bearer token")
			}
		})
	}
}

func Test503GivesUpAfterTheCap(t *testing.T) {
	s := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"error":{"code":"down","message":"try later"}}`)
	})
	var ws waits
	err := client(s, &ws).Do(context.Background(), Request{Method: http.MethodGet, Path: "/v1/thing"})
	if s.calls.Load() != DefaultAttempts || len(ws.d) != DefaultAttempts-1 {
		t.Fatalf("%d calls, %d waits; want %d calls", s.calls.Load(), len(ws.d), DefaultAttempts)
	}
	for i, d := range ws.d {
		// Exponential with jitter: between half and all of base<<i.
		if full := DefaultBaseWait << i; d < full/2 || d > full {
			t.Fatalf("wait %d is %v, want within [%v, %v]", i, d, full/2, full)
		}
	}
	for _, want := range []string{"HTTP 503", "GET /v1/thing", "try later", "after 4 attempts"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("error %v lacks %q", err, want)
		}
	}
	if !errors.Is(err, providers.ErrUnreachable) || StatusOf(err) != 503 {
		t.Fatalf("error %v: not ErrUnreachable with status 503", err)
	}
	noSecret(t, err)
}

func TestOnlyIdempotentCallsAreRetried(t *testing.T) {
	for _, tc := range []struct {
		method     string
		idempotent bool
		calls      int32
	}{
		{http.MethodPost, false, 1},
		{http.MethodPatch, false, 1},
		{http.MethodPatch, true, DefaultAttempts},
		{http.MethodPost, true, DefaultAttempts},
		{http.MethodPut, false, DefaultAttempts},
		{http.MethodDelete, false, DefaultAttempts},
	} {
		s := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadGateway)
		})
		err := client(s, &waits{}).Do(context.Background(), Request{Method: tc.method, Path: "/v1/x", Body: map[string]string{"password": "hunter2-secret"}, Idempotent: tc.idempotent})
		if s.calls.Load() != tc.calls || StatusOf(err) != 502 {
			t.Fatalf("%s (idempotent %v): %d calls, want %d; %v", tc.method, tc.idempotent, s.calls.Load(), tc.calls, err)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Fatalf("error holds the body: %v", err)
		}
	}
	// A 4xx other than 429 is an answer, not a transient failure.
	s := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNotFound) })
	if err := client(s, &waits{}).Do(context.Background(), Request{Method: http.MethodGet, Path: "/v1/x"}); s.calls.Load() != 1 || StatusOf(err) != 404 || errors.Is(err, providers.ErrUnreachable) {
		t.Fatalf("404: %d calls, %v", s.calls.Load(), err)
	}
}

// closeConn drops the connection without an answer.
func closeConn(t *testing.T, w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		t.Error(err)
		return
	}
	conn.Close()
}

func TestConnectionClosedBeforeAnswer(t *testing.T) {
	for _, tc := range []struct {
		method string
		calls  int32
		ok     bool
	}{{http.MethodGet, 2, true}, {http.MethodPost, 1, false}} {
		s := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
			if n == 1 {
				closeConn(t, w)
				return
			}
			io.WriteString(w, `{}`)
		})
		err := client(s, &waits{}).Do(context.Background(), Request{Method: tc.method, Path: "/v1/x", Out: &struct{}{}})
		if s.calls.Load() != tc.calls || (err == nil) != tc.ok {
			t.Fatalf("%s: %d calls, err %v", tc.method, s.calls.Load(), err)
		}
		if err != nil && (!errors.Is(err, providers.ErrUnreachable) || !strings.Contains(err.Error(), "POST /v1/x")) {
			t.Fatalf("%s: error %v", tc.method, err)
		}
		noSecret(t, err)
	}
}

func TestTruncatedOrInvalidBodyIsAnError(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer func(w http.ResponseWriter)
		want   string
	}{
		{"cut off", func(w http.ResponseWriter) {
			w.Header().Set("Content-Length", "100")
			io.WriteString(w, `{"name":"o`)
		}, "cut off"},
		{"invalid", func(w http.ResponseWriter) { io.WriteString(w, `{"name":`) }, "unexpected end of JSON"},
		{"wrong shape", func(w http.ResponseWriter) { io.WriteString(w, `["a"]`) }, "cannot unmarshal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) { tc.answer(w) })
			var out struct{ Name string }
			err := client(s, &waits{}).Do(context.Background(), Request{Method: http.MethodGet, Path: "/v1/thing", Out: &out})
			if !errors.Is(err, ErrBadAnswer) || !strings.Contains(err.Error(), "GET /v1/thing") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v: want ErrBadAnswer naming GET /v1/thing and %q", err, tc.want)
			}
			noSecret(t, err)
		})
	}
}

func TestBodyOverTheLimitIsRefused(t *testing.T) {
	s := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"name":"`+strings.Repeat("a", 4096)+`"}`)
	})
	c := client(s, &waits{})
	c.MaxBody = 1024
	var out struct{ Name string }
	err := c.Do(context.Background(), Request{Method: http.MethodGet, Path: "/v1/big", Out: &out})
	if !errors.Is(err, ErrBadAnswer) || !strings.Contains(err.Error(), "larger than 1024 bytes") || !strings.Contains(err.Error(), "GET /v1/big") || out.Name != "" {
		t.Fatalf("error %v, name %d bytes", err, len(out.Name))
	}
	// At the limit it is read.
	c.MaxBody = int64(len(`{"name":"`) + 4096 + 2)
	if err := c.Do(context.Background(), Request{Method: http.MethodGet, Path: "/v1/big", Out: &out}); err != nil || len(out.Name) != 4096 {
		t.Fatalf("at the limit: %v", err)
	}
}

func TestCancelStopsRetries(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "8")
		w.WriteHeader(http.StatusServiceUnavailable)
		// Ctrl-C while the client waits to retry.
		time.AfterFunc(200*time.Millisecond, cancel)
	})
	c := client(s, nil) // real timers
	start := time.Now()
	err := c.Do(ctx, Request{Method: http.MethodGet, Path: "/v1/thing"})
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("Do returned after %v; a cancelled context must stop the retries", el)
	}
	if !errors.Is(err, context.Canceled) || StatusOf(err) != 503 || s.calls.Load() != 1 {
		t.Fatalf("error %v after %d calls", err, s.calls.Load())
	}
	// Cancelled while the request is in flight: no retry either.
	ctx2, cancel2 := context.WithCancel(context.Background())
	release := make(chan struct{})
	s2 := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		cancel2()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	defer close(release)
	start = time.Now()
	err = client(s2, nil).Do(ctx2, Request{Method: http.MethodGet, Path: "/v1/slow"})
	if time.Since(start) > 5*time.Second || !errors.Is(err, context.Canceled) || s2.calls.Load() != 1 {
		t.Fatalf("in flight: %v after %d calls", err, s2.calls.Load())
	}
}

func TestNoCredentialInErrors(t *testing.T) {
	// The API echoes the Authorization header in its error message.
	s := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":{"code":"`+r.Header.Get("Authorization")+`","message":"bad token `+r.Header.Get("Authorization")+`"}}`)
	})
	err := client(s, &waits{}).Do(context.Background(), Request{Method: http.MethodGet, Path: "/v1/me"})
	if !errors.Is(err, providers.ErrAuthInvalid) || !strings.Contains(err.Error(), "[redacted]") {
		t.Fatalf("401: %v", err)
	}
	noSecret(t, err)
	// 403 is an auth failure only for APIs that say so.
	s403 := newServer(t, func(n int, w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusForbidden) })
	c := client(s403, &waits{})
	if err := c.Do(context.Background(), Request{Method: http.MethodGet, Path: "/v1/me"}); errors.Is(err, providers.ErrAuthInvalid) {
		t.Fatalf("403 without ForbiddenIsAuth: %v", err)
	}
	c.ForbiddenIsAuth = true
	if err := c.Do(context.Background(), Request{Method: http.MethodGet, Path: "/v1/me"}); !errors.Is(err, providers.ErrAuthInvalid) {
		t.Fatalf("403 with ForbiddenIsAuth: %v", err)
	}
	// No answer at all: the error names the host, not the URL's secret path.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dead := &Client{Service: "Acme", Base: "http://" + addr + "/_phantom/SESSIONSECRET/acme", Token: func() []byte { return []byte(secretToken) }, Sleep: (&waits{}).sleep}
	err = dead.Do(context.Background(), Request{Method: http.MethodGet, Path: "/v1/me"})
	if !errors.Is(err, providers.ErrUnreachable) || !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "GET /v1/me") {
		t.Fatalf("refused: %v", err)
	}
	noSecret(t, err)
}

func TestRetryAfterHeader(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for h, want := range map[string]time.Duration{
		"":     0,
		"7":    7 * time.Second,
		"-1":   0,
		"soon": 0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Hour).Format(http.TimeFormat):       0,
	} {
		if got := retryAfter(h, now); got != want {
			t.Errorf("Retry-After %q: %v, want %v", h, got, want)
		}
	}
}
