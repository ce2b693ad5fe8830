package proxy

import (
	"bufio"
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
)

// TestProviderErrorShapes: the proxy's own answers come in the route's
// provider error shape, so the official SDKs show phantom's explanation
// instead of a bare string; other routes keep phantom's flat shape.
func TestProviderErrorShapes(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer upstream.Close()
	h := start(t, upstream.URL, nil, nil)
	unknown := "phm_" + strings.Repeat("ab", 32)
	decode := func(body string) map[string]any {
		t.Helper()
		var m map[string]any
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Fatalf("not JSON: %v: %s", err, body)
		}
		return m
	}

	// OpenAI: {"error": {"message", "type", "param", "code"}}.
	req := newReq(t, "GET", h.url("openai", "/v1/models"), "")
	req.Header.Set("Authorization", "Bearer "+unknown)
	resp, body := do(t, req)
	m := decode(body)
	e, _ := m["error"].(map[string]any)
	if resp.StatusCode != 403 || e == nil || !strings.Contains(fmt.Sprint(e["message"]), "phantom proxy: the phm token in Authorization header is not in this project's vault") ||
		e["type"] != "authentication_error" || e["code"] != "phantom_proxy_forbidden" {
		t.Fatalf("openai 403: %d %s", resp.StatusCode, body)
	}
	if _, ok := e["param"]; !ok {
		t.Fatalf("openai shape lacks param: %s", body)
	}
	if own, _ := m["phantom"].(map[string]any); own == nil || own["route"] != "openai" || own["status"] != float64(403) {
		t.Fatalf("phantom's own fields: %s", body)
	}

	// Anthropic: {"type": "error", "error": {"type", "message"}}.
	req = newReq(t, "POST", h.url("anthropic", "/v1/messages"), "{}")
	req.Header.Set("X-Api-Key", unknown)
	resp, body = do(t, req)
	m = decode(body)
	e, _ = m["error"].(map[string]any)
	if resp.StatusCode != 403 || m["type"] != "error" || e == nil || e["type"] != "permission_error" ||
		!strings.Contains(fmt.Sprint(e["message"]), "phantom proxy: the phm token in X-Api-Key header is not in this project's vault") {
		t.Fatalf("anthropic 403: %d %s", resp.StatusCode, body)
	}

	// 401 (wrong session token) on an OpenAI path: the OpenAI shape too.
	bad := "http://" + h.srv.Addr() + "/_phantom/" + strings.Repeat("0", 64) + "/openai/v1/models"
	resp, body = do(t, newReq(t, "GET", bad, ""))
	e, _ = decode(body)["error"].(map[string]any)
	if resp.StatusCode != 401 || e == nil || e["type"] != "authentication_error" || !strings.Contains(fmt.Sprint(e["message"]), "session token") {
		t.Fatalf("openai 401: %d %s", resp.StatusCode, body)
	}

	// Any other route: phantom's flat shape.
	req = newReq(t, "GET", h.url("stripe", "/v1/charges"), "")
	req.Header.Set("Authorization", "Bearer "+unknown)
	resp, body = do(t, req)
	if m := decode(body); resp.StatusCode != 403 || !strings.Contains(fmt.Sprint(m["error"]), "not in this project's vault") || m["route"] != "stripe" {
		t.Fatalf("stripe 403: %d %s", resp.StatusCode, body)
	}
}

// rawPost sends raw bytes to the proxy and reads one response.
func rawPost(t *testing.T, h *harness, head, body string) (int, string) {
	t.Helper()
	c, err := net.Dial("tcp", h.srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	path := strings.TrimPrefix(h.url("openai", "/v1/files"), "http://"+h.srv.Addr())
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: %s\r\n%s\r\n%s", path, h.srv.Addr(), head, body)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no response: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestClientFramingError: a request body the client framed wrongly is a
// 400 from the proxy, and the upstream never receives it as a complete
// request (before: 502 "upstream request failed", and the upstream got an
// empty POST).
func TestClientFramingError(t *testing.T) {
	var mu sync.Mutex
	var got []string
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, fmt.Sprintf("%s %d bytes err=%v", r.Method, len(b), err))
		mu.Unlock()
	}))
	defer upstream.Close()
	h := start(t, upstream.URL, nil, nil)

	// Malformed at once: a chunk size that is not hex.
	code, body := rawPost(t, h, "Transfer-Encoding: chunked\r\n", "zz\r\nhello\r\n0\r\n\r\n")
	if code != http.StatusBadRequest || !strings.Contains(body, "could not read the request body") {
		t.Fatalf("malformed chunk: %d %s", code, body)
	}
	// Malformed after more than the part read up front.
	big := strings.Repeat("a", 100<<10)
	code, body = rawPost(t, h, "Transfer-Encoding: chunked\r\n", fmt.Sprintf("%x\r\n%s\r\nzz\r\n", len(big), big))
	if code != http.StatusBadRequest || !strings.Contains(body, "could not read the request body") {
		t.Fatalf("malformed later chunk: %d %s", code, body)
	}
	// Valid chunked bodies still pass, small and large.
	if code, body := rawPost(t, h, "Transfer-Encoding: chunked\r\n", "5\r\nhello\r\n0\r\n\r\n"); code != 200 {
		t.Fatalf("valid chunked: %d %s", code, body)
	}
	if code, body := rawPost(t, h, "Transfer-Encoding: chunked\r\n", fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(big), big)); code != 200 {
		t.Fatalf("valid large chunked: %d %s", code, body)
	}
	time.Sleep(100 * time.Millisecond) // let the upstream handler record
	mu.Lock()
	defer mu.Unlock()
	complete := 0
	for _, g := range got {
		if strings.HasSuffix(g, "err=<nil>") {
			complete++
			if g != "POST 5 bytes err=<nil>" && g != fmt.Sprintf("POST %d bytes err=<nil>", len(big)) {
				t.Errorf("upstream received a request as complete that the client never finished: %s", g)
			}
		}
	}
	if complete != 2 {
		t.Errorf("upstream saw %v; want exactly the two valid requests complete", got)
	}
}

// TestLargeResponseKeepsContentLength: a response over 1 MiB with a
// Content-Length is scrubbed and keeps a (corrected) Content-Length, up to
// the proxy's body limit.
func TestLargeResponseKeepsContentLength(t *testing.T) {
	payload := strings.Repeat("x", 3<<20) + openaiValue + strings.Repeat("y", 10)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(payload)))
		io.WriteString(w, payload)
	}))
	defer upstream.Close()
	h := start(t, upstream.URL, nil, nil)
	resp, body := do(t, newReq(t, "GET", h.url("openai", "/v1/files/f/content"), ""))
	if resp.StatusCode != 200 || strings.Contains(body, openaiValue) || !strings.Contains(body, openaiTok) {
		t.Fatalf("status %d, scrubbed %v", resp.StatusCode, !strings.Contains(body, openaiValue))
	}
	if resp.ContentLength != int64(len(body)) || resp.Header.Get("Content-Length") != fmt.Sprint(len(body)) {
		t.Fatalf("Content-Length %q (%d) for a %d-byte body; transfer %v", resp.Header.Get("Content-Length"), resp.ContentLength, len(body), resp.TransferEncoding)
	}
	// HEAD: no body, and the Content-Length a GET would have.
	resp, _ = do(t, newReq(t, "HEAD", h.url("openai", "/v1/files/f/content"), ""))
	if resp.StatusCode != 200 || resp.Header.Get("Content-Length") != fmt.Sprint(len(payload)) {
		t.Fatalf("HEAD: %d Content-Length %q, want %d", resp.StatusCode, resp.Header.Get("Content-Length"), len(payload))
	}
}
