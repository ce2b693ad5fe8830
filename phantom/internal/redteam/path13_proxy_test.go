//go:build linux

package redteam

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// path13Climbs are request paths, after the route's mount (whose upstream
// is http://upstream/v1), that climb out of /v1, in the spellings servers
// are known to normalise.
var path13Climbs = []string{
	"/../../admin", "/../admin", "/chat/../../admin",
	"/%2e%2e/admin", "/%2E%2e/admin", "/.%2e/admin", "/%2e./admin",
	"/..%2fadmin", "/..%2Fadmin", "/..%5cadmin", "/..\\admin",
	"/%252e%252e/admin", "/..",
}

func init() {
	// The agent's program: raw HTTP requests to phantom's proxy, so no
	// client library cleans the path first; prints each status line.
	children["path13"] = func(args []string) int {
		// OPENAI_BASE_URL is the route's mount plus the SDK's "/v1"
		// suffix; the paths below are relative to the mount, which the
		// upstream's base URL (…/v1) stands behind.
		base, err := url.Parse(strings.TrimSuffix(os.Getenv("OPENAI_BASE_URL"), "/v1"))
		if err != nil {
			fmt.Println(err)
			return 1
		}
		tok := os.Getenv("OPENAI_API_KEY")
		for _, p := range path13Climbs {
			c, err := net.DialTimeout("tcp", base.Host, 5*time.Second)
			if err != nil {
				fmt.Println(err)
				return 1
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			fmt.Fprintf(c, "GET %s%s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n", base.EscapedPath(), p, base.Host, tok)
			line, _ := bufio.NewReader(c).ReadString('\n')
			c.Close()
			fmt.Printf("%s -> %s\n", p, strings.TrimSpace(line))
		}
		return 0
	}
	// An upload larger than the proxy's body limit, of unknown length and
	// with Expect: 100-continue (as curl sends it).
	children["path13big"] = func(args []string) int {
		body := io.LimitReader(zeros{}, 11<<20)
		req, _ := http.NewRequest("POST", os.Getenv("OPENAI_BASE_URL")+"/files", io.NopCloser(body))
		req.ContentLength = -1
		req.Header.Set("Expect", "100-continue")
		req.Header.Set("Authorization", "Bearer "+os.Getenv("OPENAI_API_KEY"))
		resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
		if err != nil {
			fmt.Println("error:", err)
			return 0
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		fmt.Println("status", resp.StatusCode)
		return 0
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// recordingUpstream is the API behind the route, with a base path: it
// records the path and the credential of every request it gets.
type recordingUpstream struct {
	mu   sync.Mutex
	reqs []string // "path auth=<did it carry the key>"
}

func (u *recordingUpstream) handler(key string, h func(w http.ResponseWriter, r *http.Request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.reqs = append(u.reqs, fmt.Sprintf("%s auth=%v", r.URL.EscapedPath(), strings.Contains(r.Header.Get("Authorization"), key)))
		u.mu.Unlock()
		if h != nil {
			h(w, r)
		}
	})
}

// TestPath13_PathTraversal: the agent asks phantom's proxy for paths that
// climb out of the route's base URL (http://upstream/v1 here, as
// https://api.openai.com/v1 would), with "..", "%2e%2e" in any case, an
// encoded slash or backslash, or double encoding, hoping the upstream
// normalises them into another part of its API and acts there with the
// user's key. No request may reach the upstream outside /v1, and every
// refusal is audited.
func TestPath13_PathTraversal(t *testing.T) {
	a := NewAgent(t, []string{"OPENAI_API_KEY"})
	var up recordingUpstream
	upstream := httptest.NewServer(up.handler(a.Value("OPENAI_API_KEY"), nil))
	defer upstream.Close()
	a.RouteTo("openai", upstream.URL+"/v1")

	r := a.Phantom("", append([]string{"exec", "--"}, Child("path13")...)...)
	if r.Code != 0 {
		t.Fatalf("exec: exit %d\n%s", r.Code, r.Out())
	}
	a.AssertClean(r)
	for _, p := range path13Climbs {
		if !strings.Contains(r.Stdout, p+" -> HTTP/1.1 400") {
			t.Errorf("%s was not refused with 400:\n%s", p, r.Stdout)
		}
	}
	up.mu.Lock()
	for _, got := range up.reqs {
		t.Errorf("the upstream got a request the proxy should have refused: %s", got)
	}
	up.mu.Unlock()
	n := 0
	for _, e := range a.Audit() {
		if e.Op == "proxy.request" && strings.Contains(e.Detail, "status=400") &&
			(strings.Contains(e.Detail, "segment") || strings.Contains(e.Detail, "climbs above")) {
			n++
		}
	}
	if n < len(path13Climbs) {
		t.Errorf("%d of %d refused requests audited", n, len(path13Climbs))
	}
}

// TestPath13_413Status: an upload over the proxy's limit is refused with
// 413 and audited with status=413 (it was audited as 100, the upstream's
// 100 Continue).
func TestPath13_413Status(t *testing.T) {
	a := NewAgent(t, []string{"OPENAI_API_KEY"})
	var up recordingUpstream
	upstream := httptest.NewServer(up.handler(a.Value("OPENAI_API_KEY"), func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // sends 100 Continue first
	}))
	defer upstream.Close()
	a.RouteTo("openai", upstream.URL)

	r := a.Phantom("", append([]string{"exec", "--"}, Child("path13big")...)...)
	if r.Code != 0 || !strings.Contains(r.Stdout, "status 413") {
		t.Fatalf("exec: exit %d\n%s", r.Code, r.Out())
	}
	a.AssertClean(r)
	a.AssertAudited("proxy.request", "status=413")
	for _, e := range a.Audit() {
		if e.Op == "proxy.request" && strings.Contains(e.Detail, "status=100") {
			t.Errorf("audited as 100: %s", e.Detail)
		}
	}
}
