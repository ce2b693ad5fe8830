// Package supabasefake is a strict, offline stand-in for the parts of the
// Supabase platform that stack's Supabase provider uses:
//
//   - the OAuth 2 server of the Management API (GET /v1/oauth/authorize with
//     a consent page, POST /v1/oauth/token), PKCE S256 only, confidential
//     client authentication, single-use codes, refresh-token rotation;
//   - the Management API (/v1/organizations, /v1/projects,
//     /v1/projects/{ref}, /v1/projects/{ref}/api-keys) with Bearer auth on
//     every call (OAuth access tokens or personal access tokens sbp_…), the
//     documented project statuses, and project readiness that arrives after
//     a configurable delay;
//   - each project's own data API (PostgREST /rest/v1/ and the auth probe
//     /auth/v1/health, /auth/v1/settings), which on the real platform lives
//     at https://<ref>.supabase.co. That host cannot resolve offline, so the
//     fake serves it under a path prefix: SUPABASE_URL for a project is
//     ProjectURL(ref) = <base>/project/<ref>, which @supabase/supabase-js
//     accepts as-is (it appends /rest/v1/ and /auth/v1/ to the URL).
//
// Wire shapes, statuses and errors follow the public Management API
// reference; docs/providers.md ("Supabase Management API") lists every
// endpoint with its source and says where the fake is stricter.
//
// Tests drive it from Go: fault injection (AddFault, Throttle), readiness
// control (SetReadyAfter, NeverReady, SetStatus), revocation (RevokeToken,
// RevokeAPIKey) and introspection (Projects, Project, Created, Calls).
package supabasefake

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"phantomstack.dev/providers/fake/internal/faults"
	"phantomstack.dev/providers/fake/internal/loopback"
	"phantomstack.dev/providers/fake/internal/oauthsrv"
)

// Organization is a Supabase organization. On the real API an
// organization's id and slug are the same string.
type Organization struct {
	ID   string `json:"id"`
	Slug string `json:"slug"`
	Name string `json:"name"`
}

// Options configures a Server. The zero value is usable: one organization,
// one generated OAuth client and one generated personal access token.
type Options struct {
	// ClientID / ClientSecret register the OAuth app (generated when
	// empty; read them back with OAuthClient).
	ClientID, ClientSecret string
	// RedirectURIs are the app's registered callback URLs (default
	// "http://127.0.0.1/callback", which matches providers/oauth on any
	// port: loopback redirects may use any port, RFC 8252 §7.3).
	RedirectURIs []string
	// AccessTokenTTL is the lifetime of OAuth access tokens (default 24h,
	// the expires_in Supabase reports in practice).
	AccessTokenTTL time.Duration

	// PersonalTokens are accepted as Bearer tokens on the Management API,
	// like the sbp_… tokens in SUPABASE_ACCESS_TOKEN. When nil, one is
	// generated (see PersonalToken).
	PersonalTokens []string

	// Organizations the user belongs to (default: one, "Sandbox").
	Organizations []Organization

	// ReadyAfter is how long a new project stays COMING_UP before it is
	// ACTIVE_HEALTHY (0: the first GET after creation already sees
	// ACTIVE_HEALTHY; the create response always says COMING_UP).
	ReadyAfter time.Duration

	// Tables seeds every new project's data API: table name → rows. The
	// default is a "todos" table with three rows.
	Tables map[string][]map[string]any

	// Now is the clock (default time.Now); tests inject one to step over
	// ReadyAfter and token expiry without sleeping.
	Now func() time.Time

	// Logf, when set, gets one line per request (never a secret).
	Logf func(format string, args ...any)
}

// APIKey is an introspection copy of a project API key, value included.
type APIKey struct {
	ID, Name, Type, Value string
	Revoked               bool
}

// Project is an introspection copy of a project.
type Project struct {
	Ref, Name, OrganizationID, Region, Plan string
	Status                                  string
	CreatedAt                               time.Time
	// DBPass is the database password the client sent at creation or last
	// set with PATCH …/database/password (tests assert it arrived; never
	// print it).
	DBPass string
	// PasswordResets counts PATCH …/database/password calls that succeeded.
	PasswordResets int
	Keys           []APIKey
}

type project struct {
	ref, name, orgID, region, plan, dbPass string
	passwordResets                         int
	created                                time.Time
	num                                    int    // the numeric id DELETE answers with
	forced                                 string // status set by SetStatus, overrides readiness
	neverReady                             bool
	readyAfter                             time.Duration
	jwtSecret                              string
	keys                                   []*apiKey
	tables                                 map[string][]map[string]any
}

type apiKey struct {
	id, name, typ, value, prefix, description string
	created                                   time.Time
	revoked                                   bool
}

// Server is the fake. Its methods are safe for concurrent use.
type Server struct {
	opts  Options
	oauth *oauthsrv.Server
	mux   *http.ServeMux
	flt   faults.Registry

	mu         sync.Mutex
	pats       map[string]bool
	projects   map[string]*project
	order      []string // refs in creation order
	created    int
	neverReady bool
	readyAfter time.Duration

	ts *httptest.Server
}

// New builds a Server; call Start to listen, or mount it as an http.Handler.
func New(opts Options) *Server {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ClientID == "" {
		opts.ClientID = newUUID()
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = "sba_" + oauthsrv.Random(20)
	}
	if opts.RedirectURIs == nil {
		opts.RedirectURIs = []string{"http://127.0.0.1/callback"}
	}
	if opts.AccessTokenTTL == 0 {
		opts.AccessTokenTTL = 24 * time.Hour
	}
	if opts.PersonalTokens == nil {
		opts.PersonalTokens = []string{NewPersonalToken()}
	}
	if opts.Organizations == nil {
		slug := newRef()
		opts.Organizations = []Organization{{ID: slug, Slug: slug, Name: "Sandbox"}}
	}
	if opts.Tables == nil {
		opts.Tables = map[string][]map[string]any{"todos": {
			{"id": 1, "title": "Sign in to the sandbox", "done": true},
			{"id": 2, "title": "Create a project", "done": true},
			{"id": 3, "title": "Run the app through phantom", "done": false},
		}}
	}
	s := &Server{
		opts:       opts,
		pats:       map[string]bool{},
		projects:   map[string]*project{},
		readyAfter: opts.ReadyAfter,
	}
	for _, t := range opts.PersonalTokens {
		s.pats[t] = true
	}
	s.oauth = oauthsrv.New(oauthsrv.Config{
		Provider:      "Supabase",
		AuthorizePath: "/v1/oauth/authorize",
		Clients: []oauthsrv.Client{{
			ID: opts.ClientID, Secret: opts.ClientSecret, Name: "stack (local sandbox)",
			RedirectURIs: opts.RedirectURIs,
		}},
		Subject:   "sandbox-user",
		AccessTTL: opts.AccessTokenTTL,
		// Supabase documents HTTP Basic for the token exchange; apps posting
		// client_secret in the form are accepted in practice too.
		AllowBasic: true, AllowPost: true,
		AccessPrefix: "sbp_oauth_", RefreshPrefix: "sbr_",
		Now: opts.Now,
	})
	s.routes()
	return s
}

func (s *Server) routes() {
	m := http.NewServeMux()
	// OAuth (no Bearer auth).
	m.HandleFunc("GET /v1/oauth/authorize", s.open(s.oauth.Authorize))
	m.HandleFunc("POST /v1/oauth/authorize", s.open(s.oauth.Authorize))
	m.HandleFunc("POST /v1/oauth/token", s.open(s.oauth.Token))
	// Management API (Bearer auth).
	m.HandleFunc("GET /v1/organizations", s.mgmt(s.listOrganizations))
	m.HandleFunc("GET /v1/projects", s.mgmt(s.listProjects))
	m.HandleFunc("POST /v1/projects", s.mgmt(s.createProject))
	m.HandleFunc("GET /v1/projects/{ref}", s.mgmt(s.getProject))
	m.HandleFunc("DELETE /v1/projects/{ref}", s.mgmt(s.deleteProject))
	m.HandleFunc("GET /v1/projects/{ref}/api-keys", s.mgmt(s.listAPIKeys))
	m.HandleFunc("PATCH /v1/projects/{ref}/database/password", s.mgmt(s.updateDBPassword))
	// The project's own data API (apikey auth), under /project/<ref>.
	m.HandleFunc("GET /project/{ref}/rest/v1/{$}", s.data(s.restRoot))
	m.HandleFunc("GET /project/{ref}/rest/v1/{table}", s.data(s.restSelect))
	m.HandleFunc("HEAD /project/{ref}/rest/v1/{table}", s.data(s.restSelect))
	m.HandleFunc("GET /project/{ref}/auth/v1/health", s.data(s.authHealth))
	m.HandleFunc("GET /project/{ref}/auth/v1/settings", s.data(s.authSettings))
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeMessage(w, http.StatusNotFound, "Cannot "+r.Method+" "+r.URL.Path)
	})
	s.mux = m
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Start listens on 127.0.0.1 on a free port and returns the base URL
// (http://127.0.0.1:PORT). The Management API base is that URL (the real one
// is https://api.supabase.com). Close stops it.
func (s *Server) Start() string {
	s.ts = loopback.Start(s)
	return s.ts.URL
}

// StartOn listens on a fixed loopback address ("127.0.0.1:54321") and
// returns the base URL; non-loopback addresses are refused.
func (s *Server) StartOn(addr string) (string, error) {
	ts, err := loopback.StartOn(s, addr)
	if err != nil {
		return "", err
	}
	s.ts = ts
	return ts.URL, nil
}

// URL is the base URL after Start ("" before).
func (s *Server) URL() string {
	if s.ts == nil {
		return ""
	}
	return s.ts.URL
}

// Close stops the listener started by Start.
func (s *Server) Close() {
	if s.ts != nil {
		s.ts.Close()
	}
}

// AuthorizeURL and TokenURL are the OAuth endpoints (after Start).
func (s *Server) AuthorizeURL() string { return s.URL() + "/v1/oauth/authorize" }

// TokenURL is the OAuth token endpoint (after Start).
func (s *Server) TokenURL() string { return s.URL() + "/v1/oauth/token" }

// ProjectURL is a project's SUPABASE_URL in the sandbox (after Start):
// <base>/project/<ref>, standing in for https://<ref>.supabase.co.
func (s *Server) ProjectURL(ref string) string { return s.URL() + "/project/" + ref }

// OAuthClient returns the registered OAuth app's credentials.
func (s *Server) OAuthClient() (clientID, clientSecret string) {
	return s.opts.ClientID, s.opts.ClientSecret
}

// PersonalToken returns the first registered personal access token.
func (s *Server) PersonalToken() string {
	if len(s.opts.PersonalTokens) == 0 {
		return ""
	}
	return s.opts.PersonalTokens[0]
}

// Organizations returns the configured organizations.
func (s *Server) Organizations() []Organization {
	return append([]Organization(nil), s.opts.Organizations...)
}

// NewPersonalToken makes a token in the personal access token format
// (sbp_ + 40 hex characters).
func NewPersonalToken() string { return "sbp_" + oauthsrv.Random(20) }

func (s *Server) now() time.Time { return s.opts.Now().UTC() }

func (s *Server) logf(format string, args ...any) {
	if s.opts.Logf != nil {
		s.opts.Logf(format, args...)
	}
}

// ---- middleware ----

// open wraps the OAuth endpoints: faults and counting, no Bearer auth.
func (s *Server) open(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.fault(w, r, writeOAuthFault) {
			return
		}
		h(w, r)
	}
}

// mgmt wraps Management API handlers: Bearer auth, then faults.
func (s *Server) mgmt(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || !s.tokenValid(tok) {
			s.flt.Hit(r.Pattern) // refused calls count too
			s.logf("supabasefake: %s -> 401", r.Pattern)
			writeMessage(w, http.StatusUnauthorized, "Unauthorized")
			return
		}
		if s.fault(w, r, writeMgmtFault) {
			return
		}
		h(w, r)
	}
}

// data wraps the project data API: the project must exist and be ready,
// and the apikey must be one of its keys; then faults.
func (s *Server) data(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ref := r.PathValue("ref")
		s.mu.Lock()
		p := s.projects[ref]
		var status string
		if p != nil {
			status = s.statusLocked(p)
		}
		s.mu.Unlock()
		if p == nil {
			s.flt.Hit(r.Pattern)
			// The real host would not resolve; a 404 is the closest HTTP answer.
			writeMessage(w, http.StatusNotFound, "project not found")
			return
		}
		if status != "ACTIVE_HEALTHY" {
			s.flt.Hit(r.Pattern)
			writeMessage(w, http.StatusServiceUnavailable, "project is not ready (status "+status+")")
			return
		}
		if !s.checkAPIKey(w, r, p) {
			s.flt.Hit(r.Pattern)
			return
		}
		if s.fault(w, r, writeDataFault) {
			return
		}
		h(w, r)
	}
}

func (s *Server) tokenValid(tok string) bool {
	if tok == "" {
		return false
	}
	s.mu.Lock()
	pat := s.pats[tok]
	s.mu.Unlock()
	if pat {
		return true
	}
	_, ok := s.oauth.Validate(tok)
	return ok
}

// fault counts the call and writes an injected failure, if one applies.
func (s *Server) fault(w http.ResponseWriter, r *http.Request, write func(http.ResponseWriter, faults.Fault)) bool {
	f, ok := s.flt.Hit(r.Pattern)
	if !ok {
		s.logf("supabasefake: %s", r.Pattern)
		return false
	}
	if f.Status == 0 {
		// A lost connection: closed with no answer (the server logs
		// nothing for this sentinel).
		s.logf("supabasefake: %s -> connection closed, no answer", r.Pattern)
		panic(http.ErrAbortHandler)
	}
	s.logf("supabasefake: %s -> injected %d", r.Pattern, f.Status)
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((f.RetryAfter+time.Second-1)/time.Second)))
	}
	write(w, f)
	return true
}

func defaultMessage(f faults.Fault) string {
	if f.Message != "" {
		return f.Message
	}
	if f.Status == http.StatusTooManyRequests {
		return "Too many requests"
	}
	return http.StatusText(f.Status)
}

func writeMgmtFault(w http.ResponseWriter, f faults.Fault) {
	writeMessage(w, f.Status, defaultMessage(f))
}

func writeOAuthFault(w http.ResponseWriter, f faults.Fault) {
	code := "server_error"
	switch f.Status {
	case http.StatusBadRequest:
		code = "invalid_request"
	case http.StatusUnauthorized:
		code = "invalid_client"
	case http.StatusTooManyRequests:
		code = "temporarily_unavailable"
	}
	writeJSON(w, f.Status, map[string]string{"error": code, "error_description": defaultMessage(f)})
}

func writeDataFault(w http.ResponseWriter, f faults.Fault) {
	writeJSON(w, f.Status, map[string]any{"code": "", "details": nil, "hint": nil, "message": defaultMessage(f)})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeMessage writes the Management API's error shape: {"message": "…"}.
func writeMessage(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"message": msg})
}

// ---- fault injection, readiness, revocation (test side) ----

// Fault fails calls of one route; see faults.Fault. Route is the pattern
// as registered, e.g. "POST /v1/projects", "GET /v1/projects/{ref}",
// "GET /v1/projects/{ref}/api-keys", "POST /v1/oauth/token",
// "GET /project/{ref}/rest/v1/{table}". Status 0 closes the connection with
// no answer (the call is not carried out).
type Fault = faults.Fault

// AddFault registers a fault. On the Management API faults apply after the
// Bearer token was accepted, so a faulted call still had to be authorized.
func (s *Server) AddFault(f Fault) { s.flt.Add(f) }

// Throttle makes `times` calls of route (from the nth) answer 429 with
// Retry-After: retryAfter.
func (s *Server) Throttle(route string, nth, times int, retryAfter time.Duration) {
	s.flt.Add(Fault{Route: route, Nth: nth, Times: times, Status: http.StatusTooManyRequests, RetryAfter: retryAfter})
}

// ClearFaults removes every registered fault.
func (s *Server) ClearFaults() { s.flt.Clear() }

// Calls is how many calls of route arrived (refused and faulted ones too).
func (s *Server) Calls(route string) int { return s.flt.Calls(route) }

// SetReadyAfter changes the readiness delay for projects created from now on.
func (s *Server) SetReadyAfter(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readyAfter = d
}

// NeverReady makes projects created from now on stay COMING_UP forever
// (readiness never arrives); NeverReady(false) restores the delay.
func (s *Server) NeverReady(never bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.neverReady = never
}

// SetStatus forces a project's status (e.g. "INIT_FAILED", "INACTIVE",
// "ACTIVE_UNHEALTHY"); "" returns it to the readiness clock. False when
// the project does not exist.
func (s *Server) SetStatus(ref, status string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projects[ref]
	if p == nil {
		return false
	}
	p.forced = status
	return true
}

// RevokeToken revokes an OAuth access/refresh token or a personal access
// token: the Management API then answers 401. False when unknown.
func (s *Server) RevokeToken(tok string) bool {
	s.mu.Lock()
	if s.pats[tok] {
		delete(s.pats, tok)
		s.mu.Unlock()
		return true
	}
	s.mu.Unlock()
	return s.oauth.Revoke(tok)
}

// RevokeAllOAuthTokens revokes every OAuth token (the user removed the app).
func (s *Server) RevokeAllOAuthTokens() { s.oauth.RevokeAll() }

// SetConsent chooses what a valid authorize request does: show the page
// (the default), approve at once, or deny at once.
func (s *Server) SetConsent(c oauthsrv.Consent) { s.oauth.SetConsent(c) }

// Consent values for SetConsent.
const (
	ConsentPage        = oauthsrv.ConsentPage
	ConsentAutoApprove = oauthsrv.ConsentAutoApprove
	ConsentAutoDeny    = oauthsrv.ConsentAutoDeny
)

// OAuthStats counts authorization codes, token responses and denials.
func (s *Server) OAuthStats() oauthsrv.Stats { return s.oauth.Stats() }

// RevokeAPIKey revokes a project's API key by name ("anon",
// "service_role") or id: the data API then answers 401 "Invalid API key"
// for it and the api-keys listing no longer shows it. False when unknown.
func (s *Server) RevokeAPIKey(ref, nameOrID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projects[ref]
	if p == nil {
		return false
	}
	for _, k := range p.keys {
		if !k.revoked && (k.name == nameOrID || k.id == nameOrID) {
			k.revoked = true
			return true
		}
	}
	return false
}

// ---- introspection ----

func (s *Server) copyLocked(p *project) Project {
	out := Project{
		Ref: p.ref, Name: p.name, OrganizationID: p.orgID, Region: p.region, Plan: p.plan,
		Status: s.statusLocked(p), CreatedAt: p.created, DBPass: p.dbPass, PasswordResets: p.passwordResets,
	}
	for _, k := range p.keys {
		out.Keys = append(out.Keys, APIKey{ID: k.id, Name: k.name, Type: k.typ, Value: k.value, Revoked: k.revoked})
	}
	return out
}

// Projects returns the existing projects in creation order.
func (s *Server) Projects() []Project {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Project
	for _, ref := range s.order {
		if p := s.projects[ref]; p != nil {
			out = append(out, s.copyLocked(p))
		}
	}
	return out
}

// Project returns one project; false when it does not exist (never created
// or deleted).
func (s *Server) Project(ref string) (Project, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projects[ref]
	if p == nil {
		return Project{}, false
	}
	return s.copyLocked(p), true
}

// ProjectExists reports whether a project exists.
func (s *Server) ProjectExists(ref string) bool {
	_, ok := s.Project(ref)
	return ok
}

// Created is how many projects were ever created (deleted ones too).
func (s *Server) Created() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.created
}

// AddProject creates an ACTIVE_HEALTHY project directly (for tests of
// `--use REF`, or a project that predates the test) and returns its ref.
func (s *Server) AddProject(name, orgID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if orgID == "" {
		orgID = s.opts.Organizations[0].ID
	}
	p := s.newProjectLocked(name, orgID, "us-east-1", "free", "")
	p.created = p.created.Add(-24 * time.Hour)
	p.readyAfter = 0
	return p.ref
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
