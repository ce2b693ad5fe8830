package proxy

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

var pctHex = regexp.MustCompile(`%[0-9A-F]{2}`)

// encodedForms is every encoding of v the proxy must scrub, computed here
// with the standard library rather than with scrub's own code.
func encodedForms(v string) map[string]string {
	jsonGo, _ := json.Marshal(v)
	return map[string]string{
		"raw":        v,
		"b64std":     base64.StdEncoding.EncodeToString([]byte(v)),
		"b64stdraw":  base64.RawStdEncoding.EncodeToString([]byte(v)),
		"b64url":     base64.URLEncoding.EncodeToString([]byte(v)),
		"b64urlraw":  base64.RawURLEncoding.EncodeToString([]byte(v)),
		"hex":        hex.EncodeToString([]byte(v)),
		"HEX":        strings.ToUpper(hex.EncodeToString([]byte(v))),
		"query":      url.QueryEscape(v),
		"querylower": pctHex.ReplaceAllStringFunc(url.QueryEscape(v), strings.ToLower),
		"path":       url.PathEscape(v),
		"json":       strings.Trim(string(jsonGo), `"`),
		"jsonslash":  strings.ReplaceAll(strings.Trim(string(jsonGo), `"`), "/", `\/`),
	}
}

// b64Decodings decodes s as one base64 stream from each of its four
// character alignments, skipping bytes outside both alphabets, so a value
// embedded at any offset of a larger blob shows up in one of them.
func b64Decodings(s string) [][]byte {
	const std = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	var sextets []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '-':
			sextets = append(sextets, 62)
		case c == '_':
			sextets = append(sextets, 63)
		case strings.IndexByte(std, c) >= 0:
			sextets = append(sextets, byte(strings.IndexByte(std, c)))
		default:
			sextets = append(sextets, 0xff) // a break: resets the stream
		}
	}
	var out [][]byte
	for start := range 4 {
		var b []byte
		var acc, n uint
		for _, x := range sextets[min(start, len(sextets)):] {
			if x == 0xff {
				acc, n = 0, 0
				b = append(b, 0)
				continue
			}
			acc = acc<<6 | uint(x)
			n += 6
			if n >= 8 {
				b = append(b, byte(acc>>(n-8)))
				n -= 8
			}
		}
		out = append(out, b)
	}
	return out
}

// assertScrubbed fails when any form of a real value, or the value inside
// any base64 run, is in s.
func assertScrubbed(t *testing.T, where, s string) {
	t.Helper()
	for _, v := range []string{openaiValue, storedValue} {
		for name, f := range encodedForms(v) {
			if strings.Contains(s, f) {
				t.Errorf("%s: %s form of a real value reached the client: %.300q", where, name, s)
			}
		}
		for _, d := range b64Decodings(s) {
			if bytes.Contains(d, []byte(v)) {
				t.Errorf("%s: a real value is in a base64 run of %.300q", where, s)
			}
		}
	}
}

// encodedBody is a body holding the values in every form, and inside base64
// blobs at each of the three byte alignments.
func encodedBody() string {
	var b strings.Builder
	for _, v := range []string{openaiValue, storedValue} {
		for name, f := range encodedForms(v) {
			fmt.Fprintf(&b, "%s=%s\n", name, f)
		}
		for k := range 3 {
			blob := strings.Repeat("p", 10+k) + v + "-and-some-more-text"
			fmt.Fprintf(&b, "blob%d=%s\n", k, base64.StdEncoding.EncodeToString([]byte(blob)))
			fmt.Fprintf(&b, "urlblob%d=%s\n", k, base64.RawURLEncoding.EncodeToString([]byte(blob)))
		}
	}
	fmt.Fprintf(&b, `{"escaped":%s}`+"\n", must(json.Marshal("<"+storedValue+">")))
	return b.String()
}

func must(b []byte, err error) string {
	if err != nil {
		panic(err)
	}
	return string(b)
}

func TestEncodedValuesScrubbed(t *testing.T) {
	body := encodedBody()
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for name, f := range encodedForms(openaiValue) {
			w.Header().Set("X-Echo-"+name, f)
		}
		switch r.URL.Path {
		case "/buffered":
			io.WriteString(w, body)
		case "/streamed":
			fl := w.(http.Flusher)
			for i := 0; i < len(body); i += 7 {
				io.WriteString(w, body[i:min(i+7, len(body))])
				fl.Flush()
			}
		}
	}))
	defer upstream.Close()
	h := start(t, upstream.URL, nil, nil)
	for _, path := range []string{"/buffered", "/streamed"} {
		resp, got := do(t, newReq(t, "GET", h.url("openai", path), ""))
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, got)
		}
		assertScrubbed(t, path+" body", got)
		assertScrubbed(t, path+" headers", fmt.Sprint(resp.Header))
		// Each form is replaced by the token in the same form.
		for name, f := range encodedForms(openaiTok) {
			if !strings.Contains(got, name+"="+f+"\n") {
				t.Errorf("%s: %s form not replaced by the token's %s form", path, name, name)
			}
		}
		if resp.Header.Get("X-Echo-B64std") != base64.StdEncoding.EncodeToString([]byte(openaiTok)) {
			t.Errorf("%s: header not replaced by the token's base64: %q", path, resp.Header.Get("X-Echo-B64std"))
		}
	}
}

func TestEarlyHintsAndTrailersScrubbed(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css?k="+openaiValue+">; rel=preload")
		w.Header().Set("X-Hint", base64.StdEncoding.EncodeToString([]byte(openaiValue)))
		w.Header().Set("X-"+openaiValue, "named after the key")
		w.WriteHeader(http.StatusEarlyHints)
		h := w.Header()
		clear(h)
		h.Set("Trailer", "X-Announced")
		h.Set("Content-Type", "text/plain")
		w.WriteHeader(200)
		io.WriteString(w, "body\n")
		w.(http.Flusher).Flush()
		h.Set("X-Announced", "key="+openaiValue)
		h.Set(http.TrailerPrefix+"X-Unannounced", hex.EncodeToString([]byte(openaiValue)))
	}))
	defer upstream.Close()
	h := start(t, upstream.URL, nil, nil)

	var mu sync.Mutex
	var hints []string
	req := newReq(t, "GET", h.url("openai", "/hints"), "")
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		Got1xxResponse: func(code int, hdr textproto.MIMEHeader) error {
			mu.Lock()
			defer mu.Unlock()
			hints = append(hints, fmt.Sprint(code, hdr))
			return nil
		},
	}))
	resp, body := do(t, req)
	if resp.StatusCode != 200 || body != "body\n" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	mu.Lock()
	all := strings.Join(hints, "\n")
	mu.Unlock()
	if !strings.Contains(all, "103") || !strings.Contains(all, openaiTok) {
		t.Fatalf("the 103 did not arrive scrubbed: %q", all)
	}
	assertScrubbed(t, "103 headers", all)
	tr := fmt.Sprint(resp.Trailer)
	if !strings.Contains(tr, openaiTok) || !strings.Contains(tr, hex.EncodeToString([]byte(openaiTok))) {
		t.Fatalf("trailers not there or not scrubbed: %q", tr)
	}
	assertScrubbed(t, "trailers", tr)
	assertScrubbed(t, "headers", fmt.Sprint(resp.Header))
	ev := <-h.events
	if ev.Status != 200 {
		t.Fatalf("audited status %d, want 200 (not the 103)", ev.Status)
	}
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func TestCompressedBodiesRefused(t *testing.T) {
	leak := []byte(`{"key":"` + openaiValue + `"}`)
	var zl bytes.Buffer
	zw := zlib.NewWriter(&zl)
	zw.Write(leak)
	zw.Close()
	bodies := map[string]struct {
		enc  string
		body []byte
	}{
		"gzip as identity":   {"", gz(leak)},
		"gzip declared none": {"identity", gz(leak)},
		"gzip in gzip":       {"gzip", gz(gz(leak))},
		"zlib as identity":   {"", zl.Bytes()},
		"zstd as identity":   {"", append([]byte{0x28, 0xb5, 0x2f, 0xfd, 0x24, 0x10}, leak...)},
		"xz as identity":     {"", append([]byte{0xfd, '7', 'z', 'X', 'Z', 0, 0, 4}, leak...)},
		"bzip2 as identity":  {"", append([]byte("BZh91AY&SY\x01\x02"), leak...)},
		"zip as identity":    {"", append([]byte("PK\x03\x04\x14\x00"), leak...)},
		"zstd in gzip":       {"gzip", gz(append([]byte{0x28, 0xb5, 0x2f, 0xfd}, leak...))},
		"gzip magic only":    {"", []byte{0x1f, 0x8b}},
	}
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := bodies[r.URL.Query().Get("b")]
		if b.enc != "" {
			w.Header().Set("Content-Encoding", b.enc)
		}
		if r.URL.Path == "/streamed" {
			fl := w.(http.Flusher)
			for i := range b.body {
				w.Write(b.body[i : i+1])
				fl.Flush()
			}
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(b.body)))
		w.Write(b.body)
	}))
	defer upstream.Close()
	h := start(t, upstream.URL, nil, nil)
	for name := range bodies {
		for _, path := range []string{"/buffered", "/streamed"} {
			resp, got := do(t, newReq(t, "GET", h.url("openai", path+"?b="+url.QueryEscape(name)), ""))
			if resp.StatusCode != http.StatusBadGateway || !strings.Contains(got, "cannot scrub") {
				t.Errorf("%s %s: %d %q", name, path, resp.StatusCode, got)
			}
			if bytes.Contains([]byte(got), []byte(openaiValue)) {
				t.Errorf("%s %s: the value reached the client", name, path)
			}
			ev := <-h.events
			if ev.Status != http.StatusBadGateway || !strings.Contains(ev.Error, "compressed") {
				t.Errorf("%s %s: audited %d %q", name, path, ev.Status, ev.Error)
			}
		}
	}
}

func TestTextThatLooksLikeAMagicPasses(t *testing.T) {
	for _, body := range []string{
		"x^2 + y^2 = z^2, said the API", // a valid zlib header, then text
		"hE", "BZh9 is a bzip2 block size", "PK is not a zip", "7z", "(", "x", "",
		"data: {\"n\":1}\n\n", "{\"ok\":true}", "x\u00da\u0080 looks odd but is text",
	} {
		if k, _ := sniff([]byte(body), true); k != "" {
			t.Errorf("%q sniffed as %s", body, k)
		}
	}
	// An SSE stream is decided on its first byte: nothing waits for more.
	if _, more := sniff([]byte("d"), false); more {
		t.Error("a body starting with 'd' waits for more bytes")
	}
}

func TestPathTraversalRefused(t *testing.T) {
	var up seen
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		up.add(r)
		io.WriteString(w, r.URL.EscapedPath())
	}))
	defer upstream.Close()
	// The route's upstream has a base path, like https://api.openai.com/v1.
	h := start(t, upstream.URL+"/v1", nil, nil)
	refused := []string{
		"/../admin", "/chat/../../admin", "/%2e%2e/admin", "/%2E%2e/admin", "/.%2e/admin", "/%2e./admin",
		"/..%2fadmin", "/..%2Fadmin", "/x/..%5c..%5cadmin", "/%252e%252e/admin", "/%25252e%25252e/admin",
		"/..", "/a/../..",
	}
	for _, p := range refused {
		req := newReq(t, "GET", h.url("openai", p), "")
		req.Header.Set("Authorization", "Bearer "+openaiTok)
		resp, body := do(t, req)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d %s", p, resp.StatusCode, body)
			continue
		}
		ev := <-h.events
		if ev.Status != http.StatusBadRequest || ev.Route != "openai" || ev.Error == "" || len(ev.Secrets) != 0 {
			t.Errorf("%s: audited %+v", p, ev)
		}
	}
	up.mu.Lock()
	n := len(up.reqs)
	up.mu.Unlock()
	if n != 0 {
		r, _ := up.last(t)
		t.Fatalf("%d refused requests reached the upstream, e.g. %s with %q", n, r.URL.EscapedPath(), r.Header.Get("Authorization"))
	}
	// Inside the route: resolved, or passed unchanged.
	allowed := map[string]string{
		"/chat/../models":          "/v1/models",
		"/./models":                "/v1/models",
		"/a/%2e%2e/models":         "/v1/models",
		"/projects/group%2Fname/x": "/v1/projects/group%2Fname/x",
		"/files/a..b/...":          "/v1/files/a..b/...",
		"/a/b/..":                  "/v1/a/",
	}
	for p, want := range allowed {
		req := newReq(t, "GET", h.url("openai", p), "")
		req.Header.Set("Authorization", "Bearer "+openaiTok)
		resp, body := do(t, req)
		if resp.StatusCode != 200 || body != want {
			t.Errorf("%s: %d, upstream got %q, want %q", p, resp.StatusCode, body, want)
		}
		<-h.events
	}
}

func TestContinueThen413AuditedAs413(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // sends 100 Continue to the proxy
	}))
	defer upstream.Close()
	h := start(t, upstream.URL, nil, func(o *Options) { o.MaxBodyBytes = 1024 })
	req := newReq(t, "POST", h.url("openai", "/v1/files"), "")
	req.Body = io.NopCloser(strings.NewReader(strings.Repeat("a", 64<<10)))
	req.ContentLength = -1
	req.Header.Set("Expect", "100-continue")
	resp, body := do(t, req)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	select {
	case ev := <-h.events:
		if ev.Status != http.StatusRequestEntityTooLarge {
			t.Fatalf("audited status %d, want 413", ev.Status)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no audit event")
	}
}
