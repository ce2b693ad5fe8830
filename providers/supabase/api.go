package supabase

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"phantomstack.dev/providers"
	"phantomstack.dev/providers/oauth"
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

// Retries: GETs that get 429 or 5xx are tried up to maxGETAttempts times,
// one wait capped at maxRetryWait (Retry-After included).
const (
	maxGETAttempts = 4
	maxRetryWait   = 5 * time.Second
)

// apiError is a non-2xx answer: the status and the Management API's
// message ({"message": "…"}), never the request's token.
type apiError struct {
	Method, Path string
	Status       int
	Message      string
}

func (e *apiError) Error() string {
	msg := fmt.Sprintf("Supabase answered HTTP %d to %s %s", e.Status, e.Method, e.Path)
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// Unwrap maps the status onto the providers error kinds.
func (e *apiError) Unwrap() error {
	switch {
	case e.Status == http.StatusUnauthorized:
		return providers.ErrAuthInvalid
	case e.Status == http.StatusTooManyRequests || e.Status >= 500:
		return providers.ErrUnreachable
	}
	return nil
}

func statusOf(err error) int {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

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

// client makes Management API calls with one credential. When the
// credential came from OAuth it refreshes it in place, once, on a 401 or
// when it has expired, and retries the call (a 401 means the request was
// not carried out, so even a POST may be sent again).
type client struct {
	p    *Provider
	env  providers.Env
	base string
	mu   *sync.Mutex // guards cred during a refresh
	cred *providers.Credential
}

func (p *Provider) newClient(env providers.Env, cred *providers.Credential) *client {
	return &client{p: p, env: env, base: apiURL(env), mu: &p.mu, cred: cred}
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
	var payload []byte
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		payload = b
		defer clear(payload) // a create body holds the database password
	}
	if c.expired() && c.canRefresh() {
		if err := c.refresh(ctx); err != nil {
			return err
		}
	}
	attempts := 1
	if method == http.MethodGet {
		attempts = maxGETAttempts
	}
	refreshed := false
	var last error
	for i := 0; i < attempts; i++ {
		wait, err := c.once(ctx, method, path, q, payload, out)
		if err == nil {
			return nil
		}
		last = err
		if statusOf(err) == http.StatusUnauthorized && !refreshed && c.canRefresh() {
			refreshed = true
			if rerr := c.refresh(ctx); rerr != nil {
				return fmt.Errorf("%v; refreshing the sign-in failed: %w", err, rerr)
			}
			i-- // the refreshed retry does not count as a transient retry
			continue
		}
		if i == attempts-1 || !errors.Is(err, providers.ErrUnreachable) || ctx.Err() != nil {
			break
		}
		if wait <= 0 {
			wait = time.Duration(250*(1<<i)) * time.Millisecond
		}
		if err := c.p.sleep(ctx, min(wait, maxRetryWait)); err != nil {
			return err
		}
	}
	return last
}

// once is one HTTP exchange; wait is the server's Retry-After, if any.
func (c *client) once(ctx context.Context, method, path string, q url.Values, payload []byte, out any) (time.Duration, error) {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, err
	}
	tok := c.token()
	req.Header.Set("Authorization", "Bearer "+string(tok))
	clear(tok)
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.env.Client().Do(req)
	if err != nil {
		// Name the host only: a URL may carry a proxy session token.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, fmt.Errorf("%w: %s %s on %s: %v", providers.ErrUnreachable, method, path, req.URL.Host, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	defer clear(raw) // an api-keys answer holds the keys
	if resp.StatusCode/100 != 2 {
		ae := &apiError{Method: method, Path: path, Status: resp.StatusCode}
		var eb struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(raw, &eb) == nil {
			ae.Message = truncate(eb.Message, 300)
		}
		var wait time.Duration
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
			wait = time.Duration(s) * time.Second
		}
		return wait, ae
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return 0, fmt.Errorf("Supabase's answer to %s %s is not the JSON expected: %v", method, path, err)
		}
	}
	return 0, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
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
	return c.do(ctx, http.MethodPatch, "/v1/projects/"+url.PathEscape(ref)+"/database/password", nil, body, nil)
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
