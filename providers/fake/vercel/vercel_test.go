package vercelfake

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
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

func do(t *testing.T, method, u, token string, body any) resp {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, u, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, res.Header, b}
}

func wantStatus(t *testing.T, r resp, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
}

func errCode(t *testing.T, r resp) map[string]any {
	t.Helper()
	var e struct {
		Error map[string]any `json:"error"`
	}
	r.json(t, &e)
	return e.Error
}

func start(t *testing.T, opts Options) (*Server, string) {
	t.Helper()
	s := New(opts)
	base := s.Start()
	t.Cleanup(s.Close)
	return s, base
}

func TestAuthRefusedLikeVercel(t *testing.T) {
	s, base := start(t, Options{})
	r := do(t, "GET", base+"/v2/user", "", nil)
	wantStatus(t, r, 403)
	if e := errCode(t, r); e["code"] != "forbidden" || e["missingToken"] != true {
		t.Fatalf("missing token: %v", e)
	}
	r = do(t, "GET", base+"/v2/user", "vcp_wrong", nil)
	wantStatus(t, r, 403)
	if e := errCode(t, r); e["invalidToken"] != true || e["message"] != "Not authorized" {
		t.Fatalf("bad token: %v", e)
	}
	r = do(t, "GET", base+"/v2/user", s.Token(), nil)
	wantStatus(t, r, 200)
	var u struct {
		User map[string]any `json:"user"`
	}
	r.json(t, &u)
	if u.User["id"] != s.User().ID || u.User["username"] != "sandbox-user" || u.User["defaultTeamId"] != s.Teams()[0].ID {
		t.Fatalf("user %v", u.User)
	}
	s.RevokeToken(s.Token())
	wantStatus(t, do(t, "GET", base+"/v2/user", s.Token(), nil), 403)
}

func TestProjectsAndTeamScope(t *testing.T) {
	s, base := start(t, Options{})
	tok, team := s.Token(), s.Teams()[0]
	for _, name := range []string{"", "UPPER", "a---b", strings.Repeat("a", 101), "sp ace"} {
		wantStatus(t, do(t, "POST", base+"/v11/projects", tok, map[string]any{"name": name}), 400)
	}
	r := do(t, "POST", base+"/v11/projects", tok, map[string]any{"name": "app", "colour": "red"})
	wantStatus(t, r, 400)
	if e := errCode(t, r); !strings.Contains(e["message"].(string), "additional property colour") {
		t.Fatalf("unknown field: %v", e)
	}
	r = do(t, "POST", base+"/v11/projects?teamId="+team.ID, tok, map[string]any{"name": "stack-app", "framework": nil})
	wantStatus(t, r, 200)
	var p map[string]any
	r.json(t, &p)
	id := p["id"].(string)
	if !strings.HasPrefix(id, "prj_") || p["accountId"] != team.ID || p["name"] != "stack-app" {
		t.Fatalf("project %v", p)
	}
	wantStatus(t, do(t, "POST", base+"/v11/projects?teamId="+team.ID, tok, map[string]any{"name": "stack-app"}), 409)
	// The same name is free in the personal scope.
	wantStatus(t, do(t, "POST", base+"/v11/projects", tok, map[string]any{"name": "stack-app"}), 200)
	// By id or name, only within its scope.
	wantStatus(t, do(t, "GET", base+"/v9/projects/"+id+"?teamId="+team.ID, tok, nil), 200)
	wantStatus(t, do(t, "GET", base+"/v9/projects/stack-app?slug="+team.Slug, tok, nil), 200)
	wantStatus(t, do(t, "GET", base+"/v9/projects/"+id, tok, nil), 404)
	wantStatus(t, do(t, "GET", base+"/v9/projects/"+id+"?teamId=team_notmine", tok, nil), 403)
	if s.Created() != 2 || len(s.Projects()) != 2 {
		t.Fatalf("created %d", s.Created())
	}
	r = do(t, "DELETE", base+"/v9/projects/"+id+"?teamId="+team.ID, tok, nil)
	wantStatus(t, r, 204)
	wantStatus(t, do(t, "GET", base+"/v9/projects/"+id+"?teamId="+team.ID, tok, nil), 404)
	if s.ProjectExists(id) {
		t.Fatal("deleted project still exists")
	}
}

func TestEnvUpsert(t *testing.T) {
	s, base := start(t, Options{})
	tok := s.Token()
	r := do(t, "POST", base+"/v11/projects", tok, map[string]any{"name": "env-app"})
	var p map[string]any
	r.json(t, &p)
	id := p["id"].(string)
	envURL := base + "/v10/projects/" + id + "/env"

	bad := []map[string]any{
		{"value": "v", "type": "encrypted", "target": []string{"production"}},
		{"key": "1BAD", "value": "v", "type": "encrypted", "target": []string{"production"}},
		{"key": "K", "type": "encrypted", "target": []string{"production"}},
		{"key": "K", "value": "v", "target": []string{"production"}},
		{"key": "K", "value": "v", "type": "secret", "target": []string{"production"}},
		{"key": "K", "value": "v", "type": "encrypted"},
		{"key": "K", "value": "v", "type": "encrypted", "target": []string{"staging"}},
		{"key": "K", "value": "v", "type": "sensitive", "target": []string{"development"}},
		{"key": "K", "value": "v", "type": "plain", "target": []string{"production"}, "gitBranch": "main"},
		{"key": "K", "value": "v", "type": "plain", "target": []string{"production"}, "extra": 1},
	}
	for _, b := range bad {
		if r := do(t, "POST", envURL, tok, b); r.status != 400 {
			t.Errorf("%v: status %d", b, r.status)
		}
	}
	one := map[string]any{"key": "SUPABASE_URL", "value": "https://first.example", "type": "encrypted", "target": []string{"production", "preview"}}
	r = do(t, "POST", envURL, tok, one)
	wantStatus(t, r, 201)
	var created struct {
		Created map[string]any   `json:"created"`
		Failed  []map[string]any `json:"failed"`
	}
	r.json(t, &created)
	if created.Created["key"] != "SUPABASE_URL" || created.Created["value"] == "https://first.example" || len(created.Failed) != 0 {
		t.Fatalf("created %+v (an encrypted value must not echo)", created)
	}
	// Without upsert: ENV_ALREADY_EXISTS naming the existing variable.
	one["value"] = "https://second.example"
	one["target"] = []string{"preview"}
	r = do(t, "POST", envURL, tok, one)
	wantStatus(t, r, 400)
	e := errCode(t, r)
	if e["code"] != "ENV_ALREADY_EXISTS" || e["envVarId"] != created.Created["id"] {
		t.Fatalf("conflict %v", e)
	}
	if v, _ := s.EnvValue(id, "SUPABASE_URL", "preview"); v != "https://first.example" {
		t.Fatal("a refused create changed the value")
	}
	// upsert=true updates in place: one variable, new value and targets.
	wantStatus(t, do(t, "POST", envURL+"?upsert=true", tok, one), 201)
	envs := s.EnvVars(id)
	if len(envs) != 1 || envs[0].Value != "https://second.example" || len(envs[0].Target) != 1 {
		t.Fatalf("after upsert %+v", envs)
	}
	if _, ok := s.EnvValue(id, "SUPABASE_URL", "production"); ok {
		t.Fatal("upsert kept the old target")
	}
	// An array: per-item results, partial failure reported in failed[].
	batch := []map[string]any{
		{"key": "SUPABASE_URL", "value": "dup", "type": "plain", "target": []string{"preview"}},
		{"key": "SUPABASE_ANON_KEY", "value": "anon-real-value", "type": "sensitive", "target": []string{"production", "preview"}},
		{"key": "DEBUG", "value": "1", "type": "plain", "target": []string{"development"}},
	}
	r = do(t, "POST", envURL, tok, batch)
	wantStatus(t, r, 201)
	var many struct {
		Created []map[string]any `json:"created"`
		Failed  []struct {
			Error map[string]any `json:"error"`
		} `json:"failed"`
	}
	r.json(t, &many)
	if len(many.Created) != 2 || len(many.Failed) != 1 || many.Failed[0].Error["key"] != "SUPABASE_URL" {
		t.Fatalf("batch %s", r.body)
	}
	if v, ok := s.EnvValue("env-app", "SUPABASE_ANON_KEY", "production"); !ok || v != "anon-real-value" {
		t.Fatal("received value not recorded")
	}
	// Listing hides sensitive and encrypted plaintexts; shows plain ones.
	r = do(t, "GET", base+"/v9/projects/"+id+"/env", tok, nil)
	wantStatus(t, r, 200)
	var list struct {
		Envs       []map[string]any `json:"envs"`
		Pagination map[string]any   `json:"pagination"`
	}
	r.json(t, &list)
	if len(list.Envs) != 3 || list.Pagination["count"] != float64(3) {
		t.Fatalf("list %s", r.body)
	}
	if strings.Contains(string(r.body), "anon-real-value") || strings.Contains(string(r.body), "second.example") {
		t.Fatal("listing leaked a secret value")
	}
	r = do(t, "GET", base+"/v9/projects/"+id+"/env?target=development", tok, nil)
	list.Envs = nil
	r.json(t, &list)
	if len(list.Envs) != 1 || list.Envs[0]["value"] != "1" {
		t.Fatalf("development %s", r.body)
	}
	// Delete one; unknown project and other scope are 404.
	wantStatus(t, do(t, "DELETE", base+"/v9/projects/"+id+"/env/"+list.Envs[0]["id"].(string), tok, nil), 200)
	if len(s.EnvVars(id)) != 2 {
		t.Fatal("env not deleted")
	}
	wantStatus(t, do(t, "POST", base+"/v10/projects/prj_missing/env", tok, one), 404)
	wantStatus(t, do(t, "POST", envURL+"?teamId="+s.Teams()[0].ID, tok, one), 404)
}

const verifier = "M25iVXpKU3puUjFaYWg3T1NDTDQtcW1ROUY5YXlwalNoc0hhakxifmZHag"

func TestSignInWithVercel(t *testing.T) {
	clk := &clock{t: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)}
	s, base := start(t, Options{Now: clk.Now})
	id, secret := s.OAuthClient()
	redirect := "http://127.0.0.1:61111/callback"
	cfg := &oauth2.Config{
		ClientID: id, ClientSecret: secret, RedirectURL: redirect,
		Endpoint: oauth2.Endpoint{AuthURL: s.AuthorizeURL(), TokenURL: s.TokenURL(), AuthStyle: oauth2.AuthStyleInParams},
	}
	authURL := cfg.AuthCodeURL("state-v", oauth2.S256ChallengeOption(verifier))
	r := do(t, "GET", authURL, "", nil)
	wantStatus(t, r, 200)
	if !strings.Contains(string(r.body), `id="approve"`) {
		t.Fatal("no approve button")
	}
	res, err := noRedirect.PostForm(base+"/oauth/authorize", url.Values{"request": {oauthsrv.ParseRequestID(string(r.body))}, "decision": {"approve"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc, _ := url.Parse(res.Header.Get("Location"))
	if loc.Query().Get("state") != "state-v" {
		t.Fatalf("redirect %s", loc)
	}
	ctx := context.Background()
	// Wrong verifier is refused (and burns the code).
	if _, err := cfg.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier+"x")); err == nil {
		t.Fatal("wrong verifier accepted")
	}
	s.SetConsent(ConsentAutoApprove)
	r = do(t, "GET", authURL, "", nil)
	wantStatus(t, r, http.StatusSeeOther)
	loc, _ = url.Parse(r.header.Get("Location"))
	tok, err := cfg.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if idt, _ := tok.Extra("id_token").(string); strings.Count(idt, ".") != 2 || tok.Extra("scope") == nil {
		t.Fatalf("no id_token/scope: %v", tok.Extra("scope"))
	}
	wantStatus(t, do(t, "GET", base+"/v2/user", tok.AccessToken, nil), 200)
	_, err = cfg.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Fatalf("code reuse: %v", err)
	}
	// Plain PKCE is refused.
	q := url.Values{"client_id": {id}, "redirect_uri": {redirect}, "response_type": {"code"}, "state": {"p"},
		"code_challenge": {verifier}, "code_challenge_method": {"plain"}}
	r = do(t, "GET", base+"/oauth/authorize?"+q.Encode(), "", nil)
	loc, _ = url.Parse(r.header.Get("Location"))
	if loc.Query().Get("error") != "invalid_request" || loc.Query().Get("state") != "p" {
		t.Fatalf("plain PKCE: %s", loc)
	}
	// Access tokens last an hour; refresh rotates.
	s.SetConsent(ConsentAutoApprove)
	r = do(t, "GET", authURL, "", nil)
	loc, _ = url.Parse(r.header.Get("Location"))
	tok, err = cfg.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	wantStatus(t, do(t, "GET", base+"/v2/user", tok.AccessToken, nil), 403)
	fresh, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatal(err)
	}
	if fresh.RefreshToken == tok.RefreshToken {
		t.Fatal("refresh token not rotated")
	}
	wantStatus(t, do(t, "GET", base+"/v2/user", fresh.AccessToken, nil), 200)
}

func TestFaultsAndThrottle(t *testing.T) {
	clk := &clock{t: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)}
	s, base := start(t, Options{Now: clk.Now})
	tok := s.Token()
	s.Throttle("POST /v11/projects", 1, 1, 2*time.Second)
	s.AddFault(Fault{Route: "GET /v9/projects/{idOrName}", Nth: 2, Status: 500})
	r := do(t, "POST", base+"/v11/projects", tok, map[string]any{"name": "f"})
	wantStatus(t, r, 429)
	if r.header.Get("Retry-After") != "2" || r.header.Get("X-RateLimit-Remaining") != "0" || errCode(t, r)["code"] != "rate_limited" {
		t.Fatalf("throttle headers %v", r.header)
	}
	if s.Created() != 0 {
		t.Fatal("throttled create made a project")
	}
	wantStatus(t, do(t, "POST", base+"/v11/projects", tok, map[string]any{"name": "f"}), 200)
	wantStatus(t, do(t, "GET", base+"/v9/projects/f", tok, nil), 200)
	r = do(t, "GET", base+"/v9/projects/f", tok, nil)
	wantStatus(t, r, 500)
	if errCode(t, r)["code"] != "internal_server_error" {
		t.Fatalf("500 body %s", r.body)
	}
	wantStatus(t, do(t, "GET", base+"/v9/projects/f", tok, nil), 200)
	if s.Calls("GET /v9/projects/{idOrName}") != 3 || s.Calls("POST /v11/projects") != 2 {
		t.Fatal("call counts")
	}
}

// AddProject stands in for a create whose answer was lost: the API then
// refuses the name with 409, and Created counts it.
func TestAddProject(t *testing.T) {
	s := New(Options{})
	p, ok := s.AddProject("lost-answer")
	if !ok || !strings.HasPrefix(p.ID, "prj_") || p.AccountID != s.User().ID || s.Created() != 1 {
		t.Fatalf("AddProject = %+v, %v; created %d", p, ok, s.Created())
	}
	if _, ok := s.AddProject("lost-answer"); ok {
		t.Fatal("a second project of the same name")
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/v11/projects", strings.NewReader(`{"name":"lost-answer"}`))
	req.Header.Set("Authorization", "Bearer "+s.Token())
	req.Header.Set("Content-Type", "application/json")
	s.ServeHTTP(rec, req)
	if rec.Code != http.StatusConflict {
		t.Fatalf("create of the same name: %d %s", rec.Code, rec.Body)
	}
}

// An AfterHandler fault lets the call take effect and then fails its
// answer; Status 0 closes the connection with no answer, before or after
// the handler.
func TestLostAnswerFaults(t *testing.T) {
	s, base := start(t, Options{})
	tok := s.Token()
	s.AddFault(Fault{Route: "POST /v11/projects", Status: 500, AfterHandler: true})
	r := do(t, "POST", base+"/v11/projects", tok, map[string]any{"name": "made-then-500"})
	wantStatus(t, r, 500)
	if errCode(t, r)["code"] != "internal_server_error" || strings.Contains(string(r.body), "prj_") {
		t.Fatalf("the answer leaked the handler's: %s", r.body)
	}
	if !s.ProjectExists("made-then-500") || s.Created() != 1 {
		t.Fatal("the create did not take effect")
	}

	post := func(name string) error {
		req, _ := http.NewRequest("POST", base+"/v11/projects", strings.NewReader(`{"name":"`+name+`"}`))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
		}
		return err
	}
	s.AddFault(Fault{Route: "POST /v11/projects", AfterHandler: true})
	if err := post("made-then-dropped"); err == nil {
		t.Fatal("an answer arrived on a dropped connection")
	}
	if !s.ProjectExists("made-then-dropped") || s.Created() != 2 {
		t.Fatal("the create before the drop did not take effect")
	}
	s.AddFault(Fault{Route: "POST /v11/projects"})
	if err := post("dropped-first"); err == nil {
		t.Fatal("an answer arrived on a dropped connection")
	}
	if s.ProjectExists("dropped-first") || s.Created() != 2 {
		t.Fatal("a plain drop created a project")
	}
	if s.Calls("POST /v11/projects") != 3 {
		t.Fatalf("POST calls %d, want 3", s.Calls("POST /v11/projects"))
	}
}
