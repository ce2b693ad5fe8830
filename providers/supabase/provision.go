package supabase

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"phantomstack.dev/providers"
)

// Project statuses (docs/providers.md lists every documented value).
const statusReady = "ACTIVE_HEALTHY"

// failedStatuses end the wait: the project will not become ready by itself.
var failedStatuses = map[string]string{
	"INIT_FAILED":    "its set-up failed",
	"REMOVED":        "it was removed",
	"RESTORE_FAILED": "a restore failed",
	"PAUSE_FAILED":   "pausing it failed",
	"GOING_DOWN":     "it is being shut down",
	"PAUSING":        "it is being paused",
	"INACTIVE":       "it is paused",
}

// Provision implements providers.Provider: attach to req.UseID, adopt the
// project called req.Name in the organization (an interrupted add created
// it), or create it; then wait until it is ACTIVE_HEALTHY.
func (p *Provider) Provision(ctx context.Context, env providers.Env, cred *providers.Credential, req providers.ProvisionRequest) (providers.Resource, error) {
	if cred == nil || len(cred.Value) == 0 {
		return providers.Resource{}, fmt.Errorf("%w: not signed in to Supabase", providers.ErrAuthRequired)
	}
	c := p.newClient(env, cred) // Login already said when this is a sandbox
	if req.UseID != "" {
		res, err := p.attach(ctx, env, c, req.UseID)
		if err != nil || !req.Owned {
			return res, err
		}
		// An interrupted add created this project; its password died with
		// that process. A failed reset returns res too: the journal has
		// the project, and stack's rollback deletes it.
		return res, p.resetPassword(ctx, env, c, res.ID)
	}
	name := strings.TrimSpace(req.Name)
	if name == "" {
		name = "stack-app"
	}
	if strings.Contains(name, ".") || len(name) > 256 {
		return providers.Resource{}, fmt.Errorf("%q is not a valid Supabase project name (no dots, at most 256 characters)", name)
	}
	region := firstNonEmpty(req.Region, req.Options["region"], defaultRegion)
	org, err := p.chooseOrg(ctx, env, c, req.Options["org"])
	if err != nil {
		return providers.Resource{}, err
	}

	// Resume: a project of exactly this name in this organization is the
	// one an interrupted add created (stack's names carry a random suffix).
	if pr, found, err := findProject(ctx, c, org, name); err != nil {
		return providers.Resource{}, fmt.Errorf("looking for an existing Supabase project %s: %w", name, err)
	} else if found {
		env.Printf("Supabase project %s (%s) already exists in organization %s (an earlier, interrupted stack add); using it.", name, pr.ref(), org.Slug)
		return p.adopt(ctx, env, c, pr)
	}

	pass, err := newPassword()
	if err != nil {
		return providers.Resource{}, err
	}
	env.Printf("Supabase: creating project %s in organization %s (region %s)…", name, org.Slug, region)
	env.Report("creating the project")
	pr, err := c.createProject(ctx, createRequest{Name: name, OrganizationSlug: org.Slug, DBPass: string(pass), Region: region})
	switch st := statusOf(err); {
	case err == nil:
	case st == http.StatusConflict:
		// The name is taken (the fake says so with 409; the platform may
		// not): adopt it as above.
		existing, found, ferr := findProject(ctx, c, org, name)
		if ferr != nil || !found {
			clear(pass)
			return providers.Resource{}, fmt.Errorf("creating Supabase project %s: %w (and no project of that name is visible)", name, err)
		}
		clear(pass)
		env.Printf("Supabase project %s (%s) already exists in organization %s; using it.", name, existing.ref(), org.Slug)
		return p.adopt(ctx, env, c, existing)
	case errors.Is(err, providers.ErrUnreachable) && ctx.Err() == nil:
		// The create may have happened before the answer was lost. It is
		// not sent again (that could make a twin); look instead.
		existing, found, ferr := findProject(ctx, c, org, name)
		if ferr == nil && found {
			env.Printf("Supabase: the create answer was lost, but project %s (%s) exists; using it.", name, existing.ref())
			pr = existing
			break
		}
		clear(pass)
		return providers.Resource{}, fmt.Errorf("creating Supabase project %s in %s: %w\nNo project of that name exists, so nothing was created; run the command again", name, org.Slug, err)
	case st == http.StatusForbidden:
		clear(pass)
		return providers.Resource{}, fmt.Errorf("creating Supabase project %s: %w\nYour account may not create projects in organization %s (check your role there, and the plan's project limit; a free organization has two active projects)", name, err, org.Slug)
	default:
		clear(pass)
		return providers.Resource{}, fmt.Errorf("creating Supabase project %s in %s: %w", name, org.Slug, err)
	}
	ref := pr.ref()
	if ref == "" {
		clear(pass)
		return providers.Resource{}, errors.New("Supabase created a project but its answer carried no ref")
	}
	p.setPending(ref, pass)
	res, err := p.waitAndDescribe(ctx, env, c, pr, true)
	if err != nil {
		p.dropPending(ref)
	}
	return res, err
}

// adopt takes over a project an interrupted add created (found by the name
// stack gave it, which carries a random suffix): it waits for it and resets
// its database password, which nobody can read back. The project is this
// add's own from here on: when a step fails, its ref goes back with the
// error (the providers.Provider contract), so stack journals it and its
// rollback deletes it; docs/stack.md, "How stack add works".
func (p *Provider) adopt(ctx context.Context, env providers.Env, c *client, pr project) (providers.Resource, error) {
	res, err := p.waitAndDescribe(ctx, env, c, pr, false)
	if err != nil {
		return providers.Resource{ID: pr.ref(), Region: pr.Region, Meta: map[string]string{MetaName: pr.Name}}, err
	}
	return res, p.resetPassword(ctx, env, c, res.ID)
}

// resetPassword gives a project stack created, but whose password it no
// longer knows, a new generated password and keeps it for Materialize. A
// password that came with the run ($SUPABASE_DB_PASSWORD) is used instead.
func (p *Provider) resetPassword(ctx context.Context, env providers.Env, c *client, ref string) error {
	if p.peekPendingExists(ref) || strings.TrimSpace(env.Lookup(DBPasswordEnv)) != "" {
		return nil
	}
	pass, err := newPassword()
	if err != nil {
		return err
	}
	env.Report("resetting the database password")
	if err := c.updateDBPassword(ctx, ref, pass); err != nil {
		clear(pass)
		hint := ""
		if st := statusOf(err); st == http.StatusForbidden || st == http.StatusUnauthorized {
			hint = " (the sign-in needs the database:write scope, or the database_config_write permission)"
		}
		// No advice to set the password by hand: the caller rolls the
		// project back, and a new add sets its password when it creates
		// the project, without this call.
		return fmt.Errorf("setting a new database password for Supabase project %s failed%s: %w\n(An interrupted stack add created the project; its password was lost with that run, so the resume must set a new one.) Run the command again to start over: a new project gets its password when it is created", ref, hint, err)
	}
	env.Printf("Supabase project %s: set a new database password (the interrupted add's password was never stored).", ref)
	p.setPending(ref, pass)
	return nil
}

// attach reads an existing project (--use REF) and waits until it is ready.
func (p *Provider) attach(ctx context.Context, env providers.Env, c *client, ref string) (providers.Resource, error) {
	pr, err := c.project(ctx, ref)
	switch st := statusOf(err); {
	case err == nil:
	case st == http.StatusNotFound || st == http.StatusBadRequest:
		return providers.Resource{}, fmt.Errorf("no Supabase project %q is visible to this sign-in; the ref is the 20 letters in the project's URL (https://<ref>.supabase.co, or the dashboard's /project/<ref>)", ref)
	default:
		return providers.Resource{}, fmt.Errorf("reading Supabase project %s: %w", ref, err)
	}
	return p.waitAndDescribe(ctx, env, c, pr, false)
}

// chooseOrg picks the organization: --org (id or slug), else the only one,
// else a choice on a terminal, else an error listing them.
func (p *Provider) chooseOrg(ctx context.Context, env providers.Env, c *client, want string) (organization, error) {
	orgs, err := c.organizations(ctx)
	if err != nil {
		return organization{}, fmt.Errorf("listing your Supabase organizations: %w", err)
	}
	for i := range orgs {
		if orgs[i].Slug == "" {
			orgs[i].Slug = orgs[i].ID
		}
	}
	list := func() string {
		var b strings.Builder
		for _, o := range orgs {
			fmt.Fprintf(&b, "\n  %s  %s", o.Slug, o.Name)
		}
		return b.String()
	}
	if want = strings.TrimSpace(want); want != "" {
		for _, o := range orgs {
			if o.ID == want || o.Slug == want {
				return o, nil
			}
		}
		return organization{}, fmt.Errorf("you are not a member of a Supabase organization %q; yours are:%s", want, list())
	}
	switch len(orgs) {
	case 0:
		return organization{}, fmt.Errorf("your Supabase account has no organization; create one at https://supabase.com/dashboard/new, then run the command again")
	case 1:
		return orgs[0], nil
	}
	lp, ok := env.Prompt.(providers.LinePrompter)
	if !ok || !env.Interactive() {
		return organization{}, fmt.Errorf("you belong to %d Supabase organizations; choose one with --org:%s", len(orgs), list())
	}
	var b strings.Builder
	for i, o := range orgs {
		fmt.Fprintf(&b, "\n  %d) %s  %s", i+1, o.Slug, o.Name)
	}
	env.Printf("Which Supabase organization should the project go in?%s", b.String())
	for range 3 {
		line, err := lp.ReadLine(fmt.Sprintf("Organization (1-%d or slug): ", len(orgs)))
		if err != nil {
			return organization{}, err
		}
		line = strings.TrimSpace(line)
		if n, err := strconv.Atoi(line); err == nil && n >= 1 && n <= len(orgs) {
			return orgs[n-1], nil
		}
		for _, o := range orgs {
			if o.Slug == line || o.ID == line {
				return o, nil
			}
		}
		env.Printf("%q is not one of the organizations above.", line)
	}
	return organization{}, fmt.Errorf("no organization chosen; pass --org with one of:%s", list())
}

func findProject(ctx context.Context, c *client, org organization, name string) (project, bool, error) {
	prs, err := c.projects(ctx)
	if err != nil {
		return project{}, false, err
	}
	for _, pr := range prs {
		if pr.Name == name && (pr.OrganizationID == org.ID || pr.OrganizationSlug == org.Slug || pr.OrganizationID == org.Slug) {
			return pr, true, nil
		}
	}
	return project{}, false, nil
}

// waitAndDescribe waits for the project and returns it as a Resource. A
// project this call created is deleted again when the wait fails (timeout,
// a failed set-up, Ctrl-C): stack records a resource only once Provision
// returns, so nothing else would clean it up.
func (p *Provider) waitAndDescribe(ctx context.Context, env providers.Env, c *client, pr project, created bool) (providers.Resource, error) {
	ref := pr.ref()
	ready, err := p.wait(ctx, env, c, pr)
	if err != nil {
		if created {
			gone, cerr := p.cleanup(env, c, ref, err)
			if gone {
				return providers.Resource{}, cerr
			}
			// The project outlived its delete: hand its ref back with the
			// error (the providers.Provider contract) so stack journals it
			// and a rerun resumes or rolls it back, instead of leaving it
			// unknown upstream.
			return providers.Resource{ID: ref, Region: pr.Region, Meta: map[string]string{MetaName: pr.Name}}, cerr
		}
		return providers.Resource{}, err
	}
	meta := map[string]string{MetaOrg: ready.org(), MetaName: ready.Name, MetaURL: projectURL(env, ref)}
	if ready.Database != nil && ready.Database.Host != "" {
		meta[MetaDBHost] = ready.Database.Host
	}
	return providers.Resource{
		ID:          ref,
		DisplayName: "Supabase project " + ready.Name,
		Region:      ready.Region,
		Meta:        meta,
	}, nil
}

// cleanup deletes a project this call created after cause, on a fresh
// bounded context (ctx may be the cancelled one), and says what is left.
func (p *Provider) cleanup(env providers.Env, c *client, ref string, cause error) (gone bool, _ error) {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	err := c.deleteProject(ctx, ref)
	if err == nil || statusOf(err) == http.StatusNotFound {
		env.Printf("Supabase: deleted project %s again, since its set-up did not finish.", ref)
		return true, fmt.Errorf("%w\nThe project %s was deleted again; nothing is left upstream. Run the command again to start over", cause, ref)
	}
	return false, fmt.Errorf("%w\nThe project %s still exists upstream (deleting it failed: %v). Delete it at https://supabase.com/dashboard/project/%s/settings/general (or `supabase projects delete %s`), or run the same stack add again: it resumes this project",
		cause, ref, err, ref, ref)
}

func (p *Provider) waitTimeout(env providers.Env) time.Duration {
	if p.WaitTimeout > 0 {
		return p.WaitTimeout
	}
	if d, err := time.ParseDuration(strings.TrimSpace(env.Lookup(WaitTimeoutEnv))); err == nil && d > 0 {
		return d
	}
	return defaultWaitTimeout
}

// Poll backoff while waiting for ACTIVE_HEALTHY.
const (
	firstPoll    = 2 * time.Second
	maxPoll      = 15 * time.Second
	maxPollCount = 2000 // a hard bound on top of the timeout
)

// wait polls the project until ACTIVE_HEALTHY, reporting each status change.
func (p *Provider) wait(ctx context.Context, env providers.Env, c *client, pr project) (project, error) {
	ref := pr.ref()
	timeout := p.waitTimeout(env)
	start := p.now()
	deadline := start.Add(timeout)
	last := ""
	// With a progress view (stack's spinner, or its plain status lines)
	// each status goes there alone; a line per status on top of it would
	// say everything twice.
	if env.Progress != nil {
		env.Printf("Supabase: waiting for project %s to be ACTIVE_HEALTHY (at most %s)…", ref, timeout)
	}
	report := func(status string) {
		if status == last {
			return
		}
		last = status
		if env.Progress == nil {
			env.Printf("Supabase project %s: %s (%s elapsed)", ref, status, p.now().Sub(start).Round(time.Second))
		}
		env.Report(status)
	}
	if pr.Status != "" {
		report(pr.Status)
	}
	delay := firstPoll
	var lastErr error
	for range maxPollCount {
		cur, err := c.project(ctx, ref)
		switch {
		case err == nil:
			lastErr = nil
			report(cur.Status)
			if cur.Status == statusReady {
				return cur, nil
			}
			if why, bad := failedStatuses[cur.Status]; bad {
				return project{}, fmt.Errorf("Supabase project %s is %s: %s, so it will not become ready", ref, cur.Status, why)
			}
		case ctx.Err() != nil:
			return project{}, ctx.Err()
		case statusOf(err) == http.StatusNotFound:
			return project{}, fmt.Errorf("Supabase project %s disappeared while stack waited for it (was it deleted?)", ref)
		case errors.Is(err, providers.ErrUnreachable):
			lastErr = err // transient: keep waiting until the deadline
		default:
			return project{}, fmt.Errorf("checking on Supabase project %s: %w", ref, err)
		}
		now := p.now()
		if !now.Before(deadline) {
			break
		}
		if err := p.sleep(ctx, min(delay, deadline.Sub(now))); err != nil {
			return project{}, err
		}
		delay = min(delay*2, maxPoll)
	}
	msg := fmt.Sprintf("Supabase project %s was not ready after %s (last status %s)", ref, p.now().Sub(start).Round(time.Second), firstNonEmpty(last, "unknown"))
	if lastErr != nil {
		msg += fmt.Sprintf("; the last check failed: %v", lastErr)
	}
	return project{}, fmt.Errorf("%w: %s. Set %s to wait longer", providers.ErrUnreachable, msg, WaitTimeoutEnv)
}

func (p *Provider) setPending(ref string, pass []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pending == nil {
		p.pending = map[string][]byte{}
	}
	if old := p.pending[ref]; old != nil {
		clear(old)
	}
	p.pending[ref] = pass
}

func (p *Provider) peekPendingExists(ref string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pending[ref] != nil
}

// peekPending returns a copy of ref's password, if Provision kept one.
func (p *Provider) peekPending(ref string) []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	if v := p.pending[ref]; v != nil {
		return append([]byte(nil), v...)
	}
	return nil
}

func (p *Provider) dropPending(ref string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if v := p.pending[ref]; v != nil {
		clear(v)
		delete(p.pending, ref)
	}
}

const passwordAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// newPassword makes a 40-character database password (about 238 bits).
// Letters and digits only: it goes into a connection URL unescaped-safe and
// through any shell a user pastes it into.
func newPassword() ([]byte, error) {
	const n = 40
	out := make([]byte, n)
	buf := make([]byte, 1)
	for i := 0; i < n; {
		if _, err := rand.Read(buf); err != nil {
			return nil, err
		}
		// Rejection sampling keeps the distribution uniform.
		if int(buf[0]) >= 256-256%len(passwordAlphabet) {
			continue
		}
		out[i] = passwordAlphabet[int(buf[0])%len(passwordAlphabet)]
		i++
	}
	return out, nil
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
