// Command httpchild is the child proxy_e2e_test.go runs under `phantom
// exec`: a plain net/http client that, like an SDK, reads OPENAI_BASE_URL and
// OPENAI_API_KEY (and STRIPE_BASE_URL / STRIPE_SECRET_KEY) and runs scripted
// requests through phantom's proxy.
//
// It prints one JSON line per step, {"kind": ...}. Everything it received
// from the proxy is printed base64-encoded, so phantom's output masker (which
// rewrites real values into tokens) cannot hide a real value that reached
// the child.
//
// Modes (first argument): "main" (default) runs the request, streaming,
// auth, body-limit and unreachable-upstream steps; "rate" sends four quick
// requests for the rate-limit step.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Every request is bounded; the streaming step has its own, longer bound.
var client = &http.Client{Timeout: 30 * time.Second}

func main() {
	mode := "main"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	base := strings.TrimRight(os.Getenv("OPENAI_BASE_URL"), "/")
	key := os.Getenv("OPENAI_API_KEY")
	emit("env", map[string]any{
		"OPENAI_BASE_URL":       base,
		"OPENAI_API_KEY_b64":    b64(key),
		"STRIPE_BASE_URL":       os.Getenv("STRIPE_BASE_URL"),
		"STRIPE_SECRET_KEY_b64": b64(os.Getenv("STRIPE_SECRET_KEY")),
	})
	if base == "" || key == "" {
		emit("error", map[string]any{"error": "OPENAI_BASE_URL or OPENAI_API_KEY not set"})
		os.Exit(1)
	}
	switch mode {
	case "main":
		runMain(base, key)
	case "rate":
		runRate(base, key)
	default:
		emit("error", map[string]any{"error": "unknown mode " + mode})
		os.Exit(2)
	}
}

func runMain(base, key string) {
	// 1. A chat completion, the token in the credential header and in the
	// prompt; the session token also in its header, which must not travel.
	chat := fmt.Sprintf(`{"model":"gpt-e2e","messages":[{"role":"user","content":"my key is %s"}]}`, key)
	req := newRequest(http.MethodPost, base+"/chat/completions", strings.NewReader(chat))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Phantom-Proxy-Token", os.Getenv("PHANTOM_PROXY_TOKEN"))
	emit("chat", send(req))

	// 2. SSE in lockstep with the upstream: it sends event i only after it
	// got /ack/(i-1), which the child sends only after reading event i-1.
	emit("sse", sse(base, key, 5))

	// 3. The base URL without its /_phantom/<session>/ segment.
	noSession := regexp.MustCompile(`/_phantom/[^/]+/`).ReplaceAllString(base, "/")
	req = newRequest(http.MethodPost, noSession+"/chat/completions", strings.NewReader(chat))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	r := send(req)
	r["url"] = noSession
	emit("unauth", r)

	// 4. 8 KiB bodies over the proxy's max_body_bytes: with a Content-Length,
	// and chunked (a reader whose length the client cannot know).
	big := bigBody(8 << 10)
	req = newRequest(http.MethodPost, base+"/big", bytes.NewReader(big))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	r = send(req)
	r["sent_content_length"] = req.ContentLength
	emit("big_cl", r)

	req = newRequest(http.MethodPost, base+"/big", struct{ io.Reader }{bytes.NewReader(big)})
	req.ContentLength = -1
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	r = send(req)
	r["sent_content_length"] = req.ContentLength
	emit("big_chunked", r)

	// 6. Stripe, whose upstream is a closed port.
	stripe := strings.TrimRight(os.Getenv("STRIPE_BASE_URL"), "/")
	req = newRequest(http.MethodPost, stripe+"/v1/charges", strings.NewReader("amount=100&currency=usd"))
	req.Header.Set("Authorization", "Bearer "+os.Getenv("STRIPE_SECRET_KEY"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	emit("stripe", send(req))
}

func runRate(base, key string) {
	var results []map[string]any
	for range 4 {
		req := newRequest(http.MethodGet, base+"/models", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		results = append(results, send(req))
	}
	emit("rate", map[string]any{"results": results})
}

func newRequest(method, url string, body io.Reader) *http.Request {
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		emit("error", map[string]any{"error": err.Error()})
		os.Exit(1)
	}
	return req
}

// send runs req and reports the status, selected headers and the body.
func send(req *http.Request) map[string]any {
	out := map[string]any{}
	resp, err := client.Do(req)
	if err != nil {
		out["error"] = err.Error()
		return out
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		out["read_error"] = err.Error()
	}
	out["status"] = resp.StatusCode
	out["proto"] = resp.Proto
	out["content_type"] = resp.Header.Get("Content-Type")
	out["retry_after"] = resp.Header.Get("Retry-After")
	out["echo_header_b64"] = b64(resp.Header.Get("X-Echo-Key"))
	out["body_b64"] = b64(string(body))
	return out
}

// sse reads the event stream at base/events, acknowledging each event (by
// its id) with GET base/ack/<id> through the proxy before reading the next.
func sse(base, key string, n int) map[string]any {
	out := map[string]any{}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/events?n=%d", base, n), nil)
	if err != nil {
		out["error"] = err.Error()
		return out
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Accept", "text/event-stream")
	start := time.Now()
	resp, err := (&http.Client{}).Do(req) // bounded by ctx
	if err != nil {
		out["error"] = err.Error()
		return out
	}
	defer resp.Body.Close()
	out["status"] = resp.StatusCode
	out["content_type"] = resp.Header.Get("Content-Type")

	var (
		ids, events, names []string
		tms                []float64
		ackStatus          []int
		id, name           string
		data               strings.Builder
	)
	br := bufio.NewReader(resp.Body)
	for {
		line, err := br.ReadString('\n')
		trimmed := strings.TrimRight(line, "\r\n")
		switch {
		case trimmed == "" && line != "":
			if data.Len() == 0 && id == "" && name == "" {
				break
			}
			// One whole event.
			tms = append(tms, float64(time.Since(start).Microseconds())/1000)
			ids = append(ids, id)
			names = append(names, name)
			events = append(events, b64(data.String()))
			if _, convErr := strconv.Atoi(id); convErr == nil {
				ack := newRequest(http.MethodGet, base+"/ack/"+id, nil)
				ack.Header.Set("Authorization", "Bearer "+key)
				if r := send(ack); r["error"] != nil {
					ackStatus = append(ackStatus, -1)
				} else {
					ackStatus = append(ackStatus, r["status"].(int))
				}
			}
			id, name = "", ""
			data.Reset()
		case strings.HasPrefix(trimmed, "id:"):
			id = strings.TrimSpace(trimmed[3:])
		case strings.HasPrefix(trimmed, "event:"):
			name = strings.TrimSpace(trimmed[6:])
		case strings.HasPrefix(trimmed, "data:"):
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.WriteString(strings.TrimPrefix(trimmed[5:], " "))
		}
		if err != nil {
			if err != io.EOF {
				out["read_error"] = err.Error()
			}
			break
		}
	}
	out["ids"] = ids
	out["names"] = names
	out["events_b64"] = events
	out["t_ms"] = tms
	out["ack_status"] = ackStatus
	return out
}

// bigBody is a JSON body of exactly n bytes.
func bigBody(n int) []byte {
	const pre, post = `{"model":"gpt-e2e","input":"`, `"}`
	return []byte(pre + strings.Repeat("a", n-len(pre)-len(post)) + post)
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func emit(kind string, m map[string]any) {
	m["kind"] = kind
	b, err := json.Marshal(m)
	if err != nil {
		b, _ = json.Marshal(map[string]any{"kind": "error", "error": err.Error()})
	}
	os.Stdout.Write(append(b, '\n'))
}
