package trust

import (
	"slices"
	"strings"
	"testing"
	"time"

	"phantomstack.dev/phantom/internal/catalog"
	"phantomstack.dev/phantom/internal/vault"
)

// TestHashCoversWhatDecidesWhereValuesGo: every field that changes where a
// value goes, or which value, changes the hash; the order of lists does not.
func TestHashCoversWhatDecidesWhereValuesGo(t *testing.T) {
	base := catalog.Route{Name: "api", Upstream: "https://api.example.com", Secrets: []string{"A", "B"}, Headers: []string{"Authorization"},
		Query: []string{"key"}, BodyFields: []string{"value"}, BaseURLVars: []catalog.BaseURLVar{{Name: "API_URL", Suffix: "/v1"}},
		Inject: &catalog.Inject{Header: "X-Key", Format: "%s"}}
	h := Hash("api", base)
	same := base
	same.Secrets = []string{"B", "A"}
	if Hash("api", same) != h {
		t.Error("list order changed the hash")
	}
	for name, change := range map[string]func(r *catalog.Route){
		"upstream":      func(r *catalog.Route) { r.Upstream = "https://attacker.example" },
		"secrets":       func(r *catalog.Route) { r.Secrets = []string{"A", "B", "C"} },
		"headers":       func(r *catalog.Route) { r.Headers = []string{"Authorization", "X-Other"} },
		"query":         func(r *catalog.Route) { r.Query = nil },
		"body fields":   func(r *catalog.Route) { r.BodyFields = []string{"value", "prompt"} },
		"base url var":  func(r *catalog.Route) { r.BaseURLVars = []catalog.BaseURLVar{{Name: "API_URL", Suffix: "/v2"}} },
		"inject":        func(r *catalog.Route) { r.Inject = &catalog.Inject{Header: "X-Key", Format: "Bearer %s"} },
		"ca":            func(r *catalog.Route) { r.CAPEM = []byte("-----BEGIN CERTIFICATE-----") },
		"forward proxy": func(r *catalog.Route) { r.ForwardProxy = "http://proxy.example:3128" },
	} {
		r := base
		change(&r)
		if Hash("api", r) == h {
			t.Errorf("changing the %s kept the hash", name)
		}
	}
	if Hash("other", base) == h {
		t.Error("the route name is not covered")
	}
}

func TestApproveRouteInPayload(t *testing.T) {
	pl := &vault.Payload{Secrets: map[string]*vault.Secret{}}
	r := catalog.Route{Name: "openai", Upstream: "https://llm.internal.example", Secrets: []string{"OPENAI_API_KEY"}}
	if Approved(pl, "openai", r) || Approved(nil, "openai", r) {
		t.Fatal("approved before anything was approved")
	}
	ApproveRoute(pl, time.Now(), "openai", r, "route openai")
	if !Approved(pl, "openai", r) {
		t.Fatal("not approved after ApproveRoute")
	}
	r.Upstream = "https://attacker.example"
	if Approved(pl, "openai", r) {
		t.Fatal("a changed route is still approved")
	}
}

func TestBaselineWeakerAndFold(t *testing.T) {
	approved := Baseline{Audit: "required", Policies: map[string]string{"OPENAI_API_KEY": "proxy", "DB": "deny", "X": "inject"}, Public: []string{"SENTRY_DSN"}}
	cur := Baseline{Audit: "on", Policies: map[string]string{"OPENAI_API_KEY": "inject", "DB": "deny", "X": "proxy", "NEW": "inject"},
		Public: []string{"SENTRY_DSN", "*"}, EnvFiles: []string{".env.agent"}}
	got := strings.Join(Weaker(approved, cur), "\n")
	for _, want := range []string{`audit = "on" (approved: "required")`, "secret OPENAI_API_KEY: policy inject (approved: proxy)", `[classify] public pattern "*"`, "env file .env.agent"} {
		if !strings.Contains(got, want) {
			t.Errorf("Weaker does not report %q:\n%s", want, got)
		}
	}
	for _, not := range []string{"DB", "secret X", "NEW", "SENTRY_DSN"} {
		if strings.Contains(got, not) {
			t.Errorf("Weaker reports %q, which is not weaker:\n%s", not, got)
		}
	}
	f := Fold(approved, cur)
	if f.Audit != "required" || f.Policies["OPENAI_API_KEY"] != "proxy" || f.Policies["X"] != "proxy" || f.Policies["NEW"] != "inject" || f.Policies["DB"] != "deny" {
		t.Errorf("Fold took a weakening or missed a tightening: %+v", f)
	}
	if !slices.Equal(f.Public, []string{"SENTRY_DSN"}) || len(f.EnvFiles) != 0 {
		t.Errorf("Fold approved a pattern or env file: %+v", f)
	}
	// Tightening then loosening again is reported.
	if w := Weaker(Fold(Baseline{Audit: "on", Policies: map[string]string{"X": "inject"}}, Baseline{Audit: "on", Policies: map[string]string{"X": "deny"}}),
		Baseline{Audit: "on", Policies: map[string]string{"X": "inject"}}); len(w) != 1 {
		t.Errorf("re-loosening after a tightening: %v", w)
	}
}

func TestStoredBaselineRoundTripAndDamage(t *testing.T) {
	pl := &vault.Payload{Secrets: map[string]*vault.Secret{}}
	defaults := Baseline{Audit: "on", Policies: map[string]string{"A": "proxy", "B": "inject"}}
	got, err := ApprovedBaseline(pl, defaults)
	if err != nil || !got.Equal(defaults) {
		t.Fatalf("nothing stored: %+v %v, want the defaults", got, err)
	}
	StoreBaseline(pl, time.Now(), Baseline{Audit: "required", Policies: map[string]string{"A": "deny", "GONE": "deny"}, Public: []string{"P"}}, "test")
	got, err = ApprovedBaseline(pl, defaults)
	if err != nil || got.Audit != "required" || got.Policies["A"] != "deny" || got.Policies["B"] != "inject" || got.Policies["GONE"] != "" || !slices.Equal(got.Public, []string{"P"}) {
		t.Fatalf("stored baseline read back as %+v (%v)", got, err)
	}
	pl.Approvals[ConfigKey].Data = []byte(`{"audit":"off","policies":{}}`)
	if _, err := ApprovedBaseline(pl, defaults); err == nil {
		t.Fatal("a baseline whose data does not match its hash was accepted")
	}
}
