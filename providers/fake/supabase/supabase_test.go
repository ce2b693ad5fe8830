package supabasefake

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"phantomstack.dev/providers/fake/internal/oauthsrv"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// noRedirect is a client that hands redirects back instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

func do(t *testing.T, method, u, token string, body any, hdr ...string) resp {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, res.Header, b}
}

func start(t *testing.T, opts Options) (*Server, string) {
	t.Helper()
	s := New(opts)
	base := s.Start()
	t.Cleanup(s.Close)
	return s, base
}

func wantStatus(t *testing.T, r resp, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
}

func TestManagementAuth(t *testing.T) {
	s, base := start(t, Options{})
	r := do(t, "GET", base+"/v1/organizations", "", nil)
	wantStatus(t, r, 401)
	var msg map[string]string
	r.json(t, &msg)
	if msg["message"] != "Unauthorized" {
		t.Fatalf("body %s", r.body)
	}
	wantStatus(t, do(t, "GET", base+"/v1/projects", "sbp_"+strings.Repeat("0", 40), nil), 401)
	r = do(t, "GET", base+"/v1/organizations", s.PersonalToken(), nil)
	wantStatus(t, r, 200)
	var orgs []Organization
	r.json(t, &orgs)
	if len(orgs) != 1 || orgs[0].ID == "" || orgs[0].ID != orgs[0].Slug || orgs[0].Name != "Sandbox" {
		t.Fatalf("orgs %+v", orgs)
	}
	if !strings.HasPrefix(s.PersonalToken(), "sbp_") || len(s.PersonalToken()) != 44 {
		t.Fatalf("personal token format: %d chars", len(s.PersonalToken()))
	}
	if !s.RevokeToken(s.PersonalToken()) {
		t.Fatal("revoke failed")
	}
	wantStatus(t, do(t, "GET", base+"/v1/organizations", s.PersonalToken(), nil), 401)
	if got := s.Calls("GET /v1/organizations"); got != 3 {
		t.Fatalf("calls %d, want 3 (refused ones count)", got)
	}
}

// oauthFlow walks the consent page over HTTP and returns the redirect.
func authorize(t *testing.T, base string, q url.Values, decision string) *url.URL {
	t.Helper()
	r := do(t, "GET", base+"/v1/oauth/authorize?"+q.Encode(), "", nil)
	if r.status == http.StatusSeeOther {
		loc, _ := url.Parse(r.header.Get("Location"))
		return loc
	}
	wantStatus(t, r, 200)
	page := string(r.body)
	for _, id := range []string{`id="approve"`, `id="deny"`, "local sandbox"} {
		if !strings.Contains(page, id) {
			t.Fatalf("consent page lacks %s:\n%s", id, page)
		}
	}
	form := url.Values{"request": {oauthsrv.ParseRequestID(page)}, "decision": {decision}}
	res, err := noRedirect.PostForm(base+"/v1/oauth/authorize", form)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("decision status %d", res.StatusCode)
	}
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func authQuery(clientID, redirect, state, verifier string) url.Values {
	return url.Values{
		"client_id": {clientID}, "redirect_uri": {redirect}, "response_type": {"code"},
		"state": {state}, "code_challenge": {oauthsrv.S256(verifier)}, "code_challenge_method": {"S256"},
	}
}

func tokenRequest(t *testing.T, base, clientID, secret string, form url.Values) resp {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/v1/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if clientID != "" {
		req.SetBasicAuth(clientID, secret)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, res.Header, b}
}

func oauthErr(t *testing.T, r resp, status int, code string) {
	t.Helper()
	wantStatus(t, r, status)
	var e map[string]string
	r.json(t, &e)
	if e["error"] != code {
		t.Fatalf("error %q, want %q (%s)", e["error"], code, r.body)
	}
}

const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-and-more"

func TestOAuthCodeFlowWithXOAuth2(t *testing.T) {
	clk := newClock()
	s, base := start(t, Options{Now: clk.Now, AccessTokenTTL: time.Hour})
	id, secret := s.OAuthClient()
	// Any loopback port matches the registered http://127.0.0.1/callback.
	redirect := "http://127.0.0.1:53682/callback"
	loc := authorize(t, base, authQuery(id, redirect, "st-123", verifier), "approve")
	if loc.Host != "127.0.0.1:53682" || loc.Path != "/callback" || loc.Query().Get("state") != "st-123" || loc.Query().Get("code") == "" {
		t.Fatalf("redirect %s", loc)
	}
	cfg := &oauth2.Config{
		ClientID: id, ClientSecret: secret, RedirectURL: redirect,
		Endpoint: oauth2.Endpoint{AuthURL: s.AuthorizeURL(), TokenURL: s.TokenURL(), AuthStyle: oauth2.AuthStyleInHeader},
	}
	ctx := context.Background()
	tok, err := cfg.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken == "" || tok.TokenType != "Bearer" || tok.Expiry.IsZero() {
		t.Fatalf("token %+v", tok)
	}
	wantStatus(t, do(t, "GET", base+"/v1/projects", tok.AccessToken, nil), 200)

	// The code is single-use; replaying it also revokes what it issued.
	_, err = cfg.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Fatalf("reuse: %v", err)
	}
	wantStatus(t, do(t, "GET", base+"/v1/projects", tok.AccessToken, nil), 401)

	// A fresh sign-in; then the access token expires on the clock.
	loc = authorize(t, base, authQuery(id, redirect, "st-2", verifier), "approve")
	tok, err = cfg.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour + time.Second)
	wantStatus(t, do(t, "GET", base+"/v1/projects", tok.AccessToken, nil), 401)

	// Refresh rotates: a new pair, and the old refresh token is dead.
	r := tokenRequest(t, base, id, secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}})
	wantStatus(t, r, 200)
	var fresh struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		ExpiresIn    int    `json:"expires_in"`
		TokenType    string `json:"token_type"`
	}
	r.json(t, &fresh)
	if fresh.RefreshToken == tok.RefreshToken || fresh.ExpiresIn != 3600 || fresh.TokenType != "Bearer" {
		t.Fatalf("refresh %+v", fresh)
	}
	wantStatus(t, do(t, "GET", base+"/v1/projects", fresh.AccessToken, nil), 200)
	oauthErr(t, tokenRequest(t, base, id, secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}), 400, "invalid_grant")
	// Reusing a rotated refresh token revokes the whole family.
	wantStatus(t, do(t, "GET", base+"/v1/projects", fresh.AccessToken, nil), 401)
	if st := s.OAuthStats(); st.Codes != 2 || st.Tokens != 3 {
		t.Fatalf("stats %+v", st)
	}
}

func TestOAuthRefusals(t *testing.T) {
	clk := newClock()
	s, base := start(t, Options{Now: clk.Now})
	id, secret := s.OAuthClient()
	redirect := "http://127.0.0.1:40000/callback"

	// Unknown client, foreign or non-loopback redirect: an error page, no redirect.
	for _, q := range []url.Values{
		authQuery("nope", redirect, "s", verifier),
		authQuery(id, "http://127.0.0.1:40000/other", "s", verifier),
		authQuery(id, "http://evil.example:40000/callback", "s", verifier),
		authQuery(id, "", "s", verifier),
	} {
		r := do(t, "GET", base+"/v1/oauth/authorize?"+q.Encode(), "", nil)
		wantStatus(t, r, 400)
		if r.header.Get("Location") != "" {
			t.Fatalf("redirected for %v", q)
		}
	}
	// PKCE is required, S256 only: plain and missing are refused via the redirect.
	for _, mutate := range []func(url.Values){
		func(q url.Values) { q.Set("code_challenge_method", "plain"); q.Set("code_challenge", verifier) },
		func(q url.Values) { q.Del("code_challenge_method") },
		func(q url.Values) { q.Del("code_challenge") },
		func(q url.Values) { q.Set("code_challenge", "short") },
		func(q url.Values) { q.Set("response_type", "token") },
	} {
		q := authQuery(id, redirect, "st-x", verifier)
		mutate(q)
		r := do(t, "GET", base+"/v1/oauth/authorize?"+q.Encode(), "", nil)
		wantStatus(t, r, http.StatusSeeOther)
		loc, _ := url.Parse(r.header.Get("Location"))
		if e := loc.Query().Get("error"); (e != "invalid_request" && e != "unsupported_response_type") || loc.Query().Get("state") != "st-x" {
			t.Fatalf("redirect %s", loc)
		}
	}
	// Deny: access_denied with the state echoed.
	loc := authorize(t, base, authQuery(id, redirect, "st-deny", verifier), "deny")
	if loc.Query().Get("error") != "access_denied" || loc.Query().Get("state") != "st-deny" || loc.Query().Get("code") != "" {
		t.Fatalf("deny redirect %s", loc)
	}

	code := func() string {
		return authorize(t, base, authQuery(id, redirect, "s", verifier), "approve").Query().Get("code")
	}
	form := func(c string) url.Values {
		return url.Values{"grant_type": {"authorization_code"}, "code": {c}, "redirect_uri": {redirect}, "code_verifier": {verifier}}
	}
	// Wrong verifier: invalid_grant, and the code is burnt.
	c := code()
	bad := form(c)
	bad.Set("code_verifier", strings.Repeat("x", 50))
	oauthErr(t, tokenRequest(t, base, id, secret, bad), 400, "invalid_grant")
	oauthErr(t, tokenRequest(t, base, id, secret, form(c)), 400, "invalid_grant")
	// Client authentication: missing, wrong secret, both methods at once.
	c = code()
	oauthErr(t, tokenRequest(t, base, "", "", form(c)), 401, "invalid_client")
	r := tokenRequest(t, base, id, "wrong", form(c))
	oauthErr(t, r, 401, "invalid_client")
	if r.header.Get("WWW-Authenticate") == "" {
		t.Fatal("no WWW-Authenticate on a Basic failure")
	}
	both := form(c)
	both.Set("client_secret", secret)
	oauthErr(t, tokenRequest(t, base, id, secret, both), 400, "invalid_request")
	// A different redirect_uri than authorized (even another port).
	other := form(c)
	other.Set("redirect_uri", "http://127.0.0.1:40001/callback")
	oauthErr(t, tokenRequest(t, base, id, secret, other), 400, "invalid_grant")
	// Codes are short-lived.
	c = code()
	clk.Advance(11 * time.Minute)
	oauthErr(t, tokenRequest(t, base, id, secret, form(c)), 400, "invalid_grant")
	// client_secret_post works too (Supabase accepts both in practice).
	c = code()
	post := form(c)
	post.Set("client_id", id)
	post.Set("client_secret", secret)
	wantStatus(t, tokenRequest(t, base, "", "", post), 200)
	oauthErr(t, tokenRequest(t, base, id, secret, url.Values{"grant_type": {"password"}}), 400, "unsupported_grant_type")
	// A stale or forged consent form is refused.
	res, err := noRedirect.PostForm(base+"/v1/oauth/authorize", url.Values{"request": {"forged"}, "decision": {"approve"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 400 {
		t.Fatalf("forged decision: %d", res.StatusCode)
	}
	s.SetConsent(ConsentAutoApprove)
	loc = authorize(t, base, authQuery(id, redirect, "auto", verifier), "")
	if loc.Query().Get("code") == "" || loc.Query().Get("state") != "auto" {
		t.Fatalf("auto-approve %s", loc)
	}
}

func createBodyOK(org string) map[string]any {
	return map[string]any{"name": "stack-demo", "organization_slug": org, "db_pass": "s3cret-pass", "region": "eu-west-1", "plan": "free"}
}

func TestCreateProjectValidation(t *testing.T) {
	s, base := start(t, Options{})
	tok, org := s.PersonalToken(), s.Organizations()[0].ID
	cases := map[string]map[string]any{
		"no name":       {"organization_slug": org, "db_pass": "x"},
		"dotted name":   {"name": "a.b", "organization_slug": org, "db_pass": "x"},
		"no db_pass":    {"name": "a", "organization_slug": org},
		"no org":        {"name": "a", "db_pass": "x"},
		"bad region":    {"name": "a", "organization_slug": org, "db_pass": "x", "region": "mars-1"},
		"bad plan":      {"name": "a", "organization_slug": org, "db_pass": "x", "plan": "enterprise"},
		"unknown field": {"name": "a", "organization_slug": org, "db_pass": "x", "colour": "red"},
	}
	for name, body := range cases {
		r := do(t, "POST", base+"/v1/projects", tok, body)
		if r.status != 400 {
			t.Errorf("%s: status %d (%s)", name, r.status, r.body)
		}
	}
	wantStatus(t, do(t, "POST", base+"/v1/projects", tok, map[string]any{"name": "a", "organization_slug": "someone-else", "db_pass": "x"}), 403)
	if s.Created() != 0 {
		t.Fatalf("created %d after refusals", s.Created())
	}
	r := do(t, "POST", base+"/v1/projects", tok, createBodyOK(org))
	wantStatus(t, r, 201)
	var p map[string]any
	r.json(t, &p)
	if p["status"] != "COMING_UP" || p["region"] != "eu-west-1" || p["organization_slug"] != org || !validRef(p["ref"].(string)) || p["id"] != p["ref"] {
		t.Fatalf("create response %v", p)
	}
	// The deprecated organization_id is still accepted; a same-named twin is refused.
	twin := createBodyOK("")
	delete(twin, "organization_slug")
	twin["organization_id"] = org
	wantStatus(t, do(t, "POST", base+"/v1/projects", tok, twin), 409)
	got, ok := s.Project(p["ref"].(string))
	if !ok || got.DBPass != "s3cret-pass" || got.Name != "stack-demo" || s.Created() != 1 {
		t.Fatalf("introspection %+v", got)
	}
}

func TestProjectLifecycle(t *testing.T) {
	clk := newClock()
	s, base := start(t, Options{Now: clk.Now, ReadyAfter: 90 * time.Second})
	tok, org := s.PersonalToken(), s.Organizations()[0].ID
	r := do(t, "POST", base+"/v1/projects", tok, createBodyOK(org))
	wantStatus(t, r, 201)
	var created map[string]any
	r.json(t, &created)
	ref := created["ref"].(string)

	status := func() string {
		r := do(t, "GET", base+"/v1/projects/"+ref, tok, nil)
		wantStatus(t, r, 200)
		var p map[string]any
		r.json(t, &p)
		if db, _ := p["database"].(map[string]any); db["host"] != "db."+ref+".supabase.co" {
			t.Fatalf("database %v", p["database"])
		}
		return p["status"].(string)
	}
	// The database password cannot change before the project is up.
	pw := base + "/v1/projects/" + ref + "/database/password"
	wantStatus(t, do(t, "PATCH", pw, tok, map[string]any{"password": "new-password-1"}), 400)
	// Poll on the fake clock: COMING_UP until 90s have passed (bounded loop).
	polls := 0
	for ; polls < 20 && status() == "COMING_UP"; polls++ {
		clk.Advance(10 * time.Second)
	}
	if polls != 9 || status() != "ACTIVE_HEALTHY" {
		t.Fatalf("ready after %d polls, status %s", polls, status())
	}
	wantStatus(t, do(t, "PATCH", pw, "", map[string]any{"password": "new-password-1"}), 401)
	wantStatus(t, do(t, "PATCH", pw, tok, map[string]any{"password": ""}), 400)
	wantStatus(t, do(t, "PATCH", pw, tok, map[string]any{"password": "x", "role": "postgres"}), 400)
	wantStatus(t, do(t, "PATCH", base+"/v1/projects/"+strings.Repeat("z", 20)+"/database/password", tok, map[string]any{"password": "x"}), 404)
	if p, _ := s.Project(ref); p.PasswordResets != 0 || p.DBPass == "new-password-1" {
		t.Fatal("a refused PATCH changed the password")
	}
	r = do(t, "PATCH", pw, tok, map[string]any{"password": "new-password-1"})
	wantStatus(t, r, 200)
	var msg map[string]any
	r.json(t, &msg)
	if p, _ := s.Project(ref); p.PasswordResets != 1 || p.DBPass != "new-password-1" || msg["message"] == "" {
		t.Fatalf("password not updated: %v", msg)
	}
	s.SetStatus(ref, "INIT_FAILED")
	if status() != "INIT_FAILED" {
		t.Fatal("forced status not shown")
	}
	s.SetStatus(ref, "")

	var list []map[string]any
	r = do(t, "GET", base+"/v1/projects", tok, nil)
	r.json(t, &list)
	if len(list) != 1 || list[0]["ref"] != ref {
		t.Fatalf("list %v", list)
	}
	wantStatus(t, do(t, "GET", base+"/v1/projects/short", tok, nil), 400)
	wantStatus(t, do(t, "GET", base+"/v1/projects/"+strings.Repeat("z", 20), tok, nil), 404)

	r = do(t, "DELETE", base+"/v1/projects/"+ref, tok, nil)
	wantStatus(t, r, 200)
	var del map[string]any
	r.json(t, &del)
	if del["ref"] != ref || del["name"] != "stack-demo" {
		t.Fatalf("delete %v", del)
	}
	wantStatus(t, do(t, "GET", base+"/v1/projects/"+ref, tok, nil), 404)
	if s.ProjectExists(ref) || len(s.Projects()) != 0 || s.Created() != 1 {
		t.Fatal("project still visible after delete")
	}

	// Readiness that never arrives.
	s.NeverReady(true)
	r = do(t, "POST", base+"/v1/projects", tok, createBodyOK(org))
	r.json(t, &created)
	clk.Advance(24 * time.Hour)
	if p, _ := s.Project(created["ref"].(string)); p.Status != "COMING_UP" {
		t.Fatalf("never-ready project is %s", p.Status)
	}
}

func TestAPIKeys(t *testing.T) {
	s, base := start(t, Options{})
	tok := s.PersonalToken()
	ref := s.AddProject("existing", "")
	r := do(t, "GET", base+"/v1/projects/"+ref+"/api-keys", tok, nil)
	wantStatus(t, r, 200)
	var keys []map[string]any
	r.json(t, &keys)
	byType := map[string]map[string]any{}
	for _, k := range keys {
		byType[k["type"].(string)+"/"+k["name"].(string)] = k
	}
	p, _ := s.Project(ref)
	full := map[string]string{}
	for _, k := range p.Keys {
		full[k.Type+"/"+k.Name] = k.Value
	}
	if len(keys) != 4 || byType["legacy/anon"] == nil || byType["legacy/service_role"] == nil || byType["publishable/default"] == nil || byType["secret/default"] == nil {
		t.Fatalf("keys %v", keys)
	}
	// Legacy keys are JWTs naming the project and role.
	for _, role := range []string{"anon", "service_role"} {
		parts := strings.Split(byType["legacy/"+role]["api_key"].(string), ".")
		if len(parts) != 3 {
			t.Fatalf("%s is not a JWT", role)
		}
		claims, _ := base64.RawURLEncoding.DecodeString(parts[1])
		var c map[string]any
		_ = json.Unmarshal(claims, &c)
		if c["role"] != role || c["ref"] != ref || c["iss"] != "supabase" {
			t.Fatalf("%s claims %v", role, c)
		}
	}
	if v := byType["publishable/default"]["api_key"].(string); v != full["publishable/default"] || !strings.HasPrefix(v, "sb_publishable_") {
		t.Fatalf("publishable %q", v)
	}
	// The secret key is masked unless reveal=true.
	masked := byType["secret/default"]["api_key"].(string)
	if masked == full["secret/default"] || !strings.HasPrefix(masked, "sb_secret_") || !strings.Contains(masked, "•") {
		t.Fatalf("secret key not masked: %q", masked)
	}
	r = do(t, "GET", base+"/v1/projects/"+ref+"/api-keys?reveal=true", tok, nil)
	r.json(t, &keys)
	for _, k := range keys {
		if k["type"] == "secret" && k["api_key"] != full["secret/default"] {
			t.Fatal("reveal=true did not reveal the secret key")
		}
	}
	wantStatus(t, do(t, "GET", base+"/v1/projects/"+ref+"/api-keys?reveal=yes", tok, nil), 400)
	s.RevokeAPIKey(ref, "service_role")
	r = do(t, "GET", base+"/v1/projects/"+ref+"/api-keys", tok, nil)
	r.json(t, &keys)
	if len(keys) != 3 {
		t.Fatalf("revoked key still listed: %d keys", len(keys))
	}
}

func TestDataAPI(t *testing.T) {
	clk := newClock()
	s, base := start(t, Options{Now: clk.Now, ReadyAfter: time.Minute})
	tok, org := s.PersonalToken(), s.Organizations()[0].ID
	r := do(t, "POST", base+"/v1/projects", tok, createBodyOK(org))
	var created map[string]any
	r.json(t, &created)
	ref := created["ref"].(string)
	p, _ := s.Project(ref)
	key := map[string]string{}
	for _, k := range p.Keys {
		key[k.Name+"/"+k.Type] = k.Value
	}
	anon := key["anon/legacy"]
	rest := s.ProjectURL(ref) + "/rest/v1/todos?select=*"
	// Not ready yet.
	wantStatus(t, do(t, "GET", rest, "", nil, "apikey", anon), 503)
	clk.Advance(time.Minute)

	// Headers as supabase-js v2 sends them: apikey + Authorization: Bearer <key>.
	r = do(t, "GET", rest, anon, nil, "apikey", anon, "Accept-Profile", "public", "X-Client-Info", "supabase-js-node/2.0.0")
	wantStatus(t, r, 200)
	var rows []map[string]any
	r.json(t, &rows)
	if len(rows) != 3 || rows[0]["title"] == nil || r.header.Get("Content-Range") != "0-2/*" {
		t.Fatalf("rows %v range %q", rows, r.header.Get("Content-Range"))
	}
	// Every key type of the project works; select, filters, order, limit.
	for _, k := range key {
		wantStatus(t, do(t, "GET", rest, "", nil, "apikey", k), 200)
	}
	r = do(t, "GET", s.ProjectURL(ref)+"/rest/v1/todos?select=id,done&done=is.false&order=id.desc&limit=5", "", nil, "apikey", anon)
	wantStatus(t, r, 200)
	rows = nil // Unmarshal would merge into the old maps
	r.json(t, &rows)
	if len(rows) != 1 || rows[0]["title"] != nil || rows[0]["id"] != float64(3) {
		t.Fatalf("filtered rows %v", rows)
	}
	wantStatus(t, do(t, "GET", s.ProjectURL(ref)+"/rest/v1/todos?apikey="+url.QueryEscape(anon), "", nil), 200)

	var e map[string]any
	r = do(t, "GET", rest, "", nil)
	wantStatus(t, r, 401)
	r.json(t, &e)
	if e["message"] != "No API key found in request" {
		t.Fatalf("no key: %v", e)
	}
	r = do(t, "GET", rest, "", nil, "apikey", "eyJ.not.a-key")
	wantStatus(t, r, 401)
	r.json(t, &e)
	if e["message"] != "Invalid API key" {
		t.Fatalf("bad key: %v", e)
	}
	wantStatus(t, do(t, "GET", rest, "eyJforged", nil, "apikey", anon), 401)
	r = do(t, "GET", s.ProjectURL(ref)+"/rest/v1/nope", "", nil, "apikey", anon)
	wantStatus(t, r, 404)
	r.json(t, &e)
	if e["code"] != "PGRST205" {
		t.Fatalf("unknown table %v", e)
	}
	wantStatus(t, do(t, "GET", s.ProjectURL(ref)+"/rest/v1/todos?select=colour", "", nil, "apikey", anon), 400)
	wantStatus(t, do(t, "GET", s.ProjectURL(ref)+"/auth/v1/health", "", nil, "apikey", anon), 200)
	wantStatus(t, do(t, "GET", s.ProjectURL(ref)+"/auth/v1/settings", "", nil, "apikey", anon), 200)
	wantStatus(t, do(t, "GET", s.ProjectURL(ref)+"/rest/v1/", "", nil, "apikey", anon), 200)

	// Revocation: the key stops working, the others do not.
	s.RevokeAPIKey(ref, "anon")
	wantStatus(t, do(t, "GET", rest, "", nil, "apikey", anon), 401)
	wantStatus(t, do(t, "GET", rest, "", nil, "apikey", key["service_role/legacy"]), 200)
	s.RevokeAPIKey(ref, "default") // the publishable key (first "default")
	wantStatus(t, do(t, "GET", rest, "", nil, "apikey", key["default/publishable"]), 401)
	wantStatus(t, do(t, "GET", s.ProjectURL(strings.Repeat("q", 20))+"/rest/v1/todos", "", nil, "apikey", anon), 404)
}

func TestFaults(t *testing.T) {
	s, base := start(t, Options{})
	tok, org := s.PersonalToken(), s.Organizations()[0].ID
	s.AddFault(Fault{Route: "POST /v1/projects", Nth: 2, Status: 500})
	s.Throttle("GET /v1/organizations", 1, 2, 3*time.Second)
	s.AddFault(Fault{Route: "GET /v1/projects/{ref}/api-keys", Times: -1, Status: 403, Message: "Forbidden resource"})

	wantStatus(t, do(t, "POST", base+"/v1/projects", tok, createBodyOK(org)), 201)
	second := createBodyOK(org)
	second["name"] = "other"
	r := do(t, "POST", base+"/v1/projects", tok, second)
	wantStatus(t, r, 500)
	if s.Created() != 1 {
		t.Fatalf("a faulted create made a project: %d", s.Created())
	}
	wantStatus(t, do(t, "POST", base+"/v1/projects", tok, second), 201)

	for i := 0; i < 2; i++ {
		r = do(t, "GET", base+"/v1/organizations", tok, nil)
		wantStatus(t, r, 429)
		if r.header.Get("Retry-After") != "3" {
			t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
		}
	}
	wantStatus(t, do(t, "GET", base+"/v1/organizations", tok, nil), 200)
	ref := s.Projects()[0].Ref
	for i := 0; i < 3; i++ {
		r = do(t, "GET", base+"/v1/projects/"+ref+"/api-keys", tok, nil)
		wantStatus(t, r, 403)
	}
	var e map[string]string
	r.json(t, &e)
	if e["message"] != "Forbidden resource" {
		t.Fatalf("fault body %v", e)
	}
	// An unauthenticated call is refused before faults apply.
	wantStatus(t, do(t, "GET", base+"/v1/projects/"+ref+"/api-keys", "", nil), 401)
	s.ClearFaults()
	wantStatus(t, do(t, "GET", base+"/v1/projects/"+ref+"/api-keys", tok, nil), 200)
	if got := s.Calls("POST /v1/projects"); got != 3 {
		t.Fatalf("calls %d", got)
	}
}

func TestStartOnRefusesNonLoopback(t *testing.T) {
	s := New(Options{})
	if _, err := s.StartOn("0.0.0.0:0"); err == nil {
		t.Fatal("listening on all interfaces was allowed")
	}
	u, err := s.StartOn("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !strings.HasPrefix(u, "http://127.0.0.1:") {
		t.Fatalf("url %s", u)
	}
}

// A Status 0 fault closes the connection with no answer, and the call is
// not carried out.
func TestLostConnectionFault(t *testing.T) {
	s, base := start(t, Options{})
	tok, org := s.PersonalToken(), s.Organizations()[0].ID
	s.AddFault(Fault{Route: "POST /v1/projects", Status: 0})
	b, _ := json.Marshal(createBodyOK(org))
	req, _ := http.NewRequest("POST", base+"/v1/projects", strings.NewReader(string(b)))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	if res, err := noRedirect.Do(req); err == nil {
		res.Body.Close()
		t.Fatalf("an answer (HTTP %d) arrived on a closed connection", res.StatusCode)
	}
	if s.Created() != 0 || s.Calls("POST /v1/projects") != 1 {
		t.Fatalf("created %d, calls %d", s.Created(), s.Calls("POST /v1/projects"))
	}
	wantStatus(t, do(t, "POST", base+"/v1/projects", tok, createBodyOK(org)), 201)
}
