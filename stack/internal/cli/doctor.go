package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"phantomstack.dev/providers"
	"phantomstack.dev/shared/exitcode"
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
	Verified  string `json:"verified"` // ok, invalid, unreachable, unverifiable
	LatencyMS int64  `json:"latency_ms,omitempty"`
	Detail    string `json:"detail,omitempty"`
}

// probeResult is one line the probe child prints.
type probeResult struct {
	Service   string `json:"service"`
	Status    string `json:"status"`
	LatencyMS int64  `json:"latency_ms"`
	Detail    string `json:"detail"`
}

// maxParallelChecks bounds concurrent upstream checks.
const maxParallelChecks = 4

func newDoctorCmd(f *Factory) *cobra.Command {
	var asJSON, probe, all bool
	cmd := &cobra.Command{
		Use:   "doctor [--all] [--json]",
		Short: "Check that every declared secret exists in phantom and still works upstream",
		Long: `For every secret slot in .stack.toml: is it in phantom's vault, and does the
provider still accept it? The upstream checks run under 'phantom exec': the
check request carries the phm_ token and phantom's proxy puts the real key on
the wire, so doctor works in CI without a terminal and stack never holds a
value. Exit 1 when a slot is missing or invalid.

--all checks every project in the registry (stack projects list), each in its
own directory, and exits 1 when any of them fails.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if probe {
				return doctorProbe(f)
			}
			if all {
				return doctorAllRun(f, asJSON)
			}
			return doctorRun(f, asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON (schema in docs/stack.md)")
	cmd.Flags().BoolVar(&all, "all", false, "check every registered project (stack projects list)")
	cmd.Flags().BoolVar(&probe, "probe", false, "")
	cmd.Flags().MarkHidden("probe")
	return cmd
}

func doctorRun(f *Factory, asJSON bool) error {
	ctx := context.Background()
	c, err := f.loadConfig()
	if err != nil {
		return err
	}
	pc, err := f.phantom(ctx)
	if err != nil {
		return err
	}
	f.routeOverrides(pc, c.Providers()...)
	f.approveRoutes(ctx, pc, asJSON)
	var rep DoctorReport
	n := len(c.SecretSlots())
	err = f.IO.RunTask(ctx, term.Task{Title: fmt.Sprintf("Checking %d secret(s) with their providers", n)}, func(ctx context.Context, _ term.Progress) error {
		var err error
		rep, err = doctorCheck(ctx, pc, c)
		return err
	})
	if err != nil {
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

// doctorCheck builds the report of the project c, with pc running phantom
// (and the probe under phantom exec) in c's directory.
func doctorCheck(ctx context.Context, pc *phantomctl.Client, c *config.Config) (DoctorReport, error) {
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
			d := DoctorSlot{Service: n, Provider: s.Provider, Slot: slot, Present: inVault[slot], Verified: "unverifiable"}
			if checked {
				d.Verified, d.LatencyMS, d.Detail = r.Status, r.LatencyMS, r.Detail
			}
			if !d.Present {
				d.Verified, d.Detail = "unverifiable", slot+" is not in phantom's vault"
			}
			if !d.Present || d.Verified == "invalid" {
				rep.OK = false
			}
			rep.Slots = append(rep.Slots, d)
		}
	}
	return rep, nil
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
// puts the real key on the wire; this process never sees a value.
func doctorProbe(f *Factory) error {
	c, err := f.loadConfig()
	if err != nil {
		return err
	}
	proxyURL, session := f.Env("PHANTOM_PROXY_URL"), f.Env("PHANTOM_PROXY_TOKEN")
	env := f.providerEnv()
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
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, maxParallelChecks)
	enc := json.NewEncoder(f.IO.Out)
	for _, n := range c.Names() {
		s := c.Services[n]
		p, err := f.Providers.Get(s.Provider)
		if err != nil {
			continue
		}
		wg.Add(1)
		go func(n string, s *config.Service, p providers.Provider) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			h := p.Healthcheck(ctx, env, providers.Resource{ID: s.ResourceID, Region: s.Region, Meta: s.Meta}, secrets)
			status := string(h.Status)
			switch h.Status {
			case providers.StatusOK, providers.StatusInvalid, providers.StatusUnreachable:
			case providers.StatusMissing:
				status = "unverifiable"
			default:
				status = "unverifiable"
			}
			mu.Lock()
			defer mu.Unlock()
			enc.Encode(probeResult{Service: n, Status: status, LatencyMS: h.Latency.Milliseconds(), Detail: h.Detail})
		}(n, s, p)
	}
	wg.Wait()
	return nil
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
