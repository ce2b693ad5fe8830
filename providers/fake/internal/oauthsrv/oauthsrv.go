// Package oauthsrv is the strict OAuth 2 authorization server the Supabase
// and Vercel fakes share: authorization code grant with PKCE S256 only
// (RFC 6749 §4.1, RFC 7636), loopback redirect URIs matched on any port
// (RFC 8252 §7.3), a consent page with Approve/Deny buttons, confidential
// client authentication at the token endpoint, single-use short-lived codes,
// and refresh-token rotation with reuse detection.
//
// Each fake mounts Authorize (GET shows the page, POST takes the decision)
// and Token on its provider's paths, and checks API calls with Validate.
package oauthsrv

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"html/template"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Client is a registered OAuth client (an "OAuth app").
type Client struct {
	ID     string
	Secret string
	// Name is shown on the consent page.
	Name string
	// RedirectURIs are the registered callback URLs. A loopback one
	// (http://127.0.0.1/…, http://[::1]/…, http://localhost/…) matches a
	// request on any port, as RFC 8252 §7.3 requires for native apps;
	// scheme, host, path and query must still match exactly. Others match
	// exactly.
	RedirectURIs []string
}

// Consent decides what GET authorize does once the request is valid.
type Consent int

const (
	// ConsentPage renders the consent page (the default).
	ConsentPage Consent = iota
	// ConsentAutoApprove redirects with a code at once, as providers do for
	// an app the user already authorized.
	ConsentAutoApprove
	// ConsentAutoDeny redirects with error=access_denied at once.
	ConsentAutoDeny
)

// Config configures a Server.
type Config struct {
	// Provider names the service on the consent page ("Supabase").
	Provider string
	// AuthorizePath is where the consent form posts its decision (the same
	// path the GET page is served on).
	AuthorizePath string
	Clients       []Client
	// Subject is who the issued tokens act for (the fake's one user).
	Subject string

	// AccessTTL, RefreshTTL and CodeTTL bound token and code lifetimes
	// (defaults 1h, 30 days, 10 min; RFC 6749 §4.1.2 recommends ≤ 10 min
	// for codes).
	AccessTTL, RefreshTTL, CodeTTL time.Duration
	// AccessPrefix and RefreshPrefix start the opaque token strings.
	AccessPrefix, RefreshPrefix string
	// Scope, when set, is echoed as "scope" in token responses.
	Scope string
	// IDToken, when set, adds an "id_token" to code-grant responses (OIDC
	// providers such as Sign in with Vercel).
	IDToken func(clientID string) string

	// AllowBasic / AllowPost say which client authentication methods the
	// token endpoint accepts: client_secret_basic (HTTP Basic) and
	// client_secret_post (client_id + client_secret in the form). At least
	// one must be true; a request using both is refused (RFC 6749 §2.3).
	AllowBasic, AllowPost bool

	Now func() time.Time
}

// Grant describes a valid access token.
type Grant struct {
	ClientID string
	Subject  string
	Expires  time.Time
}

type code struct {
	clientID, redirectURI, challenge string
	expires                          time.Time
	used                             bool
	family                           string
}

type pending struct {
	clientID, redirectURI, state, challenge string
	expires                                 time.Time
}

type token struct {
	clientID, family string
	expires          time.Time
	used, revoked    bool
}

// Server is the authorization server. Safe for concurrent use.
type Server struct {
	cfg Config

	mu       sync.Mutex
	consent  Consent
	pending  map[string]*pending
	codes    map[string]*code
	access   map[string]*token
	refresh  map[string]*token
	nCodes   int
	nTokens  int
	nDenials int
}

// New builds a Server.
func New(cfg Config) *Server {
	if cfg.AccessTTL == 0 {
		cfg.AccessTTL = time.Hour
	}
	if cfg.RefreshTTL == 0 {
		cfg.RefreshTTL = 30 * 24 * time.Hour
	}
	if cfg.CodeTTL == 0 {
		cfg.CodeTTL = 10 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if !cfg.AllowBasic && !cfg.AllowPost {
		cfg.AllowBasic = true
	}
	return &Server{
		cfg:     cfg,
		pending: map[string]*pending{},
		codes:   map[string]*code{},
		access:  map[string]*token{},
		refresh: map[string]*token{},
	}
}

// SetConsent chooses what a valid authorize request does.
func (s *Server) SetConsent(c Consent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.consent = c
}

// SetAccessTTL changes the lifetime of access tokens issued from now on.
func (s *Server) SetAccessTTL(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg.AccessTTL = d
}

func (s *Server) client(id string) *Client {
	for i := range s.cfg.Clients {
		if s.cfg.Clients[i].ID == id {
			return &s.cfg.Clients[i]
		}
	}
	return nil
}

// redirectAllowed reports whether requested matches one of c's registered URIs.
func redirectAllowed(c *Client, requested string) bool {
	ru, err := url.Parse(requested)
	if err != nil || ru.Fragment != "" || ru.User != nil {
		return false
	}
	for _, reg := range c.RedirectURIs {
		if reg == requested {
			return true
		}
		gu, err := url.Parse(reg)
		if err != nil || !isLoopbackHost(gu.Hostname()) {
			continue
		}
		if ru.Scheme == gu.Scheme && ru.Hostname() == gu.Hostname() &&
			ru.EscapedPath() == gu.EscapedPath() && ru.RawQuery == gu.RawQuery {
			return true
		}
	}
	return false
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// validChallenge: an S256 challenge is base64url(SHA-256) without padding,
// 43 characters (RFC 7636 §4.2).
func validChallenge(c string) bool {
	if len(c) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(c)
	return err == nil
}

// validVerifier: 43–128 unreserved characters (RFC 7636 §4.1).
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for _, r := range v {
		switch {
		case r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '.', r == '_', r == '~':
		default:
			return false
		}
	}
	return true
}

// S256 is the PKCE S256 transform of verifier.
func S256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Random returns n random bytes hex-encoded.
func Random(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// Authorize serves the authorization endpoint: GET validates the request
// and shows the consent page (or decides at once, see SetConsent); POST
// takes the page's decision and redirects back to the client.
func (s *Server) Authorize(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		s.decide(w, r)
		return
	}
	q := r.URL.Query()
	clientID, redirectURI, state := q.Get("client_id"), q.Get("redirect_uri"), q.Get("state")
	s.mu.Lock()
	c := s.client(clientID)
	consent := s.consent
	s.mu.Unlock()
	// Errors about the client or the redirect URI must not redirect
	// (RFC 6749 §4.1.2.1): the redirect target is not trusted yet.
	if clientID == "" || c == nil {
		errorPage(w, http.StatusBadRequest, "Unknown OAuth client", "client_id is missing or not registered.")
		return
	}
	if redirectURI == "" || !redirectAllowed(c, redirectURI) {
		errorPage(w, http.StatusBadRequest, "Redirect URI not allowed", "redirect_uri is missing or is not one of this app's registered callback URLs.")
		return
	}
	if rt := q.Get("response_type"); rt != "code" {
		redirectError(w, r, redirectURI, state, "unsupported_response_type", "response_type must be code")
		return
	}
	challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	if challenge == "" {
		redirectError(w, r, redirectURI, state, "invalid_request", "code_challenge is required (PKCE)")
		return
	}
	if method != "S256" {
		redirectError(w, r, redirectURI, state, "invalid_request", "code_challenge_method must be S256")
		return
	}
	if !validChallenge(challenge) {
		redirectError(w, r, redirectURI, state, "invalid_request", "code_challenge is not a base64url SHA-256 digest")
		return
	}
	p := &pending{clientID: clientID, redirectURI: redirectURI, state: state, challenge: challenge, expires: s.cfg.Now().Add(s.cfg.CodeTTL)}
	switch consent {
	case ConsentAutoApprove:
		s.approve(w, r, p)
		return
	case ConsentAutoDeny:
		s.deny(w, r, p)
		return
	}
	id := Random(24)
	s.mu.Lock()
	s.pending[id] = p
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	// The page may not be framed: consent pages are clickjacking targets.
	w.Header().Set("X-Frame-Options", "DENY")
	name := c.Name
	if name == "" {
		name = c.ID
	}
	_ = consentTmpl.Execute(w, map[string]string{
		"Provider": s.cfg.Provider, "App": name, "Action": s.cfg.AuthorizePath, "Request": id,
		"Redirect": redirectURI,
	})
}

func (s *Server) decide(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		errorPage(w, http.StatusBadRequest, "Bad form", "The consent form could not be read.")
		return
	}
	id := r.PostForm.Get("request")
	s.mu.Lock()
	p := s.pending[id]
	delete(s.pending, id) // a decision is single-use
	s.mu.Unlock()
	if p == nil || s.cfg.Now().After(p.expires) {
		errorPage(w, http.StatusBadRequest, "Sign-in request expired", "Start the sign-in again from the application.")
		return
	}
	switch r.PostForm.Get("decision") {
	case "approve":
		s.approve(w, r, p)
	case "deny":
		s.deny(w, r, p)
	default:
		errorPage(w, http.StatusBadRequest, "No decision", "Choose Approve or Deny.")
	}
}

func (s *Server) approve(w http.ResponseWriter, r *http.Request, p *pending) {
	c := Random(20)
	s.mu.Lock()
	s.codes[c] = &code{clientID: p.clientID, redirectURI: p.redirectURI, challenge: p.challenge, expires: s.cfg.Now().Add(s.cfg.CodeTTL)}
	s.nCodes++
	s.mu.Unlock()
	u, _ := url.Parse(p.redirectURI)
	q := u.Query()
	q.Set("code", c)
	if p.state != "" {
		q.Set("state", p.state)
	}
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

func (s *Server) deny(w http.ResponseWriter, r *http.Request, p *pending) {
	s.mu.Lock()
	s.nDenials++
	s.mu.Unlock()
	redirectError(w, r, p.redirectURI, p.state, "access_denied", "The user denied the request")
}

func redirectError(w http.ResponseWriter, r *http.Request, redirectURI, state, errCode, desc string) {
	u, _ := url.Parse(redirectURI)
	q := u.Query()
	q.Set("error", errCode)
	q.Set("error_description", desc)
	if state != "" {
		q.Set("state", state)
	}
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

// tokenError writes an RFC 6749 §5.2 error.
func tokenError(w http.ResponseWriter, status int, errCode, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": errCode, "error_description": desc})
}

// Token serves the token endpoint (POST, form-encoded).
func (s *Server) Token(w http.ResponseWriter, r *http.Request) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		tokenError(w, http.StatusBadRequest, "invalid_request", "the body must be application/x-www-form-urlencoded")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request", "unreadable form body")
		return
	}
	f := r.PostForm
	c, ok := s.authenticateClient(w, r, f)
	if !ok {
		return
	}
	switch f.Get("grant_type") {
	case "authorization_code":
		s.codeGrant(w, c, f)
	case "refresh_token":
		s.refreshGrant(w, c, f)
	case "":
		tokenError(w, http.StatusBadRequest, "invalid_request", "grant_type is required")
	default:
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type", "only authorization_code and refresh_token are supported")
	}
}

func (s *Server) authenticateClient(w http.ResponseWriter, r *http.Request, f url.Values) (*Client, bool) {
	id, secret, basic := r.BasicAuth()
	if basic {
		// The Basic credentials are form-encoded before base64 (RFC 6749 §2.3.1).
		if v, err := url.QueryUnescape(id); err == nil {
			id = v
		}
		if v, err := url.QueryUnescape(secret); err == nil {
			secret = v
		}
	}
	_, postSecret := f["client_secret"]
	invalid := func(desc string) (*Client, bool) {
		if basic {
			w.Header().Set("WWW-Authenticate", `Basic realm="oauth"`)
		}
		tokenError(w, http.StatusUnauthorized, "invalid_client", desc)
		return nil, false
	}
	switch {
	case basic && postSecret:
		tokenError(w, http.StatusBadRequest, "invalid_request", "use one client authentication method, not both")
		return nil, false
	case basic:
		if !s.cfg.AllowBasic {
			return invalid("client_secret_basic is not allowed for this client")
		}
		if fid := f.Get("client_id"); fid != "" && fid != id {
			tokenError(w, http.StatusBadRequest, "invalid_request", "client_id in the body differs from the authenticated client")
			return nil, false
		}
	case postSecret:
		if !s.cfg.AllowPost {
			return invalid("client_secret_post is not allowed for this client")
		}
		id, secret = f.Get("client_id"), f.Get("client_secret")
	default:
		return invalid("client authentication is required")
	}
	s.mu.Lock()
	c := s.client(id)
	s.mu.Unlock()
	if c == nil || subtle.ConstantTimeCompare([]byte(secret), []byte(c.Secret)) != 1 {
		return invalid("unknown client or wrong client secret")
	}
	return c, true
}

func (s *Server) codeGrant(w http.ResponseWriter, c *Client, f url.Values) {
	cv, redirectURI, verifier := f.Get("code"), f.Get("redirect_uri"), f.Get("code_verifier")
	if cv == "" || redirectURI == "" || verifier == "" {
		tokenError(w, http.StatusBadRequest, "invalid_request", "code, redirect_uri and code_verifier are required")
		return
	}
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	cd := s.codes[cv]
	switch {
	case cd == nil:
		tokenError(w, http.StatusBadRequest, "invalid_grant", "unknown authorization code")
		return
	case cd.used:
		// A replayed code revokes what it issued (RFC 6749 §4.1.2).
		s.revokeFamilyLocked(cd.family)
		tokenError(w, http.StatusBadRequest, "invalid_grant", "authorization code already used")
		return
	case cd.clientID != c.ID:
		tokenError(w, http.StatusBadRequest, "invalid_grant", "authorization code was issued to another client")
		return
	}
	// Any attempt by its client burns the code, so a wrong verifier cannot be retried.
	cd.used = true
	switch {
	case now.After(cd.expires):
		tokenError(w, http.StatusBadRequest, "invalid_grant", "authorization code expired")
	case redirectURI != cd.redirectURI:
		tokenError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri differs from the authorization request")
	case !validVerifier(verifier) || subtle.ConstantTimeCompare([]byte(S256(verifier)), []byte(cd.challenge)) != 1:
		tokenError(w, http.StatusBadRequest, "invalid_grant", "code_verifier does not match the code_challenge")
	default:
		cd.family = Random(8)
		s.issueLocked(w, c.ID, cd.family, true)
	}
}

func (s *Server) refreshGrant(w http.ResponseWriter, c *Client, f url.Values) {
	rt := f.Get("refresh_token")
	if rt == "" {
		tokenError(w, http.StatusBadRequest, "invalid_request", "refresh_token is required")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.refresh[rt]
	switch {
	case t == nil || t.revoked:
		tokenError(w, http.StatusBadRequest, "invalid_grant", "unknown or revoked refresh token")
	case t.clientID != c.ID:
		tokenError(w, http.StatusBadRequest, "invalid_grant", "refresh token was issued to another client")
	case t.used:
		// Reuse of a rotated refresh token: assume it leaked, revoke the family.
		s.revokeFamilyLocked(t.family)
		tokenError(w, http.StatusBadRequest, "invalid_grant", "refresh token already used")
	case s.cfg.Now().After(t.expires):
		tokenError(w, http.StatusBadRequest, "invalid_grant", "refresh token expired")
	default:
		t.used = true
		s.issueLocked(w, c.ID, t.family, false)
	}
}

func (s *Server) issueLocked(w http.ResponseWriter, clientID, family string, withID bool) {
	now := s.cfg.Now()
	at := s.cfg.AccessPrefix + Random(24)
	rt := s.cfg.RefreshPrefix + Random(24)
	s.access[at] = &token{clientID: clientID, family: family, expires: now.Add(s.cfg.AccessTTL)}
	s.refresh[rt] = &token{clientID: clientID, family: family, expires: now.Add(s.cfg.RefreshTTL)}
	s.nTokens++
	resp := map[string]any{
		"access_token":  at,
		"token_type":    "Bearer",
		"expires_in":    int(s.cfg.AccessTTL / time.Second),
		"refresh_token": rt,
	}
	if s.cfg.Scope != "" {
		resp["scope"] = s.cfg.Scope
	}
	if withID && s.cfg.IDToken != nil {
		resp["id_token"] = s.cfg.IDToken(clientID)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	_ = json.NewEncoder(w).Encode(resp)
}

func (s *Server) revokeFamilyLocked(family string) {
	if family == "" {
		return
	}
	for _, m := range []map[string]*token{s.access, s.refresh} {
		for _, t := range m {
			if t.family == family {
				t.revoked = true
			}
		}
	}
}

// Validate reports whether an access token is known, unrevoked and unexpired.
func (s *Server) Validate(accessToken string) (Grant, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.access[accessToken]
	if t == nil || t.revoked || !s.cfg.Now().Before(t.expires) {
		return Grant{}, false
	}
	return Grant{ClientID: t.clientID, Subject: s.cfg.Subject, Expires: t.expires}, true
}

// Revoke revokes an access or refresh token; false when unknown.
func (s *Server) Revoke(tok string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.access[tok]; t != nil {
		t.revoked = true
		return true
	}
	if t := s.refresh[tok]; t != nil {
		t.revoked = true
		return true
	}
	return false
}

// RevokeAll revokes every token issued so far (the user disconnected the app).
func (s *Server) RevokeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range []map[string]*token{s.access, s.refresh} {
		for _, t := range m {
			t.revoked = true
		}
	}
}

// Stats counts codes issued, token responses issued and denials.
type Stats struct{ Codes, Tokens, Denials int }

// Stats returns the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Codes: s.nCodes, Tokens: s.nTokens, Denials: s.nDenials}
}

func errorPage(w http.ResponseWriter, status int, title, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = errorTmpl.Execute(w, map[string]string{"Title": title, "Message": msg})
}

var consentTmpl = template.Must(template.New("consent").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Authorize {{.App}} — {{.Provider}} (local sandbox)</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}
.sandbox{background:#fff3cd;padding:.5rem 1rem;border-radius:.5rem}button{font-size:1rem;padding:.5rem 1.5rem;margin-right:1rem}</style></head>
<body>
<p class="sandbox">Local sandbox: this is a stand-in for {{.Provider}}, not the real service.</p>
<h1 id="title">Authorize {{.App}}</h1>
<p><strong>{{.App}}</strong> wants to access your {{.Provider}} account.</p>
<p>You will be sent back to <code id="redirect">{{.Redirect}}</code>.</p>
<form method="post" action="{{.Action}}">
<input type="hidden" name="request" value="{{.Request}}">
<button type="submit" id="approve" name="decision" value="approve">Approve</button>
<button type="submit" id="deny" name="decision" value="deny">Deny</button>
</form>
</body></html>
`))

var errorTmpl = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title></head>
<body><h1 id="error">{{.Title}}</h1><p>{{.Message}}</p></body></html>
`))

// ParseRequestID extracts the pending request id from a consent page, for
// tests that drive the page over plain HTTP instead of a browser.
func ParseRequestID(page string) string {
	const marker = `name="request" value="`
	i := strings.Index(page, marker)
	if i < 0 {
		return ""
	}
	rest := page[i+len(marker):]
	if j := strings.IndexByte(rest, '"'); j >= 0 {
		return rest[:j]
	}
	return ""
}
