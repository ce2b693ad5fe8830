package supabase

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"phantomstack.dev/providers"
	"phantomstack.dev/shared/token"
)

// Materialize implements providers.Provider: the project URL, the legacy
// anon and service_role keys, the database password and DATABASE_URL.
//
// The password is the one Provision generated, kept in memory. For a
// project this process did not create (--use, an adopted or resumed add)
// Supabase cannot tell it: it comes from $SUPABASE_DB_PASSWORD, else a
// masked prompt, else the error says how to reset it.
func (p *Provider) Materialize(ctx context.Context, env providers.Env, cred *providers.Credential, res providers.Resource) (*providers.Materialized, error) {
	if cred == nil || len(cred.Value) == 0 {
		return nil, fmt.Errorf("%w: not signed in to Supabase", providers.ErrAuthRequired)
	}
	ref := res.ID
	if ref == "" {
		return nil, errors.New("no Supabase project to fetch the keys of")
	}
	c := p.newClient(env, cred)
	env.Report("fetching the API keys")
	keys, err := c.apiKeys(ctx, ref)
	if err != nil {
		if statusOf(err) == http.StatusNotFound {
			return nil, fmt.Errorf("Supabase project %s is gone (its API keys answer 404)", ref)
		}
		return nil, fmt.Errorf("fetching the API keys of Supabase project %s: %w", ref, err)
	}
	var anon, service []byte
	for _, k := range keys {
		switch {
		case k.Name == "anon" && k.APIKey != "":
			anon = []byte(k.APIKey)
		case k.Name == "service_role" && k.APIKey != "":
			service = []byte(k.APIKey)
		}
	}
	if anon == nil || service == nil {
		clear(anon)
		clear(service)
		var missing []string
		if anon == nil {
			missing = append(missing, "anon")
		}
		if service == nil {
			missing = append(missing, "service_role")
		}
		return nil, fmt.Errorf("Supabase project %s has no %s API key (legacy API keys disabled or revoked?); re-enable the legacy keys under Project Settings → API Keys, then run the command again",
			ref, strings.Join(missing, " or "))
	}

	pass := p.peekPending(ref)
	if pass == nil {
		pass, err = askPassword(env, ref)
		if err != nil {
			clear(anon)
			clear(service)
			return nil, err
		}
	}
	host := res.Meta[MetaDBHost]
	if host == "" {
		host = "db." + ref + ".supabase.co"
	}
	// Supabase's direct connection string (Project Settings → Database):
	// postgresql://postgres:[PASSWORD]@db.<ref>.supabase.co:5432/postgres.
	dsn := (&url.URL{Scheme: "postgresql", User: url.UserPassword("postgres", string(pass)), Host: host + ":5432", Path: "/postgres"}).String()
	m := &providers.Materialized{
		Values: []providers.Value{
			{Slot: SlotURL, Value: []byte(projectURL(env, ref))},
			{Slot: SlotAnonKey, Value: anon},
			{Slot: SlotServiceRoleKey, Value: service},
			{Slot: SlotDBPassword, Value: pass},
			{Slot: SlotDatabaseURL, Value: []byte(dsn)},
		},
		URLs: map[string]string{
			"dashboard": "https://supabase.com/dashboard/project/" + url.PathEscape(ref),
		},
	}
	// Handed out: the caller owns the copies and clears them.
	p.dropPending(ref)
	return m, nil
}

// askPassword gets the database password of a project stack did not create
// in this process.
func askPassword(env providers.Env, ref string) ([]byte, error) {
	reset := fmt.Sprintf("Supabase shows a database password only when the project is created. Reset it at https://supabase.com/dashboard/project/%s/database/settings (\"Reset database password\"), then set %s to it and run the command again", ref, DBPasswordEnv)
	if v := strings.TrimSpace(env.Lookup(DBPasswordEnv)); v != "" {
		if token.Is(v) {
			return nil, fmt.Errorf("$%s is a phantom placeholder (phm_…), not the password; run stack outside `phantom exec`", DBPasswordEnv)
		}
		return []byte(v), nil
	}
	if !env.Interactive() {
		return nil, fmt.Errorf("stack does not know the database password of Supabase project %s (it did not create it in this run). %s", ref, reset)
	}
	env.Printf("stack did not create Supabase project %s in this run, so it does not know its database password.", ref)
	raw, err := env.Prompt.ReadSecret("Database password of project " + ref + " (input hidden; empty to stop): ")
	if err != nil {
		return nil, err
	}
	v := bytes.TrimSpace(raw)
	if len(v) == 0 {
		clear(raw)
		return nil, fmt.Errorf("no database password given for Supabase project %s. %s", ref, reset)
	}
	out := bytes.Clone(v)
	clear(raw)
	return out, nil
}

// Healthcheck implements providers.Provider: GET {SUPABASE_URL}/rest/v1/
// (PostgREST's root) with the anon key, then with the service-role key,
// each in apikey and Authorization: Bearer as supabase-js sends them. Each
// key gets its own verdict in Health.Slots (revoking one leaves the other
// ok). The database password and DATABASE_URL are reported unverifiable:
// checking them means connecting to Postgres, which this check does not do
// (docs/stack.md, "stack doctor"). The overall Status is the worst key's.
//
// Under `stack doctor` this runs inside `phantom exec`: SUPABASE_URL is the
// proxy's mount for the supabase route and the keys are phm tokens, which
// the proxy replaces in those two headers; this process never holds a key.
func (p *Provider) Healthcheck(ctx context.Context, env providers.Env, res providers.Resource, secrets providers.SecretSource) providers.Health {
	get := func(slot string) []byte {
		if secrets == nil {
			return nil
		}
		if v, ok := secrets(slot); ok && len(v) > 0 {
			return v
		}
		return nil
	}
	base := string(get(SlotURL))
	if base == "" {
		base = env.Lookup(SlotURL)
	}
	if base == "" && res.ID != "" {
		base = projectURL(env, res.ID)
	}
	if base == "" {
		return providers.Health{Status: providers.StatusMissing, Detail: SlotURL + " is not set"}
	}
	base = strings.TrimRight(base, "/")
	var total time.Duration
	worst := providers.Health{Status: providers.StatusOK}
	var slots []providers.SlotHealth
	for _, k := range []struct{ slot, name string }{{SlotAnonKey, "anon"}, {SlotServiceRoleKey, "service-role"}} {
		h := providers.Health{Status: providers.StatusMissing, Detail: k.slot + " is not stored"}
		if key := get(k.slot); key != nil {
			h = probe(ctx, env, base, key, k.name)
		}
		if h.OK() {
			h.Detail = fmt.Sprintf("the REST API accepted the %s key", k.name)
		}
		total += h.Latency
		slots = append(slots, providers.SlotHealth{Slot: k.slot, Status: h.Status, Detail: h.Detail, Latency: h.Latency})
		if worst.OK() || severity(h.Status) > severity(worst.Status) {
			worst = h
		}
	}
	const noDB = "not checked: stack doctor does not connect to the database, so it cannot prove the database credential"
	slots = append(slots,
		providers.SlotHealth{Slot: SlotDBPassword, Status: providers.StatusUnverifiable, Detail: noDB},
		providers.SlotHealth{Slot: SlotDatabaseURL, Status: providers.StatusUnverifiable, Detail: noDB})
	if !worst.OK() {
		worst.Slots = slots
		return worst
	}
	return providers.Health{Status: providers.StatusOK, Latency: total, Detail: "REST API answered with the anon and service-role keys", Slots: slots}
}

// severity orders verdicts for the overall one: a refused key matters more
// than an unreachable API.
func severity(s providers.Status) int {
	switch s {
	case providers.StatusInvalid:
		return 4
	case providers.StatusMissing:
		return 3
	case providers.StatusUnexpected:
		return 2
	case providers.StatusUnreachable:
		return 1
	}
	return 0
}

func probe(ctx context.Context, env providers.Env, base string, key []byte, name string) providers.Health {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/rest/v1/", nil)
	if err != nil {
		return providers.Health{Status: providers.StatusUnexpected, Detail: SlotURL + " is not a URL"}
	}
	req.Header.Set("apikey", string(key))
	req.Header.Set("Authorization", "Bearer "+string(key))
	req.Header.Set("Accept", "application/json")
	start := time.Now()
	resp, err := env.Client().Do(req)
	lat := time.Since(start)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		// The host only: under phantom exec the path holds the session token.
		return providers.Health{Status: providers.StatusUnreachable, Detail: fmt.Sprintf("the project's REST API on %s did not answer: %v", req.URL.Host, err)}
	}
	resp.Body.Close()
	h := providers.Health{Latency: lat}
	switch st := resp.StatusCode; {
	case st/100 == 2:
		h.Status = providers.StatusOK
	case st == http.StatusUnauthorized || st == http.StatusForbidden:
		h.Status, h.Detail = providers.StatusInvalid, fmt.Sprintf("Supabase rejected the %s key (HTTP %d): it was rotated or revoked", name, st)
	case st == http.StatusTooManyRequests || st >= 500:
		h.Status, h.Detail = providers.StatusUnreachable, fmt.Sprintf("the project's REST API answered HTTP %d to the %s key (paused or not ready?)", st, name)
	case st == http.StatusNotFound:
		h.Status, h.Detail = providers.StatusInvalid, "the project's REST API answered 404 (project deleted?)"
	default:
		h.Status, h.Detail = providers.StatusUnexpected, fmt.Sprintf("the project's REST API answered HTTP %d to the %s key", st, name)
	}
	return h
}

// Deprovision implements providers.Provider: delete the project. A project
// that is already gone is not an error.
func (p *Provider) Deprovision(ctx context.Context, env providers.Env, cred *providers.Credential, res providers.Resource) error {
	if res.ID == "" {
		return nil
	}
	p.dropPending(res.ID)
	if cred == nil || len(cred.Value) == 0 {
		return fmt.Errorf("%w: not signed in to Supabase", providers.ErrAuthRequired)
	}
	err := p.newClient(env, cred).deleteProject(ctx, res.ID)
	switch st := statusOf(err); {
	case err == nil:
		env.Printf("Supabase: deleted project %s.", res.ID)
		return nil
	case st == http.StatusNotFound:
		env.Printf("Supabase project %s was already deleted.", res.ID)
		return nil
	case st == http.StatusForbidden:
		return fmt.Errorf("deleting Supabase project %s: %w (only an organization owner or administrator may delete a project)", res.ID, err)
	}
	return fmt.Errorf("deleting Supabase project %s: %w", res.ID, err)
}
