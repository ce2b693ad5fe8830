//go:build unix

// proxybench is run by scripts/bench.sh (make bench) on Unix only: it sets
// RLIMIT_NOFILE and reads /proc (docs/platforms.md).

// Command proxybench measures phantom's loopback proxy for scripts/bench.sh
// (make bench), every measurement side by side with its direct baseline in
// one run:
//
//  1. latency: sequential keep-alive POSTs with a 1 KiB body to a plain-http
//     loopback upstream answering small JSON, direct, through the proxy and
//     through a bare httputil.ReverseProxy (the "floor": one net/http hop
//     with nothing of phantom's) in rotating blocks; p50/p99 of each.
//  2. throughput: requests per second with 32 concurrent connections over a
//     fixed time, direct, proxied and through the floor (balanced halves).
//  3. SSE: time to the first event of a text/event-stream response (median).
//  4. scrubbing: a 1 MiB response through a proxy holding 1,000 secrets
//     (random 40-byte values, about 200 of them in the body) against the same
//     proxy holding none (median). The proxy scrubs each value and its common
//     encodings (scrub.WithEncodings); a third proxy scrubbing the raw values
//     only shows, in the same run, what the encodings cost.
//  5. memory: the RSS of a fresh proxy process holding 1,000 idle SSE
//     streams, each of which has delivered its first event.
//
// The `phantom exec -- true` start-up numbers are measured by bench.sh with
// cmdbench (they need the keychain session) and handed in with -true-line,
// -exec-line and -dotenvx-line (cmdbench output lines) or -exec-note and
// -dotenvx-note (why not measured), so the report holds every target.
//
// The proxy always runs in its own process: proxybench re-executes itself
// with -proxy-only, which starts a proxy (openai route pointed at the
// upstream, rate limit off) and prints "proxy MOUNT_URL OPENAI_TOKEN"; it
// exits when its stdin closes. The upstream and the clients run here.
// PROXYBENCH_CPUPROFILE=FILE makes every proxy process write a CPU profile
// to FILE.PID (diagnostics).
// Everything listens on 127.0.0.1 only; every loop is bounded in count and
// by -timeout.
//
// Output (stdout): one machine-readable line per measurement, "NAME
// key=value ...", each with result=PASS, OVER or (without a target) INFO,
// then a human-readable table. Misses are reported, never fatal: proxybench
// exits non-zero only when something broke.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"phantomstack.dev/phantom/internal/catalog"
	"phantomstack.dev/phantom/internal/proxy"
	"phantomstack.dev/phantom/internal/scrub"
	"phantomstack.dev/shared/token"
)

// Targets.
const (
	targetAddedP50   = 100 * time.Microsecond
	targetAddedP99   = time.Millisecond
	targetTputRatio  = 0.5
	targetSSEAdded   = 2 * time.Millisecond
	targetScrubAdded = 10 * time.Millisecond
	targetExecAdded  = 15.0 // ms
	targetRSSMiB     = 100.0
)

// typicalSecrets is the vault size of the proxy for latency, throughput,
// SSE and memory: a project with a handful of secrets.
const typicalSecrets = 10

var deadline time.Time

func main() {
	proxyOnly := flag.Bool("proxy-only", false, "(internal) run only a proxy; print its mount URL and the OPENAI_API_KEY token")
	floorOnly := flag.Bool("floor-only", false, "(internal) run only a bare httputil.ReverseProxy to -upstream; print its URL")
	upstreamURL := flag.String("upstream", "", "(with -proxy-only) upstream URL of the openai route")
	nSecrets := flag.Int("secrets", typicalSecrets, "(with -proxy-only) secrets in the proxy's vault")
	seed := flag.Uint64("seed", 1, "(with -proxy-only) seed of the secret values")
	rawOnly := flag.Bool("raw-values", false, "(with -proxy-only) scrub the raw values only, not their encodings")

	latN := flag.Int("latency-n", 5000, "timed sequential requests each way")
	latWarm := flag.Int("latency-warmup", 500, "warm-up requests each way")
	tputConns := flag.Int("conns", 32, "concurrent connections for throughput")
	tputDur := flag.Duration("tput-duration", 3*time.Second, "throughput measuring time each way")
	sseN := flag.Int("sse-n", 200, "SSE first-event samples each way")
	scrubN := flag.Int("scrub-n", 30, "1 MiB responses each way")
	scrubSecrets := flag.Int("scrub-secrets", 1000, "secrets in the scrubbing proxy")
	streams := flag.Int("streams", 1000, "idle SSE streams for the memory measurement")
	timeout := flag.Duration("timeout", 100*time.Second, "give up (exit 1) after this long")

	trueLine := flag.String("true-line", "", "cmdbench line of `true`")
	execLine := flag.String("exec-line", "", "cmdbench line of `phantom exec -- true`")
	dotenvxLine := flag.String("dotenvx-line", "", "cmdbench line of `dotenvx run -- true`")
	execNote := flag.String("exec-note", "", "why phantom exec was not measured")
	dotenvxNote := flag.String("dotenvx-note", "", "why dotenvx was not measured")
	flag.Parse()

	nofile := raiseNofile()
	if *floorOnly {
		if err := runFloorOnly(*upstreamURL); err != nil {
			fmt.Fprintf(os.Stderr, "proxybench -floor-only: %v\n", err)
			os.Exit(1)
		}
		return
	}
	if *proxyOnly {
		if err := runProxyOnly(*upstreamURL, *nSecrets, *seed, *rawOnly); err != nil {
			fmt.Fprintf(os.Stderr, "proxybench -proxy-only: %v\n", err)
			os.Exit(1)
		}
		return
	}
	if *latN < 1 || *sseN < 1 || *scrubN < 1 || *streams < 1 || *tputConns < 1 || *tputDur <= 0 {
		fatalf("counts and durations must be positive")
	}
	deadline = time.Now().Add(*timeout)
	watchdog := time.AfterFunc(*timeout+10*time.Second, func() {
		fmt.Fprintf(os.Stderr, "proxybench: still running after %s; giving up\n", *timeout+10*time.Second)
		os.Exit(1)
	})
	defer watchdog.Stop()

	b := &bench{
		latN: *latN, latWarm: *latWarm, conns: *tputConns, tputDur: *tputDur,
		sseN: *sseN, scrubN: *scrubN, scrubSecrets: *scrubSecrets, streams: *streams, nofile: nofile,
	}
	if err := b.run(); err != nil {
		b.cleanup()
		fatalf("%v", err)
	}
	b.cleanup()
	b.execResults(*trueLine, *execLine, *dotenvxLine, *execNote, *dotenvxNote)
	b.report()
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "proxybench: "+format+"\n", args...)
	os.Exit(1)
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

// raiseNofile lifts the soft RLIMIT_NOFILE to the hard limit and returns
// the soft limit in effect.
func raiseNofile() uint64 {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0
	}
	if r.Cur < r.Max {
		r.Cur = r.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
			syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r)
		}
	}
	return r.Cur
}

func checkDeadline(what string) error {
	if time.Now().After(deadline) {
		return fmt.Errorf("%s: out of time (-timeout)", what)
	}
	return nil
}

// ---------------------------------------------------------------------------
// Secrets, shared by both processes: the same seed gives the same values.

const valueAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

type namedValue struct{ name, value string }

// secretValues is n secrets with random 40-byte values; the first is
// OPENAI_API_KEY, which the openai route carries.
func secretValues(n int, seed uint64) []namedValue {
	rng := rand.New(rand.NewPCG(seed, uint64(n)))
	out := make([]namedValue, n)
	for i := range out {
		name := fmt.Sprintf("BENCH_SECRET_%04d", i)
		if i == 0 {
			name = "OPENAI_API_KEY"
		}
		v := make([]byte, 40)
		for j := range v {
			v[j] = valueAlphabet[rng.IntN(len(valueAlphabet))]
		}
		out[i] = namedValue{name, string(v)}
	}
	return out
}

// bigBody is 1 MiB of JSON-ish text with one of the values every ~5,000
// bytes.
func bigBody(vals []namedValue, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 7))
	const filler = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_ \"{}:,\n"
	out := make([]byte, 0, 1<<20+5100)
	for len(out) < 1<<20 {
		for range 5000 {
			out = append(out, filler[rng.IntN(len(filler))])
		}
		if len(vals) > 0 {
			out = append(out, vals[rng.IntN(len(vals))].value...)
		}
	}
	return out[:1<<20]
}

// ---------------------------------------------------------------------------
// -proxy-only: the proxy process.

func runProxyOnly(upstream string, n int, seed uint64, rawOnly bool) error {
	if upstream == "" {
		return errors.New("-upstream is required")
	}
	secs := make([]proxy.Secret, 0, n)
	for _, v := range secretValues(n, seed) {
		secs = append(secs, proxy.Secret{Name: v.name, Token: token.New(), Value: v.value})
	}
	r, ok := catalog.Lookup("openai")
	if !ok {
		return errors.New("no openai route in the catalog")
	}
	r.Upstream = upstream
	opts := proxy.Options{Routes: []catalog.Route{r}, Secrets: secs, Rate: -1}
	if rawOnly {
		pairs := map[string]string{}
		for _, s := range secs {
			pairs[s.Value] = s.Token
		}
		opts.Scrubber = scrub.New(pairs)
	}
	srv, err := proxy.New(opts)
	if err != nil {
		return err
	}
	if err := srv.Listen(""); err != nil {
		return err
	}
	tok := "-"
	if n > 0 {
		tok = secs[0].Token
	}
	if f := os.Getenv("PROXYBENCH_CPUPROFILE"); f != "" {
		// Diagnostics: a CPU profile of this proxy process, FILE.PID.
		out, err := os.Create(fmt.Sprintf("%s.%d", f, os.Getpid()))
		if err != nil {
			return err
		}
		pprof.StartCPUProfile(out)
		defer func() { pprof.StopCPUProfile(); out.Close() }()
	}
	fmt.Printf("proxy %s %s\n", srv.MountURL("openai"), tok)
	// Run until the parent closes stdin (or dies), at most 5 minutes.
	eof := make(chan struct{})
	go func() { io.Copy(io.Discard, os.Stdin); close(eof) }()
	select {
	case <-eof:
	case <-time.After(5 * time.Minute):
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
	return nil
}

// -floor-only: the floor process, a bare httputil.ReverseProxy in the same
// layout as the proxy (its own process, loopback, keep-alive to the same
// upstream). It is the cost of one extra net/http hop on this machine with
// nothing of phantom's: the lowest added latency a proxy built on the
// standard library (docs/architecture.md §2) can reach here.
func runFloorOnly(upstream string) error {
	u, err := url.Parse(upstream)
	if err != nil || upstream == "" {
		return fmt.Errorf("-upstream %q: %v", upstream, err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	fmt.Printf("proxy http://%s -\n", ln.Addr())
	eof := make(chan struct{})
	go func() { io.Copy(io.Discard, os.Stdin); close(eof) }()
	select {
	case <-eof:
	case <-time.After(5 * time.Minute):
	}
	return srv.Close()
}

type proxyProc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	base   string // mount URL of the openai route
	token  string // phm token of OPENAI_API_KEY, "" without secrets
	waited chan error
}

func startProxy(upstream string, n int, seed uint64, extra ...string) (*proxyProc, error) {
	return startChild(append([]string{"-proxy-only", "-upstream", upstream,
		"-secrets", strconv.Itoa(n), "-seed", strconv.FormatUint(seed, 10)}, extra...)...)
}

func startChild(args ...string) (*proxyProc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, args...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proxyProc{cmd: cmd, stdin: stdin, waited: make(chan error, 1)}
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- l
		io.Copy(io.Discard, stdout)
		p.waited <- cmd.Wait()
	}()
	select {
	case l := <-line:
		f := strings.Fields(l)
		if len(f) != 3 || f[0] != "proxy" {
			p.stop()
			return nil, fmt.Errorf("proxy process: unexpected first line %q", l)
		}
		p.base = f[1]
		if f[2] != "-" {
			p.token = f[2]
		}
	case <-time.After(15 * time.Second):
		p.stop()
		return nil, errors.New("proxy process did not start within 15 s")
	}
	return p, nil
}

func (p *proxyProc) pid() int { return p.cmd.Process.Pid }

func (p *proxyProc) stop() {
	p.stdin.Close()
	select {
	case <-p.waited:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-p.waited
	}
}

// rssKiB reads VmRSS and VmHWM of a process.
func rssKiB(pid int) (rss, hwm int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = v
		case "VmHWM:":
			hwm = v
		}
	}
	if rss == 0 {
		return 0, 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
	}
	return rss, hwm, nil
}

// ---------------------------------------------------------------------------
// The upstream: plain http on loopback, in this process.

var chatReply = []byte(`{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"gpt-bench","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}]}`)

const firstEvent = "data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\n"

type upstream struct {
	srv     *http.Server
	url     string
	big     []byte
	release chan struct{}
	held    atomic.Int64
}

func startUpstream(big []byte) (*upstream, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	u := &upstream{url: "http://" + ln.Addr().String(), big: big, release: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(chatReply)))
		w.Write(chatReply)
	})
	mux.HandleFunc("GET /v1/files/big", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(u.big)))
		w.Write(u.big)
	})
	mux.HandleFunc("GET /v1/sse", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, firstEvent)
		http.NewResponseController(w).Flush()
		if r.URL.Query().Get("hold") != "" {
			u.held.Add(1)
			defer u.held.Add(-1)
			select {
			case <-u.release:
			case <-r.Context().Done():
				return
			case <-time.After(90 * time.Second):
			}
		}
		io.WriteString(w, "data: [DONE]\n\n")
	})
	u.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go u.srv.Serve(ln)
	return u, nil
}

func (u *upstream) close() {
	select {
	case <-u.release:
	default:
		close(u.release)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if u.srv.Shutdown(ctx) != nil {
		u.srv.Close()
	}
}

// ---------------------------------------------------------------------------
// Clients.

// target is where a client sends requests: the upstream itself or a proxy.
type target struct {
	base string // URL prefix; paths like /v1/chat/completions follow
	auth string // Authorization header value, "" for none
	c    *http.Client
}

func newClient(conns int, timeout time.Duration) *http.Client {
	tr := &http.Transport{
		MaxIdleConns:        conns + 8,
		MaxIdleConnsPerHost: conns + 8,
		IdleConnTimeout:     2 * time.Minute,
		DisableCompression:  true,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}
	return &http.Client{Transport: tr, Timeout: timeout}
}

func (t target) post(body []byte) (time.Duration, error) {
	req, err := http.NewRequest("POST", t.base+"/v1/chat/completions", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if t.auth != "" {
		req.Header.Set("Authorization", t.auth)
	}
	start := time.Now()
	resp, err := t.c.Do(req)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	d := time.Since(start)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK || n != int64(len(chatReply)) {
		return 0, fmt.Errorf("POST %s: status %d, %d bytes", redact(t.base), resp.StatusCode, n)
	}
	return d, nil
}

// get fetches path and returns the time to the last byte and the body.
func (t target) get(path string, into *bytes.Buffer) (time.Duration, error) {
	req, err := http.NewRequest("GET", t.base+path, nil)
	if err != nil {
		return 0, err
	}
	if t.auth != "" {
		req.Header.Set("Authorization", t.auth)
	}
	into.Reset()
	start := time.Now()
	resp, err := t.c.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = into.ReadFrom(resp.Body)
	resp.Body.Close()
	d := time.Since(start)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s%s: status %d", redact(t.base), path, resp.StatusCode)
	}
	return d, nil
}

// openSSE starts an event stream and returns once its first event arrived,
// with the time that took and the still-open response.
func (t target) openSSE(ctx context.Context, hold bool) (time.Duration, *http.Response, error) {
	path := "/v1/sse"
	if hold {
		path += "?hold=1"
	}
	req, err := http.NewRequestWithContext(ctx, "GET", t.base+path, nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	if t.auth != "" {
		req.Header.Set("Authorization", t.auth)
	}
	start := time.Now()
	resp, err := t.c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return 0, nil, fmt.Errorf("SSE %s: status %d", redact(t.base), resp.StatusCode)
	}
	var got []byte
	buf := make([]byte, 512)
	for !bytes.Contains(got, []byte("\n\n")) {
		n, err := resp.Body.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil && !bytes.Contains(got, []byte("\n\n")) {
			resp.Body.Close()
			return 0, nil, fmt.Errorf("SSE %s: no first event: %v", redact(t.base), err)
		}
		if len(got) > 64<<10 {
			resp.Body.Close()
			return 0, nil, errors.New("SSE: first event larger than 64 KiB")
		}
	}
	return time.Since(start), resp, nil
}

// redact drops the session token from a mount URL for error messages.
func redact(u string) string {
	if i := strings.Index(u, "/_phantom/"); i >= 0 {
		return u[:i] + "/_phantom/…"
	}
	return u
}

// ---------------------------------------------------------------------------
// Measurements.

type bench struct {
	latN, latWarm, conns int
	tputDur              time.Duration
	sseN, scrubN         int
	scrubSecrets         int
	streams              int
	nofile               uint64

	up      *upstream
	procs   []*proxyProc
	clients []*http.Client

	lat    struct{ direct, proxied, floor []time.Duration }
	tput   struct{ direct, proxied, floor float64 }
	sse    struct{ direct, proxied []time.Duration }
	scrub  struct{ direct, zero, many, raw []time.Duration }
	mem    struct{ baseKiB, rssKiB, hwmKiB int64 }
	execs  struct{ bare, exec, dotenvx []string }
	notes  struct{ exec, dotenvx string }
	result []string // machine lines
	rows   [][]string
}

func (b *bench) client(conns int, timeout time.Duration) *http.Client {
	c := newClient(conns, timeout)
	b.clients = append(b.clients, c)
	return c
}

func (b *bench) proxy(n int, seed uint64, extra ...string) (*proxyProc, error) {
	p, err := startProxy(b.up.url, n, seed, extra...)
	if err != nil {
		return nil, err
	}
	b.procs = append(b.procs, p)
	return p, nil
}

func (b *bench) cleanup() {
	for _, c := range b.clients {
		c.CloseIdleConnections()
	}
	b.clients = nil
	if b.up != nil {
		select {
		case <-b.up.release:
		default:
			close(b.up.release)
		}
	}
	for _, p := range b.procs {
		p.stop()
	}
	b.procs = nil
	if b.up != nil {
		b.up.close()
		b.up = nil
	}
}

func (b *bench) run() error {
	scrubVals := secretValues(b.scrubSecrets, 2)
	typVals := secretValues(typicalSecrets, 1)
	var err error
	if b.up, err = startUpstream(bigBody(scrubVals, 3)); err != nil {
		return err
	}
	typ, err := b.proxy(typicalSecrets, 1)
	if err != nil {
		return err
	}
	direct := target{base: b.up.url, auth: "Bearer " + typVals[0].value, c: b.client(1, 10*time.Second)}
	proxied := target{base: typ.base, auth: "Bearer " + typ.token, c: b.client(1, 10*time.Second)}
	fl, err := startChild("-floor-only", "-upstream", b.up.url)
	if err != nil {
		return err
	}
	b.procs = append(b.procs, fl)
	floor := target{base: fl.base, auth: direct.auth, c: b.client(1, 10*time.Second)}

	progress("proxy latency (%d sequential 1 KiB POSTs each way)…", b.latN)
	if err := b.latency(direct, proxied, floor); err != nil {
		return err
	}
	progress("proxy throughput (%d connections, %s each way)…", b.conns, b.tputDur)
	dc := target{base: direct.base, auth: direct.auth, c: b.client(b.conns, 10*time.Second)}
	pc := target{base: proxied.base, auth: proxied.auth, c: b.client(b.conns, 10*time.Second)}
	fc := target{base: floor.base, auth: floor.auth, c: b.client(b.conns, 10*time.Second)}
	if err := b.throughput(dc, pc, fc); err != nil {
		return err
	}
	progress("SSE time to first event (%d each way)…", b.sseN)
	if err := b.sseFirst(direct, proxied); err != nil {
		return err
	}

	progress("scrubbing a 1 MiB response (%d secrets vs 0, %d each)…", b.scrubSecrets, b.scrubN)
	p0, err := b.proxy(0, 2)
	if err != nil {
		return err
	}
	pN, err := b.proxy(b.scrubSecrets, 2)
	if err != nil {
		return err
	}
	pR, err := b.proxy(b.scrubSecrets, 2, "-raw-values")
	if err != nil {
		return err
	}
	if err := b.scrubbing(
		target{base: b.up.url, c: b.client(1, 20*time.Second)},
		target{base: p0.base, c: b.client(1, 20*time.Second)},
		target{base: pN.base, c: b.client(1, 20*time.Second)},
		target{base: pR.base, c: b.client(1, 20*time.Second)},
		len(scrubVals)); err != nil {
		return err
	}
	// Free the CPU and the memory of the first proxies before the memory
	// measurement.
	b.cleanupProxies()

	progress("memory: %d idle SSE streams through a fresh proxy process…", b.streams)
	return b.memory()
}

func (b *bench) cleanupProxies() {
	for _, c := range b.clients {
		c.CloseIdleConnections()
	}
	b.clients = nil
	for _, p := range b.procs {
		p.stop()
	}
	b.procs = nil
}

func (b *bench) latency(direct, proxied, floor target) error {
	body := bytes.Repeat([]byte("x"), 1024)
	copy(body, `{"model":"gpt-bench","messages":[{"role":"user","content":"`)
	copy(body[len(body)-4:], `"}]}`)
	const block = 250
	run := func(t target, n int, into *[]time.Duration) error {
		for range n {
			d, err := t.post(body)
			if err != nil {
				return err
			}
			if into != nil {
				*into = append(*into, d)
			}
		}
		return checkDeadline("latency")
	}
	for done := 0; done < b.latWarm; done += block {
		n := min(block, b.latWarm-done)
		for _, t := range []target{direct, proxied, floor} {
			if err := run(t, n, nil); err != nil {
				return err
			}
		}
	}
	// Blocks rotate the order so no side always runs first (cache, CPU
	// frequency and the other core's state even out).
	for i, done := 0, 0; done < b.latN; i, done = i+1, done+block {
		n := min(block, b.latN-done)
		sides := []struct {
			t    target
			into *[]time.Duration
		}{{direct, &b.lat.direct}, {proxied, &b.lat.proxied}, {floor, &b.lat.floor}}
		for k := range sides {
			s := sides[(k+i)%len(sides)]
			if err := run(s.t, n, s.into); err != nil {
				return err
			}
		}
	}
	return nil
}

// throughput counts completed requests of conns workers until stop.
func throughputFor(t target, conns int, d time.Duration) (count int64, elapsed time.Duration, err error) {
	body := bytes.Repeat([]byte("y"), 1024)
	var (
		n     atomic.Int64
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	start := time.Now()
	stop := start.Add(d)
	for range conns {
		wg.Go(func() {
			for i := 0; i < 10_000_000 && time.Now().Before(stop); i++ {
				if _, err := t.post(body); err != nil {
					once.Do(func() { first = err })
					return
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	return n.Load(), time.Since(start), first
}

func (b *bench) throughput(direct, proxied, floor target) error {
	// Warm-up: open the connections on every side.
	for _, t := range []target{direct, proxied, floor} {
		if _, _, err := throughputFor(t, b.conns, 300*time.Millisecond); err != nil {
			return err
		}
	}
	var n [3]int64
	var e [3]time.Duration
	half := b.tputDur / 2
	// 0 direct, 1 proxied, 2 floor; each side twice, in a balanced order.
	for _, side := range []int{0, 1, 2, 2, 1, 0} {
		t := []target{direct, proxied, floor}[side]
		cnt, el, err := throughputFor(t, b.conns, half)
		if err != nil {
			return err
		}
		n[side], e[side] = n[side]+cnt, e[side]+el
		if err := checkDeadline("throughput"); err != nil {
			return err
		}
	}
	b.tput.direct = float64(n[0]) / e[0].Seconds()
	b.tput.proxied = float64(n[1]) / e[1].Seconds()
	b.tput.floor = float64(n[2]) / e[2].Seconds()
	return nil
}

func (b *bench) sseFirst(direct, proxied target) error {
	one := func(t target, into *[]time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		d, resp, err := t.openSSE(ctx, false)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if into != nil {
			*into = append(*into, d)
		}
		return nil
	}
	const block = 20
	for i := range 20 {
		if err := one(direct, nil); err != nil {
			return err
		}
		if err := one(proxied, nil); err != nil {
			return fmt.Errorf("warm-up %d: %w", i, err)
		}
	}
	for done := 0; done < b.sseN; done += block {
		for range min(block, b.sseN-done) {
			if err := one(direct, &b.sse.direct); err != nil {
				return err
			}
		}
		for range min(block, b.sseN-done) {
			if err := one(proxied, &b.sse.proxied); err != nil {
				return err
			}
		}
		if err := checkDeadline("SSE"); err != nil {
			return err
		}
	}
	return nil
}

func (b *bench) scrubbing(direct, zero, many, raw target, nSecrets int) error {
	var buf bytes.Buffer
	check := func(what string, t target, wantTokens bool) error {
		if _, err := t.get("/v1/files/big", &buf); err != nil {
			return err
		}
		toks := bytes.Count(buf.Bytes(), []byte(token.Prefix))
		switch {
		case wantTokens && toks < 100:
			return fmt.Errorf("%s: only %d values scrubbed in the 1 MiB response", what, toks)
		case !wantTokens && !bytes.Equal(buf.Bytes(), b.up.big):
			return fmt.Errorf("%s: the response was changed", what)
		}
		return nil
	}
	if err := check("direct", direct, false); err != nil {
		return err
	}
	if err := check("0 secrets", zero, false); err != nil {
		return err
	}
	if nSecrets > 0 {
		if err := check(fmt.Sprintf("%d secrets", nSecrets), many, true); err != nil {
			return err
		}
		if err := check(fmt.Sprintf("%d secrets, raw values only", nSecrets), raw, true); err != nil {
			return err
		}
	}
	for range 3 { // warm-up
		for _, t := range []target{direct, zero, many, raw} {
			if _, err := t.get("/v1/files/big", &buf); err != nil {
				return err
			}
		}
	}
	for i := range b.scrubN {
		ts := []target{direct, zero, many, raw}
		into := []*[]time.Duration{&b.scrub.direct, &b.scrub.zero, &b.scrub.many, &b.scrub.raw}
		if i%2 == 1 {
			slices.Reverse(ts)
			slices.Reverse(into)
		}
		for j, t := range ts {
			d, err := t.get("/v1/files/big", &buf)
			if err != nil {
				return err
			}
			*into[j] = append(*into[j], d)
		}
		if err := checkDeadline("scrubbing"); err != nil {
			return err
		}
	}
	return nil
}

func (b *bench) memory() error {
	p, err := b.proxy(typicalSecrets, 1)
	if err != nil {
		return err
	}
	c := b.client(b.streams, 0) // no total timeout: streams stay open
	c.Transport.(*http.Transport).MaxIdleConnsPerHost = 8
	t := target{base: p.base, auth: "Bearer " + p.token, c: c}
	// One request first, so the baseline is a proxy that has served.
	if _, err := (target{base: p.base, auth: t.auth, c: b.client(1, 10*time.Second)}).post(make([]byte, 1024)); err != nil {
		return err
	}
	if b.mem.baseKiB, _, err = rssKiB(p.pid()); err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var (
		mu    sync.Mutex
		resps []*http.Response
		g     errgroup.Group // not WithContext: its context ends at Wait, and the streams must stay open
	)
	defer func() {
		for _, r := range resps {
			r.Body.Close()
		}
	}()
	g.SetLimit(32) // streams being opened at once
	var failed atomic.Bool
	for i := 0; i < b.streams && !failed.Load() && !time.Now().After(deadline); i++ {
		g.Go(func() error {
			_, resp, err := t.openSSE(ctx, true)
			if err != nil {
				failed.Store(true)
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			resps = append(resps, resp)
			return nil
		})
	}
	first := g.Wait()
	if first != nil {
		return fmt.Errorf("opening %d streams (%d open): %w", b.streams, len(resps), first)
	}
	if len(resps) != b.streams {
		return fmt.Errorf("only %d of %d streams opened in time", len(resps), b.streams)
	}
	// Every stream has delivered its first event; the upstream holds them.
	for i := 0; b.up.held.Load() < int64(b.streams) && i < 200; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if h := b.up.held.Load(); h < int64(b.streams) {
		return fmt.Errorf("the upstream holds %d of %d streams", h, b.streams)
	}
	time.Sleep(200 * time.Millisecond) // let the proxy settle
	if b.mem.rssKiB, b.mem.hwmKiB, err = rssKiB(p.pid()); err != nil {
		return err
	}
	close(b.up.release)
	return nil
}

// ---------------------------------------------------------------------------
// Report.

func (b *bench) execResults(trueLine, execLine, dotenvxLine, execNote, dotenvxNote string) {
	b.execs.bare = strings.Fields(trueLine)
	b.execs.exec = strings.Fields(execLine)
	b.execs.dotenvx = strings.Fields(dotenvxLine)
	b.notes.exec, b.notes.dotenvx = execNote, dotenvxNote
}

func pct(s []time.Duration, p float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	s = slices.Clone(s)
	slices.Sort(s)
	i := int(float64(len(s)-1)*p/100 + 0.5)
	return s[i]
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
func msf(d time.Duration) float64 {
	return float64(d) / float64(time.Millisecond)
}

func mark(ok bool) string {
	if ok {
		return "PASS"
	}
	return "OVER"
}

func fmtDur(d time.Duration) string {
	switch {
	case d < 0:
		return "-" + fmtDur(-d)
	case d < time.Millisecond:
		return fmt.Sprintf("%.1f µs", us(d))
	default:
		return fmt.Sprintf("%.2f ms", msf(d))
	}
}

func signed(d time.Duration) string {
	if d < 0 {
		return fmtDur(d)
	}
	return "+" + fmtDur(d)
}

func (b *bench) line(format string, args ...any) {
	b.result = append(b.result, fmt.Sprintf(format, args...))
}

func (b *bench) row(cols ...string) { b.rows = append(b.rows, cols) }

// cmdMedian parses the median (ms) of a cmdbench line "NAME MED P90 MIN MAX N".
func cmdMedian(f []string) (med float64, n string, ok bool) {
	if len(f) != 6 {
		return 0, "", false
	}
	med, err := strconv.ParseFloat(f[1], 64)
	return med, f[5], err == nil
}

func (b *bench) report() {
	// 1. Latency.
	dp50, dp99 := pct(b.lat.direct, 50), pct(b.lat.direct, 99)
	pp50, pp99 := pct(b.lat.proxied, 50), pct(b.lat.proxied, 99)
	a50, a99 := pp50-dp50, pp99-dp99
	ok50, ok99 := a50 <= targetAddedP50, a99 <= targetAddedP99
	b.line("latency n=%d direct_p50_us=%.1f direct_p99_us=%.1f proxied_p50_us=%.1f proxied_p99_us=%.1f added_p50_us=%.1f added_p99_us=%.1f target_added_p50_us=%.0f target_added_p99_us=%.0f result=%s",
		len(b.lat.direct), us(dp50), us(dp99), us(pp50), us(pp99), us(a50), us(a99), us(targetAddedP50), us(targetAddedP99), mark(ok50 && ok99))
	b.row("request latency p50 (1 KiB POST)", fmtDur(dp50), fmtDur(pp50), signed(a50), "≤ +100 µs", mark(ok50))
	b.row("request latency p99", fmtDur(dp99), fmtDur(pp99), signed(a99), "≤ +1 ms", mark(ok99))
	fp50, fp99 := pct(b.lat.floor, 50), pct(b.lat.floor, 99)
	b.line("latency_floor n=%d floor_p50_us=%.1f floor_p99_us=%.1f floor_added_p50_us=%.1f floor_added_p99_us=%.1f phantom_over_floor_p50_us=%.1f result=INFO",
		len(b.lat.floor), us(fp50), us(fp99), us(fp50-dp50), us(fp99-dp99), us(pp50-fp50))
	b.row("  floor: bare httputil.ReverseProxy p50", fmtDur(dp50), fmtDur(fp50), signed(fp50-dp50), "(context)", "")
	b.row("  phantom over the floor, p50", fmtDur(fp50), fmtDur(pp50), signed(pp50-fp50), "(context)", "")

	// 2. Throughput.
	ratio := b.tput.proxied / b.tput.direct
	okT := ratio >= targetTputRatio
	b.line("throughput conns=%d seconds=%.1f direct_rps=%.0f proxied_rps=%.0f ratio=%.3f target_ratio=%.2f result=%s",
		b.conns, b.tputDur.Seconds(), b.tput.direct, b.tput.proxied, ratio, targetTputRatio, mark(okT))
	b.row(fmt.Sprintf("throughput, %d connections", b.conns), fmt.Sprintf("%.0f req/s", b.tput.direct),
		fmt.Sprintf("%.0f req/s", b.tput.proxied), fmt.Sprintf("%.2f×", ratio), "≥ 0.50×", mark(okT))
	b.line("throughput_floor conns=%d floor_rps=%.0f floor_ratio=%.3f phantom_vs_floor=%.3f result=INFO",
		b.conns, b.tput.floor, b.tput.floor/b.tput.direct, b.tput.proxied/b.tput.floor)
	b.row("  floor: bare httputil.ReverseProxy", fmt.Sprintf("%.0f req/s", b.tput.direct),
		fmt.Sprintf("%.0f req/s", b.tput.floor), fmt.Sprintf("%.2f×", b.tput.floor/b.tput.direct), "(context)", "")

	// 3. SSE.
	sd, sp := pct(b.sse.direct, 50), pct(b.sse.proxied, 50)
	okS := sp-sd <= targetSSEAdded
	b.line("sse_first_event n=%d direct_p50_us=%.1f proxied_p50_us=%.1f added_us=%.1f target_added_us=%.0f result=%s",
		len(b.sse.direct), us(sd), us(sp), us(sp-sd), us(targetSSEAdded), mark(okS))
	b.row("SSE time to first event (median)", fmtDur(sd), fmtDur(sp), signed(sp-sd), "≤ +2 ms", mark(okS))

	// 4. Scrubbing.
	cd, c0, cn, cr := pct(b.scrub.direct, 50), pct(b.scrub.zero, 50), pct(b.scrub.many, 50), pct(b.scrub.raw, 50)
	okC := cn-c0 <= targetScrubAdded
	b.line("scrub_1mib n=%d secrets=%d direct_ms=%.2f zero_secrets_ms=%.2f secrets_ms=%.2f added_ms=%.2f raw_values_ms=%.2f raw_added_ms=%.2f target_added_ms=%.0f result=%s",
		len(b.scrub.many), b.scrubSecrets, msf(cd), msf(c0), msf(cn), msf(cn-c0), msf(cr), msf(cr-c0), msf(targetScrubAdded), mark(okC))
	b.row("1 MiB response, direct (context)", fmtDur(cd), "", "", "", "")
	b.row(fmt.Sprintf("1 MiB response: 0 → %d secrets", b.scrubSecrets), fmtDur(c0), fmtDur(cn), signed(cn-c0), "≤ +10 ms", mark(okC))
	b.row("  raw values only (no encodings)", fmtDur(c0), fmtDur(cr), signed(cr-c0), "(context)", "")

	// 5. phantom exec start-up (measured by bench.sh with cmdbench).
	tm, _, tok := cmdMedian(b.execs.bare)
	em, en, eok := cmdMedian(b.execs.exec)
	if tok && eok {
		okE := em-tm <= targetExecAdded
		b.line("exec_start runs=%s true_ms=%.2f exec_ms=%.2f added_ms=%.2f target_added_ms=%.0f result=%s", en, tm, em, em-tm, targetExecAdded, mark(okE))
		b.row("phantom exec -- true (median)", fmt.Sprintf("%.2f ms", tm), fmt.Sprintf("%.2f ms", em), fmt.Sprintf("%+.2f ms", em-tm), "≤ +15 ms", mark(okE))
	} else {
		note := b.notes.exec
		if note == "" {
			note = "no cmdbench results given"
		}
		b.line("exec_start result=NOT_MEASURED note=%q", note)
		b.row("phantom exec -- true (median)", "", "", "", "≤ +15 ms", "not measured: "+note)
	}
	if xm, xn, xok := cmdMedian(b.execs.dotenvx); xok && tok {
		b.line("dotenvx_start runs=%s true_ms=%.2f dotenvx_ms=%.2f added_ms=%.2f result=INFO", xn, tm, xm, xm-tm)
		b.row("dotenvx run -- true (median)", fmt.Sprintf("%.2f ms", tm), fmt.Sprintf("%.2f ms", xm), fmt.Sprintf("%+.2f ms", xm-tm), "(comparison)", "")
	} else if b.notes.dotenvx != "" {
		b.line("dotenvx_start result=NOT_MEASURED note=%q", b.notes.dotenvx)
	}

	// 6. Memory.
	rss, base := float64(b.mem.rssKiB)/1024, float64(b.mem.baseKiB)/1024
	okM := rss < targetRSSMiB
	perStream := float64(b.mem.rssKiB-b.mem.baseKiB) / float64(b.streams)
	b.line("memory_sse streams=%d baseline_rss_mib=%.1f rss_mib=%.1f hwm_mib=%.1f per_stream_kib=%.1f nofile=%d target_rss_mib=%.0f result=%s",
		b.streams, base, rss, float64(b.mem.hwmKiB)/1024, perStream, b.nofile, targetRSSMiB, mark(okM))
	b.row(fmt.Sprintf("proxy RSS, %d idle SSE streams", b.streams), fmt.Sprintf("%.1f MiB", base), fmt.Sprintf("%.1f MiB", rss),
		fmt.Sprintf("%.1f KiB/stream", perStream), "< 100 MiB", mark(okM))

	for _, l := range b.result {
		fmt.Println(l)
	}
	fmt.Println()
	hdr := []string{"measurement", "direct/base", "measured", "difference", "target", ""}
	width := make([]int, len(hdr))
	for _, r := range append([][]string{hdr}, b.rows...) {
		for i, c := range r {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	for _, r := range append([][]string{hdr}, b.rows...) {
		var sb strings.Builder
		for i, c := range r {
			pad := width[i] - len([]rune(c))
			if i == 1 || i == 2 || i == 3 { // numbers: right-aligned
				sb.WriteString(strings.Repeat(" ", pad) + c)
			} else {
				sb.WriteString(c + strings.Repeat(" ", pad))
			}
			sb.WriteString("   ")
		}
		fmt.Println(strings.TrimRight(sb.String(), " "))
	}
	fmt.Println()
	fmt.Printf("direct/base: the upstream without the proxy; for the 1 MiB row the proxy with 0 secrets, for exec a bare `true`,\n")
	fmt.Printf("for RSS the idle proxy after one request. The proxy runs in its own process (%d secrets, rate limit off);\n", typicalSecrets)
	fmt.Printf("upstream and clients share this process; %d requests each way for latency, %d for SSE, %d for 1 MiB.\n",
		len(b.lat.direct), len(b.sse.direct), len(b.scrub.many))
}
