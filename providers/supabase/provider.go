// Package supabase is stack's Supabase provider. It signs in to the
// Management API (SUPABASE_ACCESS_TOKEN, OAuth 2 with PKCE through
// providers/oauth, or a masked paste), picks the organization, creates (or
// adopts, or attaches to) a project with a generated database password,
// waits until it is ACTIVE_HEALTHY, and hands phantom the project's URL,
// API keys, database password and connection string.
//
// Endpoints, statuses and error shapes follow docs/providers.md, "Supabase
// Management API"; the strict fake in providers/fake/supabase stands in for
// Supabase in tests. docs/providers.md, "Supabase provider", is the user's
// side of it.
package supabase

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"phantomstack.dev/providers"
	"phantomstack.dev/providers/oauth"
	"phantomstack.dev/shared/token"
)

// Slot names.
const (
	SlotURL            = "SUPABASE_URL"
	SlotAnonKey        = "SUPABASE_ANON_KEY"
	SlotServiceRoleKey = "SUPABASE_SERVICE_ROLE_KEY"
	SlotDBPassword     = "SUPABASE_DB_PASSWORD"
	SlotDatabaseURL    = "DATABASE_URL"
)

// Credential slots: where stack keeps the sign-in in phantom.
const (
	CredentialSlot = "STACK_SUPABASE_ACCESS_TOKEN"
	RefreshSlot    = "STACK_SUPABASE_REFRESH_TOKEN"
)

// Environment variables the provider reads.
const (
	// AccessTokenEnv is what the Supabase CLI reads: a personal access
	// token (sbp_…) from https://supabase.com/dashboard/account/tokens.
	AccessTokenEnv  = "SUPABASE_ACCESS_TOKEN"
	ClientIDEnv     = "STACK_SUPABASE_CLIENT_ID"
	ClientSecretEnv = "STACK_SUPABASE_CLIENT_SECRET"
	// WaitTimeoutEnv overrides how long Provision waits for a new project
	// (a Go duration, e.g. "15m").
	WaitTimeoutEnv = "STACK_SUPABASE_WAIT_TIMEOUT"
	// DBPasswordEnv gives the database password of a project stack did not
	// create in this run (--use, or a resumed add): the API never returns it.
	DBPasswordEnv = "SUPABASE_DB_PASSWORD"
)

// Meta keys of a Resource.
const (
	MetaOrg    = "organization" // the organization slug (= id)
	MetaName   = "name"
	MetaDBHost = "db_host"
	MetaURL    = "url" // SUPABASE_URL at provision time
)

const (
	tokensURL          = "https://supabase.com/dashboard/account/tokens"
	defaultRegion      = "us-east-1"
	defaultWaitTimeout = 10 * time.Minute
	maxPasteAttempts   = 3
	// cleanupTimeout bounds deleting a project this call created after a
	// failure or Ctrl-C.
	cleanupTimeout = 60 * time.Second
)

// Provider implements providers.Provider for Supabase.
type Provider struct {
	// Now and Sleep drive the readiness wait and retries; tests inject a
	// clock shared with the fake. Nil: real time.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// WaitTimeout bounds the wait for ACTIVE_HEALTHY (0: $STACK_SUPABASE_WAIT_TIMEOUT, else 10 min).
	WaitTimeout time.Duration
	// OAuthTimeout bounds the browser sign-in (0: oauth.DefaultTimeout).
	OAuthTimeout time.Duration

	mu sync.Mutex // guards credentials being refreshed, and pending
	// pending holds the database passwords of projects Provision created
	// (or was given) whose Materialize has not run yet, by ref. The API
	// never returns a password, so it lives in memory only, never in
	// Resource.Meta.
	pending map[string][]byte
}

var _ providers.Provider = (*Provider)(nil)

// New returns the Supabase provider with real-time waits.
func New() *Provider { return &Provider{} }

// Register adds the Supabase provider to r.
func Register(r *providers.Registry) error { return r.Register(New()) }

func (p *Provider) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Provider) sleep(ctx context.Context, d time.Duration) error {
	if p.Sleep != nil {
		return p.Sleep(ctx, d)
	}
	return sleepCtx(ctx, d)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Info implements providers.Provider.
//
// SUPABASE_URL is configuration, not a secret: it goes into .env.local as
// it is. phantom's built-in supabase route reads the project's upstream
// from it (UpstreamEnv) and gives the child the proxy's mount in its place.
// The two API keys are owned by that route, so they get the proxy policy:
// apps (supabase-js) hold phm tokens and phantom puts the real keys in the
// apikey/Authorization headers on the wire. The database password and
// DATABASE_URL travel over Postgres's own protocol, which no HTTP proxy can
// rewrite, so they are injected into the child's environment.
//
// The newer publishable/secret keys (sb_publishable_…, sb_secret_…) are not
// slots: a slot must be filled for every project, and projects from before
// those keys existed (--use) have none. docs/providers.md says more.
func (p *Provider) Info() providers.Info {
	return providers.Info{
		Name:        "supabase",
		DisplayName: "Supabase",
		Category:    "database",
		Auth:        providers.AuthOAuthPKCE,
		DocsURL:     "https://supabase.com/docs/reference/api/introduction",
		Slots: []providers.Slot{
			{Name: SlotURL},
			{Name: SlotAnonKey, Secret: true, Policy: providers.PolicyProxy},
			{Name: SlotServiceRoleKey, Secret: true, Policy: providers.PolicyProxy},
			{Name: SlotDBPassword, Secret: true, Policy: providers.PolicyInject},
			{Name: SlotDatabaseURL, Secret: true, Policy: providers.PolicyInject},
		},
		// Supabase's hosted MCP server, scoped to the project: the MCP
		// client signs in with OAuth itself, so no credential is on this
		// machine. The local npm server would need an account-wide token
		// and takes its API base only as an argument (--api-url), which
		// would put phantom's proxy session token in a world-readable argv;
		// docs/decisions.md.
		MCP: &providers.MCPServer{
			Name:   "supabase",
			URL:    "https://mcp.supabase.com/mcp?project_ref=" + providers.ResourceIDPlaceholder,
			Source: "https://supabase.com/docs/guides/getting-started/mcp",
		},
	}
}

// sandboxNotice says that calls go to an override, not to Supabase.
func sandboxNotice(env providers.Env) {
	var over []string
	for _, k := range []string{APIURLEnv, ProjectURLEnv} {
		if u := strings.TrimSpace(env.Lookup(k)); u != "" {
			over = append(over, k+"="+u)
		}
	}
	if len(over) > 0 {
		env.Printf("Supabase: using a local sandbox (%s), not api.supabase.com.", strings.Join(over, ", "))
	}
}

// oauthConfig is the OAuth client; behind a sandbox override the authorize
// page and token endpoint live on the override's host, as on the real API.
func (p *Provider) oauthConfig(env providers.Env, noBrowser bool) oauth.Config {
	base := apiURL(env)
	return oauth.Config{
		Provider:     "Supabase",
		ClientID:     strings.TrimSpace(env.Lookup(ClientIDEnv)),
		ClientSecret: strings.TrimSpace(env.Lookup(ClientSecretEnv)),
		AuthURL:      base + "/v1/oauth/authorize",
		TokenURL:     base + "/v1/oauth/token",
		// Supabase documents HTTP Basic client authentication for the token
		// exchange.
		AuthStyle: oauth2.AuthStyleInHeader,
		NoBrowser: noBrowser,
		Timeout:   p.OAuthTimeout,
	}
}

// Login implements providers.Provider: a cached credential Supabase still
// accepts (refreshed when it has expired and a refresh token came with it),
// else $SUPABASE_ACCESS_TOKEN, else OAuth when STACK_SUPABASE_CLIENT_ID is
// set, else a masked paste on a terminal.
func (p *Provider) Login(ctx context.Context, env providers.Env, req providers.LoginRequest) (*providers.Credential, error) {
	sandboxNotice(env)
	if c := req.Cached; c != nil && len(c.Value) > 0 && !token.Is(string(c.Value)) {
		cand := &providers.Credential{Slot: CredentialSlot, Value: bytes.Clone(c.Value), ExpiresAt: c.ExpiresAt}
		if len(c.RefreshToken) > 0 {
			cand.RefreshSlot, cand.RefreshToken = RefreshSlot, bytes.Clone(c.RefreshToken)
		}
		err := p.verify(ctx, env, cand, "the stored Supabase sign-in")
		switch {
		case err == nil:
			return cand, nil
		case errors.Is(err, providers.ErrAuthInvalid):
			cand.Clear()
			env.Printf("The stored Supabase sign-in was rejected; signing in again.")
		default:
			cand.Clear()
			return nil, err
		}
	}
	if v := strings.TrimSpace(env.Lookup(AccessTokenEnv)); v != "" {
		cred := &providers.Credential{Slot: CredentialSlot, Value: []byte(v)}
		if err := p.verify(ctx, env, cred, "the token in $"+AccessTokenEnv); err != nil {
			cred.Clear()
			return nil, err
		}
		return cred, nil
	}
	if strings.TrimSpace(env.Lookup(ClientIDEnv)) != "" {
		return p.oauthLogin(ctx, env, req)
	}
	if !env.Interactive() {
		return nil, fmt.Errorf("%w: not signed in to Supabase; set %s to a personal access token (create one at %s), or set %s (and %s) to sign in with OAuth in the browser, or run in a terminal to paste a token",
			providers.ErrAuthRequired, AccessTokenEnv, tokensURL, ClientIDEnv, ClientSecretEnv)
	}
	env.Printf("Create a Supabase personal access token at %s", tokensURL)
	var last error
	for range maxPasteAttempts {
		raw, err := env.Prompt.ReadSecret("Paste your Supabase access token (SUPABASE_ACCESS_TOKEN, input hidden): ")
		if err != nil {
			return nil, err
		}
		v := bytes.TrimSpace(raw)
		if len(v) == 0 {
			clear(raw)
			return nil, fmt.Errorf("%w: no Supabase access token entered", providers.ErrAuthRequired)
		}
		cred := &providers.Credential{Slot: CredentialSlot, Value: bytes.Clone(v)}
		clear(raw)
		err = p.verify(ctx, env, cred, "that token")
		if err == nil {
			return cred, nil
		}
		cred.Clear()
		last = err
		if !errors.Is(err, providers.ErrAuthInvalid) {
			return nil, err
		}
		env.Printf("%v", err)
	}
	return nil, last
}

// verify checks cred with GET /v1/organizations (refreshing an OAuth
// credential in place when it has expired) and records who it is.
func (p *Provider) verify(ctx context.Context, env providers.Env, cred *providers.Credential, what string) error {
	if token.Is(string(cred.Value)) {
		return fmt.Errorf("%w: %s is a phantom placeholder (phm_…), not a Supabase token; run stack outside `phantom exec`", providers.ErrAuthInvalid, what)
	}
	orgs, err := p.newClient(env, cred).organizations(ctx)
	if err != nil {
		switch {
		case errors.Is(err, providers.ErrAuthInvalid):
			return fmt.Errorf("%w: Supabase rejected %s (%v)", providers.ErrAuthInvalid, what, err)
		case errors.Is(err, providers.ErrUnreachable):
			return fmt.Errorf("%w: could not check %s with Supabase: %v", providers.ErrUnreachable, what, err)
		}
		return fmt.Errorf("checking %s with Supabase: %w", what, err)
	}
	var names []string
	for _, o := range orgs {
		names = append(names, o.Slug)
	}
	cred.Identity = map[string]string{"organizations": strings.Join(names, ",")}
	return nil
}

// expiry is when t expires on the provider's clock (expires_in from now).
func (p *Provider) expiry(t *oauth2.Token) time.Time {
	if t.ExpiresIn > 0 {
		return p.now().Add(time.Duration(t.ExpiresIn) * time.Second)
	}
	return t.Expiry
}

// oauthLogin runs the authorization code flow with PKCE (S256) on a
// loopback redirect, through providers/oauth.
func (p *Provider) oauthLogin(ctx context.Context, env providers.Env, req providers.LoginRequest) (*providers.Credential, error) {
	t, err := oauth.Login(ctx, env, p.oauthConfig(env, req.Options["no-browser"] == "true"))
	if err != nil {
		return nil, err
	}
	cred := &providers.Credential{Slot: CredentialSlot, Value: []byte(t.AccessToken), ExpiresAt: p.expiry(t)}
	if t.RefreshToken != "" {
		cred.RefreshSlot, cred.RefreshToken = RefreshSlot, []byte(t.RefreshToken)
	}
	t.AccessToken, t.RefreshToken = "", ""
	if err := p.verify(ctx, env, cred, "the Supabase OAuth sign-in"); err != nil {
		cred.Clear()
		return nil, err
	}
	return cred, nil
}
