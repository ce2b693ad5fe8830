package proxy

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// errEncoding is an upstream response in an encoding the scrubber cannot
// read; passing it on could hand a real value to the child.
type errEncoding struct{ enc string }

func (e errEncoding) Error() string {
	return fmt.Sprintf("upstream answered with Content-Encoding %q although identity was requested; phantom cannot scrub it, so it was not passed on", e.enc)
}

// modifyResponse scrubs real values from the response headers and body.
func (s *Server) modifyResponse(resp *http.Response) error {
	st := stateOf(resp.Request)
	s.scrubHeader(resp.Header)
	// Announced trailer names are scrubbed now (the reverse proxy announces
	// them before the body); the values arrive after the body and are
	// scrubbed when it is closed, before the reverse proxy copies them.
	s.scrubHeader(resp.Trailer)
	if resp.StatusCode == http.StatusSwitchingProtocols {
		// A WebSocket (or other upgraded) connection is passed through as
		// bytes; its frames are not scrubbed (docs/security.md).
		return nil
	}
	if st != nil && st.body != nil && st.body.over {
		// The upstream answered before the proxy cut the body off.
		return errBodyTooLarge
	}

	body := resp.Body
	switch enc := strings.ToLower(strings.TrimSpace(resp.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			return fmt.Errorf("upstream sent a gzip body that does not decode: %w", err)
		}
		body = readCloser{Reader: zr, close: resp.Body.Close}
		resp.Header.Del("Content-Encoding")
		resp.Header.Del("Content-Length")
		resp.ContentLength = -1
	default:
		return errEncoding{enc}
	}

	// The idle timer covers every stream: it resets on every read, so a
	// long SSE generation runs as long as bytes keep coming.
	upstream := resp.Body
	idle := newIdleBody(body, s.opts.IdleTimeout, func() { upstream.Close() })

	// Compressed bytes the scrubber cannot see into are refused, whatever
	// Content-Encoding said (docs/decisions.md, "compressed bodies"). The
	// first bytes decide, usually the very first one.
	head, kind, err := sniffBody(idle)
	if err != nil {
		idle.Close()
		return fmt.Errorf("reading the upstream response: %w", err)
	}
	if kind != "" {
		idle.Close()
		return errCompressed{kind}
	}
	body = readCloser{Reader: io.MultiReader(bytes.NewReader(head), idle), close: idle.Close}

	if s.scrubber.Len() == 0 || resp.Request.Method == http.MethodHead {
		// Nothing to scrub, or no body (a HEAD answer's Content-Length is
		// the length a GET would have, and stays).
		resp.Body = body
		return nil
	}
	// A response with a known length, up to the larger of 1 MiB and the
	// proxy's body limit, is read whole, scrubbed, and sent with its new
	// Content-Length (scrubbing changes the length: a token is not as long
	// as the value it replaces). A longer one, one of unknown length, or an
	// event stream is scrubbed as it streams and goes chunked: its final
	// length is not known until its last byte has been read
	// (docs/decisions.md, "Content-Length of scrubbed responses").
	bufMax := max(int64(bufferedResponseMax), s.opts.MaxBodyBytes)
	if resp.ContentLength >= 0 && resp.ContentLength <= bufMax && !isEventStream(resp) {
		raw, err := io.ReadAll(io.LimitReader(body, bufMax+1))
		body.Close()
		if err != nil {
			return fmt.Errorf("reading the upstream response: %w", err)
		}
		s.scrubHeader(resp.Trailer)
		out, _ := s.scrubber.Replace(raw)
		resp.Body = io.NopCloser(bytes.NewReader(out))
		resp.ContentLength = int64(len(out))
		resp.Header.Set("Content-Length", fmt.Sprint(len(out)))
		return nil
	}
	// Streamed: replacements change the length, so the client gets chunked
	// transfer; the reverse proxy flushes every write of a stream of
	// unknown length, so SSE events are not delayed. Trailers are complete
	// once the body is read; the reverse proxy closes it and only then
	// copies resp.Trailer.
	resp.Body = readCloser{Reader: s.scrubber.NewReader(body), close: func() error {
		err := body.Close()
		s.scrubHeader(resp.Trailer)
		return err
	}}
	resp.ContentLength = -1
	resp.Header.Del("Content-Length")
	return nil
}

// scrubHeader replaces real values in every name and value of h, in place:
// response headers, trailers and the headers of 1xx responses.
func (s *Server) scrubHeader(h http.Header) {
	if s.scrubber.Len() == 0 {
		return
	}
	var renamed []string
	for k, vs := range h {
		for i, v := range vs {
			if nv, n := s.scrubber.ReplaceString(v); n > 0 {
				vs[i] = nv
			}
		}
		if _, n := s.scrubber.ReplaceString(k); n > 0 {
			renamed = append(renamed, k)
		}
	}
	for _, k := range renamed {
		nk, _ := s.scrubber.ReplaceString(k)
		vs := h[k]
		delete(h, k)
		h[nk] = append(h[nk], vs...)
	}
}

func isEventStream(resp *http.Response) bool {
	return strings.HasPrefix(strings.ToLower(resp.Header.Get("Content-Type")), "text/event-stream")
}

type readCloser struct {
	io.Reader
	close func() error
}

func (r readCloser) Close() error { return r.close() }

// idleBody fails a read that waits longer than idle for upstream bytes.
type idleBody struct {
	rc    io.ReadCloser
	idle  time.Duration
	timer *time.Timer
	mu    sync.Mutex
	fired bool
}

var errIdle = errors.New("upstream stream idle for too long")

func newIdleBody(rc io.ReadCloser, idle time.Duration, onIdle func()) *idleBody {
	b := &idleBody{rc: rc, idle: idle}
	b.timer = time.AfterFunc(idle, func() {
		b.mu.Lock()
		b.fired = true
		b.mu.Unlock()
		onIdle()
	})
	return b
}

func (b *idleBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.mu.Lock()
	fired := b.fired
	b.mu.Unlock()
	if fired {
		return n, errIdle
	}
	b.timer.Reset(b.idle)
	return n, err
}

func (b *idleBody) Close() error {
	b.timer.Stop()
	return b.rc.Close()
}

// errorHandler answers when the upstream could not be reached or the
// request was cut off.
func (s *Server) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	st := stateOf(r)
	route := ""
	if st != nil {
		route = st.route.Name
	}
	var enc errEncoding
	var comp errCompressed
	switch {
	case st != nil && st.body != nil && st.body.over, errors.Is(err, errBodyTooLarge):
		st.err = "request body too large"
		writeJSON(w, http.StatusRequestEntityTooLarge, errorBody(route, http.StatusRequestEntityTooLarge,
			fmt.Sprintf("request body larger than the proxy's limit of %d bytes", s.opts.MaxBodyBytes),
			"raise [proxy] max_body_bytes in .phantom.toml if this is expected", ""))
	case st != nil && st.body != nil && st.body.clientErr != nil:
		// The client's body broke off (bad framing, short body): the
		// upstream request was aborted unfinished; the fault is the
		// client's, not the upstream's.
		re := clientBodyError(st.body.clientErr)
		st.err = re.msg
		writeJSON(w, re.status, errorBody(route, re.status, re.msg, re.hint, ""))
	case r.Context().Err() != nil:
		// The client went away; there is nobody to answer.
		if st != nil {
			st.err = "client disconnected"
		}
		w.WriteHeader(499)
	case errors.As(err, &enc), errors.As(err, &comp):
		msg, _ := s.scrubber.ReplaceString(err.Error())
		if st != nil {
			st.err = msg
		}
		writeJSON(w, http.StatusBadGateway, errorBody(route, http.StatusBadGateway, msg, "", ""))
	default:
		msg, _ := s.scrubber.ReplaceString(err.Error())
		if st != nil {
			st.err = msg
		}
		markUnreachable(w.Header(), msg)
		writeJSON(w, http.StatusBadGateway, errorBody(route, http.StatusBadGateway, "upstream request failed", "", msg))
	}
	s.logf("proxy: %s %s: %v", r.Method, route, err)
}

// ErrorHeader marks an answer the proxy made itself because the upstream
// could not be reached (DNS, TLS, connection refused, timeout), so a client
// can tell it from an upstream's own 502 without parsing the body;
// ErrorDetailHeader carries the reason, scrubbed (docs/phantom.md, "The
// proxy"). `stack doctor` reads them.
const (
	ErrorHeader            = "X-Phantom-Error"
	ErrorDetailHeader      = "X-Phantom-Error-Detail"
	errUpstreamUnreachable = "upstream-unreachable"
)

// markUnreachable sets ErrorHeader and ErrorDetailHeader: one line of
// printable text, at most 512 bytes.
func markUnreachable(h http.Header, reason string) {
	reason = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, reason)
	if len(reason) > 512 {
		reason = strings.ToValidUTF8(reason[:512], "")
	}
	h.Set(ErrorHeader, errUpstreamUnreachable)
	h.Set(ErrorDetailHeader, reason)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", fmt.Sprint(len(b)+1))
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
