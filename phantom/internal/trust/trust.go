// Package trust holds the human decisions phantom acts on: which proxy
// routes may send secrets somewhere other than their built-in upstream, and
// which changes to .phantom.toml that weaken protection were approved.
//
// .phantom.toml and the env files are committed or at least writable by any
// process of the user's — a pull request, or an AI agent told to "fix the
// config", can point the openai route at its own host or turn a proxied key
// into an injected one. So such a change takes effect only after `phantom
// trust`, run by a human on a terminal, has stored its approval. Approvals
// live inside the encrypted vault payload (vault.Payload.Approvals): a
// process without the vault key cannot write one, unlike a file in
// PHANTOM_HOME (docs/security.md). Any later change to an approved route
// changes its hash and needs a new approval. Approvals name routes and
// settings, never values.
package trust

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"time"

	"phantomstack.dev/phantom/internal/catalog"
	"phantomstack.dev/phantom/internal/vault"
)

// Key prefixes in vault.Payload.Approvals.
const (
	routePrefix = "route:"
	// ConfigKey holds the approved protection baseline (see Baseline).
	ConfigKey = "config"
)

// RouteKey is the approval key of a route; for a built-in route's upstream
// read from an env var (supabase's SUPABASE_URL) name is EnvRouteName's.
func RouteKey(name string) string { return routePrefix + name }

// EnvRouteName is the approval name for a built-in route's upstream read
// from an env var: kept apart from the route's own [routes.NAME] approval,
// which is a different question.
func EnvRouteName(route, envVar string) string { return route + "/" + envVar }

// Hash identifies everything about a route, as it would be mounted, that
// decides where values go and which values may go there: its name, the
// effective upstream and secrets, where credentials travel, the CA
// certificates it trusts (their content, not the file name) and the
// forward proxy it goes through.
func Hash(name string, r catalog.Route) string {
	canon := struct {
		V                                       int
		Name, Upstream                          string
		Secrets, Headers, Query, BodyFields     []string
		BaseURL                                 []string
		InjectHeader, InjectFormat, CA, FwProxy string
	}{V: 2, Name: name, Upstream: r.Upstream,
		Secrets: sorted(r.Secrets), Headers: sorted(r.Headers), Query: sorted(r.Query), BodyFields: sorted(r.BodyFields),
		FwProxy: r.ForwardProxy}
	for _, b := range r.BaseURLVars {
		canon.BaseURL = append(canon.BaseURL, b.Name+"\x00"+b.Suffix)
	}
	slices.Sort(canon.BaseURL)
	if r.Inject != nil {
		canon.InjectHeader, canon.InjectFormat = r.Inject.Header, r.Inject.Format
	}
	if len(r.CAPEM) > 0 {
		sum := sha256.Sum256(r.CAPEM)
		canon.CA = hex.EncodeToString(sum[:])
	}
	b, _ := json.Marshal(canon)
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// Approved reports whether route r, under approval name name, is approved
// in pl exactly as it is now.
func Approved(pl *vault.Payload, name string, r catalog.Route) bool {
	if pl == nil {
		return false
	}
	a := pl.Approvals[RouteKey(name)]
	return a != nil && a.Hash == Hash(name, r)
}

// ApproveRoute records the approval of route r under name in pl (call it
// inside vault.Update). detail describes it for `phantom trust --list` and
// must not hold a value.
func ApproveRoute(pl *vault.Payload, now time.Time, name string, r catalog.Route, detail string) {
	if pl.Approvals == nil {
		pl.Approvals = map[string]*vault.Approval{}
	}
	pl.Approvals[RouteKey(name)] = &vault.Approval{Hash: Hash(name, r), Detail: detail, ApprovedAt: now.UTC().Round(time.Second)}
}
