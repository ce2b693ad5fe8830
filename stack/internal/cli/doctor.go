package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"phantomstack.dev/providers"
	"phantomstack.dev/shared/exitcode"
	"phantomstack.dev/shared/jsonout"
	"phantomstack.dev/shared/term"
	"phantomstack.dev/stack/internal/config"
	"phantomstack.dev/stack/internal/phantomctl"
)

// DoctorSchema is the version of `stack doctor --json` (docs/stack.md).
const DoctorSchema = 1

// DoctorReport is `stack doctor --json`. It never holds a value.
type DoctorReport struct {
	Schema  int          `json:"schema"`
	Name    string       `json:"name,omitempty"` // the registry name; with --all only
	Project string       `json:"project"`
	Path    string       `json:"path"`
	OK      bool         `json:"ok"`
	Error   string       `json:"error,omitempty"` // with --all: why the project could not be checked
	Slots   []DoctorSlot `json:"slots"`
}

// DoctorSlot is one declared secret slot.
type DoctorSlot struct {
	Service   string `json:"service"`
	Provider  string `json:"provider"`
	Slot      string `json:"slot"`
	Present   bool   `json:"present"`
	Verified  string `json:"verified"` // ok, invalid, unreachable, unexpected, unverifiable
	LatencyMS int64  `json:"latency_ms,omitempty"`
	Detail    string `json:"detail,omitempty"`
}

// probeResult is one line the probe child prints: one service's verdict,
// and per slot when the provider checks its slots separately.
type probeResult struct {
	Service   string      `json:"service"`
	Status    string      `json:"status"`
	LatencyMS int64       `json:"latency_ms"`
	Detail    string      `json:"detail"`
	Slots     []probeSlot `json:"slots,omitempty"`
}

// probeSlot is one slot's verdict in a probeResult.
type probeSlot struct {
	Slot      string `json:"slot"`
	Status    string `json:"status"`
	LatencyMS int64  `json:"latency_ms"`
	Detail    string `json:"detail"`
}

// maxParallelChecks bounds concurrent upstream checks: a project with many
// services must not open a burst of connections through phantom's proxy.
const maxParallelChecks = 4

func newDoctorCmd(f *Factory) *cobra.Command {
	var asJSON, probe, all, strict bool
	cmd := &cobra.Command{
		Use:         "doctor [--all] [--strict] [--json]",
		Annotations: readOnlyInterrupted,
		Short:       "Check that every declared secret exists in phantom and still works upstream",
		Long: `For every secret slot in .stack.toml: is it in phantom's vault, and does the
provider still accept it? The upstream checks run under 'phantom exec': the
check request carries the phm_ token and phantom's proxy puts the real key on
the wire, so doctor works in CI without a terminal and stack never holds a
value. Each secret slot gets its own verdict: ok, invalid, unreachable,
unexpected or unverifiable (what doctor cannot check, such as a database
password, with the reason). Exit 1 when a slot is missing, invalid,
unreachable or unexpected; --strict also fails on unverifiable. With --json,
stdout is a JSON report even when the checks cannot start, with the reason
in "error".

--all checks every project in the registry (stack projects list), each in its
own directory, and exits 1 when any of them fails.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if probe {
				return doctorProbe(cmd.Context(), f)
			}
			if all {
				return doctorAllRun(cmd.Context(), f, asJSON, strict)
			}
			return doctorRun(cmd.Context(), f, asJSON, strict)
		},
	}
	jsonout.AddFlag(cmd, &asJSON, "print the report as JSON (schema in docs/stack.md)")
	cmd.Flags().BoolVar(&all, "all", false, "check every registered project (stack projects list)")
	cmd.Flags().BoolVar(&strict, "strict", false, "fail on unverifiable slots too: every secret must be proven")
	cmd.Flags().BoolVar(&probe, "probe", false, "")
	cmd.Flags().MarkHidden("probe")
	return cmd
}

func doctorRun(ctx context.Context, f *Factory, asJSON, strict bool) error {
	rep, err := doctorProject(ctx, f, strict, asJSON)
	if err != nil {
		if asJSON {
			// stdout stays a JSON document: the reason goes in "error"
			// (and, as for every command, on stderr).
			rep.OK, rep.Error = false, err.Error()
			if werr := writeJSON(f, rep); werr != nil {
				return werr
			}
		}
		return err
	}
	if asJSON {
		if err := writeJSON(f, rep); err != nil {
			return err
		}
	} else {
		for _, d := range rep.Slots {
			fmt.Fprintln(f.IO.Out, doctorLine(d))
		}
	}
	if !rep.OK {
		return exitcode.Silent{Code: exitcode.Failure}
	}
	return nil
}

// doctorProject checks the current project. On error the report still holds
// what is known (schema, project, path) for --json.
func doctorProject(ctx context.Context, f *Factory, strict, asJSON bool) (DoctorReport, error) {
	rep := DoctorReport{Schema: DoctorSchema, Slots: []DoctorSlot{}}
	c, err := f.loadConfig()
	if err != nil {
		return rep, err
	}
	rep.Project, rep.Path = c.ProjectID, c.Dir
	pc, err := f.phantom(ctx)
	if err != nil {
		return rep, err
	}
	// An API override (STACK_<P>_API_URL) must reach phantom's route too,
	// and a route waiting for approval is offered for it on a terminal.
	f.routeOverrides(pc, c.Providers()...)
	f.approveRoutes(ctx, pc, asJSON)
	n := len(c.SecretSlots())
	err = f.IO.RunTask(ctx, term.Task{Title: fmt.Sprintf("Checking %d secret(s) with their providers", n)}, func(ctx context.Context, _ term.Progress) error {
		r, err := doctorCheck(ctx, pc, c, strict)
		if err == nil {
			rep = r
		}
		return err
	})
	if ctx.Err() != nil {
		// Ctrl-C: the checks cut short prove nothing, whatever they said.
		return rep, context.Cause(ctx)
	}
	return rep, err
}

// doctorCheck builds the report of the project c, with pc running phantom
// (and the probe under phantom exec) in c's directory.
func doctorCheck(ctx context.Context, pc *phantomctl.Client, c *config.Config, strict bool) (DoctorReport, error) {
	es, err := pc.List(ctx)
	if err != nil {
		return DoctorReport{}, phantomErr(err)
	}
	inVault := map[string]bool{}
	for _, e := range es {
		inVault[e.Name] = true
	}
	// The upstream checks, through phantom exec running this stack again.
	results := map[string]probeResult{}
	self, err := selfPath()
	if err != nil {
		return DoctorReport{}, err
	}
	var out, errb bytes.Buffer
	code, err := pc.Exec(ctx, nil, []string{self, "doctor", "--probe"}, nil, &out, &errb)
	if err != nil || code != 0 {
		why := strings.TrimSpace(errb.String())
		if err != nil {
			why = strings.TrimSpace(err.Error() + "\n" + why)
		}
		if why == "" {
			why = "phantom printed nothing"
		}
		return DoctorReport{}, exitcode.Errorf(exitcode.Failure, "the upstream checks under phantom exec failed (exit %d):\n%s", code, why)
	}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var r probeResult
		if json.Unmarshal(sc.Bytes(), &r) == nil && r.Service != "" {
			results[r.Service] = r
		}
	}
	rep := DoctorReport{Schema: DoctorSchema, Project: c.ProjectID, Path: c.Dir, OK: true, Slots: []DoctorSlot{}}
	for _, n := range c.Names() {
		s := c.Services[n]
		r, checked := results[n]
		for _, slot := range s.Secrets {
			d := DoctorSlot{Service: n, Provider: s.Provider, Slot: slot, Present: inVault[slot],
				Verified: "unverifiable", Detail: "no upstream check ran for " + n}
			if checked {
				d.Verified, d.LatencyMS, d.Detail = r.Status, r.LatencyMS, r.Detail
			}
			// A provider that checks its slots one by one names each; a slot
			// it does not name was not checked, so it is never ok.
			if checked && len(r.Slots) > 0 {
				d.Verified, d.LatencyMS, d.Detail = "unverifiable", 0, fmt.Sprintf("the %s check does not cover %s", s.Provider, slot)
				for _, ps := range r.Slots {
					if ps.Slot == slot {
						d.Verified, d.LatencyMS, d.Detail = ps.Status, ps.LatencyMS, ps.Detail
					}
				}
			}
			if !d.Present {
				d.Verified, d.LatencyMS, d.Detail = "unverifiable", 0, slot+" is not in phantom's vault"
			}
			if !slotPasses(d, strict) {
				rep.OK = false
			}
			rep.Slots = append(rep.Slots, d)
		}
	}
	return rep, nil
}

// slotPasses decides a slot's share of the report's "ok" (docs/stack.md,
// "stack doctor"; docs/decisions.md): it must be in the vault and not be
// refused (invalid), unanswered (unreachable) or answered oddly
// (unexpected). An unverifiable slot passes unless strict: it names what
// doctor cannot check (the database password, AWS's app user in a fresh
// clone), which no rerun would change.
func slotPasses(d DoctorSlot, strict bool) bool {
	if !d.Present {
		return false
	}
	switch d.Verified {
	case "ok":
		return true
	case "unverifiable":
		return !strict
	}
	return false
}

// verdict maps a provider's healthcheck status to doctor's "verified".
func verdict(st providers.Status) string {
	switch st {
	case providers.StatusOK, providers.StatusInvalid, providers.StatusUnreachable, providers.StatusUnexpected:
		return string(st)
	}
	// StatusMissing (a slot the check needs has no value in the
	// environment) and StatusUnverifiable: the check could not decide.
	return "unverifiable"
}

// doctorLine is one slot of the human report.
func doctorLine(d DoctorSlot) string {
	state := "present"
	if !d.Present {
		state = "MISSING"
	}
	line := fmt.Sprintf("%-10s %-28s %-8s %s", d.Service, d.Slot, state, d.Verified)
	if d.LatencyMS > 0 {
		line += fmt.Sprintf(" (%d ms)", d.LatencyMS)
	}
	if d.Detail != "" && d.Verified != "ok" {
		line += ": " + d.Detail
	}
	return line
}

// doctorProbe runs inside `phantom exec`: the env holds phm tokens and the
// proxy's address. Each provider's check goes to its phantom route, which
// puts the real key on the wire; this process never sees a value. It prints
// one probeResult line per service, in declared order.
func doctorProbe(ctx context.Context, f *Factory) error {
	c, err := f.loadConfig()
	if err != nil {
		return err
	}
	proxyURL, session := f.Env("PHANTOM_PROXY_URL"), f.Env("PHANTOM_PROXY_TOKEN")
	env := f.providerEnv(ctx)
	env.HTTP = &http.Client{Timeout: 30 * time.Second, Transport: proxyFailures{http.DefaultTransport}}
	mount := func(route string) string { return proxyURL + "/_phantom/" + session + "/" + route }
	env.Getenv = func(k string) string {
		if strings.HasPrefix(k, "STACK_") && strings.HasSuffix(k, "_API_URL") && proxyURL != "" {
			route := strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(k, "STACK_"), "_API_URL"))
			return mount(strings.ReplaceAll(route, "_", "-"))
		}
		return f.Env(k)
	}
	secrets := func(slot string) ([]byte, bool) {
		v := f.Env(slot)
		return []byte(v), v != ""
	}
	results, err := probeServices(ctx, f, c, env, secrets)
	enc := json.NewEncoder(f.IO.Out)
	for _, r := range results {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return err
}

// probeServices runs the healthcheck of every declared service, at most
// maxParallelChecks at a time (errgroup.SetLimit), and returns the results
// in declared order (a service whose provider this build lacks has none).
// When ctx ends, checks not started yet never start and the running ones
// see it through their request context; the error is then ctx's, and only
// the finished checks are returned.
func probeServices(ctx context.Context, f *Factory, c *config.Config, env providers.Env, secrets providers.SecretSource) ([]probeResult, error) {
	names := c.Names()
	results := make([]*probeResult, len(names))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(maxParallelChecks)
	for i, n := range names {
		s := c.Services[n]
		p, err := f.Providers.Get(s.Provider)
		if err != nil {
			continue
		}
		// Go waits for a free slot; a cancelled ctx stops the loop there.
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err // cancelled while it waited for a slot
			}
			cctx, cancel := context.WithTimeout(gctx, 30*time.Second)
			defer cancel()
			h := p.Healthcheck(cctx, env, providers.Resource{ID: s.ResourceID, Region: s.Region, Meta: s.Meta}, secrets)
			r := probeResult{Service: n, Status: verdict(h.Status), LatencyMS: h.Latency.Milliseconds(), Detail: h.Detail}
			for _, sh := range h.Slots {
				r.Slots = append(r.Slots, probeSlot{Slot: sh.Slot, Status: verdict(sh.Status), LatencyMS: sh.Latency.Milliseconds(), Detail: sh.Detail})
			}
			results[i] = &r
			return nil
		})
	}
	err := g.Wait()
	if err == nil {
		err = ctx.Err() // cancelled between the last Go and Wait
	}
	out := make([]probeResult, 0, len(names))
	for _, r := range results {
		if r != nil {
			out = append(out, *r)
		}
	}
	return out, err
}

// proxyFailures turns an answer phantom's proxy made itself because it
// could not reach the upstream (X-Phantom-Error: upstream-unreachable, with
// the reason in X-Phantom-Error-Detail; docs/phantom.md) into a transport
// error. Every provider's check then reports it unreachable with the
// proxy's reason (DNS, TLS, refused) instead of reading a 502 that no
// upstream sent. The header can only turn an answer into a failure, so an
// upstream that sent it could never make a check pass.
type proxyFailures struct{ next http.RoundTripper }

func (t proxyFailures) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	if err != nil || resp.Header.Get("X-Phantom-Error") != "upstream-unreachable" {
		return resp, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	why := strings.TrimSpace(resp.Header.Get("X-Phantom-Error-Detail"))
	if why == "" {
		why = "no reason given"
	}
	return nil, fmt.Errorf("phantom's proxy could not reach the upstream: %s", why)
}

// selfPath is how to run this stack again: argv[0] as invoked (a link keeps
// its name), else the executable.
func selfPath() (string, error) {
	a := os.Args[0]
	if strings.Contains(a, "/") {
		return filepath.Abs(a)
	}
	if p, err := exec.LookPath(a); err == nil {
		return filepath.Abs(p)
	}
	return os.Executable()
}
