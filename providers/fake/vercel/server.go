// Package vercelfake is a strict, offline stand-in for the parts of the
// Vercel REST API that stack's Vercel provider uses:
//
//   - Sign in with Vercel (OAuth 2 / OIDC): GET /oauth/authorize with a
//     consent page (on the real service this lives on vercel.com, the API
//     on api.vercel.com; the fake serves both on one host) and POST
//     /login/oauth/token. PKCE S256 is required, as Vercel requires it;
//     client_secret_basic and client_secret_post are both accepted; codes
//     are single-use; refresh tokens rotate.
//   - GET /v2/user, POST /v11/projects, GET and DELETE
//     /v9/projects/{idOrName}, POST /v10/projects/{idOrName}/env (one
//     variable or an array, ?upsert=true), GET /v9/projects/{idOrName}/env,
//     DELETE /v9/projects/{idOrName}/env/{id}; every call needs
//     Authorization: Bearer <token> (a personal token from Options or an
//     OAuth access token), and teamId / slug scope the call to a team.
//
// Vercel refuses a missing or bad token with 403 (not 401) and
// {"error":{"code":"forbidden",…,"invalidToken":true}}; the fake does too.
// docs/providers.md ("Vercel REST API") lists each endpoint and its source.
//
// The fake records the environment variable values it receives, so tests
// can check that the real secret arrived (that phantom's proxy substituted
// its phm_ token): read them with EnvVars or EnvValue, and never print them.
package vercelfake

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	"phantomstack.dev/providers/fake/internal/faults"
	"phantomstack.dev/providers/fake/internal/loopback"
	"phantomstack.dev/providers/fake/internal/oauthsrv"
)

// User is the account the fake's tokens belong to.
type User struct {
	ID, Username, Email, Name string
}

// Team is a team the user is a member of.
type Team struct {
	ID, Slug, Name string
}

// Options configures a Server. The zero value is usable: one user, one
// team, one generated personal token and one generated OAuth app.
type Options struct {
	// Tokens are accepted as Bearer tokens (like VERCEL_TOKEN). When nil,
	// one is generated (see Token).
	Tokens []string
	User   User
	// Teams the user belongs to (default: one, slug "sandbox-team").
	// Teams: []Team{} means none.
	Teams []Team

	// ClientID / ClientSecret register the Sign in with Vercel app
	// (generated when empty); RedirectURIs its callback URLs (default
	// "http://127.0.0.1/callback"; loopback ones match any port).
	ClientID, ClientSecret string
	RedirectURIs           []string
	// AccessTokenTTL (default 1h) and RefreshTokenTTL (default 30 days) are
	// the lifetimes Vercel documents for its OAuth tokens.
	AccessTokenTTL, RefreshTokenTTL time.Duration

	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logf, when set, gets one line per request (never a secret).
	Logf func(format string, args ...any)
}

// EnvVar is an introspection copy of an environment variable, with the
// plaintext value the fake received. Never print Value.
type EnvVar struct {
	ID, Key, Value, Type, GitBranch, Comment string
	Target                                   []string
	CreatedAt, UpdatedAt                     time.Time
}

// Project is an introspection copy of a project.
type Project struct {
	ID, Name, AccountID string
	Framework           *string
	CreatedAt           time.Time
	Env                 []EnvVar
}

type envVar struct {
	EnvVar
}

type project struct {
	id, name, owner string
	framework       *string
	created         time.Time
	updated         time.Time
	env             []*envVar
}

// Server is the fake. Safe for concurrent use.
type Server struct {
	opts  Options
	oauth *oauthsrv.Server
	mux   *http.ServeMux
	flt   faults.Registry
	idKey []byte

	mu       sync.Mutex
	tokens   map[string]bool
	projects map[string]*project // by id
	order    []string
	created  int

	ts *httptest.Server
}

const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func randomID(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	for i := range b {
		b[i] = alnum[int(b[i])%len(alnum)]
	}
	return string(b)
}

// NewToken makes a personal-token-like opaque string.
func NewToken() string { return "vcp_" + randomID(40) }

// New builds a Server; call Start to listen, or mount it as an http.Handler.
func New(opts Options) *Server {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Tokens == nil {
		opts.Tokens = []string{NewToken()}
	}
	if opts.User.ID == "" {
		opts.User.ID = randomID(24)
	}
	if opts.User.Username == "" {
		opts.User.Username = "sandbox-user"
	}
	if opts.User.Email == "" {
		opts.User.Email = "sandbox@example.invalid"
	}
	if opts.User.Name == "" {
		opts.User.Name = "Sandbox User"
	}
	if opts.Teams == nil {
		opts.Teams = []Team{{ID: "team_" + randomID(24), Slug: "sandbox-team", Name: "Sandbox Team"}}
	}
	if opts.ClientID == "" {
		opts.ClientID = "cl_" + oauthsrv.Random(16)
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = oauthsrv.Random(24)
	}
	if opts.RedirectURIs == nil {
		opts.RedirectURIs = []string{"http://127.0.0.1/callback"}
	}
	if opts.AccessTokenTTL == 0 {
		opts.AccessTokenTTL = time.Hour
	}
	if opts.RefreshTokenTTL == 0 {
		opts.RefreshTokenTTL = 30 * 24 * time.Hour
	}
	s := &Server{opts: opts, tokens: map[string]bool{}, projects: map[string]*project{}, idKey: []byte(oauthsrv.Random(32))}
	for _, t := range opts.Tokens {
		s.tokens[t] = true
	}
	s.oauth = oauthsrv.New(oauthsrv.Config{
		Provider:      "Vercel",
		AuthorizePath: "/oauth/authorize",
		Clients: []oauthsrv.Client{{
			ID: opts.ClientID, Secret: opts.ClientSecret, Name: "stack (local sandbox)",
			RedirectURIs: opts.RedirectURIs,
		}},
		Subject:    opts.User.ID,
		AccessTTL:  opts.AccessTokenTTL,
		RefreshTTL: opts.RefreshTokenTTL,
		AllowBasic: true, AllowPost: true,
		AccessPrefix: "vca_", RefreshPrefix: "vcr_",
		Scope:   "openid email profile offline_access",
		IDToken: s.idToken,
		Now:     opts.Now,
	})
	s.routes()
	return s
}

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /oauth/authorize", s.open(s.oauth.Authorize))
	m.HandleFunc("POST /oauth/authorize", s.open(s.oauth.Authorize))
	m.HandleFunc("POST /login/oauth/token", s.open(s.oauth.Token))
	m.HandleFunc("GET /v2/user", s.api(s.getUser))
	m.HandleFunc("POST /v11/projects", s.api(s.createProject))
	m.HandleFunc("GET /v9/projects/{idOrName}", s.api(s.getProject))
	m.HandleFunc("DELETE /v9/projects/{idOrName}", s.api(s.deleteProject))
	m.HandleFunc("POST /v10/projects/{idOrName}/env", s.api(s.createEnv))
	m.HandleFunc("GET /v9/projects/{idOrName}/env", s.api(s.listEnv))
	m.HandleFunc("DELETE /v9/projects/{idOrName}/env/{id}", s.api(s.deleteEnv))
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "The requested URL was not found")
	})
	s.mux = m
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Start listens on 127.0.0.1 on a free port and returns the base URL, the
// stand-in for https://api.vercel.com (and for https://vercel.com, where
// the authorize page lives). Close stops it.
func (s *Server) Start() string {
	s.ts = loopback.Start(s)
	return s.ts.URL
}

// StartOn listens on a fixed loopback address; non-loopback is refused.
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

// AuthorizeURL is the OAuth authorization endpoint (after Start).
func (s *Server) AuthorizeURL() string { return s.URL() + "/oauth/authorize" }

// TokenURL is the OAuth token endpoint (after Start).
func (s *Server) TokenURL() string { return s.URL() + "/login/oauth/token" }

// OAuthClient returns the registered app's credentials.
func (s *Server) OAuthClient() (clientID, clientSecret string) {
	return s.opts.ClientID, s.opts.ClientSecret
}

// Token returns the first registered personal token.
func (s *Server) Token() string {
	if len(s.opts.Tokens) == 0 {
		return ""
	}
	return s.opts.Tokens[0]
}

// User returns the account.
func (s *Server) User() User { return s.opts.User }

// Teams returns the user's teams.
func (s *Server) Teams() []Team { return append([]Team(nil), s.opts.Teams...) }

// idToken is an OIDC ID token for the user (HS256 with a key of the fake's
// own: the fake serves no JWKS, so it cannot be verified like Vercel's).
func (s *Server) idToken(clientID string) string {
	enc := base64.RawURLEncoding
	now := s.opts.Now().Unix()
	claims, _ := json.Marshal(map[string]any{
		"iss": "https://vercel.com", "sub": s.opts.User.ID, "aud": clientID,
		"iat": now, "nbf": now, "exp": now + 3600, "jti": randomID(16),
		"name": s.opts.User.Name, "preferred_username": s.opts.User.Username, "email": s.opts.User.Email,
	})
	unsigned := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString(claims)
	mac := hmac.New(sha256.New, s.idKey)
	mac.Write([]byte(unsigned))
	return unsigned + "." + enc.EncodeToString(mac.Sum(nil))
}

func (s *Server) now() time.Time { return s.opts.Now() }

func (s *Server) logf(format string, args ...any) {
	if s.opts.Logf != nil {
		s.opts.Logf(format, args...)
	}
}

// ---- errors, middleware ----

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError writes Vercel's error shape: {"error":{"code","message",…}}.
func writeError(w http.ResponseWriter, status int, code, msg string, extra ...any) {
	e := map[string]any{"code": code, "message": msg}
	for i := 0; i+1 < len(extra); i += 2 {
		e[extra[i].(string)] = extra[i+1]
	}
	writeJSON(w, status, map[string]any{"error": e})
}

func statusCode(status int) string {
	switch status {
	case 400:
		return "bad_request"
	case 401:
		return "unauthorized"
	case 402:
		return "payment_required"
	case 403:
		return "forbidden"
	case 404:
		return "not_found"
	case 409:
		return "conflict"
	case 429:
		return "rate_limited"
	}
	if status >= 500 {
		return "internal_server_error"
	}
	return "error"
}

// serve runs h under the route's fault, if one applies: a plain fault is
// answered instead of h; an AfterHandler one lets h take effect, drops its
// answer and fails the call after all (a create whose answer was lost).
// Status 0 closes the connection with no answer.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, oauth bool, h http.HandlerFunc) {
	f, ok := s.flt.Hit(r.Pattern)
	if !ok {
		s.logf("vercelfake: %s", r.Pattern)
		h(w, r)
		return
	}
	if f.AfterHandler {
		rec := httptest.NewRecorder()
		h(rec, r)
		s.logf("vercelfake: %s -> handled (HTTP %d), answer withheld", r.Pattern, rec.Code)
	}
	if f.Status == 0 {
		s.logf("vercelfake: %s -> connection closed, no answer", r.Pattern)
		// The server closes the connection without writing a response and
		// logs nothing for this sentinel.
		panic(http.ErrAbortHandler)
	}
	s.logf("vercelfake: %s -> injected %d", r.Pattern, f.Status)
	msg := f.Message
	if msg == "" {
		msg = http.StatusText(f.Status)
		if f.Status == http.StatusTooManyRequests {
			msg = "Rate limit exceeded"
		}
	}
	if f.RetryAfter > 0 {
		secs := int((f.RetryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(s.now().Add(f.RetryAfter).Unix(), 10))
	}
	if oauth {
		code := "server_error"
		if f.Status < 500 {
			code = "invalid_request"
		}
		writeJSON(w, f.Status, map[string]string{"error": code, "error_description": msg})
		return
	}
	writeError(w, f.Status, statusCode(f.Status), msg)
}

func (s *Server) open(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.serve(w, r, true, h)
	}
}

// api wraps REST handlers: Bearer auth (403 like Vercel), then faults.
func (s *Server) api(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		tok, ok := strings.CutPrefix(auth, "Bearer ")
		if auth == "" || (ok && tok == "") {
			s.flt.Hit(r.Pattern)
			writeError(w, http.StatusForbidden, "forbidden", "The request is missing an authentication token", "missingToken", true)
			return
		}
		if !ok || !s.tokenValid(tok) {
			s.flt.Hit(r.Pattern)
			writeError(w, http.StatusForbidden, "forbidden", "Not authorized", "invalidToken", true)
			return
		}
		s.serve(w, r, false, h)
	}
}

func (s *Server) tokenValid(tok string) bool {
	s.mu.Lock()
	pat := s.tokens[tok]
	s.mu.Unlock()
	if pat {
		return true
	}
	_, ok := s.oauth.Validate(tok)
	return ok
}

// scope resolves teamId / slug to the owner id the call acts for: a team
// the user belongs to, or the user's personal account when neither is given.
func (s *Server) scope(w http.ResponseWriter, r *http.Request) (string, bool) {
	q := r.URL.Query()
	teamID, slug := q.Get("teamId"), q.Get("slug")
	if teamID == "" && slug == "" {
		return s.opts.User.ID, true
	}
	for _, t := range s.opts.Teams {
		if (teamID == "" || t.ID == teamID) && (slug == "" || t.Slug == slug) {
			return t.ID, true
		}
	}
	writeError(w, http.StatusForbidden, "forbidden", "Not authorized: you are not a member of this team")
	return "", false
}

// ---- fault injection, revocation (test side) ----

// Fault fails calls of one route; Route is the pattern as registered, e.g.
// "POST /v11/projects", "GET /v9/projects/{idOrName}",
// "POST /v10/projects/{idOrName}/env", "POST /login/oauth/token". The fake
// honours AfterHandler (the call takes effect, then fails: a lost answer)
// and Status 0 (the connection is closed with no answer).
type Fault = faults.Fault

// AddFault registers a fault. REST faults apply after the token was
// accepted.
func (s *Server) AddFault(f Fault) { s.flt.Add(f) }

// Throttle makes `times` calls of route (from the nth) answer 429 with
// Retry-After and X-RateLimit-Reset.
func (s *Server) Throttle(route string, nth, times int, retryAfter time.Duration) {
	s.flt.Add(Fault{Route: route, Nth: nth, Times: times, Status: http.StatusTooManyRequests, RetryAfter: retryAfter})
}

// ClearFaults removes every registered fault.
func (s *Server) ClearFaults() { s.flt.Clear() }

// Calls is how many calls of route arrived (refused and faulted ones too).
func (s *Server) Calls(route string) int { return s.flt.Calls(route) }

// RevokeToken revokes a personal token or an OAuth access/refresh token;
// false when unknown.
func (s *Server) RevokeToken(tok string) bool {
	s.mu.Lock()
	if s.tokens[tok] {
		delete(s.tokens, tok)
		s.mu.Unlock()
		return true
	}
	s.mu.Unlock()
	return s.oauth.Revoke(tok)
}

// SetConsent chooses what a valid authorize request does (page, approve
// at once, deny at once).
func (s *Server) SetConsent(c oauthsrv.Consent) { s.oauth.SetConsent(c) }

// Consent values for SetConsent.
const (
	ConsentPage        = oauthsrv.ConsentPage
	ConsentAutoApprove = oauthsrv.ConsentAutoApprove
	ConsentAutoDeny    = oauthsrv.ConsentAutoDeny
)

// OAuthStats counts authorization codes, token responses and denials.
func (s *Server) OAuthStats() oauthsrv.Stats { return s.oauth.Stats() }

// ---- introspection ----

func copyEnv(e *envVar) EnvVar {
	c := e.EnvVar
	c.Target = append([]string(nil), e.Target...)
	return c
}

func (p *project) copy() Project {
	out := Project{ID: p.id, Name: p.name, AccountID: p.owner, Framework: p.framework, CreatedAt: p.created}
	for _, e := range p.env {
		out.Env = append(out.Env, copyEnv(e))
	}
	return out
}

// Projects returns every existing project (all scopes) in creation order.
func (s *Server) Projects() []Project {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Project
	for _, id := range s.order {
		if p := s.projects[id]; p != nil {
			out = append(out, p.copy())
		}
	}
	return out
}

// Project finds a project by id, or by name in any scope; false when it
// does not exist.
func (s *Server) Project(idOrName string) (Project, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.projects[idOrName]; p != nil {
		return p.copy(), true
	}
	for _, id := range s.order {
		if p := s.projects[id]; p != nil && p.name == idOrName {
			return p.copy(), true
		}
	}
	return Project{}, false
}

// ProjectExists reports whether a project exists.
func (s *Server) ProjectExists(idOrName string) bool {
	_, ok := s.Project(idOrName)
	return ok
}

// AddProject creates a project called name in the personal account from
// the test side, as a create call whose answer never reached the client
// would (it counts in Created). It fails when that account already has a
// project of that name, as the API does with 409.
func (s *Server) AddProject(name string) (Project, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	owner := s.opts.User.ID
	for _, p := range s.projects {
		if p.owner == owner && p.name == name {
			return Project{}, false
		}
	}
	now := s.now()
	p := &project{id: "prj_" + randomID(28), name: name, owner: owner, created: now, updated: now}
	s.projects[p.id] = p
	s.order = append(s.order, p.id)
	s.created++
	return p.copy(), true
}

// Created is how many projects were ever created (deleted ones too).
func (s *Server) Created() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.created
}

// EnvVars returns a project's environment variables with the plaintext
// values received. Never print the values.
func (s *Server) EnvVars(idOrName string) []EnvVar {
	p, _ := s.Project(idOrName)
	return p.Env
}

// EnvValue returns the plaintext value received for key in target
// ("production", "preview", "development"); false when there is none.
// Never print it.
func (s *Server) EnvValue(idOrName, key, target string) (string, bool) {
	for _, e := range s.EnvVars(idOrName) {
		if e.Key != key {
			continue
		}
		for _, t := range e.Target {
			if t == target {
				return e.Value, true
			}
		}
	}
	return "", false
}
