package supabase

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"phantomstack.dev/providers"
	"phantomstack.dev/providers/oauth"
	"phantomstack.dev/providers/rest"
)

// DefaultAPIURL is the Management API (and its OAuth server);
// STACK_SUPABASE_API_URL overrides it (a local sandbox).
const DefaultAPIURL = "https://api.supabase.com"

// Base-URL overrides (docs/architecture.md §7).
const (
	APIURLEnv = "STACK_SUPABASE_API_URL"
	// ProjectURLEnv is a template for a project's data API URL (the value
	// of SUPABASE_URL); "{ref}" is replaced by the project ref.
	ProjectURLEnv = "STACK_SUPABASE_PROJECT_URL"
	// DefaultProjectURL is what a project answers at on the platform.
	DefaultProjectURL = "https://{ref}.supabase.co"
)

// statusOf is a failed call's HTTP status (0: no answer).
func statusOf(err error) int { return rest.StatusOf(err) }

func apiURL(env providers.Env) string {
	if u := strings.TrimSpace(env.Lookup(APIURLEnv)); u != "" {
		return strings.TrimRight(u, "/")
	}
	return DefaultAPIURL
}

// projectURL is a project's SUPABASE_URL.
func projectURL(env providers.Env, ref string) string {
	t := strings.TrimSpace(env.Lookup(ProjectURLEnv))
	if t == "" {
		t = DefaultProjectURL
	}
	return strings.TrimRight(strings.ReplaceAll(t, "{ref}", ref), "/")
}

// client makes Management API calls with one credential, through
// providers/rest (its retry policy: idempotent calls only, on 429, 5xx or
// no answer). When the credential came from OAuth it refreshes it in place,
// once, on a 401 or when it has expired, and sends the call again (a 401
// means the request was not carried out, so even a POST may be sent again).
type client struct {
	p    *Provider
	env  providers.Env
	api  *rest.Client
	mu   *sync.Mutex // guards cred during a refresh
	cred *providers.Credential
}

func (p *Provider) newClient(env providers.Env, cred *providers.Credential) *client {
	c := &client{p: p, env: env, mu: &p.mu, cred: cred}
	c.api = &rest.Client{
		Service: "Supabase",
		Base:    apiURL(env),
		HTTP:    env.Client(),
		Token:   c.token, // read per attempt: a refresh replaces it
		Sleep:   p.sleep,
	}
	return c
}

func (c *client) token() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]byte(nil), c.cred.Value...)
}

func (c *client) canRefresh() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.cred.RefreshToken) > 0 && c.p.oauthConfig(c.env, false).ClientID != ""
}

// refresh trades the refresh token for a new access token and updates the
// credential in place (the old values are wiped).
func (c *client) refresh(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	rt := string(c.cred.RefreshToken)
	t, err := oauth.Refresh(ctx, c.env, c.p.oauthConfig(c.env, false), rt)
	if err != nil {
		return fmt.Errorf("%w; sign in again (unset the stored Supabase sign-in or set SUPABASE_ACCESS_TOKEN)", err)
	}
	clear(c.cred.Value)
	c.cred.Value = []byte(t.AccessToken)
	if t.RefreshToken != "" {
		clear(c.cred.RefreshToken)
		c.cred.RefreshToken = []byte(t.RefreshToken)
	}
	c.cred.ExpiresAt = c.p.expiry(t)
	t.AccessToken, t.RefreshToken = "", ""
	c.env.Printf("Supabase: the sign-in had expired; refreshed it.")
	return nil
}

func (c *client) expired() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.cred.ExpiresAt.IsZero() && c.p.now().After(c.cred.ExpiresAt.Add(-30*time.Second))
}

// do sends one call and decodes a JSON answer into out (when not nil).
func (c *client) do(ctx context.Context, method, path string, q url.Values, body, out any) error {
	return c.call(ctx, rest.Request{Method: method, Path: path, Query: q, Body: body, Out: out})
}

// call sends r, refreshing an OAuth sign-in first when it has expired, and
// once more after a 401 when it can be refreshed.
func (c *client) call(ctx context.Context, r rest.Request) error {
	if c.expired() && c.canRefresh() {
		if err := c.refresh(ctx); err != nil {
			return err
		}
	}
	err := c.api.Do(ctx, r)
	if statusOf(err) == http.StatusUnauthorized && c.canRefresh() {
		if rerr := c.refresh(ctx); rerr != nil {
			return fmt.Errorf("%v; refreshing the sign-in failed: %w", err, rerr)
		}
		err = c.api.Do(ctx, r)
	}
	return err
}

// ---- the calls ----

type organization struct {
	ID   string `json:"id"`
	Slug string `json:"slug"`
	Name string `json:"name"`
}

func (c *client) organizations(ctx context.Context) ([]organization, error) {
	var out []organization
	err := c.do(ctx, http.MethodGet, "/v1/organizations", nil, nil, &out)
	return out, err
}

type project struct {
	ID               string `json:"id"`
	Ref              string `json:"ref"`
	OrganizationID   string `json:"organization_id"`
	OrganizationSlug string `json:"organization_slug"`
	Name             string `json:"name"`
	Region           string `json:"region"`
	Status           string `json:"status"`
	Database         *struct {
		Host string `json:"host"`
	} `json:"database"`
}

func (pr project) ref() string {
	if pr.Ref != "" {
		return pr.Ref
	}
	return pr.ID
}

func (pr project) org() string {
	if pr.OrganizationSlug != "" {
		return pr.OrganizationSlug
	}
	return pr.OrganizationID
}

func (c *client) projects(ctx context.Context) ([]project, error) {
	var out []project
	err := c.do(ctx, http.MethodGet, "/v1/projects", nil, nil, &out)
	return out, err
}

func (c *client) project(ctx context.Context, ref string) (project, error) {
	var out project
	err := c.do(ctx, http.MethodGet, "/v1/projects/"+url.PathEscape(ref), nil, nil, &out)
	return out, err
}

type createRequest struct {
	Name             string `json:"name"`
	OrganizationSlug string `json:"organization_slug"`
	DBPass           string `json:"db_pass"`
	Region           string `json:"region"`
}

func (c *client) createProject(ctx context.Context, body createRequest) (project, error) {
	var out project
	err := c.do(ctx, http.MethodPost, "/v1/projects", nil, body, &out)
	return out, err
}

func (c *client) deleteProject(ctx context.Context, ref string) error {
	return c.do(ctx, http.MethodDelete, "/v1/projects/"+url.PathEscape(ref), nil, nil, nil)
}

// updateDBPassword sets the postgres role's password (PATCH
// /v1/projects/{ref}/database/password, body {"password"}; scope
// database:write).
func (c *client) updateDBPassword(ctx context.Context, ref string, pass []byte) error {
	body := struct {
		Password string `json:"password"`
	}{string(pass)}
	// Setting the same password again changes nothing, so the PATCH is
	// idempotent and gets the retry policy (a resume's reset that would
	// otherwise fail on one 503 rolls the whole add back).
	return c.call(ctx, rest.Request{Method: http.MethodPatch, Path: "/v1/projects/" + url.PathEscape(ref) + "/database/password", Body: body, Idempotent: true})
}

type apiKey struct {
	Name   string `json:"name"`
	APIKey string `json:"api_key"`
	Type   string `json:"type"`
}

func (c *client) apiKeys(ctx context.Context, ref string) ([]apiKey, error) {
	var out []apiKey
	err := c.do(ctx, http.MethodGet, "/v1/projects/"+url.PathEscape(ref)+"/api-keys", nil, nil, &out)
	return out, err
}
