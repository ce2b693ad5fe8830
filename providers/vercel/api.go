package vercel

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"phantomstack.dev/providers"
	"phantomstack.dev/providers/rest"
)

// DefaultAPIURL is Vercel's REST API; STACK_VERCEL_API_URL overrides it (a
// local sandbox, or phantom's proxy mount under `phantom exec`).
const DefaultAPIURL = "https://api.vercel.com"

// BaseURLEnv names the base-URL override.
const BaseURLEnv = "STACK_VERCEL_API_URL"

// errBadAnswer marks a 2xx answer that is not the JSON expected: the call
// took effect, but its result is unknown.
var errBadAnswer = rest.ErrBadAnswer

// statusOf is a failed call's HTTP status (0: no answer).
func statusOf(err error) int { return rest.StatusOf(err) }

// client is one set of API calls with one token and scope, made through
// providers/rest (its retry policy: idempotent calls only, on 429, 5xx or
// no answer).
type client struct {
	api  *rest.Client
	team string // team id (team_…) or slug; "" for the personal account
}

func (p *Provider) newClient(env providers.Env, token []byte, team string) *client {
	return &client{team: team, api: &rest.Client{
		Service: "Vercel",
		Base:    baseURL(env),
		HTTP:    env.Client(),
		Token:   func() []byte { return append([]byte(nil), token...) },
		// Vercel refuses a bad or revoked token with 403 (docs/providers.md).
		ForbiddenIsAuth: true,
		Sleep:           p.sleep(),
	}}
}

func baseURL(env providers.Env) string {
	if u := strings.TrimSpace(env.Lookup(BaseURLEnv)); u != "" {
		return strings.TrimRight(u, "/")
	}
	return DefaultAPIURL
}

// scope adds the team scope to a query: teamId for an id, slug otherwise
// (both are Vercel's query parameters).
func scope(team string, q url.Values) url.Values {
	if q == nil {
		q = url.Values{}
	}
	switch {
	case team == "":
	case strings.HasPrefix(team, "team_"):
		q.Set("teamId", team)
	default:
		q.Set("slug", team)
	}
	return q
}

// do sends one call in the client's team scope and decodes a JSON answer
// into out (when not nil).
func (c *client) do(ctx context.Context, method, path string, q url.Values, body, out any) error {
	return c.api.Do(ctx, rest.Request{Method: method, Path: path, Query: scope(c.team, q), Body: body, Out: out})
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
	err := c.api.Do(ctx, rest.Request{Method: http.MethodGet, Path: "/v2/user", Out: &out})
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
