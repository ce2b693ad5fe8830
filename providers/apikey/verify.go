package apikey

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"phantomstack.dev/providers"
)

// DefaultTimeout bounds a verification when ctx has no deadline.
const DefaultTimeout = 15 * time.Second

// userAgent identifies stack to upstreams (GitHub rejects requests without one).
const userAgent = "phantomstack-stack"

// Verify sends req with key and maps the answer to a verdict:
// 2xx → ok; 401/403 → invalid; 429, 5xx, network errors and timeouts →
// unreachable; anything else (redirects, other 4xx) → unexpected.
//
// baseURL, when not empty, replaces the scheme, host and leading path of
// req.URL: base "http://127.0.0.1:8080/prefix" and URL
// "https://api.openai.com/v1/models" give "http://127.0.0.1:8080/prefix/v1/models".
// Plain http is accepted only for loopback hosts, so a key is never sent in
// clear text over a network.
//
// Redirects are never followed: a 3xx is reported, so the key is not
// re-sent to wherever the redirect points. Details never contain the key,
// the response body or the full URL (which may carry a proxy session token).
func Verify(ctx context.Context, client *http.Client, baseURL string, req Request, key []byte) providers.Health {
	if len(key) == 0 {
		return providers.Health{Status: providers.StatusMissing, Detail: req.Slot + " has no value"}
	}
	for _, c := range key {
		if c < 0x20 || c == 0x7f {
			return providers.Health{Status: providers.StatusInvalid, Detail: req.Slot + " contains control characters (a pasted newline?)"}
		}
	}
	target, err := ResolveURL(baseURL, req.URL)
	if err != nil {
		return providers.Health{Status: providers.StatusUnexpected, Detail: err.Error()}
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	hr, err := http.NewRequestWithContext(ctx, req.Method, target.String(), nil)
	if err != nil {
		return providers.Health{Status: providers.StatusUnexpected, Detail: fmt.Sprintf("building the request: %v", err)}
	}
	for _, h := range req.Extra {
		hr.Header.Set(h.Name, h.Value)
	}
	hr.Header.Set("User-Agent", userAgent)
	hr.Header.Set(req.Header, strings.Replace(req.Format, SecretPlaceholder, string(key), 1))

	if client == nil {
		client = http.DefaultClient
	}
	noRedirect := *client
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	start := time.Now()
	resp, err := noRedirect.Do(hr)
	if err != nil {
		return providers.Health{Status: providers.StatusUnreachable, Detail: fmt.Sprintf("%s %s: %s", req.Method, target.Host, netReason(err))}
	}
	latency := time.Since(start)
	// Drain a little so the connection can be reused; the body is never shown.
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()

	h := providers.Health{Latency: latency, Detail: fmt.Sprintf("HTTP %d from %s", resp.StatusCode, target.Host)}
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		h.Status = providers.StatusOK
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		h.Status = providers.StatusInvalid
	case code == http.StatusTooManyRequests || code >= 500:
		h.Status = providers.StatusUnreachable
	default:
		h.Status = providers.StatusUnexpected
	}
	return h
}

// ResolveURL applies a base-URL override to an endpoint URL (see Verify).
func ResolveURL(baseURL, endpoint string) (*url.URL, error) {
	ep, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("endpoint %q: %v", endpoint, err)
	}
	if baseURL == "" {
		return ep, nil
	}
	base, err := url.Parse(baseURL)
	if err != nil || base.Host == "" || (base.Scheme != "https" && base.Scheme != "http") {
		return nil, fmt.Errorf("base URL override %q: want http(s)://host[:port][/path]", redactURL(baseURL))
	}
	if base.User != nil || base.RawQuery != "" || base.Fragment != "" {
		return nil, fmt.Errorf("base URL override %q: must not carry credentials, a query or a fragment", redactURL(baseURL))
	}
	if base.Scheme == "http" && !isLoopback(base.Hostname()) {
		return nil, fmt.Errorf("base URL override %q: plain http is allowed only to a loopback address; use https", redactURL(baseURL))
	}
	out := *base
	out.Path = strings.TrimRight(base.Path, "/") + ep.Path
	out.RawPath = ""
	out.RawQuery = ep.RawQuery
	return &out, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// redactURL keeps scheme and host only: a path may hold a proxy session token.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(unparseable)"
	}
	return u.Scheme + "://" + u.Host + "/…"
}

// netReason strips the URL from a client error and keeps the cause.
func netReason(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out"
	}
	if errors.Is(err, context.Canceled) {
		return "cancelled"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error()
}
