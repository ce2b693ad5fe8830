package vercel

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"phantomstack.dev/providers"
	vercelfake "phantomstack.dev/providers/fake/vercel"
	"phantomstack.dev/providers/rest"
	"phantomstack.dev/shared/token"
)

// harness is one fake and an Env pointed at it, collecting what the
// provider prints so tests can check no secret reaches a log.
type harness struct {
	t    *testing.T
	srv  *vercelfake.Server
	vars map[string]string
	mu   sync.Mutex
	logs []string
	p    *Provider
}

func newHarness(t *testing.T, opts vercelfake.Options) *harness {
	t.Helper()
	srv := vercelfake.New(opts)
	url := srv.Start()
	t.Cleanup(srv.Close)
	h := &harness{t: t, srv: srv, vars: map[string]string{BaseURLEnv: url}}
	h.p = &Provider{Sleep: func(ctx context.Context, d time.Duration) error { return ctx.Err() }}
	return h
}

func (h *harness) env() providers.Env {
	return providers.Env{
		Getenv: func(k string) string { return h.vars[k] },
		Logf: func(format string, args ...any) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.logs = append(h.logs, fmt.Sprintf(format, args...))
		},
	}
}

// noSecret fails when secret appears in the logs or in any of errs.
func (h *harness) noSecret(secret string, errs ...error) {
	h.t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, l := range h.logs {
		if strings.Contains(l, secret) {
			h.t.Fatalf("secret in log line %q", l)
		}
	}
	for _, err := range errs {
		if err != nil && strings.Contains(err.Error(), secret) {
			h.t.Fatalf("secret in error %q", err)
		}
	}
}

func (h *harness) login() *providers.Credential {
	h.t.Helper()
	h.vars[SlotToken] = h.srv.Token()
	cred, err := h.p.Login(context.Background(), h.env(), providers.LoginRequest{})
	if err != nil {
		h.t.Fatal(err)
	}
	return cred
}

func TestInfo(t *testing.T) {
	info := New().Info()
	if err := info.Validate(); err != nil {
		t.Fatal(err)
	}
	if info.Name != "vercel" || info.Category != "deploy" || info.Auth != providers.AuthOAuthPKCE {
		t.Fatalf("%+v", info)
	}
	want := []providers.Slot{{Name: SlotToken, Secret: true, Policy: providers.PolicyProxy}, {Name: SlotProjectID}, {Name: SlotOrgID}}
	if fmt.Sprint(info.Slots) != fmt.Sprint(want) {
		t.Fatalf("slots %v", info.Slots)
	}
}

func TestTokenLogin(t *testing.T) {
	h := newHarness(t, vercelfake.Options{})
	cred := h.login()
	if cred.Slot != SlotToken || string(cred.Value) != h.srv.Token() || cred.Identity["user_id"] != h.srv.User().ID {
		t.Fatalf("credential %+v", cred.Identity)
	}
	if !strings.Contains(strings.Join(h.logs, "\n"), "local sandbox") {
		t.Fatalf("no sandbox notice in %q", h.logs)
	}

	// A token Vercel does not know: rejected (403 on Vercel), never echoed.
	bad := vercelfake.NewToken()
	h.vars[SlotToken] = bad
	_, err := h.p.Login(context.Background(), h.env(), providers.LoginRequest{})
	if !errors.Is(err, providers.ErrAuthInvalid) {
		t.Fatalf("bad token: %v", err)
	}
	h.noSecret(bad, err)

	// A phm placeholder is refused without asking Vercel.
	calls := h.srv.Calls("GET /v2/user")
	h.vars[SlotToken] = token.New()
	if _, err := h.p.Login(context.Background(), h.env(), providers.LoginRequest{}); !errors.Is(err, providers.ErrAuthInvalid) || !strings.Contains(err.Error(), "placeholder") {
		t.Fatalf("phm token: %v", err)
	}
	if h.srv.Calls("GET /v2/user") != calls {
		t.Fatal("a phm token was sent to Vercel")
	}

	// Nothing to sign in with, no terminal: ErrAuthRequired naming VERCEL_TOKEN.
	delete(h.vars, SlotToken)
	_, err = h.p.Login(context.Background(), h.env(), providers.LoginRequest{})
	if !errors.Is(err, providers.ErrAuthRequired) || !strings.Contains(err.Error(), "VERCEL_TOKEN") {
		t.Fatalf("no token: %v", err)
	}

	// A cached token that still works wins over the environment.
	h.vars[SlotToken] = bad
	cred, err = h.p.Login(context.Background(), h.env(), providers.LoginRequest{Cached: &providers.Credential{Value: []byte(h.srv.Token())}})
	if err != nil || string(cred.Value) != h.srv.Token() {
		t.Fatalf("cached: %v", err)
	}
}

// pastePrompt is a terminal that answers with the given lines.
type pastePrompt struct{ answers []string }

func (p *pastePrompt) CanPrompt() bool { return true }
func (p *pastePrompt) ReadSecret(string) ([]byte, error) {
	if len(p.answers) == 0 {
		return nil, errors.New("no more input")
	}
	a := p.answers[0]
	p.answers = p.answers[1:]
	return []byte(a), nil
}

func TestPasteLogin(t *testing.T) {
	h := newHarness(t, vercelfake.Options{})
	env := h.env()
	bad := vercelfake.NewToken()
	env.Prompt = &pastePrompt{answers: []string{bad, " " + h.srv.Token() + "\n"}}
	cred, err := h.p.Login(context.Background(), env, providers.LoginRequest{})
	if err != nil || string(cred.Value) != h.srv.Token() {
		t.Fatalf("paste: %v", err)
	}
	h.noSecret(bad)
	h.noSecret(h.srv.Token())
}

// TestOAuth signs in with Vercel end to end: the test browser loads the
// fake's consent page, clicks Approve, follows the redirect to stack's
// loopback callback, and the code is exchanged with PKCE.
func TestOAuth(t *testing.T) {
	h := newHarness(t, vercelfake.Options{})
	id, secret := h.srv.OAuthClient()
	h.vars[ClientIDEnv], h.vars[ClientSecretEnv] = id, secret
	env := h.env()
	browsed := make(chan error, 1)
	env.OpenURL = func(u string) error {
		go func() { browsed <- approve(u) }()
		return nil
	}
	h.p.OAuthTimeout = 20 * time.Second
	cred, err := h.p.Login(context.Background(), env, providers.LoginRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-browsed; err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(cred.Value), "vca_") || cred.ExpiresAt.IsZero() {
		t.Fatalf("credential: expires %v", cred.ExpiresAt)
	}
	h.noSecret(string(cred.Value))
	// The OAuth token works for the API.
	res, err := h.p.Provision(context.Background(), env, cred, providers.ProvisionRequest{Name: "oauth-app"})
	if err != nil || !h.srv.ProjectExists(res.ID) {
		t.Fatalf("provision with the OAuth token: %v", err)
	}

	// Consent denied: the flow says so.
	h.srv.SetConsent(vercelfake.ConsentAutoDeny)
	env.OpenURL = func(u string) error {
		go func() {
			r, err := http.Get(u)
			if err == nil {
				r.Body.Close()
			}
		}()
		return nil
	}
	if _, err := h.p.Login(context.Background(), env, providers.LoginRequest{}); err == nil || !strings.Contains(err.Error(), "not approved") {
		t.Fatalf("denied: %v", err)
	}
}

// approve is a minimal browser: GET the consent page, submit Approve, and
// follow the redirects (to the loopback callback).
func approve(authURL string) error {
	resp, err := http.Get(authURL)
	if err != nil {
		return err
	}
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.WriteString(string(buf[:n]))
		if err != nil {
			break
		}
	}
	resp.Body.Close()
	page := b.String()
	const marker = `name="request" value="`
	i := strings.Index(page, marker)
	if i < 0 {
		return fmt.Errorf("no consent form on the page (HTTP %d)", resp.StatusCode)
	}
	reqID := page[i+len(marker):]
	reqID = reqID[:strings.IndexByte(reqID, '"')]
	u, _ := url.Parse(authURL)
	action := u.Scheme + "://" + u.Host + u.Path
	r2, err := http.PostForm(action, url.Values{"request": {reqID}, "decision": {"approve"}})
	if err != nil {
		return err
	}
	r2.Body.Close()
	if r2.StatusCode != http.StatusOK {
		return fmt.Errorf("callback page: HTTP %d", r2.StatusCode)
	}
	return nil
}

func TestProvisionCreateAdoptUse(t *testing.T) {
	h := newHarness(t, vercelfake.Options{})
	cred := h.login()
	ctx := context.Background()
	res, err := h.p.Provision(ctx, h.env(), cred, providers.ProvisionRequest{Name: "app-vercel-abc123"})
	if err != nil {
		t.Fatal(err)
	}
	pr, ok := h.srv.Project(res.ID)
	if !ok || pr.Name != "app-vercel-abc123" || pr.AccountID != h.srv.User().ID {
		t.Fatalf("project %+v", pr)
	}
	if res.Meta[MetaOrgID] != h.srv.User().ID || res.Meta[MetaTeamID] != "" || res.Meta[MetaName] != pr.Name {
		t.Fatalf("meta %v", res.Meta)
	}
	m, err := h.p.Materialize(ctx, h.env(), cred, res)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, v := range m.Values {
		got[v.Slot] = string(v.Value)
	}
	if got[SlotToken] != h.srv.Token() || got[SlotProjectID] != res.ID || got[SlotOrgID] != h.srv.User().ID {
		t.Fatalf("materialized ids %s %s", got[SlotProjectID], got[SlotOrgID])
	}
	m.Clear()

	// A resumed add asks for the same name: the project is adopted, not doubled.
	again, err := h.p.Provision(ctx, h.env(), cred, providers.ProvisionRequest{Name: "app-vercel-abc123"})
	if err != nil || again.ID != res.ID || h.srv.Created() != 1 {
		t.Fatalf("adopt: %v %s %d", err, again.ID, h.srv.Created())
	}

	// --use attaches by id; an unknown id is a clear error.
	used, err := h.p.Provision(ctx, h.env(), cred, providers.ProvisionRequest{UseID: res.ID})
	if err != nil || used.ID != res.ID {
		t.Fatalf("use: %v", err)
	}
	_, err = h.p.Provision(ctx, h.env(), cred, providers.ProvisionRequest{UseID: "prj_nope"})
	if err == nil || !strings.Contains(err.Error(), `no Vercel project "prj_nope"`) {
		t.Fatalf("use unknown: %v", err)
	}
	// A resume whose project was deleted meanwhile says so.
	_, err = h.p.Provision(ctx, h.env(), cred, providers.ProvisionRequest{UseID: "prj_gone", Owned: true})
	if err == nil || !strings.Contains(err.Error(), "the Vercel project prj_gone that the interrupted stack add created is gone") {
		t.Fatalf("resume of a deleted project: %v", err)
	}
	if _, err := h.p.Provision(ctx, h.env(), cred, providers.ProvisionRequest{Name: "Bad---Name!"}); err == nil {
		t.Fatal("bad name accepted")
	}
	h.noSecret(h.srv.Token())
}

func TestProvisionTeam(t *testing.T) {
	h := newHarness(t, vercelfake.Options{})
	cred := h.login()
	tm := h.srv.Teams()[0]
	ctx := context.Background()
	res, err := h.p.Provision(ctx, h.env(), cred, providers.ProvisionRequest{Name: "team-app", Options: map[string]string{"team": tm.ID}})
	if err != nil {
		t.Fatal(err)
	}
	pr, _ := h.srv.Project(res.ID)
	if pr.AccountID != tm.ID || res.Meta[MetaTeamID] != tm.ID || res.Meta[MetaOrgID] != tm.ID {
		t.Fatalf("team project %+v meta %v", pr, res.Meta)
	}
	// Every later call carries the team: the healthcheck finds the project
	// only in the team's scope, and deprovision deletes it there.
	if hl := h.p.Healthcheck(ctx, h.env(), res, tokenSource(h.srv.Token())); !hl.OK() {
		t.Fatalf("team healthcheck: %+v", hl)
	}
	noTeam := res
	noTeam.Meta = map[string]string{}
	if hl := h.p.Healthcheck(ctx, h.env(), noTeam, tokenSource(h.srv.Token())); hl.Status != providers.StatusInvalid {
		t.Fatalf("outside the team: %+v", hl)
	}
	// A slug works too; a team the user is not in is refused.
	if _, err := h.p.Provision(ctx, h.env(), cred, providers.ProvisionRequest{Name: "slug-app", Options: map[string]string{"team": tm.Slug}}); err != nil {
		t.Fatal(err)
	}
	_, err = h.p.Provision(ctx, h.env(), cred, providers.ProvisionRequest{Name: "x", Options: map[string]string{"team": "team_notmine"}})
	if !errors.Is(err, providers.ErrAuthInvalid) || !strings.Contains(err.Error(), "member") {
		t.Fatalf("foreign team: %v", err)
	}
	if err := h.p.Deprovision(ctx, h.env(), cred, res); err != nil || h.srv.ProjectExists(res.ID) {
		t.Fatalf("team deprovision: %v", err)
	}
}

func tokenSource(v string) providers.SecretSource {
	return func(slot string) ([]byte, bool) {
		if slot != SlotToken {
			return nil, false
		}
		return []byte(v), true
	}
}

func TestHealthcheck(t *testing.T) {
	h := newHarness(t, vercelfake.Options{Tokens: []string{vercelfake.NewToken(), vercelfake.NewToken()}})
	cred := h.login()
	ctx := context.Background()
	res, err := h.p.Provision(ctx, h.env(), cred, providers.ProvisionRequest{Name: "hc-app"})
	if err != nil {
		t.Fatal(err)
	}
	tok := h.srv.Token()
	if hl := h.p.Healthcheck(ctx, h.env(), res, tokenSource(tok)); !hl.OK() || hl.Latency <= 0 {
		t.Fatalf("ok: %+v", hl)
	}
	if hl := h.p.Healthcheck(ctx, h.env(), res, nil); hl.Status != providers.StatusMissing {
		t.Fatalf("missing: %+v", hl)
	}
	h.srv.AddFault(vercelfake.Fault{Route: "GET /v9/projects/{idOrName}", Status: 500, Times: -1})
	if hl := h.p.Healthcheck(ctx, h.env(), res, tokenSource(tok)); hl.Status != providers.StatusUnreachable {
		t.Fatalf("500: %+v", hl)
	}
	if n := h.srv.Calls("GET /v9/projects/{idOrName}"); n != 1+rest.DefaultAttempts {
		t.Fatalf("GET retried %d times, want %d attempts", n-1, rest.DefaultAttempts)
	}
	h.srv.ClearFaults()
	h.srv.AddFault(vercelfake.Fault{Route: "GET /v9/projects/{idOrName}", Status: 401})
	if hl := h.p.Healthcheck(ctx, h.env(), res, tokenSource(tok)); hl.Status != providers.StatusInvalid {
		t.Fatalf("401: %+v", hl)
	}
	h.srv.AddFault(vercelfake.Fault{Route: "GET /v9/projects/{idOrName}", Status: 409})
	if hl := h.p.Healthcheck(ctx, h.env(), res, tokenSource(tok)); hl.Status != providers.StatusUnexpected {
		t.Fatalf("409: %+v", hl)
	}

	// The token is revoked at Vercel: invalid.
	h.srv.RevokeToken(tok)
	hl := h.p.Healthcheck(ctx, h.env(), res, tokenSource(tok))
	if hl.Status != providers.StatusInvalid || !strings.Contains(hl.Detail, "403") {
		t.Fatalf("revoked: %+v", hl)
	}
	if strings.Contains(hl.Detail, tok) {
		t.Fatal("token in detail")
	}
}

func TestDeprovision(t *testing.T) {
	h := newHarness(t, vercelfake.Options{})
	cred := h.login()
	ctx := context.Background()
	res, err := h.p.Provision(ctx, h.env(), cred, providers.ProvisionRequest{Name: "gone-app"})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.p.Deprovision(ctx, h.env(), cred, res); err != nil {
		t.Fatal(err)
	}
	if h.srv.ProjectExists(res.ID) {
		t.Fatal("project still there")
	}
	// Already gone: fine. The healthcheck now says the project is gone.
	if err := h.p.Deprovision(ctx, h.env(), cred, res); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	if hl := h.p.Healthcheck(ctx, h.env(), res, tokenSource(h.srv.Token())); hl.Status != providers.StatusInvalid || !strings.Contains(hl.Detail, "project gone") {
		t.Fatalf("gone: %+v", hl)
	}
	// A DELETE is idempotent: one 500 is retried (providers/rest's policy).
	res2, _ := h.p.Provision(ctx, h.env(), cred, providers.ProvisionRequest{Name: "kept-app"})
	h.srv.AddFault(vercelfake.Fault{Route: "DELETE /v9/projects/{idOrName}", Status: 500})
	if err := h.p.Deprovision(ctx, h.env(), cred, res2); err != nil || h.srv.ProjectExists(res2.ID) || h.srv.Calls("DELETE /v9/projects/{idOrName}") != 4 {
		t.Fatalf("one 500 on delete: %v (%d calls)", err, h.srv.Calls("DELETE /v9/projects/{idOrName}"))
	}
	// A refusal that lasts is reported, after the policy's attempts.
	res3, _ := h.p.Provision(ctx, h.env(), cred, providers.ProvisionRequest{Name: "kept-app-2"})
	h.srv.AddFault(vercelfake.Fault{Route: "DELETE /v9/projects/{idOrName}", Status: 500, Times: -1})
	if err := h.p.Deprovision(ctx, h.env(), cred, res3); !errors.Is(err, providers.ErrUnreachable) || !strings.Contains(err.Error(), "after 4 attempts") {
		t.Fatalf("500 on delete: %v", err)
	}
	if !h.srv.ProjectExists(res3.ID) {
		t.Fatal("deleted despite the fault")
	}
}

// TestFaults: each status at each step gives the right error kind; a GET is
// retried on 429/5xx (bounded), a POST never.
func TestFaults(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		route  string
		status int
		want   error
		ok     bool // the step still succeeds (retried, or adopted)
	}{
		{"GET /v2/user", 401, providers.ErrAuthInvalid, false},
		{"GET /v2/user", 403, providers.ErrAuthInvalid, false},
		{"GET /v2/user", 429, nil, true},
		{"GET /v2/user", 500, nil, true},
		{"POST /v11/projects", 401, providers.ErrAuthInvalid, false},
		{"POST /v11/projects", 403, providers.ErrAuthInvalid, false},
		{"POST /v11/projects", 404, nil, false},
		{"POST /v11/projects", 429, providers.ErrUnreachable, false},
		{"POST /v11/projects", 500, providers.ErrUnreachable, false},
	} {
		t.Run(fmt.Sprintf("%s/%d", tc.route, tc.status), func(t *testing.T) {
			h := newHarness(t, vercelfake.Options{})
			h.vars[SlotToken] = h.srv.Token()
			h.srv.AddFault(vercelfake.Fault{Route: tc.route, Status: tc.status, RetryAfter: time.Second})
			cred, err := h.p.Login(ctx, h.env(), providers.LoginRequest{})
			if err == nil {
				_, err = h.p.Provision(ctx, h.env(), cred, providers.ProvisionRequest{Name: "fault-app"})
			}
			if tc.ok {
				if err != nil {
					t.Fatalf("want success after a retry: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), fmt.Sprint(tc.status)) {
				t.Fatalf("error does not name the status: %v", err)
			}
			if strings.HasPrefix(tc.route, "POST") && h.srv.Calls(tc.route) != 1 {
				t.Fatalf("POST sent %d times", h.srv.Calls(tc.route))
			}
			if h.srv.Created() != 0 {
				t.Fatal("a project was created")
			}
			h.noSecret(h.srv.Token(), err)
		})
	}
	// 409: the name is taken; the project of that name is adopted.
	h := newHarness(t, vercelfake.Options{})
	cred := h.login()
	first, _ := h.p.Provision(ctx, h.env(), cred, providers.ProvisionRequest{Name: "taken"})
	res, err := h.p.Provision(ctx, h.env(), cred, providers.ProvisionRequest{Name: "taken"})
	if err != nil || res.ID != first.ID {
		t.Fatalf("409 adopt: %v", err)
	}
	// 429 on every GET: bounded, then unreachable.
	h.srv.Throttle("GET /v9/projects/{idOrName}", 1, -1, time.Second)
	start := time.Now()
	_, err = h.p.Provision(ctx, h.env(), cred, providers.ProvisionRequest{UseID: first.ID})
	if !errors.Is(err, providers.ErrUnreachable) || time.Since(start) > 5*time.Second {
		t.Fatalf("throttled: %v after %v", err, time.Since(start))
	}
}

func (h *harness) logged(sub string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, l := range h.logs {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}

const createRoute = "POST /v11/projects"

// TestLostCreateAnswer: when the create's answer is lost (5xx, a dropped
// connection, a cut-off body), the POST is not sent again; the planned name
// is looked up, and a project this call made is adopted as created here,
// while none (or an older one) leaves a clear error.
func TestLostCreateAnswer(t *testing.T) {
	ctx := context.Background()
	const name = "app-vercel-0f1e2d"
	for _, tc := range []struct {
		what   string
		status int
	}{
		{"500 after the create", 500},
		{"502 after the create", 502},
		{"connection closed after the create", 0},
	} {
		t.Run(tc.what, func(t *testing.T) {
			h := newHarness(t, vercelfake.Options{})
			cred := h.login()
			h.srv.AddFault(vercelfake.Fault{Route: createRoute, Status: tc.status, AfterHandler: true})
			res, err := h.p.Provision(ctx, h.env(), cred, providers.ProvisionRequest{Name: name})
			if err != nil {
				t.Fatalf("want the project adopted: %v", err)
			}
			ps := h.srv.Projects()
			if len(ps) != 1 || h.srv.Created() != 1 || ps[0].ID != res.ID || res.Meta[MetaName] != name {
				t.Fatalf("projects %+v, created %d, resource %s", ps, h.srv.Created(), res.ID)
			}
			if n := h.srv.Calls(createRoute); n != 1 {
				t.Fatalf("POST sent %d times", n)
			}
			if !h.logged("the answer to creating project "+name+" was lost") || !h.logged(res.ID) {
				t.Fatalf("no line about the adoption in %q", h.logs)
			}
			// It is this add's own: the rollback's delete removes it.
			if err := h.p.Deprovision(ctx, h.env(), cred, res); err != nil || len(h.srv.Projects()) != 0 {
				t.Fatalf("delete the adopted project: %v", err)
			}
			h.noSecret(h.srv.Token())
		})
	}

	for _, tc := range []struct {
		what   string
		status int
	}{
		{"500 before the create", 500},
		{"503 before the create", 503},
		{"connection closed before the create", 0},
	} {
		t.Run(tc.what, func(t *testing.T) {
			h := newHarness(t, vercelfake.Options{})
			cred := h.login()
			h.srv.AddFault(vercelfake.Fault{Route: createRoute, Status: tc.status})
			_, err := h.p.Provision(ctx, h.env(), cred, providers.ProvisionRequest{Name: name})
			if !errors.Is(err, providers.ErrUnreachable) || !strings.Contains(err.Error(), "nothing was created") {
				t.Fatalf("want unreachable, nothing created: %v", err)
			}
			if tc.status != 0 && !strings.Contains(err.Error(), fmt.Sprint(tc.status)) {
				t.Fatalf("error does not name the status: %v", err)
			}
			if len(h.srv.Projects()) != 0 || h.srv.Created() != 0 || h.srv.Calls(createRoute) != 1 {
				t.Fatalf("projects %d, created %d, POSTs %d", len(h.srv.Projects()), h.srv.Created(), h.srv.Calls(createRoute))
			}
			if h.srv.Calls("GET /v9/projects/{idOrName}") != 1 {
				t.Fatal("the name was not looked up")
			}
			if h.logged("was lost") {
				t.Fatalf("claimed an adoption: %q", h.logs)
			}
			h.noSecret(h.srv.Token(), err)
		})
	}

	// A team's create: the look-up carries the same scope.
	t.Run("team", func(t *testing.T) {
		h := newHarness(t, vercelfake.Options{})
		cred := h.login()
		tm := h.srv.Teams()[0]
		h.srv.AddFault(vercelfake.Fault{Route: createRoute, Status: 500, AfterHandler: true})
		res, err := h.p.Provision(ctx, h.env(), cred, providers.ProvisionRequest{Name: name, Options: map[string]string{"team": tm.Slug}})
		if err != nil {
			t.Fatal(err)
		}
		pr, ok := h.srv.Project(res.ID)
		if !ok || pr.AccountID != tm.ID || res.Meta[MetaTeamID] != tm.Slug || !h.logged("team "+tm.Slug) {
			t.Fatalf("team project %+v, meta %v", pr, res.Meta)
		}
	})

	// A project of that name that predates the call is not this add's: it
	// is neither adopted nor deleted, unless the add is a resume.
	t.Run("older project", func(t *testing.T) {
		var mu sync.Mutex
		now := time.Now().Add(-time.Hour)
		h := newHarness(t, vercelfake.Options{Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }})
		cred := h.login()
		old, _ := h.srv.AddProject(name)
		mu.Lock()
		now = time.Now()
		mu.Unlock()
		h.srv.AddFault(vercelfake.Fault{Route: createRoute, Status: 500})
		_, err := h.p.Provision(ctx, h.env(), cred, providers.ProvisionRequest{Name: name})
		if err == nil || !strings.Contains(err.Error(), "before this call") || !strings.Contains(err.Error(), old.ID) {
			t.Fatalf("want a refusal naming the older project: %v", err)
		}
		if !h.srv.ProjectExists(old.ID) || h.srv.Created() != 1 {
			t.Fatal("the older project was touched")
		}
		// A resumed add: the interrupted run made it under this name.
		h.srv.AddFault(vercelfake.Fault{Route: createRoute, Status: 500})
		res, err := h.p.Provision(ctx, h.env(), cred, providers.ProvisionRequest{Name: name, Owned: true})
		if err != nil || res.ID != old.ID {
			t.Fatalf("resume: %v", err)
		}
	})

	// The look-up fails too: the error says the project may exist, by name.
	t.Run("look-up fails", func(t *testing.T) {
		h := newHarness(t, vercelfake.Options{})
		cred := h.login()
		h.srv.AddFault(vercelfake.Fault{Route: createRoute, Status: 500, AfterHandler: true})
		h.srv.AddFault(vercelfake.Fault{Route: "GET /v9/projects/{idOrName}", Status: 500, Times: -1})
		_, err := h.p.Provision(ctx, h.env(), cred, providers.ProvisionRequest{Name: name})
		if !errors.Is(err, providers.ErrUnreachable) || !strings.Contains(err.Error(), "may have been created") || !strings.Contains(err.Error(), "project "+name) {
			t.Fatalf("look-up failure: %v", err)
		}
		if n := h.srv.Calls("GET /v9/projects/{idOrName}"); n != rest.DefaultAttempts || h.srv.Calls(createRoute) != 1 {
			t.Fatalf("GETs %d, POSTs %d", n, h.srv.Calls(createRoute))
		}
	})

	// Ctrl-C while the create is in flight: the look-up still runs (on its
	// own bounded context), so the caller's rollback gets the id to delete.
	t.Run("cancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		h := newHarness(t, vercelfake.Options{Logf: func(format string, args ...any) {
			if strings.Contains(fmt.Sprintf(format, args...), "answer withheld") {
				cancel()
			}
		}})
		cred := h.login()
		h.srv.AddFault(vercelfake.Fault{Route: createRoute, Status: 500, AfterHandler: true})
		res, err := h.p.Provision(cctx, h.env(), cred, providers.ProvisionRequest{Name: name})
		if cctx.Err() == nil {
			t.Fatal("the context was not cancelled")
		}
		if err != nil || !h.srv.ProjectExists(res.ID) || len(h.srv.Projects()) != 1 {
			t.Fatalf("cancelled create: %v", err)
		}
	})

	// A 2xx cut off mid-body, or one that is not JSON: the create happened.
	for _, mode := range []string{"truncated", "not json"} {
		t.Run(mode, func(t *testing.T) {
			h := newHarness(t, vercelfake.Options{})
			cred := h.login()
			wrap := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPost || r.URL.Path != "/v11/projects" {
					h.srv.ServeHTTP(w, r)
					return
				}
				rec := httptest.NewRecorder()
				h.srv.ServeHTTP(rec, r)
				body := rec.Body.Bytes()
				if mode == "not json" {
					body = []byte("<html>upstream hiccup</html>")
				}
				w.Header().Set("Content-Length", strconv.Itoa(len(body)))
				w.WriteHeader(rec.Code)
				if mode == "truncated" {
					body = body[:len(body)/2]
				}
				_, _ = w.Write(body)
			}))
			defer wrap.Close()
			h.vars[BaseURLEnv] = wrap.URL
			res, err := h.p.Provision(ctx, h.env(), cred, providers.ProvisionRequest{Name: name})
			if err != nil || len(h.srv.Projects()) != 1 || h.srv.Projects()[0].ID != res.ID || !h.logged("was lost") {
				t.Fatalf("%s answer: %v", mode, err)
			}
		})
	}
}

// TestRetryPolicy: the provider's calls go through providers/rest's one
// policy: a GET gets its four attempts (three 502s, then the answer, after
// the server's Retry-After), and a DELETE is retried too.
func TestRetryPolicy(t *testing.T) {
	h := newHarness(t, vercelfake.Options{})
	var waits []time.Duration
	h.p.Sleep = func(ctx context.Context, d time.Duration) error {
		waits = append(waits, d)
		return ctx.Err()
	}
	cred := h.login()
	ctx := context.Background()
	res, err := h.p.Provision(ctx, h.env(), cred, providers.ProvisionRequest{Name: "retried-app"})
	if err != nil {
		t.Fatal(err)
	}
	waits = nil
	h.srv.AddFault(vercelfake.Fault{Route: "GET /v9/projects/{idOrName}", Status: 502, Times: 3, RetryAfter: 2 * time.Second})
	got, err := h.p.Provision(ctx, h.env(), cred, providers.ProvisionRequest{UseID: res.ID})
	if err != nil || got.ID != res.ID || h.srv.Calls("GET /v9/projects/{idOrName}") != 4 {
		t.Fatalf("GET after three 502s: %v (%d calls)", err, h.srv.Calls("GET /v9/projects/{idOrName}"))
	}
	if len(waits) != 3 || waits[0] != 2*time.Second {
		t.Fatalf("waits %v, want three honouring Retry-After: 2", waits)
	}
	h.srv.AddFault(vercelfake.Fault{Route: "DELETE /v9/projects/{idOrName}", Status: 503})
	if err := h.p.Deprovision(ctx, h.env(), cred, res); err != nil || h.srv.ProjectExists(res.ID) {
		t.Fatalf("DELETE after a 503: %v", err)
	}
	// A POST is never sent twice.
	h.srv.AddFault(vercelfake.Fault{Route: "POST /v11/projects", Status: 429})
	if _, err := h.p.Provision(ctx, h.env(), cred, providers.ProvisionRequest{Name: "rate-limited"}); !errors.Is(err, providers.ErrUnreachable) || h.srv.Calls("POST /v11/projects") != 2 {
		t.Fatalf("POST 429: %v (%d POSTs)", err, h.srv.Calls("POST /v11/projects"))
	}
}
