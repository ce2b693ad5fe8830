// Package proxy is phantom's loopback reverse proxy (docs/architecture.md §5.1).
//
// A child started by `phantom exec` holds phm tokens, not secret values. Its
// SDKs' base URLs point here; the proxy checks the per-run session token,
// picks the route from the first path segment, replaces tokens with real
// values only where the route says credentials travel (credential headers,
// declared query parameters and body fields) and only for secrets allowed on
// that route, forwards the request, and scrubs every real value out of the
// response before the child sees it.
//
// The proxy never follows redirects, never adds X-Forwarded-* headers, asks
// upstreams for identity encoding so scrubbing sees plaintext, and streams
// (SSE, chunked, WebSocket upgrades) without a total timeout: a stream ends
// only when it is idle for IdleTimeout.
package proxy

import (
	"bytes"
	"context"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"phantomstack.dev/phantom/internal/awscreds"
	"phantomstack.dev/phantom/internal/catalog"
	"phantomstack.dev/phantom/internal/scrub"
	"phantomstack.dev/shared/token"
)

// HeaderToken carries the session token when the path does not.
const HeaderToken = "X-Phantom-Proxy-Token"

// pathPrefix starts the path carrier: /_phantom/<session token>/<route>/...
const pathPrefix = "/_phantom/"

// Defaults, chosen so an agent streaming many LLM calls never hits them by
// accident while a runaway loop still does.
const (
	DefaultMaxBodyBytes = 10 << 20
	DefaultIdleTimeout  = 5 * time.Minute
	DefaultRate         = 50 // requests per second per secret, sustained
	DefaultBurst        = 200
	// Responses with a known length up to this size, or up to
	// MaxBodyBytes when that is larger, are scrubbed in one buffer and
	// keep a Content-Length; longer or unknown ones stream.
	bufferedResponseMax = 1 << 20
)

// Secret is one vault entry the proxy may use. Value is a string because
// it ends up in header values; see docs/security.md on what Go cannot wipe.
type Secret struct {
	Name  string
	Token string
	Value string
}

// Event is one proxied request, for the audit log. It never carries a value.
type Event struct {
	Route    string
	Secrets  []string // names of the secrets put on the wire (or, for a 429, held back)
	Method   string
	Status   int
	BytesIn  int64 // request body bytes sent upstream
	BytesOut int64 // response body bytes sent to the client
	Duration time.Duration
	Error    string // why the proxy answered itself (401, 403, 413, 429, 502), scrubbed
}

// Options configures a Server.
type Options struct {
	// Routes with their real upstream in Upstream (UpstreamEnv already
	// resolved by the caller).
	Routes  []catalog.Route
	Secrets []Secret
	// BodyGrants lets a route carry, in its declared body fields only,
	// secrets besides its own: route name → secret names. `phantom exec
	// --body-secret` sets it for one run (stack env push uploads values to
	// Vercel this way); docs/decisions.md says why it is scoped so.
	BodyGrants map[string][]string
	// SessionToken authenticates callers; New generates one when empty.
	SessionToken string
	// HeaderAuthOnly accepts the session token only in HeaderToken
	// (PHANTOM_PROXY_HEADER_AUTH_ONLY=1).
	HeaderAuthOnly bool
	MaxBodyBytes   int64
	IdleTimeout    time.Duration
	// Rate and Burst bound requests per secret (token bucket); a negative
	// Rate turns the limit off.
	Rate  float64
	Burst int
	// Transport reaches upstreams; default: NewTransport. A route with its
	// own CA certificates or forward proxy gets a transport of its own.
	Transport http.RoundTripper
	// Scrubber, when set, is the value→token replacer built from Secrets
	// (exec shares one with its output masker); New builds it otherwise,
	// with every value's common encodings (scrub.WithEncodings).
	Scrubber *scrub.Replacer
	// AWS, when set, serves the container-credentials endpoint.
	AWS func() (awscreds.Credentials, error)
	// Audit receives one event per request. It must not block for long.
	Audit func(Event)
	// RefusedPeer receives each connection closed unread because another
	// OS user opened it (Linux; see peeruid.go). It must not block for long.
	RefusedPeer func(PeerRefusal)
	// Logf prints diagnostics (phantom exec -v); nil is silent.
	Logf func(format string, args ...any)
	// LoadedAt is when the caller read Secrets from the vault, and
	// RestartHint how to restart this proxy. The proxy never rereads the
	// vault (it holds no key), so after phantom rotate it knows only the
	// old tokens; its 403 for an unknown token says so with these.
	LoadedAt    time.Time
	RestartHint string
}

type route struct {
	catalog.Route
	upstream *url.URL
	allowed  map[string]bool
	bodyOnly map[string]bool // granted for declared body fields only
	headers  []string        // canonical
	query    map[string]bool
	// transport, when set, reaches this route's upstream (its approved CA
	// certificates or forward proxy); nil: the server's.
	transport http.RoundTripper
}

// Server is a running proxy.
type Server struct {
	opts     Options
	routes   map[string]*route
	byToken  map[string]*Secret
	byName   map[string]*Secret
	scrubber *scrub.Replacer
	rp       *httputil.ReverseProxy
	awsToken string
	aws      http.Handler

	limMu    sync.Mutex
	limiters map[string]*rate.Limiter

	ln   net.Listener
	srv  *http.Server
	done chan struct{}
}

// New checks the options and builds a server; Listen starts it.
func New(opts Options) (*Server, error) {
	if opts.SessionToken == "" {
		opts.SessionToken = strings.TrimPrefix(token.New(), token.Prefix)
	}
	if len(opts.SessionToken) < 32 {
		return nil, errors.New("proxy: session token too short")
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.Rate == 0 {
		opts.Rate = DefaultRate
	}
	if opts.Burst <= 0 {
		opts.Burst = DefaultBurst
	}
	if opts.Transport == nil {
		opts.Transport = NewTransport(opts.IdleTimeout)
	}
	s := &Server{
		opts:     opts,
		routes:   map[string]*route{},
		byToken:  map[string]*Secret{},
		byName:   map[string]*Secret{},
		limiters: map[string]*rate.Limiter{},
		done:     make(chan struct{}),
	}
	pairs := map[string]string{}
	for i := range opts.Secrets {
		sec := &opts.Secrets[i]
		if !token.Is(sec.Token) {
			return nil, fmt.Errorf("proxy: secret %s has no valid token", sec.Name)
		}
		s.byToken[sec.Token] = sec
		s.byName[sec.Name] = sec
		if sec.Value != "" && opts.Scrubber == nil {
			pairs[sec.Value] = sec.Token
		}
	}
	s.scrubber = opts.Scrubber
	if s.scrubber == nil {
		s.scrubber = scrub.New(scrub.WithEncodings(pairs))
	}
	for _, r := range opts.Routes {
		u, err := url.Parse(r.Upstream)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf("proxy: route %s: upstream %q is not an http(s) URL", r.Name, r.Upstream)
		}
		rt := &route{Route: r, upstream: u, allowed: map[string]bool{}, bodyOnly: map[string]bool{}, query: map[string]bool{}}
		for _, n := range r.Secrets {
			rt.allowed[n] = true
		}
		if g := opts.BodyGrants[r.Name]; len(g) > 0 {
			if len(r.BodyFields) == 0 {
				return nil, fmt.Errorf("proxy: route %s declares no body fields to carry %s", r.Name, strings.Join(g, ", "))
			}
			for _, n := range g {
				rt.bodyOnly[n] = true
			}
		}
		for _, h := range r.Headers {
			rt.headers = append(rt.headers, http.CanonicalHeaderKey(h))
		}
		for _, q := range r.Query {
			rt.query[q] = true
		}
		if len(r.CAPEM) > 0 || r.ForwardProxy != "" {
			tr, err := routeTransport(opts.IdleTimeout, r)
			if err != nil {
				return nil, err
			}
			rt.transport = tr
		}
		s.routes[r.Name] = rt
	}
	if opts.AWS != nil {
		s.awsToken = strings.TrimPrefix(token.New(), token.Prefix)
		s.aws = awscreds.Handler(s.awsToken, opts.AWS)
	}
	s.rp = &httputil.ReverseProxy{
		Rewrite:        s.rewrite,
		Transport:      s,
		ModifyResponse: s.modifyResponse,
		ErrorHandler:   s.errorHandler,
		ErrorLog:       nil,
		BufferPool:     bufferPool{},
	}
	return s, nil
}

// RoundTrip sends a request upstream with its route's transport.
func (s *Server) RoundTrip(r *http.Request) (*http.Response, error) {
	if st := stateOf(r); st != nil && st.route.transport != nil {
		return st.route.transport.RoundTrip(r)
	}
	return s.opts.Transport.RoundTrip(r)
}

// routeTransport is NewTransport with the route's approved CA certificates
// as the only roots and its approved forward proxy.
func routeTransport(idle time.Duration, r catalog.Route) (*http.Transport, error) {
	tr := NewTransport(idle)
	if len(r.CAPEM) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(r.CAPEM) {
			return nil, fmt.Errorf("proxy: route %s: its ca_file holds no PEM certificate", r.Name)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	if r.ForwardProxy != "" {
		u, err := url.Parse(r.ForwardProxy)
		if err != nil {
			return nil, fmt.Errorf("proxy: route %s: forward proxy: %w", r.Name, err)
		}
		tr.Proxy = http.ProxyURL(u)
	}
	return tr, nil
}

// NewTransport is the upstream transport: HTTP/2 when the upstream offers
// it, no transparent gzip (identity is requested explicitly), bounded dials
// and handshakes, and a response-header wait as long as the idle timeout
// (a non-streamed LLM completion sends its headers only when it is done).
// It connects directly and trusts the system roots: never a proxy or CA
// from the environment, which whoever starts phantom controls (phantom's
// main also removes them from its own environment; docs/security.md).
func NewTransport(idle time.Duration) *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: idle,
		DisableCompression:    true,
	}
}

// Listen binds 127.0.0.1 on an ephemeral port (or addr when not empty,
// which must be a loopback address) and serves in the background.
func (s *Server) Listen(addr string) error {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("proxy: listen address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("proxy: refusing to listen on %s: the proxy listens on loopback only", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	if ln, err = ownerOnly(ln, s.opts.RefusedPeer, s.logf); err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	s.ln = ln
	s.srv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          nil,
	}
	go func() {
		defer close(s.done)
		s.srv.Serve(ln)
	}()
	return nil
}

// Addr is the listening address, e.g. 127.0.0.1:43117.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// SessionToken authenticates callers.
func (s *Server) SessionToken() string { return s.opts.SessionToken }

// MountURL is the base URL of a route as the child sees it.
func (s *Server) MountURL(route string) string {
	if s.opts.HeaderAuthOnly {
		return "http://" + s.Addr() + "/" + route
	}
	return "http://" + s.Addr() + pathPrefix + s.opts.SessionToken + "/" + route
}

// Env is what the child needs to use the proxy: each route's base-URL
// variables, PHANTOM_PROXY_URL and PHANTOM_PROXY_TOKEN, and the AWS
// container-credentials pair when AWS credentials are served.
func (s *Server) Env() []string {
	var env []string
	for _, r := range s.opts.Routes {
		for _, v := range r.BaseURLVars {
			env = append(env, v.Name+"="+s.MountURL(r.Name)+v.Suffix)
		}
	}
	env = append(env, "PHANTOM_PROXY_URL=http://"+s.Addr(), "PHANTOM_PROXY_TOKEN="+s.opts.SessionToken)
	if s.aws != nil {
		env = append(env, awscreds.Env("http://"+s.Addr()+pathPrefix+s.opts.SessionToken+"/_aws/credentials", s.awsToken)...)
	}
	return env
}

// Shutdown stops accepting requests and waits for the ones in flight
// (streams included) until ctx ends, then closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.srv == nil {
		return nil
	}
	err := s.srv.Shutdown(ctx)
	if err != nil {
		s.srv.Close()
	}
	<-s.done
	return err
}

func (s *Server) logf(format string, args ...any) {
	if s.opts.Logf != nil {
		s.opts.Logf(format, args...)
	}
}

// authenticate checks the session token and returns the path after the
// path carrier (or the whole path when the header carried the token).
func (s *Server) authenticate(r *http.Request) (rest string, ok bool) {
	p := r.URL.EscapedPath()
	pathOK := false
	if strings.HasPrefix(p, pathPrefix) {
		tok, after, _ := strings.Cut(p[len(pathPrefix):], "/")
		pathOK = !s.opts.HeaderAuthOnly && s.tokenEqual(tok)
		p = "/" + after
	}
	headerOK := false
	if h := r.Header.Get(HeaderToken); h != "" {
		headerOK = s.tokenEqual(h)
	}
	return p, pathOK || headerOK
}

func (s *Server) tokenEqual(t string) bool {
	return subtle.ConstantTimeCompare([]byte(t), []byte(s.opts.SessionToken)) == 1
}

// ServeHTTP authenticates, routes, applies the request-side rules, and
// hands the request to the reverse proxy.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rest, ok := s.authenticate(r)
	if !ok {
		// The route is named in the path even when the token is wrong;
		// it only picks the shape of the error body (errshape.go).
		shape, _, _ := strings.Cut(strings.TrimPrefix(rest, "/"), "/")
		if s.routes[shape] == nil {
			shape = ""
		}
		s.refuseAs(w, r, start, shape, http.StatusUnauthorized, "missing or invalid proxy session token",
			"send the token phantom exec put in PHANTOM_PROXY_TOKEN, in the "+HeaderToken+" header or as /_phantom/<token>/ in the path")
		return
	}
	r.Header.Del(HeaderToken)
	name, upPath, _ := strings.Cut(strings.TrimPrefix(rest, "/"), "/")
	switch name {
	case "_health":
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "routes": len(s.routes)})
		return
	case "_aws":
		if s.aws != nil && upPath == "credentials" {
			sr := &statusRecorder{ResponseWriter: w}
			s.aws.ServeHTTP(sr, r)
			s.audit(Event{Route: "aws-credentials", Method: r.Method, Status: sr.status, BytesOut: sr.bytes, Duration: time.Since(start)})
			return
		}
	}
	rt := s.routes[name]
	if rt == nil {
		s.refuse(w, r, start, name, http.StatusNotFound, fmt.Sprintf("no route %q", name),
			"the first path segment after the session token names a route; see `phantom why` and the routes in docs/phantom.md")
		return
	}
	clean, err := cleanPath(upPath)
	if err != nil {
		s.refuse(w, r, start, rt.Name, http.StatusBadRequest, err.Error(),
			"send the path the API documents, without . or .. segments in any encoding")
		return
	}
	st := &reqState{route: rt, path: clean, start: start}
	if err := s.prepareRequest(r, st); err != nil {
		var re *refusal
		if errors.As(err, &re) {
			s.refuse(w, r, start, rt.Name, re.status, re.msg, re.hint)
			return
		}
		s.refuse(w, r, start, rt.Name, http.StatusBadRequest, err.Error(), "")
		return
	}
	if d, ok := s.allow(st.secrets); !ok {
		secs := int((d + time.Second - 1) / time.Second)
		if secs < 1 {
			secs = 1
		}
		w.Header().Set("Retry-After", fmt.Sprint(secs))
		s.refuseFor(w, r, start, rt.Name, st.secrets, http.StatusTooManyRequests,
			fmt.Sprintf("rate limit for %s reached", strings.Join(st.secrets, ", ")),
			"slow down; the limit is per secret and set with PHANTOM_PROXY_RATE / PHANTOM_PROXY_BURST")
		return
	}
	rec := &statusRecorder{ResponseWriter: w, scrub: s.scrubHeader}
	s.rp.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), stateKey{}, st)))
	ev := Event{Route: rt.Name, Secrets: st.secrets, Method: r.Method, Status: rec.status,
		BytesIn: st.bytesIn(), BytesOut: rec.bytes, Duration: time.Since(start), Error: st.err}
	s.audit(ev)
}

// allow takes one token from every secret's bucket, or none when any is
// empty (then d says when to retry).
func (s *Server) allow(secrets []string) (time.Duration, bool) {
	if s.opts.Rate < 0 || len(secrets) == 0 {
		return 0, true
	}
	s.limMu.Lock()
	defer s.limMu.Unlock()
	now := time.Now()
	var rs []*rate.Reservation
	for _, n := range secrets {
		l := s.limiters[n]
		if l == nil {
			l = rate.NewLimiter(rate.Limit(s.opts.Rate), s.opts.Burst)
			s.limiters[n] = l
		}
		res := l.ReserveN(now, 1)
		rs = append(rs, res)
		if d := res.DelayFrom(now); d > 0 {
			for _, x := range rs {
				x.CancelAt(now)
			}
			return d, false
		}
	}
	return 0, true
}

func (s *Server) audit(e Event) {
	if s.opts.Audit != nil {
		s.opts.Audit(e)
	}
}

// refuse answers a request the proxy will not forward, with a JSON body.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, start time.Time, route string, status int, msg, hint string) {
	s.refuseFor(w, r, start, route, nil, status, msg, hint)
}

// refuseFor is refuse for a request whose secrets are known (rate limit):
// the audit event names them, though nothing went on the wire.
func (s *Server) refuseFor(w http.ResponseWriter, r *http.Request, start time.Time, route string, secrets []string, status int, msg, hint string) {
	writeJSON(w, status, errorBody(route, status, msg, hint, ""))
	s.logf("proxy: %s %s: %d %s", r.Method, route, status, msg)
	s.audit(Event{Route: route, Secrets: secrets, Method: r.Method, Status: status, Duration: time.Since(start), Error: msg})
}

// refuseAs answers an unauthenticated request in the error shape of the
// route its path names; the audit event names no route, since the caller
// was never let in.
func (s *Server) refuseAs(w http.ResponseWriter, r *http.Request, start time.Time, shape string, status int, msg, hint string) {
	writeJSON(w, status, errorBody(shape, status, msg, hint, ""))
	s.logf("proxy: %s: %d %s", r.Method, status, msg)
	s.audit(Event{Method: r.Method, Status: status, Duration: time.Since(start), Error: msg})
}

type stateKey struct{}

// reqState travels with a request from ServeHTTP to the proxy's hooks.
type reqState struct {
	route   *route
	path    string // escaped upstream path
	secrets []string
	start   time.Time
	body    *limitedBody
	mem     []byte // the whole request body when it was read into memory
	err     string
}

func (st *reqState) bytesIn() int64 {
	if st.body == nil {
		return 0
	}
	return st.body.n
}

func stateOf(r *http.Request) *reqState {
	st, _ := r.Context().Value(stateKey{}).(*reqState)
	return st
}

// rewrite points the outgoing request at the route's upstream.
func (s *Server) rewrite(pr *httputil.ProxyRequest) {
	st := stateOf(pr.In)
	u := st.route.upstream
	pr.Out.URL.Path, _ = url.PathUnescape(st.path)
	pr.Out.URL.RawPath = st.path
	pr.SetURL(u)
	pr.Out.Header.Del(HeaderToken)
	if st.mem != nil {
		// ReverseProxy wraps the body in its own reader, which hides that
		// it is in memory; hand the transport a type it recognises so the
		// headers and the body leave in one write.
		pr.Out.Body = io.NopCloser(bytes.NewReader(st.mem))
		pr.Out.ContentLength = int64(len(st.mem))
	}
	// Plaintext responses only: scrubbing cannot see inside gzip or br.
	pr.Out.Header.Set("Accept-Encoding", "identity")
}

// statusRecorder remembers the final status and counts body bytes; Unwrap
// lets http.ResponseController reach Flush and Hijack (SSE, WebSocket).
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	scrub  func(http.Header)
}

func (w *statusRecorder) WriteHeader(code int) {
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		// An informational response the reverse proxy forwards from the
		// upstream (its Got1xxResponse hook copies the headers into ours
		// just before this call): 100 Continue, 103 Early Hints. Its
		// headers are scrubbed like a final response's, and it is not the
		// status: the final one follows (a 413 after a 100 Continue was
		// audited as 100).
		if w.scrub != nil {
			w.scrub(w.ResponseWriter.Header())
		}
		w.ResponseWriter.WriteHeader(code)
		return
	}
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// bufferPool lends the reverse proxy's copy buffers (32 KiB) across
// requests.
type bufferPool struct{}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *(copyBufs.Get().(*[]byte)) }
func (bufferPool) Put(b []byte) { copyBufs.Put(&b) }
