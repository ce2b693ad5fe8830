package vercel

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
	"time"

	"phantomstack.dev/providers"
)

// DefaultAPIURL is Vercel's REST API; STACK_VERCEL_API_URL overrides it (a
// local sandbox, or phantom's proxy mount under `phantom exec`).
const DefaultAPIURL = "https://api.vercel.com"

// BaseURLEnv names the base-URL override.
const BaseURLEnv = "STACK_VERCEL_API_URL"

// maxGETAttempts bounds retries of a GET that got 429 or 5xx; maxRetryWait
// caps one wait (Retry-After included), so a call never hangs for long.
const (
	maxGETAttempts = 3
	maxRetryWait   = 5 * time.Second
)

// apiError is a non-2xx answer: the status and Vercel's error code and
// message ({"error":{"code","message"}}), never the request's token.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string {
	msg := fmt.Sprintf("HTTP %d", e.Status)
	if e.Code != "" {
		msg += " " + e.Code
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return "Vercel answered " + msg
}

// Unwrap maps the status onto the providers error kinds. Vercel refuses a
// bad or revoked token with 403 (docs/providers.md), so 403 is an auth
// failure too.
func (e *apiError) Unwrap() error {
	switch {
	case e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden:
		return providers.ErrAuthInvalid
	case e.Status == http.StatusTooManyRequests || e.Status >= 500:
		return providers.ErrUnreachable
	}
	return nil
}

// errBadAnswer marks a 2xx answer that is not the JSON expected: the call
// took effect, but its result is unknown.
var errBadAnswer = errors.New("not the JSON expected")

func statusOf(err error) int {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// client is one set of API calls with one token and scope.
type client struct {
	env   providers.Env
	base  string
	token []byte
	team  string // team id (team_…) or slug; "" for the personal account
	sleep func(context.Context, time.Duration) error
}

func (p *Provider) newClient(env providers.Env, token []byte, team string) *client {
	return &client{env: env, base: baseURL(env), token: token, team: team, sleep: p.sleep()}
}

func baseURL(env providers.Env) string {
	if u := strings.TrimSpace(env.Lookup(BaseURLEnv)); u != "" {
		return strings.TrimRight(u, "/")
	}
	return DefaultAPIURL
}

// scoped adds the team scope to a path: teamId for an id, slug otherwise
// (both are Vercel's query parameters).
func (c *client) scoped(path string, q url.Values) string {
	if q == nil {
		q = url.Values{}
	}
	switch {
	case c.team == "":
	case strings.HasPrefix(c.team, "team_"):
		q.Set("teamId", c.team)
	default:
		q.Set("slug", c.team)
	}
	if len(q) == 0 {
		return c.base + path
	}
	return c.base + path + "?" + q.Encode()
}

// do sends one call and decodes a JSON answer into out (when not nil). GETs
// that get 429 or 5xx are retried a bounded number of times; other methods
// are not (a POST may have happened).
func (c *client) do(ctx context.Context, method, path string, q url.Values, body, out any) error {
	var payload []byte
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		payload = b
	}
	attempts := 1
	if method == http.MethodGet {
		attempts = maxGETAttempts
	}
	var last error
	for i := range attempts {
		wait, err := c.once(ctx, method, c.scoped(path, q), payload, out)
		if err == nil {
			return nil
		}
		last = err
		if i == attempts-1 || !errors.Is(err, providers.ErrUnreachable) || ctx.Err() != nil {
			break
		}
		if wait <= 0 {
			wait = time.Duration(250*(1<<i)) * time.Millisecond
		}
		if err := c.sleep(ctx, min(wait, maxRetryWait)); err != nil {
			return err
		}
	}
	return last
}

// once is one HTTP exchange; wait is the server's Retry-After, if any.
func (c *client) once(ctx context.Context, method, u string, payload []byte, out any) (wait time.Duration, err error) {
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+string(c.token))
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.env.Client().Do(req)
	if err != nil {
		// Name the host only: under phantom exec the path holds the
		// proxy's session token.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, fmt.Errorf("%w: %s %s: %v", providers.ErrUnreachable, method, req.URL.Host, err)
	}
	defer resp.Body.Close()
	raw, rerr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		ae := &apiError{Status: resp.StatusCode}
		var eb struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(raw, &eb) == nil {
			ae.Code, ae.Message = eb.Error.Code, truncate(eb.Error.Message, 300)
		}
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
			wait = time.Duration(s) * time.Second
		}
		return wait, ae
	}
	if rerr != nil {
		// A 2xx cut off mid-body (connection reset) is a lost answer.
		return 0, fmt.Errorf("%w: %s %s: reading the answer: %v", providers.ErrUnreachable, method, req.URL.Host, rerr)
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return 0, fmt.Errorf("Vercel's answer to %s %s is %w (%v)", method, req.URL.Host, errBadAnswer, err)
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

type user struct {
	ID            string  `json:"id"`
	Email         string  `json:"email"`
	Username      string  `json:"username"`
	DefaultTeamID *string `json:"defaultTeamId"`
}

func (c *client) user(ctx context.Context) (user, error) {
	var out struct {
		User user `json:"user"`
	}
	// /v2/user is account-wide: no team scope.
	team := c.team
	c.team = ""
	defer func() { c.team = team }()
	err := c.do(ctx, http.MethodGet, "/v2/user", nil, nil, &out)
	return out.User, err
}

type project struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	AccountID string `json:"accountId"`
	CreatedAt int64  `json:"createdAt"` // Unix milliseconds
}

func (c *client) getProject(ctx context.Context, idOrName string) (project, error) {
	var p project
	err := c.do(ctx, http.MethodGet, "/v9/projects/"+url.PathEscape(idOrName), nil, nil, &p)
	return p, err
}

func (c *client) createProject(ctx context.Context, name string) (project, error) {
	var p project
	err := c.do(ctx, http.MethodPost, "/v11/projects", nil, map[string]any{"name": name}, &p)
	return p, err
}

func (c *client) deleteProject(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/v9/projects/"+url.PathEscape(id), nil, nil, nil)
}
