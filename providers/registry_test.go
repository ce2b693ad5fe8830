package providers_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"phantomstack.dev/providers"
)

// fakeProvider is the smallest Provider: only Info matters to the registry.
type fakeProvider struct{ info providers.Info }

func (f fakeProvider) Info() providers.Info { return f.info }
func (fakeProvider) Login(context.Context, providers.Env, providers.LoginRequest) (*providers.Credential, error) {
	return nil, errors.New("not used")
}
func (fakeProvider) Provision(context.Context, providers.Env, *providers.Credential, providers.ProvisionRequest) (providers.Resource, error) {
	return providers.Resource{}, errors.New("not used")
}
func (fakeProvider) Materialize(context.Context, providers.Env, *providers.Credential, providers.Resource) (*providers.Materialized, error) {
	return nil, errors.New("not used")
}
func (fakeProvider) Healthcheck(context.Context, providers.Env, providers.Resource, providers.SecretSource) providers.Health {
	return providers.Health{Status: providers.StatusUnexpected}
}
func (fakeProvider) Deprovision(context.Context, providers.Env, *providers.Credential, providers.Resource) error {
	return errors.New("not used")
}

func fake(name string, slots ...string) fakeProvider {
	info := providers.Info{Name: name, DisplayName: strings.ToUpper(name), Category: "test", Auth: providers.AuthAPIKey}
	for _, s := range slots {
		info.Slots = append(info.Slots, providers.Slot{Name: s, Secret: true})
	}
	return fakeProvider{info}
}

func TestRegistryRegisterGetAll(t *testing.T) {
	var r providers.Registry // zero value is usable
	for _, p := range []providers.Provider{fake("vercel", "VERCEL_TOKEN"), fake("aws", "AWS_SECRET_ACCESS_KEY"), fake("supabase", "SUPABASE_URL")} {
		if err := r.Register(p); err != nil {
			t.Fatalf("Register(%s): %v", p.Info().Name, err)
		}
	}
	p, err := r.Get("supabase")
	if err != nil || p.Info().Name != "supabase" {
		t.Fatalf("Get(supabase) = %v, %v", p, err)
	}
	var got []string
	for _, p := range r.All() {
		got = append(got, p.Info().Name)
	}
	if strings.Join(got, ",") != "aws,supabase,vercel" {
		t.Errorf("All() order = %v, want sorted by name", got)
	}
	if strings.Join(r.Names(), ",") != "aws,supabase,vercel" {
		t.Errorf("Names() = %v", r.Names())
	}
}

func TestRegistryGetUnknownListsNames(t *testing.T) {
	r, err := providers.NewRegistry(fake("openai", "OPENAI_API_KEY"), fake("github", "GITHUB_TOKEN"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Get("opneai")
	if !errors.Is(err, providers.ErrUnknown) {
		t.Fatalf("err = %v, want ErrUnknown", err)
	}
	if !strings.Contains(err.Error(), `"opneai" (did you mean "openai"?)`) || !strings.Contains(err.Error(), "github, openai") {
		t.Errorf("error %q should name the input, the nearest name and the sorted choices", err)
	}
	if _, err := r.Get("nosuch"); err == nil || strings.Contains(err.Error(), "did you mean") {
		t.Errorf("far-off name: %v", err)
	}

	var empty providers.Registry
	if _, err := empty.Get("x"); !errors.Is(err, providers.ErrUnknown) || !strings.Contains(err.Error(), "no providers") {
		t.Errorf("empty registry: %v", err)
	}
}

func TestRegistryRejectsDuplicatesAndInvalid(t *testing.T) {
	r, err := providers.NewRegistry(fake("openai", "OPENAI_API_KEY"))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Register(fake("openai", "OTHER")); err == nil || !strings.Contains(err.Error(), "already registered") {
		t.Errorf("duplicate: err = %v", err)
	}
	if err := r.Register(nil); err == nil {
		t.Error("nil provider accepted")
	}
	bad := []providers.Provider{
		fake("OpenAI", "OPENAI_API_KEY"),  // upper-case name
		fake("open ai", "OPENAI_API_KEY"), // space
		fake("noslots"),                   // no slots
		fake("lower", "openai_api_key"),   // slot not an env var name
		fake("dup", "A_KEY", "A_KEY"),     // slot twice
		fakeProvider{providers.Info{Name: "nodisplay", Slots: []providers.Slot{{Name: "K"}}}},
	}
	for _, p := range bad {
		if err := r.Register(p); err == nil {
			t.Errorf("Register(%+v) accepted", p.Info())
		}
	}
	if n := len(r.All()); n != 1 {
		t.Errorf("registry holds %d providers after rejected registrations, want 1", n)
	}
	if _, err := providers.NewRegistry(fake("a1", "K"), fake("a1", "K")); err == nil {
		t.Error("NewRegistry accepted a duplicate")
	}
}

func TestRegistryConcurrentUse(t *testing.T) {
	var r providers.Registry
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(2)
		go func() { defer wg.Done(); r.Register(fake("p"+string(rune('a'+i)), "K")) }()
		go func() { defer wg.Done(); r.All(); r.Get("pa") }()
	}
	wg.Wait()
	if n := len(r.Names()); n != 20 {
		t.Errorf("registered %d, want 20", n)
	}
}

func TestSlotValidate(t *testing.T) {
	for _, tc := range []struct {
		slot providers.Slot
		ok   bool
	}{
		{providers.Slot{Name: "OPENAI_API_KEY", Secret: true, Policy: providers.PolicyProxy}, true},
		{providers.Slot{Name: "DATABASE_URL", Secret: true, Policy: providers.PolicyInject}, true},
		{providers.Slot{Name: "JWT_SECRET", Secret: true, Policy: providers.PolicyDeny}, true},
		{providers.Slot{Name: "SUPABASE_URL"}, true},
		{providers.Slot{Name: "_X1"}, true},
		{providers.Slot{Name: "1X"}, false},
		{providers.Slot{Name: "A-B"}, false},
		{providers.Slot{Name: ""}, false},
		{providers.Slot{Name: "K", Secret: true, Policy: "reveal"}, false},
		{providers.Slot{Name: "AWS_REGION", Policy: providers.PolicyProxy}, false}, // policy on config
	} {
		if err := tc.slot.Validate(); (err == nil) != tc.ok {
			t.Errorf("Validate(%+v) = %v, want ok=%v", tc.slot, err, tc.ok)
		}
	}
}

func TestClearWipesValues(t *testing.T) {
	v := []byte("sk-secret")
	c := &providers.Credential{Value: v}
	c.Clear()
	if c.Value != nil || string(v) != "\x00\x00\x00\x00\x00\x00\x00\x00\x00" {
		t.Errorf("Credential.Clear left %q", v)
	}
	w := []byte("abc")
	m := &providers.Materialized{Values: []providers.Value{{Slot: "K", Value: w}}}
	m.Clear()
	if string(w) != "\x00\x00\x00" {
		t.Errorf("Materialized.Clear left %q", w)
	}
	(*providers.Credential)(nil).Clear()
	(*providers.Materialized)(nil).Clear()
}
