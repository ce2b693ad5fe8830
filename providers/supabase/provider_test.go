package supabase

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"phantomstack.dev/providers"
	supabasefake "phantomstack.dev/providers/fake/supabase"
	"phantomstack.dev/providers/oauth"
	"phantomstack.dev/providers/rest"
	"phantomstack.dev/shared/token"
)

// clock is a fake time shared by the fake server and the provider: the
// provider's Sleep advances it, so readiness delays take no real time.
type clock struct {
	mu     sync.Mutex
	t      time.Time
	slept  []time.Duration
	onTick func()
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func (c *clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.slept = append(c.slept, d)
	f := c.onTick
	c.mu.Unlock()
	if f != nil {
		f()
	}
	return nil
}

// harness is one fake and an Env pointed at it, collecting what the
// provider prints and reports so tests can check no secret reaches them.
type harness struct {
	t        *testing.T
	srv      *supabasefake.Server
	clk      *clock
	vars     map[string]string
	mu       sync.Mutex
	logs     []string
	statuses []string
	p        *Provider
}

func newHarness(t *testing.T, opts supabasefake.Options) *harness {
	t.Helper()
	// Real time at the start: x/oauth2 stamps token expiry with time.Now.
	clk := &clock{t: time.Now().Truncate(time.Second)}
	opts.Now = clk.Now
	srv := supabasefake.New(opts)
	base := srv.Start()
	t.Cleanup(srv.Close)
	h := &harness{t: t, srv: srv, clk: clk, vars: map[string]string{
		APIURLEnv:     base,
		ProjectURLEnv: base + "/project/{ref}",
	}}
	h.p = &Provider{Now: clk.Now, Sleep: clk.Sleep}
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
		Progress: func(s string) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.statuses = append(h.statuses, s)
		},
	}
}

func (h *harness) logText() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return strings.Join(h.logs, "\n")
}

// noSecret fails when any of secrets appears in the logs, the progress
// reports or any of errs.
func (h *harness) noSecret(secrets []string, errs ...error) {
	h.t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range secrets {
		if s == "" {
			continue
		}
		for _, l := range append(append([]string(nil), h.logs...), h.statuses...) {
			if strings.Contains(l, s) {
				h.t.Fatalf("secret in log line %q", l)
			}
		}
		for _, err := range errs {
			if err != nil && strings.Contains(err.Error(), s) {
				h.t.Fatalf("secret in error %q", err)
			}
		}
	}
}

// secretsOf lists every secret the fake holds for the tests' no-leak checks.
func (h *harness) secretsOf() []string {
	out := []string{h.srv.PersonalToken()}
	_, cs := h.srv.OAuthClient()
	out = append(out, cs)
	for _, pr := range h.srv.Projects() {
		out = append(out, pr.DBPass)
		for _, k := range pr.Keys {
			out = append(out, k.Value)
		}
	}
	return out
}

func (h *harness) login() *providers.Credential {
	h.t.Helper()
	h.vars[AccessTokenEnv] = h.srv.PersonalToken()
	cred, err := h.p.Login(context.Background(), h.env(), providers.LoginRequest{})
	if err != nil {
		h.t.Fatal(err)
	}
	return cred
}

func valueOf(m *providers.Materialized, slot string) string {
	for _, v := range m.Values {
		if v.Slot == slot {
			return string(v.Value)
		}
	}
	return ""
}

func TestInfo(t *testing.T) {
	info := New().Info()
	if err := info.Validate(); err != nil {
		t.Fatal(err)
	}
	if info.Name != "supabase" || info.DisplayName != "Supabase" || info.Category != "database" || info.Auth != providers.AuthOAuthPKCE {
		t.Fatalf("%+v", info)
	}
	want := []providers.Slot{
		{Name: SlotURL},
		{Name: SlotAnonKey, Secret: true, Policy: providers.PolicyProxy},
		{Name: SlotServiceRoleKey, Secret: true, Policy: providers.PolicyProxy},
		{Name: SlotDBPassword, Secret: true, Policy: providers.PolicyInject},
		{Name: SlotDatabaseURL, Secret: true, Policy: providers.PolicyInject},
	}
	if fmt.Sprint(info.Slots) != fmt.Sprint(want) {
		t.Fatalf("slots %v", info.Slots)
	}
}

func TestTokenLogin(t *testing.T) {
	h := newHarness(t, supabasefake.Options{})
	cred := h.login()
	if cred.Slot != CredentialSlot || string(cred.Value) != h.srv.PersonalToken() || cred.Identity["organizations"] != h.srv.Organizations()[0].Slug {
		t.Fatalf("credential %s %v", cred.Slot, cred.Identity)
	}
	if len(cred.RefreshToken) != 0 || cred.RefreshSlot != "" {
		t.Fatal("a personal token has no refresh token")
	}
	if !strings.Contains(h.logText(), "local sandbox") {
		t.Fatalf("no sandbox notice in %q", h.logs)
	}

	bad := supabasefake.NewPersonalToken()
	h.vars[AccessTokenEnv] = bad
	_, err := h.p.Login(context.Background(), h.env(), providers.LoginRequest{})
	if !errors.Is(err, providers.ErrAuthInvalid) || !strings.Contains(err.Error(), AccessTokenEnv) {
		t.Fatalf("bad token: %v", err)
	}
	h.noSecret([]string{bad, h.srv.PersonalToken()}, err)

	// A phm placeholder is refused without asking Supabase.
	calls := h.srv.Calls("GET /v1/organizations")
	h.vars[AccessTokenEnv] = token.New()
	if _, err := h.p.Login(context.Background(), h.env(), providers.LoginRequest{}); !errors.Is(err, providers.ErrAuthInvalid) || !strings.Contains(err.Error(), "placeholder") {
		t.Fatalf("phm token: %v", err)
	}
	if h.srv.Calls("GET /v1/organizations") != calls {
		t.Fatal("a phm token was sent to Supabase")
	}

	// Nothing to sign in with, no terminal: ErrAuthRequired naming the ways in.
	delete(h.vars, AccessTokenEnv)
	_, err = h.p.Login(context.Background(), h.env(), providers.LoginRequest{})
	if !errors.Is(err, providers.ErrAuthRequired) || !strings.Contains(err.Error(), AccessTokenEnv) || !strings.Contains(err.Error(), ClientIDEnv) {
		t.Fatalf("no token: %v", err)
	}

	// A cached credential that still works wins over the environment; a
	// rejected one falls through to it.
	h.vars[AccessTokenEnv] = bad
	cred, err = h.p.Login(context.Background(), h.env(), providers.LoginRequest{Cached: &providers.Credential{Value: []byte(h.srv.PersonalToken())}})
	if err != nil || string(cred.Value) != h.srv.PersonalToken() {
		t.Fatalf("cached: %v", err)
	}
	h.vars[AccessTokenEnv] = h.srv.PersonalToken()
	cred, err = h.p.Login(context.Background(), h.env(), providers.LoginRequest{Cached: &providers.Credential{Value: []byte(bad)}})
	if err != nil || string(cred.Value) != h.srv.PersonalToken() || !strings.Contains(h.logText(), "rejected") {
		t.Fatalf("stale cache: %v", err)
	}
	cred.Clear()
	if cred.Value != nil || cred.RefreshToken != nil {
		t.Fatal("Clear left the secrets")
	}
}

// prompt is a terminal that answers with the given lines.
type prompt struct {
	secrets, lines []string
	asked          []string
}

func (p *prompt) CanPrompt() bool { return true }
func (p *prompt) ReadSecret(q string) ([]byte, error) {
	p.asked = append(p.asked, q)
	if len(p.secrets) == 0 {
		return nil, io.EOF
	}
	a := p.secrets[0]
	p.secrets = p.secrets[1:]
	return []byte(a + "\n"), nil
}
func (p *prompt) ReadLine(q string) (string, error) {
	p.asked = append(p.asked, q)
	if len(p.lines) == 0 {
		return "", io.EOF
	}
	a := p.lines[0]
	p.lines = p.lines[1:]
	return a, nil
}

func TestPasteLogin(t *testing.T) {
	h := newHarness(t, supabasefake.Options{})
	env := h.env()
	bad := supabasefake.NewPersonalToken()
	env.Prompt = &prompt{secrets: []string{bad, h.srv.PersonalToken()}}
	cred, err := h.p.Login(context.Background(), env, providers.LoginRequest{})
	if err != nil || string(cred.Value) != h.srv.PersonalToken() {
		t.Fatalf("paste: %v", err)
	}
	h.noSecret([]string{bad, h.srv.PersonalToken()})
	env.Prompt = &prompt{secrets: []string{""}}
	if _, err := h.p.Login(context.Background(), env, providers.LoginRequest{}); !errors.Is(err, providers.ErrAuthRequired) {
		t.Fatalf("empty paste: %v", err)
	}
}

// approve is a test browser: GET the consent page, submit its Approve
// button (the form's decision=approve), and follow the redirect to the
// loopback callback.
func approve(authURL, decision string) error {
	resp, err := http.Get(authURL)
	if err != nil {
		return err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	page := string(b)
	if !strings.Contains(page, `id="approve"`) || !strings.Contains(page, `id="deny"`) {
		return fmt.Errorf("no consent buttons on the page (HTTP %d)", resp.StatusCode)
	}
	const marker = `name="request" value="`
	i := strings.Index(page, marker)
	if i < 0 {
		return fmt.Errorf("no consent form on the page")
	}
	reqID := page[i+len(marker):]
	reqID = reqID[:strings.IndexByte(reqID, '"')]
	u, _ := url.Parse(authURL)
	r2, err := http.PostForm(u.Scheme+"://"+u.Host+u.Path, url.Values{"request": {reqID}, "decision": {decision}})
	if err != nil {
		return err
	}
	r2.Body.Close()
	if r2.StatusCode != http.StatusOK {
		return fmt.Errorf("callback page: HTTP %d", r2.StatusCode)
	}
	return nil
}

func (h *harness) oauthEnv(decision string, browsed chan<- error) providers.Env {
	id, secret := h.srv.OAuthClient()
	h.vars[ClientIDEnv], h.vars[ClientSecretEnv] = id, secret
	delete(h.vars, AccessTokenEnv)
	env := h.env()
	env.OpenURL = func(u string) error {
		go func() { browsed <- approve(u, decision) }()
		return nil
	}
	h.p.OAuthTimeout = 20 * time.Second
	return env
}

// TestOAuth signs in end to end: the test browser approves on the fake's
// consent page, the loopback callback gets the code and state, and the
// exchange proves the PKCE verifier and the client secret to the fake.
func TestOAuth(t *testing.T) {
	h := newHarness(t, supabasefake.Options{AccessTokenTTL: time.Hour})
	browsed := make(chan error, 1)
	env := h.oauthEnv("approve", browsed)
	cred, err := h.p.Login(context.Background(), env, providers.LoginRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-browsed; err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(cred.Value), "sbp_oauth_") || !strings.HasPrefix(string(cred.RefreshToken), "sbr_") ||
		cred.RefreshSlot != RefreshSlot || cred.Slot != CredentialSlot || cred.ExpiresAt.Sub(h.clk.Now()) < 59*time.Minute || cred.ExpiresAt.Sub(h.clk.Now()) > 61*time.Minute {
		t.Fatalf("credential: slot %s refresh slot %s expires %v", cred.Slot, cred.RefreshSlot, cred.ExpiresAt)
	}
	if st := h.srv.OAuthStats(); st.Codes != 1 || st.Tokens != 1 {
		t.Fatalf("oauth stats %+v", st)
	}
	_, clientSecret := h.srv.OAuthClient()
	secrets := []string{string(cred.Value), string(cred.RefreshToken), clientSecret}
	h.noSecret(secrets)

	// The access token expires during a long add: the provider refreshes it
	// before the next call (the refresh token rotates).
	oldAccess, oldRefresh := string(cred.Value), string(cred.RefreshToken)
	h.clk.Advance(2 * time.Hour)
	if _, err := h.p.newClient(env, cred).organizations(context.Background()); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	if string(cred.Value) == oldAccess || string(cred.RefreshToken) == oldRefresh || !cred.ExpiresAt.After(h.clk.Now()) {
		t.Fatal("the credential was not refreshed in place")
	}
	if st := h.srv.OAuthStats(); st.Tokens != 2 {
		t.Fatalf("oauth stats after refresh %+v", st)
	}

	// A 401 the provider did not see coming (the token was revoked, or the
	// expiry is unknown): refresh once, retry, succeed.
	h.srv.RevokeToken(string(cred.Value))
	cred.ExpiresAt = time.Time{}
	before := string(cred.Value)
	if _, err := h.p.newClient(env, cred).organizations(context.Background()); err != nil || string(cred.Value) == before {
		t.Fatalf("after a 401: %v", err)
	}
	secrets = append(secrets, string(cred.Value), string(cred.RefreshToken), oldAccess, oldRefresh)

	// A refresh token that no longer works: ErrAuthInvalid, one refresh try.
	h.srv.RevokeAllOAuthTokens()
	_, err = h.p.newClient(env, cred).organizations(context.Background())
	if !errors.Is(err, providers.ErrAuthInvalid) {
		t.Fatalf("revoked: %v", err)
	}
	h.noSecret(secrets, err)

	// Consent denied: the flow says so.
	env = h.oauthEnv("deny", browsed)
	_, err = h.p.Login(context.Background(), env, providers.LoginRequest{})
	if !errors.Is(err, oauth.ErrDenied) {
		t.Fatalf("denied: %v", err)
	}
	if err := <-browsed; err != nil {
		t.Fatal(err)
	}
	if h.srv.OAuthStats().Denials != 1 {
		t.Fatal("the fake saw no denial")
	}

	// --no-browser without a terminal cannot work: ErrAuthRequired.
	_, err = h.p.Login(context.Background(), env, providers.LoginRequest{Options: map[string]string{"no-browser": "true"}})
	if !errors.Is(err, providers.ErrAuthRequired) {
		t.Fatalf("no-browser: %v", err)
	}
}

// TestLifecycle: create → statuses → keys → healthcheck ok → a revoked key
// is invalid → deprovision → gone.
func TestLifecycle(t *testing.T) {
	h := newHarness(t, supabasefake.Options{ReadyAfter: 90 * time.Second})
	cred := h.login()
	ctx := context.Background()
	env := h.env()
	res, err := h.p.Provision(ctx, env, cred, providers.ProvisionRequest{Name: "myapp-supabase-a1b2c3", Region: "eu-west-2"})
	if err != nil {
		t.Fatal(err)
	}
	pr, ok := h.srv.Project(res.ID)
	if !ok || pr.Name != "myapp-supabase-a1b2c3" || pr.Region != "eu-west-2" || res.Region != "eu-west-2" || pr.Status != "ACTIVE_HEALTHY" {
		t.Fatalf("project %+v (%v)", pr, ok)
	}
	if res.Meta[MetaOrg] != h.srv.Organizations()[0].Slug || res.Meta[MetaDBHost] != "db."+res.ID+".supabase.co" || res.Meta[MetaURL] != h.srv.ProjectURL(res.ID) {
		t.Fatalf("meta %v", res.Meta)
	}
	for _, v := range res.Meta {
		if v == pr.DBPass {
			t.Fatal("the database password is in the resource's metadata")
		}
	}
	if len(pr.DBPass) < 32 {
		t.Fatalf("database password of %d characters", len(pr.DBPass))
	}
	h.mu.Lock()
	statuses := strings.Join(h.statuses, ",")
	h.mu.Unlock()
	if !strings.Contains(statuses, "COMING_UP,ACTIVE_HEALTHY") {
		t.Fatalf("progress %q", statuses)
	}
	// With a progress view the statuses go there only (not twice).
	if strings.Contains(h.logText(), "COMING_UP") || !strings.Contains(h.logText(), "waiting for project") {
		t.Fatalf("logs %q", h.logs)
	}
	if h.srv.Created() != 1 {
		t.Fatalf("%d projects created", h.srv.Created())
	}

	m, err := h.p.Materialize(ctx, env, cred, res)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Clear()
	if len(m.Values) != len(h.p.Info().Slots) {
		t.Fatalf("%d values", len(m.Values))
	}
	keys := map[string]string{}
	for _, k := range pr.Keys {
		keys[k.Name+"/"+k.Type] = k.Value
	}
	if valueOf(m, SlotURL) != h.srv.ProjectURL(res.ID) || valueOf(m, SlotAnonKey) != keys["anon/legacy"] ||
		valueOf(m, SlotServiceRoleKey) != keys["service_role/legacy"] || valueOf(m, SlotDBPassword) != pr.DBPass {
		t.Fatal("materialized values differ from the project's")
	}
	if want := "postgresql://postgres:" + pr.DBPass + "@db." + res.ID + ".supabase.co:5432/postgres"; valueOf(m, SlotDatabaseURL) != want {
		t.Fatal("DATABASE_URL is not the direct connection string")
	}
	if p := h.p.peekPending(res.ID); p != nil {
		t.Fatal("the password stayed in memory after Materialize")
	}

	secretsFrom := func(slot string) ([]byte, bool) {
		v := valueOf(m, slot)
		return []byte(v), v != ""
	}
	if hc := h.p.Healthcheck(ctx, env, res, secretsFrom); !hc.OK() {
		t.Fatalf("healthcheck: %+v", hc)
	}
	// The URL from the environment (what phantom exec sets) wins over the
	// template; a missing key is "missing".
	if hc := h.p.Healthcheck(ctx, env, res, func(s string) ([]byte, bool) {
		if s == SlotServiceRoleKey {
			return nil, false
		}
		return secretsFrom(s)
	}); hc.Status != providers.StatusMissing {
		t.Fatalf("missing key: %+v", hc)
	}

	h.srv.RevokeAPIKey(res.ID, "service_role")
	hc := h.p.Healthcheck(ctx, env, res, secretsFrom)
	if hc.Status != providers.StatusInvalid || !strings.Contains(hc.Detail, "service-role") {
		t.Fatalf("revoked: %+v", hc)
	}

	// Materialize now fails: the service_role key is gone.
	if _, err := h.p.Materialize(ctx, env, cred, res); err == nil || !strings.Contains(err.Error(), "service_role") {
		t.Fatalf("materialize without service_role: %v", err)
	}

	all := h.secretsOf()
	if err := h.p.Deprovision(ctx, env, cred, res); err != nil {
		t.Fatal(err)
	}
	if h.srv.ProjectExists(res.ID) {
		t.Fatal("project still exists")
	}
	if err := h.p.Deprovision(ctx, env, cred, res); err != nil {
		t.Fatalf("second deprovision: %v", err)
	}
	hc = h.p.Healthcheck(ctx, env, res, secretsFrom)
	if hc.Status != providers.StatusInvalid {
		t.Fatalf("healthcheck after deletion: %+v", hc)
	}
	h.noSecret(all, errors.New(hc.Detail))
}

func TestNeverReady(t *testing.T) {
	h := newHarness(t, supabasefake.Options{})
	h.srv.NeverReady(true)
	cred := h.login()
	h.p.WaitTimeout = 3 * time.Minute
	start := h.clk.Now()
	_, err := h.p.Provision(context.Background(), h.env(), cred, providers.ProvisionRequest{Name: "slow"})
	if err == nil {
		t.Fatal("no timeout")
	}
	if h.srv.Created() != 1 {
		t.Fatalf("%d created", h.srv.Created())
	}
	// The project this call created is named in the error and deleted again.
	var ref string
	if calls := h.srv.Calls("DELETE /v1/projects/{ref}"); calls != 1 {
		t.Fatalf("%d deletes", calls)
	}
	if len(h.srv.Projects()) != 0 {
		t.Fatal("the never-ready project was left behind")
	}
	for _, l := range h.logs {
		if i := strings.Index(l, "deleted project "); i >= 0 {
			ref = strings.Fields(l[i+len("deleted project "):])[0]
			ref = strings.TrimRight(ref, ",.")
		}
	}
	if ref == "" || !strings.Contains(err.Error(), ref) || !strings.Contains(err.Error(), "not ready after 3m0s") || !strings.Contains(err.Error(), WaitTimeoutEnv) {
		t.Fatalf("timeout error: %v (ref %q)", err, ref)
	}
	if el := h.clk.Now().Sub(start); el < 3*time.Minute || el > 4*time.Minute {
		t.Fatalf("waited %s", el)
	}
	for _, d := range h.clk.slept {
		if d > maxPoll {
			t.Fatalf("slept %s at once", d)
		}
	}

	// When that delete fails too (every attempt: a DELETE is retried), the
	// error says the project is still there and how to remove it.
	h.srv.AddFault(supabasefake.Fault{Route: "DELETE /v1/projects/{ref}", Status: 500, Times: -1})
	_, err = h.p.Provision(context.Background(), h.env(), cred, providers.ProvisionRequest{Name: "slow2"})
	prs := h.srv.Projects()
	if len(prs) != 1 || err == nil || !strings.Contains(err.Error(), prs[0].Ref+" still exists upstream") || !strings.Contains(err.Error(), "supabase projects delete "+prs[0].Ref) {
		t.Fatalf("leftover: %v", err)
	}
	h.noSecret(h.secretsOf(), err)
}

func TestInitFailedAndCancel(t *testing.T) {
	h := newHarness(t, supabasefake.Options{ReadyAfter: time.Minute})
	cred := h.login()
	h.clk.onTick = func() {
		for _, pr := range h.srv.Projects() {
			h.srv.SetStatus(pr.Ref, "INIT_FAILED")
		}
	}
	_, err := h.p.Provision(context.Background(), h.env(), cred, providers.ProvisionRequest{Name: "broken"})
	if err == nil || !strings.Contains(err.Error(), "INIT_FAILED") || len(h.srv.Projects()) != 0 {
		t.Fatalf("init failed: %v", err)
	}

	// Ctrl-C while waiting: the project is deleted on a fresh context.
	ctx, cancel := context.WithCancel(context.Background())
	h.clk.onTick = cancel
	_, err = h.p.Provision(ctx, h.env(), cred, providers.ProvisionRequest{Name: "cancelled"})
	if !errors.Is(err, context.Canceled) || len(h.srv.Projects()) != 0 || h.srv.Created() != 2 {
		t.Fatalf("cancel: %v, %d left", err, len(h.srv.Projects()))
	}
}

func TestResumeAdoptsAndUse(t *testing.T) {
	h := newHarness(t, supabasefake.Options{})
	cred := h.login()
	ctx := context.Background()
	env := h.env()
	ref := h.srv.AddProject("myapp-supabase-ffffff", "")
	res, err := h.p.Provision(ctx, env, cred, providers.ProvisionRequest{Name: "myapp-supabase-ffffff"})
	if err != nil || res.ID != ref || h.srv.Created() != 1 || h.srv.Calls("POST /v1/projects") != 0 {
		t.Fatalf("adopt: %v (%s, %d created)", err, res.ID, h.srv.Created())
	}
	// The interrupted add's password is lost with it: adopting sets a new
	// one upstream, and Materialize hands out exactly that one.
	m, err := h.p.Materialize(ctx, env, cred, res)
	if err != nil {
		t.Fatal(err)
	}
	pr, _ := h.srv.Project(ref)
	if pr.PasswordResets != 1 || pr.DBPass == "" || valueOf(m, SlotDBPassword) != pr.DBPass || !strings.Contains(valueOf(m, SlotDatabaseURL), ":"+pr.DBPass+"@") {
		t.Fatalf("adopted: %d resets, vault password matches upstream: %v", pr.PasswordResets, valueOf(m, SlotDBPassword) == pr.DBPass)
	}

	// --use REF of the user's own project: its password is never reset;
	// without SUPABASE_DB_PASSWORD or a terminal, Materialize says how to
	// get it.
	res, err = h.p.Provision(ctx, env, cred, providers.ProvisionRequest{UseID: ref})
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.p.Materialize(ctx, env, cred, res)
	if err == nil || !strings.Contains(err.Error(), DBPasswordEnv) || !strings.Contains(err.Error(), "Reset database password") {
		t.Fatalf("no password: %v", err)
	}
	if pr, _ := h.srv.Project(ref); pr.PasswordResets != 1 {
		t.Fatalf("--use reset the user's password (%d resets)", pr.PasswordResets)
	}
	h.vars[DBPasswordEnv] = "a-reset-password"
	m, err = h.p.Materialize(ctx, env, cred, res)
	if err != nil || valueOf(m, SlotDBPassword) != "a-reset-password" || !strings.Contains(valueOf(m, SlotDatabaseURL), ":a-reset-password@") {
		t.Fatalf("with %s: %v", DBPasswordEnv, err)
	}
	delete(h.vars, DBPasswordEnv)
	pe := env
	pe.Prompt = &prompt{secrets: []string{"typed-password"}}
	if m, err := h.p.Materialize(ctx, pe, cred, res); err != nil || valueOf(m, SlotDBPassword) != "typed-password" {
		t.Fatalf("typed: %v", err)
	}

	// A resume from the journal (UseID + Owned) resets it too; when that
	// is refused, the error says why and what to do, and the project comes
	// back with the error, for stack's rollback to delete (the provider
	// leaves it: the journal has it).
	h.srv.AddFault(supabasefake.Fault{Route: "PATCH /v1/projects/{ref}/database/password", Status: 403, Times: 1})
	res, err = h.p.Provision(ctx, env, cred, providers.ProvisionRequest{UseID: ref, Owned: true})
	if err == nil || !strings.Contains(err.Error(), "database:write") || !strings.Contains(err.Error(), "Run the command again") || res.ID != ref || !h.srv.ProjectExists(ref) {
		t.Fatalf("reset refused: %v (resource %q)", err, res.ID)
	}
	// The same when the resume adopted the project by its planned name and
	// the reset fails on every attempt (it is retried: setting the same
	// password again is idempotent): the ref comes back with the error.
	h.srv.AddFault(supabasefake.Fault{Route: "PATCH /v1/projects/{ref}/database/password", Status: 500, Times: -1})
	res, err = h.p.Provision(ctx, env, cred, providers.ProvisionRequest{Name: "myapp-supabase-ffffff", Owned: true})
	if err == nil || res.ID != ref || !h.srv.ProjectExists(ref) || !strings.Contains(err.Error(), "after 4 attempts") {
		t.Fatalf("adopted, reset failed: %v (resource %q)", err, res.ID)
	}
	h.srv.ClearFaults()
	// A transient failure of the reset (503, 429) is retried by the one
	// policy (providers/rest), and the resume goes through.
	h.srv.AddFault(supabasefake.Fault{Route: "PATCH /v1/projects/{ref}/database/password", Status: 503, Times: 1})
	h.srv.AddFault(supabasefake.Fault{Route: "PATCH /v1/projects/{ref}/database/password", Status: 429, Nth: 2, Times: 1, RetryAfter: time.Second})
	patches := h.srv.Calls("PATCH /v1/projects/{ref}/database/password")
	res, err = h.p.Provision(ctx, env, cred, providers.ProvisionRequest{UseID: ref, Owned: true})
	if err != nil || res.ID != ref {
		t.Fatalf("reset after a 503 and a 429: %v", err)
	}
	if n := h.srv.Calls("PATCH /v1/projects/{ref}/database/password") - patches; n != 3 {
		t.Fatalf("%d PATCH calls, want 3 (503, 429, then the reset)", n)
	}
	m, err = h.p.Materialize(ctx, env, cred, res)
	if pr, _ := h.srv.Project(ref); err != nil || pr.PasswordResets != 2 || valueOf(m, SlotDBPassword) != pr.DBPass {
		t.Fatalf("owned resume: %v (%d resets)", err, pr.PasswordResets)
	}

	// A 409 on create (the fake refuses a twin name) adopts too.
	h.srv.AddFault(supabasefake.Fault{Route: "GET /v1/projects", Status: 500, Times: rest.DefaultAttempts})
	_, err = h.p.Provision(ctx, env, cred, providers.ProvisionRequest{Name: "myapp-supabase-ffffff"})
	if err == nil || h.srv.Created() != 1 {
		t.Fatalf("list failing: %v", err)
	}

	// --use REF attaches; an unknown ref is a clear error.
	res, err = h.p.Provision(ctx, env, cred, providers.ProvisionRequest{UseID: ref})
	if err != nil || res.ID != ref || res.Meta[MetaName] != "myapp-supabase-ffffff" {
		t.Fatalf("use: %v", err)
	}
	_, err = h.p.Provision(ctx, env, cred, providers.ProvisionRequest{UseID: "abcdefghijabcdefghij"})
	if err == nil || !strings.Contains(err.Error(), `no Supabase project "abcdefghijabcdefghij"`) {
		t.Fatalf("unknown ref: %v", err)
	}
	_, err = h.p.Provision(ctx, env, cred, providers.ProvisionRequest{UseID: "bad"})
	if err == nil || !strings.Contains(err.Error(), "no Supabase project") {
		t.Fatalf("bad ref: %v", err)
	}
	// A paused project will not come up by itself.
	h.srv.SetStatus(ref, "INACTIVE")
	_, err = h.p.Provision(ctx, env, cred, providers.ProvisionRequest{UseID: ref})
	if err == nil || !strings.Contains(err.Error(), "paused") || !h.srv.ProjectExists(ref) {
		t.Fatalf("paused: %v", err)
	}
	if h.srv.Created() != 1 {
		t.Fatalf("%d created", h.srv.Created())
	}
}

func TestOrganizations(t *testing.T) {
	orgs := []supabasefake.Organization{
		{ID: "aaaaaaaaaaaaaaaaaaaa", Slug: "aaaaaaaaaaaaaaaaaaaa", Name: "Personal"},
		{ID: "bbbbbbbbbbbbbbbbbbbb", Slug: "bbbbbbbbbbbbbbbbbbbb", Name: "Work"},
	}
	h := newHarness(t, supabasefake.Options{Organizations: orgs})
	cred := h.login()
	ctx := context.Background()
	env := h.env()
	_, err := h.p.Provision(ctx, env, cred, providers.ProvisionRequest{Name: "x"})
	if err == nil || !strings.Contains(err.Error(), "--org") || !strings.Contains(err.Error(), "Personal") || !strings.Contains(err.Error(), "bbbbbbbbbbbbbbbbbbbb") {
		t.Fatalf("several orgs: %v", err)
	}
	_, err = h.p.Provision(ctx, env, cred, providers.ProvisionRequest{Name: "x", Options: map[string]string{"org": "nope"}})
	if err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("unknown org: %v", err)
	}
	res, err := h.p.Provision(ctx, env, cred, providers.ProvisionRequest{Name: "x", Options: map[string]string{"org": "bbbbbbbbbbbbbbbbbbbb", "region": "ap-south-1"}})
	if pr, _ := h.srv.Project(res.ID); err != nil || pr.OrganizationID != "bbbbbbbbbbbbbbbbbbbb" || pr.Region != "ap-south-1" {
		t.Fatalf("--org: %v %+v", err, pr)
	}
	// On a terminal: a numbered choice.
	pe := env
	pr := &prompt{lines: []string{"3", "1"}}
	pe.Prompt = pr
	res, err = h.p.Provision(ctx, pe, cred, providers.ProvisionRequest{Name: "y"})
	if p, _ := h.srv.Project(res.ID); err != nil || p.OrganizationID != "aaaaaaaaaaaaaaaaaaaa" || len(pr.asked) != 2 {
		t.Fatalf("choice: %v %+v", err, p)
	}
}

func TestFaults(t *testing.T) {
	route := map[string]string{
		"orgs":   "GET /v1/organizations",
		"list":   "GET /v1/projects",
		"create": "POST /v1/projects",
		"get":    "GET /v1/projects/{ref}",
		"keys":   "GET /v1/projects/{ref}/api-keys",
		"delete": "DELETE /v1/projects/{ref}",
	}
	type step int
	const (
		login step = iota
		provision
		materialize
		deprovision
	)
	cases := []struct {
		name    string
		route   string
		status  int
		times   int
		failAt  step     // the step that must fail (-1: none)
		wantErr []string // in the error
		is      error
		created int // projects that exist afterwards (a run that gets through deletes its own)
		calls   int // calls of the route (0: unchecked)
	}{
		{"orgs 500 retried", "orgs", 500, 2, -1, nil, nil, 0, 4}, // 3 for Login, 1 for the org choice
		{"orgs 429 retried", "orgs", 429, 1, -1, nil, nil, 0, 3},
		{"orgs 500 persists", "orgs", 500, -1, login, []string{"HTTP 500"}, providers.ErrUnreachable, 0, rest.DefaultAttempts},
		{"orgs 401", "orgs", 401, 1, login, []string{"rejected"}, providers.ErrAuthInvalid, 0, 1},
		{"orgs 403", "orgs", 403, 1, login, []string{"HTTP 403"}, nil, 0, 1},
		{"list 500 retried", "list", 500, 1, -1, nil, nil, 0, 2},
		{"create 500 not retried", "create", 500, 1, provision, []string{"nothing was created"}, providers.ErrUnreachable, 0, 1},
		{"create 429 not retried", "create", 429, 1, provision, []string{"HTTP 429"}, providers.ErrUnreachable, 0, 1},
		{"create 401", "create", 401, 1, provision, []string{"HTTP 401"}, providers.ErrAuthInvalid, 0, 1},
		{"create 403", "create", 403, 1, provision, []string{"may not create projects"}, nil, 0, 1},
		{"create 404", "create", 404, 1, provision, []string{"HTTP 404"}, nil, 0, 1},
		{"create 409 with no twin", "create", 409, 1, provision, []string{"no project of that name"}, nil, 0, 1},
		{"get 500 while waiting", "get", 500, 2, -1, nil, nil, 0, 0},
		{"get 429 while waiting", "get", 429, 1, -1, nil, nil, 0, 0},
		{"get 404 while waiting", "get", 404, 1, provision, []string{"disappeared", "deleted again"}, nil, 0, 0},
		{"get 403 while waiting", "get", 403, 1, provision, []string{"HTTP 403", "deleted again"}, nil, 0, 0},
		{"get 401 while waiting", "get", 401, 1, provision, []string{"HTTP 401"}, providers.ErrAuthInvalid, 0, 0},
		{"keys 500 retried", "keys", 500, 1, -1, nil, nil, 0, 2},
		{"keys 500 persists", "keys", 500, -1, materialize, []string{"API keys"}, providers.ErrUnreachable, 1, rest.DefaultAttempts},
		{"keys 403", "keys", 403, 1, materialize, []string{"HTTP 403"}, nil, 1, 1},
		{"keys 404", "keys", 404, 1, materialize, []string{"is gone"}, nil, 1, 1},
		{"delete 500 retried", "delete", 500, 1, -1, nil, nil, 0, 2},
		{"delete 500 persists", "delete", 500, -1, deprovision, []string{"HTTP 500"}, providers.ErrUnreachable, 1, rest.DefaultAttempts},
		{"delete 403", "delete", 403, 1, deprovision, []string{"owner"}, nil, 1, 1},
		{"delete 404", "delete", 404, 1, -1, nil, nil, 1, 1},
		{"delete 409", "delete", 409, 1, deprovision, []string{"HTTP 409"}, nil, 1, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, supabasefake.Options{ReadyAfter: 10 * time.Second})
			h.srv.AddFault(supabasefake.Fault{Route: route[tc.route], Status: tc.status, Times: tc.times, RetryAfter: time.Second})
			ctx := context.Background()
			env := h.env()
			h.vars[AccessTokenEnv] = h.srv.PersonalToken()
			var err error
			at := step(-1)
			run := func(s step, f func() error) {
				if err == nil && at < 0 {
					if err = f(); err != nil {
						at = s
					}
				}
			}
			var cred *providers.Credential
			var res providers.Resource
			run(login, func() (e error) { cred, e = h.p.Login(ctx, env, providers.LoginRequest{}); return })
			run(provision, func() (e error) {
				res, e = h.p.Provision(ctx, env, cred, providers.ProvisionRequest{Name: "faulty"})
				return
			})
			run(materialize, func() error {
				m, e := h.p.Materialize(ctx, env, cred, res)
				m.Clear()
				return e
			})
			run(deprovision, func() error { return h.p.Deprovision(ctx, env, cred, res) })
			if at != tc.failAt {
				t.Fatalf("failed at step %d, want %d: %v", at, tc.failAt, err)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("error %q lacks %q", err, w)
				}
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("error %v is not %v", err, tc.is)
			}
			if n := len(h.srv.Projects()); n != tc.created {
				t.Fatalf("%d projects left, want %d", n, tc.created)
			}
			if tc.calls > 0 && h.srv.Calls(route[tc.route]) != tc.calls {
				t.Fatalf("%d calls of %s, want %d", h.srv.Calls(route[tc.route]), route[tc.route], tc.calls)
			}
			if tc.status == 429 && tc.failAt < 0 && !slicesContain(h.clk.slept, time.Second) {
				t.Fatalf("Retry-After not honoured: slept %v", h.clk.slept)
			}
			if h.srv.Created() > 1 {
				t.Fatalf("%d projects created", h.srv.Created())
			}
			h.noSecret(h.secretsOf(), err)
		})
	}
}

func slicesContain(ds []time.Duration, d time.Duration) bool {
	for _, x := range ds {
		if x == d {
			return true
		}
	}
	return false
}

// TestCreateAnswerLost: the POST's answer never arrives (the connection
// drops after the project was made). The create is not sent again; the
// project is found by name and used, with the password that was sent.
func TestCreateAnswerLost(t *testing.T) {
	h := newHarness(t, supabasefake.Options{})
	cred := h.login()
	env := h.env()
	inner := http.DefaultTransport
	env.HTTP = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := inner.RoundTrip(r)
		if err == nil && r.Method == http.MethodPost {
			resp.Body.Close()
			return nil, errors.New("connection reset by peer")
		}
		return resp, err
	})}
	res, err := h.p.Provision(context.Background(), env, cred, providers.ProvisionRequest{Name: "lost"})
	if err != nil || h.srv.Created() != 1 || h.srv.Calls("POST /v1/projects") != 1 {
		t.Fatalf("lost answer: %v, %d created", err, h.srv.Created())
	}
	m, err := h.p.Materialize(context.Background(), env, cred, res)
	if pr, _ := h.srv.Project(res.ID); err != nil || valueOf(m, SlotDBPassword) != pr.DBPass {
		t.Fatalf("materialize: %v", err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestHealthcheckUnreachable(t *testing.T) {
	h := newHarness(t, supabasefake.Options{ReadyAfter: time.Hour})
	ref := h.srv.AddProject("p", "")
	pr, _ := h.srv.Project(ref)
	keys := map[string]string{}
	for _, k := range pr.Keys {
		keys[k.Name] = k.Value
	}
	src := func(s string) ([]byte, bool) {
		switch s {
		case SlotAnonKey:
			return []byte(keys["anon"]), true
		case SlotServiceRoleKey:
			return []byte(keys["service_role"]), true
		}
		return nil, false
	}
	res := providers.Resource{ID: ref}
	if hc := h.p.Healthcheck(context.Background(), h.env(), res, src); !hc.OK() {
		t.Fatalf("ok: %+v", hc)
	}
	h.srv.SetStatus(ref, "COMING_UP")
	if hc := h.p.Healthcheck(context.Background(), h.env(), res, src); hc.Status != providers.StatusUnreachable {
		t.Fatalf("not ready: %+v", hc)
	}
	h.srv.SetStatus(ref, "")
	h.srv.AddFault(supabasefake.Fault{Route: "GET /project/{ref}/rest/v1/{$}", Status: 500})
	if hc := h.p.Healthcheck(context.Background(), h.env(), res, src); hc.Status != providers.StatusUnreachable {
		t.Fatalf("500: %+v", hc)
	}
	// Wrong key → invalid, naming which.
	bad := func(s string) ([]byte, bool) {
		if s == SlotAnonKey {
			return []byte("not-a-key"), true
		}
		return src(s)
	}
	if hc := h.p.Healthcheck(context.Background(), h.env(), res, bad); hc.Status != providers.StatusInvalid || !strings.Contains(hc.Detail, "anon") {
		t.Fatalf("bad anon: %+v", hc)
	}
	h.srv.Close()
	hc := h.p.Healthcheck(context.Background(), h.env(), res, src)
	if hc.Status != providers.StatusUnreachable {
		t.Fatalf("closed: %+v", hc)
	}
	h.noSecret(h.secretsOf(), errors.New(hc.Detail))
}

// TestHealthcheckPerSlot: each key has its own verdict, so revoking the anon
// key fails only SUPABASE_ANON_KEY; the database credential is named
// unverifiable (no Postgres connection), never ok.
func TestHealthcheckPerSlot(t *testing.T) {
	h := newHarness(t, supabasefake.Options{})
	ref := h.srv.AddProject("p", "")
	pr, _ := h.srv.Project(ref)
	keys := map[string]string{}
	for _, k := range pr.Keys {
		keys[k.Name] = k.Value
	}
	src := func(s string) ([]byte, bool) {
		switch s {
		case SlotAnonKey:
			return []byte(keys["anon"]), true
		case SlotServiceRoleKey:
			return []byte(keys["service_role"]), true
		}
		return nil, false
	}
	res := providers.Resource{ID: ref}
	slots := func(hc providers.Health) map[string]providers.Status {
		out := map[string]providers.Status{}
		for _, s := range hc.Slots {
			out[s.Slot] = s.Status
		}
		return out
	}
	hc := h.p.Healthcheck(context.Background(), h.env(), res, src)
	want := map[string]providers.Status{SlotAnonKey: providers.StatusOK, SlotServiceRoleKey: providers.StatusOK,
		SlotDBPassword: providers.StatusUnverifiable, SlotDatabaseURL: providers.StatusUnverifiable}
	if !hc.OK() || !maps.Equal(slots(hc), want) {
		t.Fatalf("all good: %+v", hc)
	}
	h.srv.RevokeAPIKey(ref, "anon")
	hc = h.p.Healthcheck(context.Background(), h.env(), res, src)
	want[SlotAnonKey] = providers.StatusInvalid
	if hc.Status != providers.StatusInvalid || !strings.Contains(hc.Detail, "anon") || !maps.Equal(slots(hc), want) {
		t.Fatalf("anon revoked: %+v", hc)
	}
	for _, s := range hc.Slots {
		if s.Slot == SlotServiceRoleKey && strings.Contains(s.Detail, "rejected") {
			t.Fatalf("service-role slot blamed: %+v", s)
		}
	}
}
