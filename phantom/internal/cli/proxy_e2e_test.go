package cli

// End-to-end test of `phantom exec`'s proxy with a plain Go HTTP client as
// the child (testdata/sdk/httpchild): substitution and scrubbing, unbuffered
// streaming, and the proxy's own answers (401, 413, 429, 502), checked from
// both ends of the wire and in the audit log. The machinery (CA, HTTPS +
// HTTP/2 fake upstreams, sandboxes) is sdk_e2e_test.go's.

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"phantomstack.dev/phantom/internal/config"
)

// sseAckWait bounds how long the fake upstream waits for the child's ack of
// an event; a proxy that buffers the stream makes it run out.
const sseAckWait = 10 * time.Second

// lockstepUpstream is a fake OpenAI-style API: chat completions (sdk_e2e's
// fakeOpenAI, which echoes the real key), an SSE stream in lockstep with
// the client's acks, a body sink and a model list.
type lockstepUpstream struct {
	realKey  string
	chat     func(http.ResponseWriter, *http.Request, []byte)
	mu       sync.Mutex
	acks     map[int]chan struct{}
	timeouts atomic.Int32
}

func newLockstepUpstream(realKey string) *lockstepUpstream {
	return &lockstepUpstream{realKey: realKey, chat: fakeOpenAI(realKey), acks: map[int]chan struct{}{}}
}

func (u *lockstepUpstream) ack(i int) chan struct{} {
	u.mu.Lock()
	defer u.mu.Unlock()
	c := u.acks[i]
	if c == nil {
		c = make(chan struct{})
		u.acks[i] = c
	}
	return c
}

func (u *lockstepUpstream) handle(w http.ResponseWriter, r *http.Request, body []byte) {
	switch p := r.URL.Path; {
	case p == "/v1/chat/completions":
		u.chat(w, r, body)
	case p == "/v1/events" && r.Method == http.MethodGet:
		u.events(w, r)
	case strings.HasPrefix(p, "/v1/ack/"):
		i, err := strconv.Atoi(strings.TrimPrefix(p, "/v1/ack/"))
		if err != nil {
			apiError(w, http.StatusBadRequest, "bad ack")
			return
		}
		c := u.ack(i)
		u.mu.Lock()
		select {
		case <-c:
		default:
			close(c)
		}
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"ack":%d}`+"\n", i)
	case p == "/v1/big":
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"received":%d}`+"\n", len(body))
	case p == "/v1/models":
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintln(w, `{"object":"list","data":[{"id":"gpt-e2e","object":"model"}]}`)
	default:
		apiError(w, http.StatusNotFound, "no route "+r.Method+" "+p)
	}
}

// events sends event i, then waits (bounded) for /ack/i before event i+1.
// Event 2 carries the real key, split across two writes.
func (u *lockstepUpstream) events(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.URL.Query().Get("n"))
	if err != nil || n < 1 || n > 20 {
		apiError(w, http.StatusBadRequest, "n must be 1..20")
		return
	}
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	http.NewResponseController(w).Flush()
	for i := range n {
		text := fmt.Sprintf("tick %d", i)
		if i == 2 {
			text = "key=" + u.realKey
		}
		data, _ := json.Marshal(map[string]any{"i": i, "text": text})
		writeEvents(w, u.realKey, []string{fmt.Sprintf("id: %d\nevent: tick\ndata: %s\n\n", i, data)})
		select {
		case <-u.ack(i):
		case <-time.After(sseAckWait):
			u.timeouts.Add(1)
			writeEvents(w, "", []string{fmt.Sprintf("event: timeout\ndata: {\"waiting_for_ack\":%d}\n\n", i)})
			return
		case <-r.Context().Done():
			return
		}
	}
	writeEvents(w, "", []string{"event: done\ndata: [DONE]\n\n"})
}

// closedLoopbackURL is https://127.0.0.1:<a port nothing listens on>.
func closedLoopbackURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "https://" + addr
}

// childLine returns the child's JSON line of kind, failing the test when
// it is missing.
func childLine(t *testing.T, got map[string]map[string]any, kind, out, errOut string) map[string]any {
	t.Helper()
	m := got[kind]
	if m == nil {
		t.Fatalf("no %q line in the child's output\nstdout:\n%s\nstderr:\n%s", kind, out, errOut)
	}
	if e, ok := m["error"]; ok {
		t.Errorf("%s: the child's request failed: %v", kind, e)
	}
	return m
}

func intField(m map[string]any, k string) int {
	f, _ := m[k].(float64)
	return int(f)
}

func decodeProxyError(t *testing.T, step, body string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Errorf("%s: the proxy's answer is not JSON (%v): %q", step, err, body)
		return map[string]any{}
	}
	// A route with a provider error shape (openai, anthropic) carries
	// phantom's own fields under "phantom".
	if own, ok := m["phantom"].(map[string]any); ok {
		return own
	}
	return m
}

// TestExecProxyEndToEnd: a Go HTTP client under `phantom exec` talks to a
// fake OpenAI (HTTPS, HTTP/2) and a dead Stripe through phantom's proxy.
func TestExecProxyEndToEnd(t *testing.T) {
	const (
		openaiKey = "sk-proj-ProxyE2eOpenAI0123456789abcdefGHIJKLmnopQRST"
		stripeKey = "sk_test_ProxyE2eStripe0123456789abcdefGHIJKLmnop"
		maxBody   = 4096
		bigSize   = 8 << 10
	)
	child := buildGoChild(t, "httpchild")
	caFile, leaf := newTestCA(t)
	up := newLockstepUpstream(openaiKey)
	oai := startFakeUpstream(t, leaf, up.handle)
	deadStripe := closedLoopbackURL(t)

	s := newSandbox(t, "PHANTOM_VAULT_PASSPHRASE=proxy-e2e-pass-123", "SSL_CERT_FILE="+caFile)
	s.write(".env", "APP_NAME=proxy-e2e\nOPENAI_API_KEY="+openaiKey+"\nSTRIPE_SECRET_KEY="+stripeKey+"\n")
	s.mustRun("", "init", "--yes")
	env := s.read(".env")
	if strings.Contains(env, openaiKey) || strings.Contains(env, stripeKey) {
		t.Fatalf("init left a real key in .env:\n%s", env)
	}
	openaiTok := envToken(t, env, "OPENAI_API_KEY")
	stripeTok := envToken(t, env, "STRIPE_SECRET_KEY")

	tomlPath := filepath.Join(s.dir, ConfigFile)
	appendFile(t, tomlPath, fmt.Sprintf("\n[routes.openai]\nupstream = %q\nca_file = %q\n\n[routes.stripe]\nupstream = %q\n\n[proxy]\nmax_body_bytes = %d\n",
		oai.URL, caFile, deadStripe, maxBody))
	cfg, err := config.Load(tomlPath)
	if err != nil {
		t.Fatal(err)
	}
	specs := cfg.Routes()
	if specs["openai"].Upstream != oai.URL || specs["stripe"].Upstream != deadStripe || cfg.Proxy().MaxBodyBytes != maxBody {
		t.Fatalf("%s parsed as routes %+v, proxy %+v", ConfigFile, specs, cfg.Proxy())
	}
	if err := approveAll(s.dir, s.env); err != nil {
		t.Fatal(err)
	}

	checkOutput := func(run, out, errOut string) {
		t.Helper()
		for _, v := range []string{openaiKey, stripeKey} {
			if strings.Contains(out, v) || strings.Contains(errOut, v) {
				t.Errorf("%s: a real key reached the child's output", run)
			}
		}
	}

	// --- The main run: steps 1-4 and 6. ---
	out, errOut, code := s.run("", "exec", "--", child, "main")
	if code != 0 {
		t.Fatalf("phantom exec -- httpchild main: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	checkOutput("main", out, errOut)
	got := parseJSONLines(t, out)
	if got["error"] != nil {
		t.Fatalf("the child reported an error: %v", got["error"])
	}

	e := childLine(t, got, "env", out, errOut)
	if k := b64field(t, e, "OPENAI_API_KEY_b64"); k != openaiTok {
		t.Errorf("child's OPENAI_API_KEY is %q, want its phm token", k)
	}
	if k := b64field(t, e, "STRIPE_SECRET_KEY_b64"); k != stripeTok {
		t.Errorf("child's STRIPE_SECRET_KEY is %q, want its phm token", k)
	}
	mount := regexp.MustCompile(`^http://127\.0\.0\.1:[0-9]+/_phantom/([0-9a-f]{64})/`)
	base, _ := e["OPENAI_BASE_URL"].(string)
	m := regexp.MustCompile(mount.String() + `openai/v1$`).FindStringSubmatch(base)
	if m == nil {
		t.Fatalf("OPENAI_BASE_URL = %q", base)
	}
	session := m[1]
	if u, _ := e["STRIPE_BASE_URL"].(string); !regexp.MustCompile(mount.String() + `stripe$`).MatchString(u) {
		t.Errorf("STRIPE_BASE_URL = %q", u)
	}

	// Step 1: substitution on the way up, scrubbing on the way down.
	chat := childLine(t, got, "chat", out, errOut)
	if st := intField(chat, "status"); st != http.StatusOK {
		t.Errorf("chat: status %d, want 200; body %s", st, b64field(t, chat, "body_b64"))
	}
	if body := b64field(t, chat, "body_b64"); !strings.Contains(body, "key="+openaiTok) || strings.Contains(body, openaiKey) {
		t.Errorf("chat: the child got body %s; want the upstream's echo with the token in place of the real key", body)
	}
	if h := b64field(t, chat, "echo_header_b64"); h != openaiTok {
		t.Errorf("chat: the child got X-Echo-Key %q, want the token", h)
	}

	var chats, events, bigs, others []recordedRequest
	acked := map[string]bool{}
	for _, r := range oai.requests() {
		switch {
		case r.Path == "/v1/chat/completions":
			chats = append(chats, r)
		case r.Path == "/v1/events":
			events = append(events, r)
		case strings.HasPrefix(r.Path, "/v1/ack/"):
			acked[strings.TrimPrefix(r.Path, "/v1/ack/")] = true
		case r.Path == "/v1/big":
			bigs = append(bigs, r)
		default:
			others = append(others, r)
		}
		if r.Proto != "HTTP/2.0" {
			t.Errorf("upstream %s %s: the proxy spoke %s, want HTTP/2.0", r.Method, r.Path, r.Proto)
		}
		if ae := r.Header.Get("Accept-Encoding"); ae != "identity" {
			t.Errorf("upstream %s %s: Accept-Encoding %q, want identity", r.Method, r.Path, ae)
		}
		if r.Header.Get("X-Phantom-Proxy-Token") != "" {
			t.Errorf("upstream %s %s got phantom's session header", r.Method, r.Path)
		}
		if got := r.Header.Get("Authorization"); got != "Bearer "+openaiKey {
			t.Errorf("upstream %s %s: Authorization %q, want Bearer and the real key", r.Method, r.Path, got)
		}
		for h, vs := range r.Header {
			for _, v := range vs {
				if strings.Contains(v, "phm_") || strings.Contains(v, session) {
					t.Errorf("upstream %s %s: header %s carries a phm token or the session token", r.Method, r.Path, h)
				}
			}
		}
		if strings.Contains(r.Path+"?"+r.RawQuery, session) || strings.Contains(string(r.Body), session) {
			t.Errorf("upstream %s %s: the session token went upstream", r.Method, r.Path)
		}
	}
	if len(chats) != 1 {
		t.Logf("child output:\n%s", out)
		t.Fatalf("upstream got %d chat completions, want 1 (step 3's unauthenticated one must not arrive)", len(chats))
	}
	if c := chats[0]; !strings.Contains(string(c.Body), "my key is "+openaiTok) || strings.Contains(string(c.Body), openaiKey) {
		t.Errorf("chat: the prompt's token did not arrive unchanged; upstream body: %s", c.Body)
	}
	if len(others) != 0 {
		t.Errorf("upstream got unexpected requests: %+v", others)
	}

	// Step 2: every event arrived before the upstream sent the next one.
	sse := childLine(t, got, "sse", out, errOut)
	const nEvents = 5
	t.Logf("sse event arrival (ms since the request, log only): %v", sse["t_ms"])
	if st := intField(sse, "status"); st != http.StatusOK || !strings.HasPrefix(fmt.Sprint(sse["content_type"]), "text/event-stream") {
		t.Errorf("sse: status %d, Content-Type %v", st, sse["content_type"])
	}
	if n := up.timeouts.Load(); n != 0 {
		t.Errorf("sse: the upstream waited %v for an ack %d time(s): the proxy held an event back", sseAckWait, n)
	}
	ids, _ := sse["ids"].([]any)
	names, _ := sse["names"].([]any)
	evs, _ := sse["events_b64"].([]any)
	acks, _ := sse["ack_status"].([]any)
	if len(ids) != nEvents+1 || len(evs) != nEvents+1 || len(names) != nEvents+1 {
		t.Errorf("sse: the child read %d events (%v %v), want %d ticks and done", len(evs), names, ids, nEvents)
	} else {
		for i := range nEvents {
			var d struct {
				I    int    `json:"i"`
				Text string `json:"text"`
			}
			data := b64field(t, map[string]any{"x": evs[i]}, "x")
			if err := json.Unmarshal([]byte(data), &d); err != nil || ids[i] != strconv.Itoa(i) || names[i] != "tick" || d.I != i {
				t.Errorf("sse event %d: id %v, event %v, data %q", i, ids[i], names[i], data)
			}
			want := fmt.Sprintf("tick %d", i)
			if i == 2 {
				want = "key=" + openaiTok
			}
			if d.Text != want {
				t.Errorf("sse event %d: text %q, want %q", i, d.Text, want)
			}
		}
		if names[nEvents] != "done" {
			t.Errorf("sse: last event %v, want done", names[nEvents])
		}
	}
	if len(acks) != nEvents {
		t.Errorf("sse: %d acks sent, want %d", len(acks), nEvents)
	}
	for i, a := range acks {
		if a != float64(http.StatusOK) {
			t.Errorf("sse: ack %d through the proxy got %v", i, a)
		}
	}
	for i := range nEvents {
		if !acked[strconv.Itoa(i)] {
			t.Errorf("sse: upstream never got /ack/%d", i)
		}
	}
	if len(events) != 1 {
		t.Errorf("upstream got %d event-stream requests, want 1", len(events))
	}

	// Step 3: no session segment, no service.
	un := childLine(t, got, "unauth", out, errOut)
	if u, _ := un["url"].(string); strings.Contains(u, "_phantom") || strings.Contains(u, session) {
		t.Errorf("unauth: the child still used the session segment: %q", u)
	}
	if st := intField(un, "status"); st != http.StatusUnauthorized {
		t.Errorf("unauth: status %d, want 401", st)
	}
	if ct, _ := un["content_type"].(string); ct != "application/json" {
		t.Errorf("unauth: Content-Type %q", ct)
	}
	if pe := decodeProxyError(t, "unauth", b64field(t, un, "body_b64")); intField(pe, "status") != 401 || !strings.Contains(fmt.Sprint(pe["error"]), "session token") {
		t.Errorf("unauth: body %v", pe)
	}

	// Step 4: 8 KiB over a 4096-byte limit, with and without Content-Length.
	for _, kind := range []string{"big_cl", "big_chunked"} {
		b := childLine(t, got, kind, out, errOut)
		if st := intField(b, "status"); st != http.StatusRequestEntityTooLarge {
			t.Errorf("%s: status %d, want 413; body %s", kind, st, b64field(t, b, "body_b64"))
		}
		if pe := decodeProxyError(t, kind, b64field(t, b, "body_b64")); intField(pe, "status") != 413 || pe["route"] != "openai" {
			t.Errorf("%s: body %v", kind, pe)
		}
	}
	if cl := intField(got["big_cl"], "sent_content_length"); cl != bigSize {
		t.Errorf("big_cl: the child sent Content-Length %d, want %d", cl, bigSize)
	}
	if cl := intField(got["big_chunked"], "sent_content_length"); cl != -1 {
		t.Errorf("big_chunked: the child sent Content-Length %d, want unknown (chunked)", cl)
	}
	if len(bigs) > 1 {
		t.Errorf("upstream got %d /v1/big requests; at most the chunked one may have started", len(bigs))
	}
	for _, r := range bigs {
		t.Logf("upstream got %d bytes of the chunked 8 KiB body before the proxy cut it off", len(r.Body))
		if len(r.Body) >= bigSize || r.ContentLength == bigSize {
			t.Errorf("upstream received the whole %d-byte body (Content-Length %d)", len(r.Body), r.ContentLength)
		}
	}

	// Step 6: upstream unreachable.
	st := childLine(t, got, "stripe", out, errOut)
	if code := intField(st, "status"); code != http.StatusBadGateway {
		t.Errorf("stripe: status %d, want 502", code)
	}
	if ct, _ := st["content_type"].(string); ct != "application/json" {
		t.Errorf("stripe: Content-Type %q", ct)
	}
	stripeBody := b64field(t, st, "body_b64")
	if pe := decodeProxyError(t, "stripe", stripeBody); intField(pe, "status") != 502 || pe["route"] != "stripe" || pe["error"] != "upstream request failed" {
		t.Errorf("stripe: body %v", pe)
	}
	if strings.Contains(stripeBody, stripeKey) || strings.Contains(stripeBody, openaiKey) {
		t.Error("stripe: the 502 body carries a real key")
	}

	// --- Step 5: a run with a tiny rate limit. ---
	modelsBefore := len(oai.requests())
	s.env = append(s.env, "PHANTOM_PROXY_RATE=0.5", "PHANTOM_PROXY_BURST=2")
	out, errOut, code = s.run("", "exec", "--", child, "rate")
	s.env = s.env[:len(s.env)-2]
	if code != 0 {
		t.Fatalf("phantom exec -- httpchild rate: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	checkOutput("rate", out, errOut)
	got = parseJSONLines(t, out)
	results, _ := childLine(t, got, "rate", out, errOut)["results"].([]any)
	wantStatus := []int{200, 200, 429, 429}
	if len(results) != len(wantStatus) {
		t.Fatalf("rate: %d results, want %d:\n%s", len(results), len(wantStatus), out)
	}
	for i, x := range results {
		r, _ := x.(map[string]any)
		status, ra := intField(r, "status"), fmt.Sprint(r["retry_after"])
		if status != wantStatus[i] {
			t.Errorf("rate request %d: status %d, want %d", i+1, status, wantStatus[i])
		}
		if status == http.StatusTooManyRequests {
			if n, err := strconv.Atoi(ra); err != nil || n < 1 {
				t.Errorf("rate request %d: Retry-After %q, want a positive number of seconds", i+1, ra)
			}
			if pe := decodeProxyError(t, "rate", b64field(t, r, "body_b64")); intField(pe, "status") != 429 {
				t.Errorf("rate request %d: body %v", i+1, pe)
			}
		} else if ra != "" {
			t.Errorf("rate request %d: Retry-After %q on a %d", i+1, ra, status)
		}
	}
	if n := len(oai.requests()) - modelsBefore; n != 2 {
		t.Errorf("upstream got %d requests in the rate-limited run, want 2", n)
	}

	// --- Step 7: the audit log. ---
	var evsLog []struct {
		Op, Name, Detail string
	}
	auditOut := s.mustRun("", "audit", "show", "--json", "--last", "0")
	if err := json.Unmarshal([]byte(auditOut), &evsLog); err != nil {
		t.Fatalf("audit show --json: %v\n%s", err, auditOut)
	}
	for _, v := range []string{openaiKey, stripeKey, openaiTok, stripeTok, session} {
		if strings.Contains(auditOut, v) {
			t.Errorf("the audit log shows a value, a phm token or the session token")
		}
	}
	seen := map[string]int{}
	for _, ev := range evsLog {
		if ev.Op != "proxy.request" {
			continue
		}
		route := regexp.MustCompile(`route=(\S*)`).FindStringSubmatch(ev.Detail)
		status := regexp.MustCompile(`status=(\d+)`).FindStringSubmatch(ev.Detail)
		if route == nil || status == nil {
			t.Errorf("proxy.request detail %q has no route= or status=", ev.Detail)
			continue
		}
		seen[ev.Name+" "+route[1]+" "+status[1]]++
	}
	t.Logf("proxy.request events (name route status: count): %v", seen)
	for key, min := range map[string]int{
		"OPENAI_API_KEY openai 200": 1 + 1 + nEvents + 2, // chat, events, acks, rate
		// Refused on Content-Length, and the chunked body refused before
		// the upstream was contacted (a body of unknown length is read up
		// to 64 KiB first), so no key went on the wire for either.
		" openai 413":                  2,
		"OPENAI_API_KEY openai 429":    2, // named though held back
		"  401":                        1,
		"STRIPE_SECRET_KEY stripe 502": 1,
	} {
		if seen[key] < min {
			t.Errorf("audit: %d proxy.request events %q, want at least %d", seen[key], key, min)
		}
	}
	if vout, verr, vcode := s.run("", "audit", "verify"); vcode != 0 {
		t.Errorf("audit verify: exit %d\n%s%s", vcode, vout, verr)
	}
	s.assertNoPlaintext(openaiKey, stripeKey)
}
