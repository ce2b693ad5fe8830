// Package rest is the one JSON-over-HTTP client stack's provider calls use
// (Vercel, the Supabase Management API, and `stack env push`): requests made
// with the caller's context, the bearer credential and JSON headers set in
// one place, answers read under a size limit, non-2xx answers mapped onto
// the providers error kinds, and one retry policy (docs/architecture.md,
// "Provider calls"; docs/decisions.md, "One REST client and one retry
// policy for provider calls").
//
// Errors name the endpoint as METHOD /path (never the full URL: under
// `phantom exec` the base URL holds the proxy's session token) and never
// hold a credential or a request body.
package rest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"phantomstack.dev/providers"
)

// The retry policy's defaults. Four attempts at most (three retries); waits
// of about 250ms, 500ms, 1s with jitter, or the server's Retry-After, each
// capped at MaxWait so a call never hangs for long.
const (
	DefaultAttempts = 4
	DefaultBaseWait = 250 * time.Millisecond
	DefaultMaxWait  = 10 * time.Second
	// DefaultMaxBody bounds an answer read into memory (the largest real
	// answer, a Vercel env list, is far below it).
	DefaultMaxBody = 4 << 20
)

// ErrBadAnswer marks a 2xx answer that is not the JSON expected (cut off,
// invalid, or over the size limit): the call may have taken effect, but its
// result is unknown.
var ErrBadAnswer = errors.New("not the JSON expected")

// Client is one API: its base URL, its credential, and the policy.
type Client struct {
	// Service names the API in messages ("Vercel", "Supabase").
	Service string
	// Base is the API's base URL, without a trailing slash. It may hold a
	// secret path (phantom's proxy mount); it never appears in an error.
	Base string
	// HTTP sends the requests; nil means http.DefaultClient.
	HTTP *http.Client
	// Token returns the bearer credential for one attempt (read afresh, so
	// a refreshed OAuth token is used on the next try); the client wipes
	// the returned slice once the header is set. Nil: no Authorization.
	Token func() []byte
	// ForbiddenIsAuth maps 403 onto providers.ErrAuthInvalid too (Vercel
	// answers a bad or revoked token with 403, docs/providers.md).
	ForbiddenIsAuth bool
	// Attempts, BaseWait, MaxWait and MaxBody override the defaults when
	// positive.
	Attempts int
	BaseWait time.Duration
	MaxWait  time.Duration
	MaxBody  int64
	// Sleep waits between attempts; nil waits on a timer and stops when
	// ctx is done. Tests make it instant or record the waits.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Request is one call.
type Request struct {
	Method string
	Path   string     // appended to Base; named in errors
	Query  url.Values // optional; not named in errors
	Body   any        // marshalled to JSON when not nil; wiped after sending
	Out    any        // the 2xx answer is decoded into it when not nil
	// Idempotent marks a call that is safe to send again though its
	// method is not (a PATCH or POST that sets a value to the same value).
	// GET, HEAD, PUT, DELETE and OPTIONS are always idempotent.
	Idempotent bool
}

// Error is a failed call: a non-2xx answer (Status), or no answer at all
// (Status 0 and Cause). It never holds the credential or the body sent.
type Error struct {
	Service      string
	Method, Path string
	Status       int
	Code         string // the API's error code, when it gives one
	Message      string // the API's error message, shortened
	Cause        error  // the transport error when Status is 0
	Attempts     int
	auth403      bool
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Status == 0 {
		fmt.Fprintf(&b, "could not reach %s: %s %s: %v", e.Service, e.Method, e.Path, e.Cause)
	} else {
		fmt.Fprintf(&b, "%s answered HTTP %d", e.Service, e.Status)
		if e.Code != "" {
			b.WriteString(" " + e.Code)
		}
		fmt.Fprintf(&b, " to %s %s", e.Method, e.Path)
		if e.Message != "" {
			b.WriteString(": " + e.Message)
		}
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " (after %d attempts)", e.Attempts)
	}
	return b.String()
}

// Unwrap maps the status onto the providers error kinds: 401 (and 403 for
// APIs that use it so) is a rejected credential; no answer, 429 and 5xx
// mean the upstream could not be asked. The transport cause comes too.
func (e *Error) Unwrap() []error {
	var out []error
	switch {
	case e.Status == 0:
		out = append(out, providers.ErrUnreachable)
	case e.Status == http.StatusUnauthorized, e.Status == http.StatusForbidden && e.auth403:
		out = append(out, providers.ErrAuthInvalid)
	case e.Status == http.StatusTooManyRequests || e.Status >= 500:
		out = append(out, providers.ErrUnreachable)
	}
	if e.Cause != nil {
		out = append(out, e.Cause)
	}
	return out
}

// hostError is a transport error with the host it was sent to (never the
// path or query).
type hostError struct {
	err  error
	host string
}

func (h *hostError) Error() string { return fmt.Sprintf("%v (host %s)", h.err, h.host) }
func (h *hostError) Unwrap() error { return h.err }

// StatusOf is the HTTP status of a failed call's answer, 0 when there was
// none (or err is not a call's error).
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// Idempotent says whether method is safe to send twice (RFC 9110 §9.2.2).
func Idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodOptions:
		return true
	}
	return false
}

// Do sends the call, retrying per the policy, and decodes a 2xx answer
// into r.Out. A call is retried only when it is idempotent and it got no
// answer, a cut-off 2xx answer, a 429, or a 5xx other than 501; it stops at
// once when ctx is done.
func (c *Client) Do(ctx context.Context, r Request) error {
	var payload []byte
	if r.Body != nil {
		b, err := json.Marshal(r.Body)
		if err != nil {
			return fmt.Errorf("%s %s: encoding the request: %w", r.Method, r.Path, err)
		}
		payload = b
		defer clear(payload) // a body may hold a password
	}
	attempts := 1
	if r.Idempotent || Idempotent(r.Method) {
		attempts = pos(c.Attempts, DefaultAttempts)
	}
	var last error
	for i := range attempts {
		wait, retry, err := c.once(ctx, r, payload)
		if err == nil {
			return nil
		}
		var e *Error
		if errors.As(err, &e) {
			e.Attempts = i + 1
		}
		last = err
		if !retry || i == attempts-1 {
			break
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w (stopped before retrying: %w)", last, ctx.Err())
		}
		if wait <= 0 {
			wait = c.backoff(i)
		}
		if err := c.sleep(ctx, min(wait, pos(c.MaxWait, DefaultMaxWait))); err != nil {
			return fmt.Errorf("%w (stopped before retrying: %w)", last, err)
		}
	}
	return last
}

// backoff is the wait before retry i+1 without a Retry-After: exponential,
// with "equal jitter" (half fixed, half random) so clients that failed
// together do not retry together.
func (c *Client) backoff(i int) time.Duration {
	d := pos(c.BaseWait, DefaultBaseWait) << i
	if m := pos(c.MaxWait, DefaultMaxWait); d > m || d <= 0 {
		d = m
	}
	return d/2 + rand.N(d/2+1)
}

func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	if c.Sleep != nil {
		return c.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// once is one exchange. wait is the server's Retry-After (0 if none);
// retry says whether the failure is transient.
func (c *Client) once(ctx context.Context, r Request, payload []byte) (wait time.Duration, retry bool, err error) {
	u := c.Base + r.Path
	if len(r.Query) > 0 {
		u += "?" + r.Query.Encode()
	}
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, u, rd)
	if err != nil {
		// The URL is not named: it may hold a session token.
		return 0, false, fmt.Errorf("%s %s %s: building the request failed", c.Service, r.Method, r.Path)
	}
	var tok []byte
	if c.Token != nil {
		tok = c.Token()
		defer clear(tok)
		req.Header.Set("Authorization", "Bearer "+string(tok))
	}
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		// Only the cause: a *url.Error names the full URL. A cancelled
		// call is an Error too (no answer: a POST may have happened), and
		// errors.Is(err, context.Canceled) holds.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if ctx.Err() != nil {
			return 0, false, &Error{Service: c.Service, Method: r.Method, Path: r.Path, Cause: ctx.Err()}
		}
		return 0, transient(err), &Error{Service: c.Service, Method: r.Method, Path: r.Path, Cause: &hostError{err, req.URL.Host}}
	}
	defer resp.Body.Close()
	limit := pos(c.MaxBody, DefaultMaxBody)
	raw, rerr := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	defer clear(raw) // an answer may hold keys (Supabase api-keys)
	if resp.StatusCode/100 != 2 {
		e := &Error{Service: c.Service, Method: r.Method, Path: r.Path, Status: resp.StatusCode, auth403: c.ForbiddenIsAuth}
		e.Code, e.Message = errorBody(raw, string(tok))
		st := resp.StatusCode
		return retryAfter(resp.Header.Get("Retry-After"), time.Now()), st == http.StatusTooManyRequests || (st >= 500 && st != http.StatusNotImplemented), e
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%s's answer to %s %s is %w: %s", c.Service, r.Method, r.Path, ErrBadAnswer, fmt.Sprintf(format, args...))
	}
	switch {
	case rerr != nil:
		// Cut off mid-body (a reset): the answer is lost; transient unless
		// the call was cancelled.
		return 0, ctx.Err() == nil, bad("cut off after %d bytes (%v)", len(raw), rerr)
	case int64(len(raw)) > limit:
		return 0, false, bad("larger than %d bytes; refused", limit)
	case r.Out != nil && len(bytes.TrimSpace(raw)) > 0:
		if err := json.Unmarshal(raw, r.Out); err != nil {
			return 0, false, bad("%v", err)
		}
	}
	return 0, false, nil
}

// transient says whether a transport error (no answer) may go away on a
// retry: not a refused certificate, which will be refused again.
func transient(err error) bool {
	var (
		cv *tls.CertificateVerificationError
		ua x509.UnknownAuthorityError
		hn x509.HostnameError
		ci x509.CertificateInvalidError
	)
	return !errors.As(err, &cv) && !errors.As(err, &ua) && !errors.As(err, &hn) && !errors.As(err, &ci)
}

// retryAfter reads a Retry-After header: delay-seconds or an HTTP-date
// (RFC 9110 §10.2.3). 0 when absent, unreadable or in the past.
func retryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if s, err := strconv.Atoi(h); err == nil {
		if s < 0 {
			return 0
		}
		return time.Duration(min(s, 24*3600)) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// errorBody finds the code and message in the error shapes the APIs use:
// {"message"} (Supabase), {"error":{"code","message"}} (Vercel), and
// {"error":"…"}. An API that echoes the request's credential back does not
// get it into a message: tok is cut out before anything is shortened.
func errorBody(raw []byte, tok string) (code, msg string) {
	var eb struct {
		Message string          `json:"message"`
		Error   json.RawMessage `json:"error"`
	}
	if json.Unmarshal(raw, &eb) != nil {
		return "", ""
	}
	msg = eb.Message
	var nested struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	var s string
	switch {
	case json.Unmarshal(eb.Error, &nested) == nil:
		code = nested.Code
		if nested.Message != "" {
			msg = nested.Message
		}
	case json.Unmarshal(eb.Error, &s) == nil && msg == "":
		msg = s
	}
	if tok != "" {
		code = strings.ReplaceAll(code, tok, "[redacted]")
		msg = strings.ReplaceAll(msg, tok, "[redacted]")
	}
	return truncate(code, 100), truncate(msg, 300)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func pos[T int | int64 | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}
