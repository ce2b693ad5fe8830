// Package vercel is stack's Vercel provider: it signs in (VERCEL_TOKEN,
// "Sign in with Vercel" OAuth with PKCE, or a masked paste), creates or
// attaches a Vercel project, and hands the access token to phantom as
// VERCEL_TOKEN, with the project and org ids as plain configuration
// (VERCEL_PROJECT_ID, VERCEL_ORG_ID: the names the Vercel CLI reads).
//
// Endpoints, statuses and error shapes follow docs/providers.md, "Vercel
// REST API"; the strict fake in providers/fake/vercel stands in for Vercel
// in tests.
package vercel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"phantomstack.dev/providers"
	"phantomstack.dev/providers/oauth"
	"phantomstack.dev/shared/token"
)

// Slot names.
const (
	SlotToken     = "VERCEL_TOKEN"
	SlotProjectID = "VERCEL_PROJECT_ID"
	SlotOrgID     = "VERCEL_ORG_ID"
)

// Meta keys of a Resource.
const (
	MetaOrgID  = "org_id"  // the owner: the team id, or the user id for a personal project
	MetaTeamID = "team_id" // the team scope every call carries ("" for personal)
	MetaName   = "name"
)

// OAuth client settings (Sign in with Vercel).
const (
	ClientIDEnv     = "STACK_VERCEL_CLIENT_ID"
	ClientSecretEnv = "STACK_VERCEL_CLIENT_SECRET"
	authorizeURL    = "https://vercel.com/oauth/authorize"
	tokenPath       = "/login/oauth/token"
)

const maxPasteAttempts = 3

// Provider implements providers.Provider for Vercel.
type Provider struct {
	// Sleep waits between retries; tests make it instant. Nil: real time.
	Sleep func(ctx context.Context, d time.Duration) error
	// OAuthTimeout bounds the browser sign-in (0: oauth.DefaultTimeout).
	OAuthTimeout time.Duration
}

var _ providers.Provider = (*Provider)(nil)

// New returns the Vercel provider.
func New() *Provider { return &Provider{} }

// Register adds the Vercel provider to r.
func Register(r *providers.Registry) error { return r.Register(New()) }

// sleep is the retry policy's wait (nil: providers/rest's timer).
func (p *Provider) sleep() func(context.Context, time.Duration) error {
	return p.Sleep
}

// Info implements providers.Provider. VERCEL_TOKEN is owned by phantom's
// built-in vercel route, so it gets the proxy policy: programs (the Vercel
// CLI, doctor, env push) hold a phm token and phantom puts the real one on
// the wire. The project and org ids are not secrets: they go into .env.local
// as they are.
func (p *Provider) Info() providers.Info {
	return providers.Info{
		Name:        "vercel",
		DisplayName: "Vercel",
		Category:    "deploy",
		Auth:        providers.AuthOAuthPKCE,
		DocsURL:     "https://vercel.com/account/settings/tokens",
		Slots: []providers.Slot{
			{Name: SlotToken, Secret: true, Policy: providers.PolicyProxy},
			{Name: SlotProjectID},
			{Name: SlotOrgID},
		},
	}
}

// sandboxNotice says, once per step, that calls go to an override.
func sandboxNotice(env providers.Env) {
	if u := strings.TrimSpace(env.Lookup(BaseURLEnv)); u != "" {
		env.Printf("Vercel: using the local sandbox at %s (%s is set), not api.vercel.com.", u, BaseURLEnv)
	}
}

// Login implements providers.Provider: the cached token if Vercel still
// accepts it, else $VERCEL_TOKEN, else Sign in with Vercel when an OAuth
// client is configured (STACK_VERCEL_CLIENT_ID), else a masked paste.
func (p *Provider) Login(ctx context.Context, env providers.Env, req providers.LoginRequest) (*providers.Credential, error) {
	sandboxNotice(env)
	if c := req.Cached; c != nil && len(c.Value) > 0 && !token.Is(string(c.Value)) {
		cred, err := p.verify(ctx, env, c.Value, "the stored Vercel token")
		switch {
		case err == nil:
			cred.ExpiresAt = c.ExpiresAt
			return cred, nil
		case errors.Is(err, providers.ErrAuthInvalid):
			env.Printf("The stored Vercel token was rejected; signing in again.")
		default:
			return nil, err
		}
	}
	if v := strings.TrimSpace(env.Lookup(SlotToken)); v != "" {
		return p.verify(ctx, env, []byte(v), "the token in $"+SlotToken)
	}
	if id := strings.TrimSpace(env.Lookup(ClientIDEnv)); id != "" {
		return p.oauthLogin(ctx, env, req, id)
	}
	if !env.Interactive() {
		return nil, fmt.Errorf("%w: no Vercel token; set %s (create one at %s), or set %s for Sign in with Vercel, or run in a terminal to paste one",
			providers.ErrAuthRequired, SlotToken, p.Info().DocsURL, ClientIDEnv)
	}
	env.Printf("Create a Vercel token at %s", p.Info().DocsURL)
	var last error
	for range maxPasteAttempts {
		raw, err := env.Prompt.ReadSecret("Paste your Vercel token (VERCEL_TOKEN, input hidden): ")
		if err != nil {
			return nil, err
		}
		v := bytes.TrimSpace(raw)
		if len(v) == 0 {
			clear(raw)
			return nil, fmt.Errorf("%w: no Vercel token entered", providers.ErrAuthRequired)
		}
		v = append([]byte(nil), v...)
		clear(raw)
		cred, err := p.verify(ctx, env, v, "that token")
		clear(v)
		if err == nil {
			return cred, nil
		}
		last = err
		if !errors.Is(err, providers.ErrAuthInvalid) {
			return nil, err
		}
		env.Printf("%v", err)
	}
	return nil, last
}

// verify checks a token with GET /v2/user and returns a credential holding
// a copy of it.
func (p *Provider) verify(ctx context.Context, env providers.Env, tok []byte, what string) (*providers.Credential, error) {
	if token.Is(string(tok)) {
		return nil, fmt.Errorf("%w: %s is a phantom placeholder (phm_…), not a Vercel token; run stack outside `phantom exec`", providers.ErrAuthInvalid, what)
	}
	u, err := p.newClient(env, tok, "").user(ctx)
	if err != nil {
		switch {
		case errors.Is(err, providers.ErrAuthInvalid):
			return nil, fmt.Errorf("%w: Vercel rejected %s (%v)", providers.ErrAuthInvalid, what, err)
		case errors.Is(err, providers.ErrUnreachable):
			return nil, fmt.Errorf("%w: could not check %s with Vercel: %v", providers.ErrUnreachable, what, err)
		}
		return nil, fmt.Errorf("checking %s with Vercel: %w", what, err)
	}
	id := map[string]string{"user_id": u.ID}
	if u.Username != "" {
		id["username"] = u.Username
	}
	if u.Email != "" {
		id["email"] = u.Email
	}
	return &providers.Credential{Slot: SlotToken, Value: append([]byte(nil), tok...), Identity: id}, nil
}

// oauthLogin runs Sign in with Vercel: authorization code + PKCE (S256) on a
// loopback redirect. Behind a sandbox override both the authorize page and
// the token endpoint live on the override's host (as the fake serves them).
func (p *Provider) oauthLogin(ctx context.Context, env providers.Env, req providers.LoginRequest, clientID string) (*providers.Credential, error) {
	auth, tok := authorizeURL, DefaultAPIURL+tokenPath
	if u := strings.TrimSpace(env.Lookup(BaseURLEnv)); u != "" {
		u = strings.TrimRight(u, "/")
		auth, tok = u+"/oauth/authorize", u+tokenPath
	}
	t, err := oauth.Login(ctx, env, oauth.Config{
		Provider:     "Vercel",
		ClientID:     clientID,
		ClientSecret: strings.TrimSpace(env.Lookup(ClientSecretEnv)),
		AuthURL:      auth,
		TokenURL:     tok,
		Scopes:       []string{"openid", "email", "profile", "offline_access"},
		NoBrowser:    req.Options["no-browser"] == "true",
		Timeout:      p.OAuthTimeout,
	})
	if err != nil {
		return nil, err
	}
	access := []byte(t.AccessToken)
	t.AccessToken, t.RefreshToken = "", ""
	cred, err := p.verify(ctx, env, access, "the token from Sign in with Vercel")
	clear(access)
	if err != nil {
		return nil, err
	}
	cred.ExpiresAt = t.Expiry
	if !t.Expiry.IsZero() {
		env.Printf("Signed in with Vercel; this access token expires at %s. For a token that lasts, create one at %s and set %s.",
			t.Expiry.Local().Format(time.Kitchen), p.Info().DocsURL, SlotToken)
	}
	return cred, nil
}

// nameRE is Vercel's project-name rule: up to 100 lowercase letters,
// digits, '.', '_' and '-', without "---".
var nameRE = regexp.MustCompile(`^[a-z0-9._-]{1,100}$`)

func projectName(n string) (string, error) {
	n = strings.ToLower(strings.TrimSpace(n))
	if n == "" {
		n = "stack-app"
	}
	if !nameRE.MatchString(n) || strings.Contains(n, "---") {
		return "", fmt.Errorf("%q is not a valid Vercel project name (up to 100 lowercase letters, digits, '.', '_', '-'; no \"---\")", n)
	}
	return n, nil
}

// team is the scope from --team, else a team id in $VERCEL_ORG_ID (what the
// Vercel CLI reads; a personal org id is a user id and means no team).
func team(env providers.Env, opts map[string]string) string {
	if t := strings.TrimSpace(opts["team"]); t != "" {
		return t
	}
	if t := strings.TrimSpace(env.Lookup(SlotOrgID)); strings.HasPrefix(t, "team_") {
		return t
	}
	return ""
}

func (p *Provider) resource(pr project, teamScope string) providers.Resource {
	org := pr.AccountID
	return providers.Resource{
		ID:          pr.ID,
		DisplayName: "Vercel project " + pr.Name,
		Meta:        map[string]string{MetaOrgID: org, MetaTeamID: teamScope, MetaName: pr.Name},
	}
}

// Provision implements providers.Provider: attach to req.UseID, or create
// the project req.Name. A 409 (the name is taken in the scope) adopts the
// project of that name: stack's names carry a random suffix, so it is the
// project an interrupted add created before it could record it. A create
// whose answer is lost is not sent again: see lostCreate.
func (p *Provider) Provision(ctx context.Context, env providers.Env, cred *providers.Credential, req providers.ProvisionRequest) (providers.Resource, error) {
	if cred == nil || len(cred.Value) == 0 {
		return providers.Resource{}, fmt.Errorf("%w: not signed in to Vercel", providers.ErrAuthRequired)
	}
	if req.Region != "" {
		return providers.Resource{}, errors.New("Vercel projects have no region to choose here; leave the region out")
	}
	scope := team(env, req.Options)
	c := p.newClient(env, cred.Value, scope)
	where := "your personal account"
	if scope != "" {
		where = "team " + scope
	}
	if req.UseID != "" {
		pr, err := c.getProject(ctx, req.UseID)
		if err != nil {
			switch {
			case statusOf(err) == http.StatusNotFound && req.Owned:
				// The interrupted add's own project was deleted meanwhile;
				// the rollback then drops the journal, so a re-run starts over.
				return providers.Resource{}, fmt.Errorf("the Vercel project %s that the interrupted stack add created is gone from %s; run stack add vercel again to create a new one", req.UseID, where)
			case statusOf(err) == http.StatusNotFound:
				return providers.Resource{}, fmt.Errorf("no Vercel project %q in %s; check the id (or name) on the project's settings page, and pass --team for a team's project", req.UseID, where)
			}
			return providers.Resource{}, fmt.Errorf("reading Vercel project %s: %w", req.UseID, err)
		}
		return p.resource(pr, scope), nil
	}
	name, err := projectName(req.Name)
	if err != nil {
		return providers.Resource{}, err
	}
	sent := time.Now()
	pr, err := c.createProject(ctx, name)
	if lostAnswer(err) {
		return p.lostCreate(ctx, env, c, name, where, scope, sent, req.Owned, err)
	}
	if statusOf(err) == http.StatusConflict {
		existing, gerr := c.getProject(ctx, name)
		if gerr != nil {
			return providers.Resource{}, fmt.Errorf("creating Vercel project %s: the name is taken, and reading that project failed: %w", name, gerr)
		}
		env.Printf("Vercel project %s already exists in %s (an earlier, interrupted stack add); using it.", name, where)
		return p.resource(existing, scope), nil
	}
	if err != nil {
		if errors.Is(err, providers.ErrAuthInvalid) && scope != "" {
			return providers.Resource{}, fmt.Errorf("creating Vercel project %s in %s: %w (is the token's account a member of that team?)", name, where, err)
		}
		return providers.Resource{}, fmt.Errorf("creating Vercel project %s in %s: %w", name, where, err)
	}
	return p.resource(pr, scope), nil
}

// lostAnswer is true when a create may have happened though its answer
// never arrived: no answer (network error, timeout, reset), a 5xx, or an
// unreadable 2xx. A 429 or another 4xx says it did not happen.
func lostAnswer(err error) bool {
	if errors.Is(err, errBadAnswer) {
		return true
	}
	st := statusOf(err)
	return errors.Is(err, providers.ErrUnreachable) && (st == 0 || st >= 500)
}

// A project found after a lost create answer counts as this call's only if
// Vercel dated it no earlier than this before the call (clocks differ).
const lostCreateSkew = 5 * time.Minute

// lostLookupTimeout bounds the look-up when the caller's context is
// already done (Ctrl-C during the create).
const lostLookupTimeout = 15 * time.Second

// lostCreate runs after a create whose answer was lost: the project may
// exist upstream with no id recorded, and a second POST could not tell
// (409 either way). It reads the planned name in the same scope instead; a
// project this call made is returned as created, so a later failure's
// rollback deletes it.
func (p *Provider) lostCreate(ctx context.Context, env providers.Env, c *client, name, where, scope string, sent time.Time, owned bool, cause error) (providers.Resource, error) {
	fail := fmt.Sprintf("creating Vercel project %s in %s", name, where)
	lctx := ctx
	if ctx.Err() != nil {
		// Still look: what the call made can then be rolled back.
		var cancel context.CancelFunc
		lctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), lostLookupTimeout)
		defer cancel()
	}
	pr, err := c.getProject(lctx, name)
	switch {
	case statusOf(err) == http.StatusNotFound:
		return providers.Resource{}, fmt.Errorf("%s: %w\nNo project of that name exists, so nothing was created; run the command again", fail, cause)
	case err != nil:
		return providers.Resource{}, fmt.Errorf("%s: %w\nThe project may have been created, but looking for it failed (%v); if Vercel lists a project %s in %s, delete it, or attach it with stack add vercel --use ID", fail, cause, err, name, where)
	case pr.Name != name || pr.ID == "":
		return providers.Resource{}, fmt.Errorf("%s: %w\nVercel's answer for the name %s was project %q (%s), not the one planned; nothing was adopted", fail, cause, name, pr.Name, pr.ID)
	}
	// A resumed add's project may be older than this call: it is the
	// interrupted run's, under the same random name.
	if !owned {
		created := time.UnixMilli(pr.CreatedAt)
		if pr.CreatedAt <= 0 || created.Before(sent.Add(-lostCreateSkew)) {
			when := "at an unknown time"
			if pr.CreatedAt > 0 {
				when = "at " + created.UTC().Format(time.RFC3339)
			}
			return providers.Resource{}, fmt.Errorf("%s: %w\nA project %s (%s) exists in %s, created %s, before this call: it was not made by this stack add and is left alone", fail, cause, name, pr.ID, where, when)
		}
	}
	env.Printf("Vercel: the answer to creating project %s was lost (%v), but the project exists in %s (%s); using it as created by this add.", name, cause, where, pr.ID)
	return p.resource(pr, scope), nil
}

// Materialize implements providers.Provider: the sign-in token (Vercel has
// no per-project tokens), the project id and the org id.
func (p *Provider) Materialize(_ context.Context, _ providers.Env, cred *providers.Credential, res providers.Resource) (*providers.Materialized, error) {
	if cred == nil || len(cred.Value) == 0 {
		return nil, fmt.Errorf("%w: no Vercel token to store", providers.ErrAuthRequired)
	}
	if res.ID == "" {
		return nil, errors.New("no Vercel project to fetch the ids of")
	}
	org := res.Meta[MetaOrgID]
	if org == "" {
		org = res.Meta[MetaTeamID]
	}
	m := &providers.Materialized{
		Values: []providers.Value{
			{Slot: SlotToken, Value: append([]byte(nil), cred.Value...)},
			{Slot: SlotProjectID, Value: []byte(res.ID)},
			{Slot: SlotOrgID, Value: []byte(org)},
		},
		URLs: map[string]string{"dashboard": "https://vercel.com/dashboard"},
	}
	return m, nil
}

// Healthcheck implements providers.Provider: read the project with the
// stored token. Under `stack doctor` the token is a phm token and the base
// URL phantom's proxy mount, which puts the real token on the wire.
func (p *Provider) Healthcheck(ctx context.Context, env providers.Env, res providers.Resource, secrets providers.SecretSource) providers.Health {
	var v []byte
	var ok bool
	if secrets != nil {
		v, ok = secrets(SlotToken)
	}
	if !ok || len(v) == 0 {
		return providers.Health{Status: providers.StatusMissing, Detail: SlotToken + " is not stored"}
	}
	if res.ID == "" {
		return providers.Health{Status: providers.StatusUnexpected, Detail: "no Vercel project is recorded (run stack add vercel)"}
	}
	c := p.newClient(env, v, res.Meta[MetaTeamID])
	start := time.Now()
	_, err := c.getProject(ctx, res.ID)
	lat := time.Since(start)
	h := providers.Health{Status: providers.StatusOK, Latency: lat}
	switch st := statusOf(err); {
	case err == nil:
	case st == http.StatusUnauthorized || st == http.StatusForbidden:
		h.Status, h.Detail = providers.StatusInvalid, fmt.Sprintf("Vercel rejected the token (HTTP %d)", st)
	case st == http.StatusNotFound:
		h.Status, h.Detail = providers.StatusInvalid, "project gone: Vercel has no project "+res.ID
	case errors.Is(err, providers.ErrUnreachable):
		h.Status, h.Detail = providers.StatusUnreachable, err.Error()
		if st == 0 {
			h.Latency = 0
		}
	default:
		h.Status, h.Detail = providers.StatusUnexpected, err.Error()
	}
	return h
}

// Deprovision implements providers.Provider: delete the project. A project
// that is already gone is not an error.
func (p *Provider) Deprovision(ctx context.Context, env providers.Env, cred *providers.Credential, res providers.Resource) error {
	if res.ID == "" {
		return nil
	}
	if cred == nil || len(cred.Value) == 0 {
		return fmt.Errorf("%w: not signed in to Vercel", providers.ErrAuthRequired)
	}
	err := p.newClient(env, cred.Value, res.Meta[MetaTeamID]).deleteProject(ctx, res.ID)
	if statusOf(err) == http.StatusNotFound {
		env.Printf("Vercel project %s was already deleted.", res.ID)
		return nil
	}
	if err != nil {
		return fmt.Errorf("deleting Vercel project %s: %w", res.ID, err)
	}
	return nil
}
