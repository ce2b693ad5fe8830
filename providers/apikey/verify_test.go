package apikey_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"phantomstack.dev/providers"
	"phantomstack.dev/providers/apikey"
)

const testKey = "sk-test-0123456789abcdef"

// recorder is an upstream fake that records the last request it saw.
type recorder struct {
	status int
	last   atomic.Pointer[http.Request]
	hits   atomic.Int32
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec.hits.Add(1)
	rec.last.Store(r.Clone(context.Background()))
	w.WriteHeader(rec.status)
	w.Write([]byte(`{"error":"echo ` + r.Header.Get("Authorization") + r.Header.Get("x-api-key") + `"}`))
}

func newUpstream(t *testing.T, status int) (*recorder, *httptest.Server) {
	rec := &recorder{status: status}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	return rec, srv
}

func TestVerifySendsTheExactHeader(t *testing.T) {
	for _, s := range apikey.Specs() {
		t.Run(s.Name, func(t *testing.T) {
			rec, srv := newUpstream(t, http.StatusOK)
			h := apikey.Verify(context.Background(), srv.Client(), srv.URL, s.Verify, []byte(testKey))
			if h.Status != providers.StatusOK {
				t.Fatalf("status = %s (%s)", h.Status, h.Detail)
			}
			r := rec.last.Load()
			if r.Method != s.Verify.Method {
				t.Errorf("method %s", r.Method)
			}
			wantPath := strings.TrimPrefix(s.Verify.URL, "https://")
			wantPath = wantPath[strings.Index(wantPath, "/"):]
			if r.URL.Path != wantPath {
				t.Errorf("path %s, want %s", r.URL.Path, wantPath)
			}
			want := strings.Replace(s.Verify.Format, apikey.SecretPlaceholder, testKey, 1)
			if got := r.Header.Values(s.Verify.Header); len(got) != 1 || got[0] != want {
				t.Errorf("%s = %q, want exactly [%q]", s.Verify.Header, got, want)
			}
			for _, e := range s.Verify.Extra {
				if got := r.Header.Get(e.Name); got != e.Value {
					t.Errorf("%s = %q, want %q", e.Name, got, e.Value)
				}
			}
			if r.Header.Get("User-Agent") == "" {
				t.Error("no User-Agent")
			}
			// The key travels only in its header.
			for name, vals := range r.Header {
				if strings.EqualFold(name, s.Verify.Header) {
					continue
				}
				for _, v := range vals {
					if strings.Contains(v, testKey) {
						t.Errorf("key leaked into header %s", name)
					}
				}
			}
			if strings.Contains(r.URL.String(), testKey) {
				t.Error("key leaked into the URL")
			}
		})
	}
}

func TestVerifyAnthropicHeaders(t *testing.T) {
	rec, srv := newUpstream(t, http.StatusOK)
	s, _ := apikey.Lookup("anthropic")
	apikey.Verify(context.Background(), srv.Client(), srv.URL, s.Verify, []byte(testKey))
	r := rec.last.Load()
	if r.Header.Get("X-Api-Key") != testKey || r.Header.Get("Anthropic-Version") != "2023-06-01" || r.Header.Get("Authorization") != "" {
		t.Errorf("headers = %v", r.Header)
	}
}

func TestVerifyStatusMapping(t *testing.T) {
	s, _ := apikey.Lookup("openai")
	for _, tc := range []struct {
		code int
		want providers.Status
	}{
		{200, providers.StatusOK},
		{204, providers.StatusOK},
		{401, providers.StatusInvalid},
		{403, providers.StatusInvalid},
		{429, providers.StatusUnreachable},
		{500, providers.StatusUnreachable},
		{502, providers.StatusUnreachable},
		{503, providers.StatusUnreachable},
		{404, providers.StatusUnexpected},
		{400, providers.StatusUnexpected},
		{302, providers.StatusUnexpected},
	} {
		_, srv := newUpstream(t, tc.code)
		h := apikey.Verify(context.Background(), srv.Client(), srv.URL, s.Verify, []byte(testKey))
		if h.Status != tc.want {
			t.Errorf("HTTP %d → %s, want %s", tc.code, h.Status, tc.want)
		}
		if !strings.Contains(h.Detail, "HTTP ") || strings.Contains(h.Detail, testKey) || strings.Contains(h.Detail, "echo") {
			t.Errorf("HTTP %d detail %q: want the status, never the key or the body", tc.code, h.Detail)
		}
		if h.Latency <= 0 {
			t.Errorf("HTTP %d: no latency", tc.code)
		}
		if h.OK() != (tc.want == providers.StatusOK) {
			t.Errorf("OK() wrong for %s", h.Status)
		}
	}
}

func TestVerifyNetworkErrorIsUnreachable(t *testing.T) {
	_, srv := newUpstream(t, 200)
	base := srv.URL
	srv.Close() // nothing listens there now
	s, _ := apikey.Lookup("openai")
	h := apikey.Verify(context.Background(), srv.Client(), base, s.Verify, []byte(testKey))
	if h.Status != providers.StatusUnreachable {
		t.Fatalf("status = %s (%s)", h.Status, h.Detail)
	}
	if strings.Contains(h.Detail, "/v1/models") || strings.Contains(h.Detail, testKey) {
		t.Errorf("detail %q must not carry the path or the key", h.Detail)
	}
}

func TestVerifyTimeoutIsUnreachable(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(block) })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	s, _ := apikey.Lookup("openai")
	h := apikey.Verify(ctx, srv.Client(), srv.URL, s.Verify, []byte(testKey))
	if h.Status != providers.StatusUnreachable || !strings.Contains(h.Detail, "timed out") {
		t.Errorf("got %s (%s)", h.Status, h.Detail)
	}
}

func TestVerifyDoesNotFollowRedirects(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
	t.Cleanup(other.Close)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/steal", http.StatusFound)
	}))
	t.Cleanup(srv.Close)
	s, _ := apikey.Lookup("anthropic") // x-api-key survives cross-host redirects in net/http
	h := apikey.Verify(context.Background(), srv.Client(), srv.URL, s.Verify, []byte(testKey))
	if h.Status != providers.StatusUnexpected {
		t.Errorf("status = %s", h.Status)
	}
	if elsewhere.Load() != 0 {
		t.Error("the redirect was followed: the key went to another host")
	}
}

func TestVerifyRejectsBadKeysWithoutSending(t *testing.T) {
	rec, srv := newUpstream(t, 200)
	s, _ := apikey.Lookup("openai")
	if h := apikey.Verify(context.Background(), srv.Client(), srv.URL, s.Verify, nil); h.Status != providers.StatusMissing {
		t.Errorf("empty key: %s", h.Status)
	}
	if h := apikey.Verify(context.Background(), srv.Client(), srv.URL, s.Verify, []byte("sk-abc\r\nX-Evil: 1")); h.Status != providers.StatusInvalid {
		t.Errorf("CRLF key: %s", h.Status)
	}
	if rec.hits.Load() != 0 {
		t.Error("a bad key was sent upstream")
	}
}

func TestResolveURL(t *testing.T) {
	const ep = "https://api.openai.com/v1/models?limit=1"
	for _, tc := range []struct{ base, want string }{
		{"", ep},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080/v1/models?limit=1"},
		{"http://127.0.0.1:8080/", "http://127.0.0.1:8080/v1/models?limit=1"},
		{"http://localhost:9/_phantom/tok/openai", "http://localhost:9/_phantom/tok/openai/v1/models?limit=1"},
		{"http://[::1]:9/p/", "http://[::1]:9/p/v1/models?limit=1"},
		{"https://gateway.example.com/openai", "https://gateway.example.com/openai/v1/models?limit=1"},
	} {
		u, err := apikey.ResolveURL(tc.base, ep)
		if err != nil || u.String() != tc.want {
			t.Errorf("ResolveURL(%q) = %v, %v; want %s", tc.base, u, err, tc.want)
		}
	}
	for _, bad := range []string{
		"http://api.example.com",        // clear text off loopback
		"ftp://127.0.0.1",               // scheme
		"127.0.0.1:8080",                // no scheme
		"https://user:pw@example.com",   // credentials
		"https://example.com/?q=1",      // query
		"http://127.0.0.1.evil.com:80/", // not loopback
	} {
		if _, err := apikey.ResolveURL(bad, ep); err == nil {
			t.Errorf("ResolveURL(%q) accepted", bad)
		}
	}
	_, err := apikey.ResolveURL("https://user:hunter2@example.com/_phantom/sessiontoken", ep)
	if err == nil || strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "sessiontoken") {
		t.Errorf("error %v must not echo credentials or the path", err)
	}
}

func TestVerifyBadOverrideSendsNothing(t *testing.T) {
	s, _ := apikey.Lookup("openai")
	h := apikey.Verify(context.Background(), nil, "http://api.example.com", s.Verify, []byte(testKey))
	if h.Status != providers.StatusUnexpected || !strings.Contains(h.Detail, "loopback") {
		t.Errorf("got %s (%s)", h.Status, h.Detail)
	}
}
