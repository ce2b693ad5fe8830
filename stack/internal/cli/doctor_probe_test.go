package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"phantomstack.dev/providers"
	"phantomstack.dev/shared/term"
)

// probeCounter is a loopback upstream that counts the checks in flight.
type probeCounter struct {
	mu       sync.Mutex
	inFlight int
	max      int
	started  []string // services, in the order their checks arrived
	arrived  chan struct{}
	// hold decides how long a check for service is held before its answer.
	hold func(ctx context.Context, service string)
}

func (pc *probeCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	service := strings.TrimPrefix(r.URL.Path, "/check/")
	pc.mu.Lock()
	pc.inFlight++
	pc.max = max(pc.max, pc.inFlight)
	pc.started = append(pc.started, service)
	pc.mu.Unlock()
	select {
	case pc.arrived <- struct{}{}:
	default:
	}
	pc.hold(r.Context(), service)
	pc.mu.Lock()
	pc.inFlight--
	pc.mu.Unlock()
	io.WriteString(w, "ok")
}

// countedProvider is an API-key provider whose healthcheck is one GET to
// $STACK_PROBETEST_API_URL/check/<service>; the service travels in the
// resource ID.
type countedProvider struct{}

func (countedProvider) Info() providers.Info {
	return providers.Info{Name: "probetest", DisplayName: "Probe test", Category: "test", Auth: providers.AuthAPIKey,
		Slots: []providers.Slot{{Name: "PROBETEST_KEY", Secret: true}}}
}
func (countedProvider) Login(context.Context, providers.Env, providers.LoginRequest) (*providers.Credential, error) {
	return nil, fmt.Errorf("not in this test")
}
func (countedProvider) Provision(context.Context, providers.Env, *providers.Credential, providers.ProvisionRequest) (providers.Resource, error) {
	return providers.Resource{}, fmt.Errorf("not in this test")
}
func (countedProvider) Materialize(context.Context, providers.Env, *providers.Credential, providers.Resource) (*providers.Materialized, error) {
	return nil, fmt.Errorf("not in this test")
}
func (countedProvider) Deprovision(context.Context, providers.Env, *providers.Credential, providers.Resource) error {
	return nil
}
func (countedProvider) Healthcheck(ctx context.Context, env providers.Env, res providers.Resource, _ providers.SecretSource) providers.Health {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, env.Getenv("STACK_PROBETEST_API_URL")+"/check/"+res.ID, nil)
	if err != nil {
		return providers.Health{Status: providers.StatusUnexpected, Detail: err.Error()}
	}
	resp, err := env.HTTP.Do(req)
	if err != nil {
		return providers.Health{Status: providers.StatusUnreachable, Detail: err.Error()}
	}
	resp.Body.Close()
	return providers.Health{Status: providers.StatusOK}
}

// probeProject writes a project declaring n probetest services, svc00 to
// svcNN, in that order, each with its own slot, changes into it and returns
// a factory whose registry knows probetest and whose environment points its
// API at upstream.
func probeProject(t *testing.T, n int, upstream string) (*Factory, []string) {
	t.Helper()
	dir := t.TempDir()
	var toml, local strings.Builder
	toml.WriteString("[stack]\nversion = 1\n")
	local.WriteString("[stack]\nproject_id = \"probe-test\"\n")
	var names []string
	// Declared in descending name order, so declared order is not an
	// accident of sorting.
	for i := n - 1; i >= 0; i-- {
		name := fmt.Sprintf("svc%02d", i)
		names = append(names, name)
		fmt.Fprintf(&toml, "\n[services.%s]\nprovider = \"probetest\"\nsecrets = [\"KEY_%02d\"]\n", name, i)
		fmt.Fprintf(&local, "\n[services.%s]\nresource_id = %q\n", name, name)
	}
	if err := os.WriteFile(filepath.Join(dir, ".stack.toml"), []byte(toml.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".stack.local.toml"), []byte(local.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	f := newTestFactory(t)
	reg, err := providers.NewRegistry(countedProvider{})
	if err != nil {
		t.Fatal(err)
	}
	f.Providers = reg
	f.Env = func(k string) string {
		if k == "STACK_PROBETEST_API_URL" {
			return upstream
		}
		if strings.HasPrefix(k, "KEY_") {
			return "phm_test"
		}
		return ""
	}
	return f, names
}

// runProbe runs `stack doctor --probe` in-process under ctx and returns
// what it reported, in its output order. It may run outside the test's
// goroutine, so it never calls t.Fatal.
func runProbe(t *testing.T, ctx context.Context, f *Factory) ([]probeResult, error) {
	t.Helper()
	ios, _, out, _ := term.Test()
	f.IO = ios
	cmd := newDoctorCmd(f)
	cmd.SetArgs([]string{"--probe"})
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	err := cmd.ExecuteContext(ctx)
	var got []probeResult
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	for sc.Scan() {
		var r probeResult
		if jerr := json.Unmarshal(sc.Bytes(), &r); jerr != nil {
			t.Errorf("probe line %q: %v", sc.Text(), jerr)
			continue
		}
		got = append(got, r)
	}
	return got, err
}

// TestDoctorProbeLimitAndOrder: with many services, no more than
// maxParallelChecks checks are ever in flight at once, the limit is
// actually used, and every service is reported, in declared order, however
// the answers arrive.
func TestDoctorProbeLimitAndOrder(t *testing.T) {
	const n = 13
	pc := &probeCounter{arrived: make(chan struct{}, 1)}
	pc.hold = func(ctx context.Context, service string) {
		// Hold each check until the limit is reached (or 300 ms pass, at
		// the tail), then answer later services first.
		deadline := time.Now().Add(300 * time.Millisecond)
		for time.Now().Before(deadline) {
			pc.mu.Lock()
			full := pc.inFlight >= maxParallelChecks
			pc.mu.Unlock()
			if full {
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
		var i int
		fmt.Sscanf(service, "svc%d", &i)
		select {
		case <-time.After(time.Duration(i) * 3 * time.Millisecond):
		case <-ctx.Done():
		}
	}
	srv := httptest.NewServer(pc)
	t.Cleanup(srv.Close)
	f, names := probeProject(t, n, srv.URL)

	results, err := runProbe(t, context.Background(), f)
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	var got []string
	for _, r := range results {
		if r.Status != "ok" {
			t.Errorf("%s: %s %s", r.Service, r.Status, r.Detail)
		}
		got = append(got, r.Service)
	}
	if strings.Join(got, " ") != strings.Join(names, " ") {
		t.Errorf("reported %v, want every service in declared order %v", got, names)
	}
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.max != maxParallelChecks {
		t.Errorf("at most %d checks were in flight at once, want exactly the limit %d", pc.max, maxParallelChecks)
	}
	if len(pc.started) != n {
		t.Errorf("%d checks reached the upstream, want %d", len(pc.started), n)
	}
}

// TestDoctorProbeCancelStopsPendingChecks: when the command's context ends
// (Ctrl-C), the running checks see it and the pending ones never start.
func TestDoctorProbeCancelStopsPendingChecks(t *testing.T) {
	const n = 12
	pc := &probeCounter{arrived: make(chan struct{}, n)}
	release := make(chan struct{})
	pc.hold = func(ctx context.Context, _ string) {
		select {
		case <-ctx.Done():
		case <-release:
		}
	}
	srv := httptest.NewServer(pc)
	t.Cleanup(func() {
		close(release)
		srv.Close()
	})
	f, _ := probeProject(t, n, srv.URL)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type done struct {
		got []probeResult
		err error
	}
	finished := make(chan done, 1)
	go func() {
		got, err := runProbe(t, ctx, f)
		finished <- done{got, err}
	}()
	for range maxParallelChecks {
		select {
		case <-pc.arrived:
		case <-time.After(10 * time.Second):
			t.Fatal("the first checks never reached the upstream")
		}
	}
	cancel()
	var d done
	select {
	case d = <-finished:
	case <-time.After(10 * time.Second):
		t.Fatal("the probe did not return after its context was cancelled")
	}
	if d.err == nil {
		t.Error("a cancelled probe returned no error")
	}
	if len(d.got) > maxParallelChecks {
		t.Errorf("a cancelled probe reported %d services, more than the %d it had started", len(d.got), maxParallelChecks)
	}
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if len(pc.started) != maxParallelChecks {
		t.Errorf("%d checks reached the upstream, want only the %d running when cancelled: %v", len(pc.started), maxParallelChecks, pc.started)
	}
}
