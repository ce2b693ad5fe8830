//go:build linux

package redteam

import (
	"bytes"
	"compress/gzip"
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
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// path8Paths are the ways the upstream below hands the key back.
var path8Paths = []string{"/hints", "/trailers", "/gzip-as-identity", "/gzip-in-gzip", "/zstd", "/encoded", "/encoded-streamed"}

func init() {
	// The agent's program: fetch every path through phantom's proxy with
	// the token it was given, and keep everything that came back (1xx
	// headers, headers, body, trailers), decoded every way it knows, in a
	// file of its own in the project, which phantom does not mask.
	children["path8"] = func(args []string) int {
		base := os.Getenv("OPENAI_BASE_URL")
		tok := os.Getenv("OPENAI_API_KEY")
		var all bytes.Buffer
		client := &http.Client{Timeout: 20 * time.Second}
		for _, p := range path8Paths {
			var mu sync.Mutex
			req, _ := http.NewRequest("GET", base+p, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
				Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
					mu.Lock()
					defer mu.Unlock()
					fmt.Fprintf(&all, "%s 1xx %d %v\n", p, code, h)
					return nil
				},
			}))
			resp, err := client.Do(req)
			if err != nil {
				fmt.Fprintf(&all, "%s error %v\n", p, err)
				continue
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			mu.Lock()
			fmt.Fprintf(&all, "%s status %d\n%s headers %v\n%s body\n%s\n%s trailers %v\n", p, resp.StatusCode, p, resp.Header, p, body, p, resp.Trailer)
			mu.Unlock()
		}
		writeReceived("received-path8.txt", all.Bytes())
		os.Stdout.Write(all.Bytes())
		return 0
	}
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// echoForms is the key in every form an API could echo it in, one a line,
// and inside a larger base64 blob (HTTP Basic credentials) at each offset.
func echoForms(key string) string {
	js, _ := json.Marshal("<" + key + "/>")
	var b strings.Builder
	for _, f := range []string{
		key,
		base64.StdEncoding.EncodeToString([]byte(key)),
		base64.RawStdEncoding.EncodeToString([]byte(key)),
		base64.URLEncoding.EncodeToString([]byte(key)),
		base64.RawURLEncoding.EncodeToString([]byte(key)),
		hex.EncodeToString([]byte(key)),
		strings.ToUpper(hex.EncodeToString([]byte(key))),
		url.QueryEscape(key + " /&"),
		url.PathEscape(key + " /&"),
		string(js),
		strings.ReplaceAll(string(js), "/", `\/`),
	} {
		b.WriteString("form: " + f + "\n")
	}
	for k := range 3 {
		b.WriteString("basic: " + base64.StdEncoding.EncodeToString([]byte(strings.Repeat("u", 4+k)+":"+key)) + "\n")
	}
	return b.String()
}

// TestPath8_Scrubbing: the agent, under `phantom exec`, calls an API whose
// responses hand the key back in every way phantom's scrubber used to miss:
// in the headers of a 103 Early Hints, in HTTP trailers (announced and
// not), in a gzip body sent without Content-Encoding, gzip inside gzip,
// zstd bytes, and base64 / hex / percent / JSON-escaped, buffered and
// streamed. It decodes everything it received every way it can and keeps it
// in a file of its own (phantom masks the child's output, not its files).
// No form of the value may be anywhere it can read; the refused bodies are
// audited.
func TestPath8_Scrubbing(t *testing.T) {
	a := NewAgent(t, []string{"OPENAI_API_KEY"})
	key := a.Value("OPENAI_API_KEY")
	var gotKey sync.Map
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		gotKey.Store(r.URL.Path, k == key)
		h := w.Header()
		switch strings.TrimPrefix(r.URL.Path, "/v1") {
		case "/hints":
			h.Set("Link", "</app.css?key="+k+">; rel=preload")
			h.Set("X-Key-B64", base64.StdEncoding.EncodeToString([]byte(k)))
			w.WriteHeader(http.StatusEarlyHints)
			clear(h)
			io.WriteString(w, "ok\n")
		case "/trailers":
			h.Set("Trailer", "X-Echo")
			w.WriteHeader(200)
			io.WriteString(w, "body\n")
			w.(http.Flusher).Flush()
			h.Set("X-Echo", k)
			h.Set(http.TrailerPrefix+"X-Late", hex.EncodeToString([]byte(k)))
		case "/gzip-as-identity":
			w.Write(gzipped([]byte(`{"echo":"` + k + `"}`)))
		case "/gzip-in-gzip":
			h.Set("Content-Encoding", "gzip")
			w.Write(gzipped(gzipped([]byte(`{"echo":"` + k + `"}`))))
		case "/zstd":
			w.Write(append([]byte{0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x58}, k...))
		case "/encoded":
			h.Set("X-Echo-Hex", hex.EncodeToString([]byte(k)))
			h.Set("X-Echo-Pct", url.QueryEscape(k+"/"))
			io.WriteString(w, echoForms(k))
		case "/encoded-streamed":
			body := echoForms(k)
			for i := 0; i < len(body); i += 5 {
				io.WriteString(w, body[i:min(i+5, len(body))])
				w.(http.Flusher).Flush()
			}
		}
	}))
	defer upstream.Close()
	a.RouteTo("openai", upstream.URL)

	r := a.Phantom("", append([]string{"exec", "--"}, Child("path8")...)...)
	if r.Code != 0 {
		t.Fatalf("exec: exit %d\n%s", r.Code, r.Out())
	}
	a.AssertClean(r) // stdout/stderr and every file in the project, received-path8.txt included
	got := a.ReadFile("received-path8.txt")
	for _, p := range path8Paths {
		if ok, _ := gotKey.Load("/v1" + p); ok != true {
			t.Errorf("%s: the upstream did not get the real key, so the test proves nothing", p)
		}
	}
	// The scrubbed forms arrived (not merely errors).
	for _, want := range []string{"/hints 1xx 103", "/trailers trailers map[", "/encoded status 200", "/encoded-streamed status 200", "phm_"} {
		if !strings.Contains(got, want) {
			t.Errorf("the agent's record lacks %q:\n%.3000s", want, got)
		}
	}
	for _, p := range []string{"/gzip-as-identity", "/gzip-in-gzip", "/zstd"} {
		if !strings.Contains(got, p+" status 502") {
			t.Errorf("%s was not refused:\n%.3000s", p, got)
		}
	}
	a.AssertAudited("proxy.request", "status=502")
	a.AssertAudited("proxy.request", "gzip-compressed")
	a.AssertAudited("proxy.request", "zstd-compressed")
}
