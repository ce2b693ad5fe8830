package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"phantomstack.dev/phantom/internal/audit"
	"phantomstack.dev/phantom/internal/catalog"
	"phantomstack.dev/phantom/internal/proxy"
	"phantomstack.dev/phantom/internal/run"
	"phantomstack.dev/phantom/internal/scrub"
	"phantomstack.dev/phantom/internal/vault"
	"phantomstack.dev/shared/exitcode"
)

// ExecOptions configures `phantom exec`.
type ExecOptions struct {
	F         *Factory
	EnvFiles  []string
	NoMasking bool
	Verbose   bool
	// BodySecrets are ROUTE=NAME grants: for this run, route ROUTE may put
	// secret NAME into its declared body fields (stack env push).
	BodySecrets []string
	Args        []string
}

func newExecCmd(f *Factory, runF func(*ExecOptions) error) *cobra.Command {
	opts := &ExecOptions{F: f}
	cmd := &cobra.Command{
		Use:   "exec [--env-file F]... [--no-masking] [-v] -- COMMAND [ARG...]",
		Short: "Run a command with your secrets, without handing it the real values",
		Long: `Run COMMAND with the variables of this project's env files (.env, then
.env.local; --env-file replaces that list) and phm tokens resolved by policy:

  proxy   (default for keys a built-in route owns: OpenAI, Anthropic, Stripe,
          Supabase, Vercel, GitHub, Resend, Gemini) the command keeps the phm
          token; its SDK's base URL points at a proxy on 127.0.0.1 that puts
          the real key on the wire and scrubs it from responses.
  inject  (default for everything else, e.g. DATABASE_URL) the command gets
          the real value. The command's output is masked: every real value
          becomes its phm token (on a terminal too; --no-masking, typed
          confirmation needed, turns that off).
  deny    the command keeps the phm token.

AWS keys never enter the command's environment: AWS SDKs fetch credentials
from the proxy's container-credentials endpoint, which serves short-lived
session credentials from STS GetSessionToken (one hour by default; [aws] in
.phantom.toml), never the stored key.

phantom prints nothing of its own unless something is wrong (or -v), and
exits with the command's exit status (128+N when a signal N killed it, 127
when the command does not exist).`,
		Example: `  phantom exec -- npm run dev
  phantom exec --env-file .env.test -- go test ./...`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErrorf("no command to run: phantom exec -- COMMAND [ARG...]")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			f.Command = "phantom exec"
			opts.Args = args
			if runF != nil {
				return runF(opts)
			}
			return execRun(cmd.Context(), opts)
		},
	}
	// Everything after the command belongs to the command: phantom exec npm
	// run dev --port 3 must not parse --port.
	cmd.Flags().SetInterspersed(false)
	cmd.Flags().StringArrayVar(&opts.EnvFiles, "env-file", nil, "env file to load instead of the project's list (repeatable, later files win)")
	cmd.Flags().BoolVar(&opts.NoMasking, "no-masking", false, "do not mask injected values in the command's output (needs a terminal and a typed confirmation)")
	cmd.Flags().BoolVarP(&opts.Verbose, "verbose", "v", false, "say what phantom set up (on stderr)")
	cmd.Flags().StringArrayVar(&opts.BodySecrets, "body-secret", nil, "ROUTE=NAME: for this run, let ROUTE carry secret NAME in its declared body fields (repeatable; needs a terminal)")
	return cmd
}

// childPlan is what exec computed before starting the child.
type childPlan struct {
	env      []string
	routes   []catalog.Route
	secrets  []proxy.Secret
	aws      *awsPlan
	scrubber *scrub.Replacer
	injected []string
	notes    []string
	// bodyGrants: route → secrets it may carry in declared body fields
	// for this run only (--body-secret).
	bodyGrants map[string][]string
	// allRoutes are the project's approved routes, mounted or not (the
	// guard's default policies depend on them).
	allRoutes []catalog.Route
}

func execRun(ctx context.Context, o *ExecOptions) error {
	f := o.F
	p, err := f.Project()
	if err != nil {
		return err
	}
	if o.NoMasking {
		if err := confirmNoMasking(ctx, f, p); err != nil {
			return err
		}
	}
	v, err := f.OpenVault(ctx, p, false)
	if err != nil {
		return err
	}
	// Close wipes the payload's values: everything below copies what it
	// needs before that.
	defer v.Close()
	pl := v.Payload()

	paths, explicit := o.EnvFiles, len(o.EnvFiles) > 0
	if !explicit {
		paths = p.Config.EnvFiles()
	}
	plan, err := planChild(f, p, pl, paths, explicit, childBaseEnv(f.Environ()))
	if err != nil {
		return err
	}
	if plan.bodyGrants, err = bodyGrants(f, p, pl, plan.routes, o.BodySecrets); err != nil {
		return err
	}
	if err := f.foldTightening(p, v, plan.allRoutes); err != nil {
		// Recording a tightening protects a later loosening; failing to
		// record it is no reason not to run.
		f.IO.Warnf("could not record the tightened settings in the vault: %v", err)
	}
	for _, n := range plan.notes {
		f.IO.Warnf("%s", n)
	}

	// One value→token automaton serves the proxy's scrubbing and the
	// output masker (building it is the costly part of start-up with
	// hundreds of secrets).
	plan.scrubber = maskerFor(pl, passphraseMask(f))
	var srv *proxy.Server
	rec := newAuditQueue(f, p)
	if len(plan.routes) > 0 || plan.aws != nil {
		var logf func(string, ...any)
		if o.Verbose {
			logf = func(format string, args ...any) { f.IO.Infof(format, args...) }
		}
		if srv, err = f.startProxy(p, plan, rec, logf, restartExec(filepath.Base(o.Args[0]))); err != nil {
			return err
		}
		plan.env = mergeEnv(plan.env, srv.Env())
		// Registered so that phantom rotate can say this proxy holds the
		// old tokens (proxyreg.go); a failure only loses that hint.
		if home, err := f.Home(); err == nil {
			// Inside the agent the run belongs to the client's process (the
			// agent serves many runs at once).
			pid := os.Getpid()
			if f.served != nil {
				pid = f.served.client.c.Peer().PID
			}
			unregister, err := registerExecProxy(home, p.ID(), RunningProxy{PID: pid, Addr: srv.Addr(), Command: filepath.Base(o.Args[0]), StartedAt: f.Now().UTC().Round(time.Second)})
			if err != nil && o.Verbose {
				f.IO.Infof("could not register this proxy for phantom rotate: %v", err)
			}
			defer unregister()
		}
	}
	if o.Verbose {
		if srv != nil {
			f.IO.Infof("proxy on %s for %s", srv.Addr(), routeNames(plan.routes))
		}
		if len(plan.injected) > 0 {
			f.IO.Infof("injected: %s", strings.Join(plan.injected, ", "))
		}
	}
	for _, r := range slices.Sorted(maps.Keys(plan.bodyGrants)) {
		rec.add(audit.Event{Op: "exec.body-secret", Detail: fmt.Sprintf("route %s may carry %s in its body fields for this run", r, strings.Join(plan.bodyGrants[r], ", "))})
	}
	rec.add(audit.Event{Op: "exec.start", Detail: fmt.Sprintf("%s; routes: %s; injected: %d", filepath.Base(o.Args[0]), routeUpstreams(plan.routes), len(plan.injected))})

	masker := plan.scrubber
	// Inside the agent the child starts in the client's process: it gets
	// only the values the child holds anyway, to mask them.
	var clientMask map[string]string
	if f.served != nil {
		clientMask = injectedMask(pl, plan)
	}
	v.Close() // the plan, the proxy and the masker hold their own copies
	cwd, _ := f.Cwd()
	c := &run.Command{
		Args: o.Args, Env: plan.env, Dir: cwd,
		Stdin: f.IO.In, Stdout: f.IO.Out, Stderr: f.IO.ErrOut,
		Mask: masker,
		// Masked on a terminal too: a terminal may be a pseudo-terminal
		// an agent made (docs/decisions.md, "Masking on a terminal").
		MaskStdout: !o.NoMasking,
		MaskStderr: !o.NoMasking,
		// On a terminal, the terminal itself sends ^C to the child.
		ForwardTerminalSignals: !f.IO.IsStdinTTY(),
	}
	// Ctrl-C before the command started: nothing ran, say so. Once it runs,
	// run.Command owns the signals: the child gets them and phantom exits
	// with the child's status, so the child's context is not the
	// command's (a cancelled one would make run.Command send it SIGTERM).
	if err := ctx.Err(); err != nil {
		if srv != nil {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			srv.Shutdown(sctx)
			cancel()
		}
		rec.close()
		return exitcode.Errorf(exitcode.Interrupted, "%v before %s started; nothing was run", context.Cause(ctx), filepath.Base(o.Args[0]))
	}
	var (
		code   int
		runErr error
	)
	if f.served != nil {
		code, runErr = f.served.client.runChild(execPlan{Args: c.Args, Env: c.Env, Dir: c.Dir, Mask: clientMask, MaskOutput: !o.NoMasking})
	} else {
		code, runErr = c.Run(context.WithoutCancel(ctx))
	}

	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		srv.Shutdown(ctx)
		cancel()
	}
	rec.add(audit.Event{Op: "exec.exit", Detail: fmt.Sprintf("%s exited %d", filepath.Base(o.Args[0]), code)})
	rec.close()

	if runErr != nil {
		if se, ok := runErr.(*run.StartError); ok {
			fmt.Fprintf(f.IO.ErrOut, "phantom exec: %s\n", se.Error())
			return exitcode.Silent{Code: se.Code}
		}
		return runErr
	}
	return exitcode.Silent{Code: code}
}

// bodyGrants checks --body-secret ROUTE=NAME grants. A grant widens where a
// value may go (a route otherwise carries only its own secrets), so it is
// refused without a terminal, like --no-masking: a script or an agent
// cannot hand itself one. It lasts for this run only, applies only to the
// route's declared body fields (never a header or query), needs a mounted
// route that declares body fields, and never covers a deny-policy secret.
func bodyGrants(f *Factory, p *Project, pl *vault.Payload, routes []catalog.Route, specs []string) (map[string][]string, error) {
	if len(specs) == 0 {
		return nil, nil
	}
	if !f.IO.IsStdinTTY() {
		return nil, exitcode.Errorf(exitcode.Refused, "--body-secret needs an interactive terminal: it lets a route carry secrets that are not its own, so a script or agent must not be able to grant it to itself\nRun the command from your own terminal.")
	}
	out := map[string][]string{}
	for _, sp := range specs {
		route, name, ok := strings.Cut(sp, "=")
		if !ok || route == "" || name == "" {
			return nil, usageErrorf("--body-secret %q: want ROUTE=NAME, e.g. vercel=OPENAI_API_KEY", sp)
		}
		i := slices.IndexFunc(routes, func(r catalog.Route) bool { return r.Name == route })
		switch {
		case i < 0:
			return nil, exitcode.Errorf(exitcode.Failure, "--body-secret %s: route %s is not mounted for this run (no proxied secret of it is in the env files)", sp, route)
		case len(routes[i].BodyFields) == 0:
			return nil, exitcode.Errorf(exitcode.Failure, "--body-secret %s: route %s declares no body fields that could carry a value", sp, route)
		case pl.Secrets[name] == nil:
			return nil, exitcode.Errorf(exitcode.NotFound, "--body-secret %s: %s is not in this project's vault", sp, name)
		}
		if pol, explicit := p.Config.Policy(name); explicit && pol == catalog.PolicyDeny || catalog.IsAWSCredential(name) {
			return nil, exitcode.Errorf(exitcode.Refused, "--body-secret %s: %s has policy deny; it never leaves the vault except through its own route", sp, name)
		}
		if !slices.Contains(out[route], name) && !slices.Contains(routes[i].Secrets, name) {
			out[route] = append(out[route], name)
		}
	}
	return out, nil
}

// startProxy starts the proxy for a plan with the project's [proxy]
// settings (PHANTOM_PROXY_RATE and PHANTOM_PROXY_BURST override the rate).
func (f *Factory) startProxy(p *Project, plan *childPlan, rec *auditQueue, logf func(string, ...any), restart string) (*proxy.Server, error) {
	ps := p.Config.Proxy()
	popts := proxy.Options{
		LoadedAt:       f.Now(),
		RestartHint:    restart,
		Routes:         plan.routes,
		Secrets:        plan.secrets,
		BodyGrants:     plan.bodyGrants,
		HeaderAuthOnly: truthy(f.Env("PHANTOM_PROXY_HEADER_AUTH_ONLY")),
		MaxBodyBytes:   ps.MaxBodyBytes,
		IdleTimeout:    time.Duration(ps.IdleTimeout) * time.Second,
		Rate:           ps.RatePerSec,
		Burst:          ps.Burst,
		Scrubber:       plan.scrubber,
		Audit:          rec.proxyEvent,
		RefusedPeer:    rec.refusedPeer(),
		Logf:           logf,
	}
	if v := f.Env("PHANTOM_PROXY_RATE"); v != "" {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || r == 0 {
			return nil, usageErrorf("PHANTOM_PROXY_RATE=%q is not a number of requests per second (-1 turns the limit off)", v)
		}
		popts.Rate = r
	}
	if v := f.Env("PHANTOM_PROXY_BURST"); v != "" {
		b, err := strconv.Atoi(v)
		if err != nil || b <= 0 {
			return nil, usageErrorf("PHANTOM_PROXY_BURST=%q is not a positive integer", v)
		}
		popts.Burst = b
	}
	if plan.aws != nil {
		popts.AWS = f.awsGetter(plan.aws, rec)
	}
	srv, err := proxy.New(popts)
	if err != nil {
		return nil, err
	}
	if err := srv.Listen(""); err != nil {
		return nil, exitcode.Errorf(exitcode.Failure, "could not start the proxy: %v", err)
	}
	return srv, nil
}

// planChild resolves the env files against the vault: the child's
// environment, the routes to mount and what the proxy may put on the wire.
func planChild(f *Factory, p *Project, pl *vault.Payload, paths []string, explicit bool, base []string) (*childPlan, error) {
	routes, pending, err := f.projectRoutes(p, pl)
	if err != nil {
		return nil, err
	}
	if len(pending) > 0 {
		var lines []string
		for _, pr := range pending {
			lines = append(lines, "  "+describePending(pr))
		}
		f.record(p, audit.Event{Op: "exec.refused", Detail: "unapproved route change: " + strings.Join(lines, ";")})
		return nil, exitcode.Errorf(exitcode.Refused, "%s has route changes nobody has approved on this machine, so nothing was run:\n%s\nIf you made them, approve them on your terminal: phantom trust", ConfigFile, strings.Join(lines, "\n"))
	}
	g, err := f.guard(p, pl, routes)
	if err != nil {
		return nil, err
	}
	if err := refuseWeaker(g); err != nil {
		f.record(p, audit.Event{Op: "exec.refused", Detail: "unapproved settings: " + strings.Join(g.weaker, "; ")})
		return nil, err
	}
	byToken := tokenIndex(pl)
	plan := &childPlan{allRoutes: routes}
	vars := map[string]string{}
	from := map[string]string{} // key -> the env file its value came from, for hints
	var order []string
	for _, path := range paths {
		e, err := loadEnvFile(p, path)
		if err != nil {
			return nil, err
		}
		if !e.Exists && explicit {
			return nil, exitcode.Errorf(exitcode.NotFound, "env file %s does not exist", path)
		}
		f.warnProblems(e)
		for _, ent := range e.File.Entries() {
			if _, seen := vars[ent.Key]; !seen {
				order = append(order, ent.Key)
			}
			vars[ent.Key] = ent.Value
			from[ent.Key] = e.Rel
		}
	}

	// Which secrets each policy covers, resolved from tokens in the files.
	proxied := map[string]bool{}
	var awsServed bool
	child := map[string]string{}
	for _, k := range order {
		val := vars[k]
		name, isSecret := byToken[val]
		if !isToken(val) {
			child[k] = val
			continue
		}
		if !isSecret {
			fix := fmt.Sprintf("%s is not in the vault: delete the line from %s, or run: phantom remove %s --env-file %s", k, from[k], k, shellArg(from[k]))
			if pl.Secrets[k] != nil {
				fix = fmt.Sprintf("write %s's current token with: phantom sync --env-file %s %s", k, shellArg(from[k]), k)
			}
			plan.notes = append(plan.notes, fmt.Sprintf("%s holds a phm token that is not in this project's vault (rotated, removed or from another project); the command gets the token as it is; %s", k, fix))
			child[k] = val
			continue
		}
		if catalog.IsAWSCredential(name) {
			awsServed = true
			continue // served by the credentials endpoint, never in the env
		}
		policy, explicit := p.Config.Policy(name)
		if !explicit {
			policy = routeDefaultPolicy(routes, name)
		}
		switch policy {
		case catalog.PolicyInject:
			child[k] = string(pl.Secrets[name].Value)
			plan.injected = append(plan.injected, k)
		case catalog.PolicyProxy:
			child[k] = val
			proxied[name] = true
		default: // deny
			child[k] = val
		}
	}

	for name, s := range pl.Secrets {
		plan.secrets = append(plan.secrets, proxy.Secret{Name: name, Token: s.Token, Value: string(s.Value)})
	}
	slices.SortFunc(plan.secrets, func(a, b proxy.Secret) int { return strings.Compare(a.Name, b.Name) })

	// Mount every route that carries a proxied secret.
	var envPending []pendingRoute
	for _, r := range routes {
		if !slices.ContainsFunc(r.Secrets, func(n string) bool { return proxied[n] }) {
			continue
		}
		if r.UpstreamEnv != "" {
			up, vaulted := vars[r.UpstreamEnv], false
			if n, ok := byToken[up]; ok {
				up, vaulted = string(pl.Secrets[n].Value), true
			}
			if up == "" {
				plan.notes = append(plan.notes, fmt.Sprintf("route %s needs %s in your env files to know where to send requests; it is not mounted", r.Name, r.UpstreamEnv))
				continue
			}
			if pr := envUpstreamPending(p, pl, r, up, vaulted); pr != nil {
				envPending = append(envPending, *pr)
				continue
			}
			r.Upstream = strings.TrimRight(up, "/")
			r.UpstreamVaulted = vaulted
		}
		for _, bv := range r.BaseURLVars {
			if old, ok := child[bv.Name]; ok && bv.Name != r.UpstreamEnv && old != r.Upstream+bv.Suffix {
				plan.notes = append(plan.notes, fmt.Sprintf("%s from your env files is replaced by the proxy's URL for route %s; to send %s traffic elsewhere, define a custom route", bv.Name, r.Name, r.Name))
			}
		}
		plan.routes = append(plan.routes, r)
	}
	if len(envPending) > 0 {
		var lines []string
		for _, pr := range envPending {
			lines = append(lines, "  "+describePending(pr))
		}
		f.record(p, audit.Event{Op: "exec.refused", Detail: "unapproved upstream from the env files: " + strings.Join(lines, ";")})
		return nil, exitcode.Errorf(exitcode.Refused, "your env files send a route's secrets somewhere nobody has approved on this machine, so nothing was run:\n%s\nIf that is where they should go, approve it on your terminal: phantom trust", strings.Join(lines, "\n"))
	}

	if awsServed {
		if plan.aws, err = planAWS(f, p, pl, vars); err != nil {
			return nil, err
		}
	}

	env := base
	if awsServed {
		// The SDKs prefer static keys in the environment over the endpoint.
		env = slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
			k, _, _ := strings.Cut(kv, "=")
			return catalog.IsAWSCredential(k) || k == "AWS_PROFILE"
		})
	}
	var fileEnv []string
	for _, k := range order {
		if v, ok := child[k]; ok {
			fileEnv = append(fileEnv, k+"="+v)
		}
	}
	plan.env = mergeEnv(env, fileEnv)
	plan.env = mergeEnv(plan.env, noProxyLoopback(plan.env))
	return plan, nil
}

// noProxyLoopback keeps a child's HTTP(S)_PROXY from carrying requests
// meant for phantom's proxy (Go skips proxies for loopback; other
// languages' clients may not).
func noProxyLoopback(env []string) []string {
	hasProxy := false
	noProxy := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		switch strings.ToUpper(k) {
		case "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY":
			hasProxy = hasProxy || v != ""
		case "NO_PROXY":
			noProxy[k] = v
		}
	}
	if !hasProxy {
		return nil
	}
	var out []string
	for _, k := range []string{"NO_PROXY", "no_proxy"} {
		v := noProxy[k]
		if v != "" {
			v += ","
		}
		out = append(out, k+"="+v+"127.0.0.1,localhost")
	}
	return out
}

// mergeEnv returns base with every KEY=VALUE of over set (later wins),
// keeping base's order and appending new keys.
func mergeEnv(base, over []string) []string {
	idx := map[string]int{}
	out := make([]string, 0, len(base)+len(over))
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := idx[k]; ok {
			out[i] = kv
			continue
		}
		idx[k] = len(out)
		out = append(out, kv)
	}
	for _, kv := range over {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := idx[k]; ok {
			out[i] = kv
			continue
		}
		idx[k] = len(out)
		out = append(out, kv)
	}
	return out
}

// maskerFor replaces every vault value, and its common encodings (base64,
// hex, percent, JSON escapes), with its token, and each key of extra (the
// vault passphrase) with its value.
func maskerFor(pl *vault.Payload, extra map[string]string) *scrub.Replacer {
	pairs := make(map[string]string, len(pl.Secrets)+len(extra))
	for _, s := range pl.Secrets {
		if len(s.Value) > 0 {
			pairs[string(s.Value)] = s.Token
		}
	}
	for k, v := range extra {
		if _, taken := pairs[k]; !taken && k != "" {
			pairs[k] = v
		}
	}
	return scrub.New(scrub.WithEncodings(pairs))
}

// routeUpstreams names each mounted route with where it sends requests, for
// the audit log: an approval changes where values go, and the log must show
// where they went. A vaulted upstream is named by its host's hash only.
func routeUpstreams(rs []catalog.Route) string {
	if len(rs) == 0 {
		return "none"
	}
	parts := make([]string, len(rs))
	for i, r := range rs {
		up := r.Upstream
		if r.UpstreamVaulted {
			sum := sha256.Sum256([]byte(up))
			up = "(vaulted " + r.UpstreamEnv + ", sha256:" + hex.EncodeToString(sum[:6]) + ")"
		}
		if r.ForwardProxy != "" {
			up += " via " + r.ForwardProxy
		}
		if len(r.CAPEM) > 0 {
			up += " (own CA)"
		}
		parts[i] = r.Name + "=" + up
	}
	return strings.Join(parts, ", ")
}

func routeNames(rs []catalog.Route) string {
	if len(rs) == 0 {
		return "none"
	}
	names := make([]string, len(rs))
	for i, r := range rs {
		names[i] = r.Name
	}
	return strings.Join(names, ", ")
}

func truthy(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

// auditQueue writes exec's and the proxy's events off the request path:
// a request never waits for an fsync. Events are batched; close flushes.
type auditQueue struct {
	f    *Factory
	p    *Project
	ch   chan audit.Event
	done chan struct{}
}

func newAuditQueue(f *Factory, p *Project) *auditQueue {
	q := &auditQueue{f: f, p: p, ch: make(chan audit.Event, 4096), done: make(chan struct{})}
	go q.loop()
	return q
}

func (q *auditQueue) loop() {
	defer close(q.done)
	log := q.f.auditLog(q.p)
	warned := false
	for e := range q.ch {
		batch := []audit.Event{e}
	more:
		for len(batch) < 512 {
			select {
			case e, ok := <-q.ch:
				if !ok {
					break more
				}
				batch = append(batch, e)
			default:
				break more
			}
		}
		for i := range batch {
			batch[i].Project = q.p.ID()
		}
		if err := log.AppendBatch(batch); err != nil && !warned {
			q.f.IO.Warnf("could not write the audit log: %v", err)
			warned = true
		}
	}
}

// add queues e; when the queue is full it waits (backpressure) rather than
// dropping an audit event.
func (q *auditQueue) add(e audit.Event) { q.ch <- e }

func (q *auditQueue) proxyEvent(e proxy.Event) {
	detail := fmt.Sprintf("route=%s method=%s status=%d in=%d out=%d ms=%d", e.Route, e.Method, e.Status, e.BytesIn, e.BytesOut, e.Duration.Milliseconds())
	if e.Error != "" {
		detail += " error=" + e.Error
	}
	q.add(audit.Event{Op: "proxy.request", Name: strings.Join(e.Secrets, ","), Detail: detail})
}

func (q *auditQueue) close() {
	close(q.ch)
	<-q.done
}

// injectedMask maps each inject-policy value the child gets to its token:
// what the client masks in the child's output when the agent serves the
// vault (docs/decisions.md, "exec under the agent").
func injectedMask(pl *vault.Payload, plan *childPlan) map[string]string {
	injected := make(map[string]bool, len(plan.injected))
	for _, k := range plan.injected {
		injected[k] = true
	}
	given := map[string]bool{}
	for _, kv := range plan.env {
		if k, v, ok := strings.Cut(kv, "="); ok && injected[k] {
			given[v] = true
		}
	}
	mask := map[string]string{}
	for _, s := range pl.Secrets {
		if len(s.Value) > 0 && given[string(s.Value)] {
			mask[string(s.Value)] = s.Token
		}
	}
	return mask
}
