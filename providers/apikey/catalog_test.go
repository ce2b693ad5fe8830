package apikey_test

import (
	"net/url"
	"strings"
	"testing"

	"phantomstack.dev/providers"
	"phantomstack.dev/providers/apikey"
)

func TestCatalogEntriesAreWellFormed(t *testing.T) {
	specs := apikey.Specs()
	if len(specs) == 0 {
		t.Fatal("empty catalog")
	}
	seen := map[string]bool{}
	prev := ""
	for _, s := range specs {
		t.Run(s.Name, func(t *testing.T) {
			if err := s.Validate(); err != nil {
				t.Fatal(err)
			}
			// The same properties, asserted directly so a change to Validate
			// cannot quietly weaken them.
			if !providers.ValidName(s.Name) || s.DisplayName == "" || s.Category == "" {
				t.Errorf("bad identity %q / %q / %q", s.Name, s.DisplayName, s.Category)
			}
			for _, sl := range s.Slots {
				if !providers.ValidEnvName(sl.Name) {
					t.Errorf("slot %q is not a valid env var name", sl.Name)
				}
			}
			for _, raw := range []string{s.DocsURL, s.Verify.URL} {
				u, err := url.Parse(raw)
				if err != nil || u.Scheme != "https" || u.Host == "" {
					t.Errorf("%q is not an https URL", raw)
				}
			}
			if strings.Count(s.Verify.Format, apikey.SecretPlaceholder) != 1 {
				t.Errorf("format %q must hold %s once", s.Verify.Format, apikey.SecretPlaceholder)
			}
			if s.Verify.Method != "GET" {
				t.Errorf("verify method %s", s.Verify.Method)
			}
			if !providers.ValidEnvName(s.BaseURLEnv()) || !strings.HasPrefix(s.BaseURLEnv(), "STACK_") {
				t.Errorf("base URL env %q", s.BaseURLEnv())
			}
		})
		if seen[s.Name] {
			t.Errorf("%s listed twice", s.Name)
		}
		seen[s.Name] = true
		if s.Name < prev {
			t.Errorf("catalog not sorted: %s after %s", s.Name, prev)
		}
		prev = s.Name
	}
}

// TestCatalogContents pins the endpoints and header shapes; a change here is
// a change to what stack sends upstream and deserves a reviewer's eye.
func TestCatalogContents(t *testing.T) {
	want := map[string]struct{ slot, method, url, header, format string }{
		"openai":    {"OPENAI_API_KEY", "GET", "https://api.openai.com/v1/models", "Authorization", "Bearer {secret}"},
		"anthropic": {"ANTHROPIC_API_KEY", "GET", "https://api.anthropic.com/v1/models", "x-api-key", "{secret}"},
		"stripe":    {"STRIPE_SECRET_KEY", "GET", "https://api.stripe.com/v1/balance", "Authorization", "Bearer {secret}"},
		"resend":    {"RESEND_API_KEY", "GET", "https://api.resend.com/domains", "Authorization", "Bearer {secret}"},
		"github":    {"GITHUB_TOKEN", "GET", "https://api.github.com/user", "Authorization", "Bearer {secret}"},
	}
	specs := apikey.Specs()
	if len(specs) != len(want) {
		t.Errorf("catalog has %d entries, want %d", len(specs), len(want))
	}
	for name, w := range want {
		s, ok := apikey.Lookup(name)
		if !ok {
			t.Errorf("%s missing", name)
			continue
		}
		got := struct{ slot, method, url, header, format string }{s.Slots[0].Name, s.Verify.Method, s.Verify.URL, s.Verify.Header, s.Verify.Format}
		if got != w {
			t.Errorf("%s = %+v, want %+v", name, got, w)
		}
		if s.Slots[0].Policy != providers.PolicyProxy {
			t.Errorf("%s: policy %q, want proxy (phantom has a route for it)", name, s.Slots[0].Policy)
		}
	}
	a, _ := apikey.Lookup("anthropic")
	if len(a.Verify.Extra) != 1 || a.Verify.Extra[0] != (apikey.Header{Name: "anthropic-version", Value: "2023-06-01"}) {
		t.Errorf("anthropic extra headers = %v", a.Verify.Extra)
	}
	if _, ok := apikey.Lookup("nope"); ok {
		t.Error("Lookup(nope) found something")
	}
}

func TestSpecsReturnsCopies(t *testing.T) {
	s := apikey.Specs()
	s[0].Slots[0].Name = "MUTATED"
	s[0].Name = "mutated"
	if apikey.Specs()[0].Slots[0].Name == "MUTATED" || apikey.Specs()[0].Name == "mutated" {
		t.Error("Specs exposes the catalog's backing arrays")
	}
}

func TestValidateRejects(t *testing.T) {
	good, _ := apikey.Lookup("openai")
	for name, mutate := range map[string]func(*apikey.Spec){
		"http verify URL":     func(s *apikey.Spec) { s.Verify.URL = "http://api.openai.com/v1/models" },
		"http docs URL":       func(s *apikey.Spec) { s.DocsURL = "http://platform.openai.com" },
		"no placeholder":      func(s *apikey.Spec) { s.Verify.Format = "Bearer KEY" },
		"two placeholders":    func(s *apikey.Spec) { s.Verify.Format = "{secret}{secret}" },
		"bad header":          func(s *apikey.Spec) { s.Verify.Header = "x api key" },
		"POST verify":         func(s *apikey.Spec) { s.Verify.Method = "POST" },
		"slot mismatch":       func(s *apikey.Spec) { s.Verify.Slot = "OTHER_KEY" },
		"bad slot name":       func(s *apikey.Spec) { s.Slots[0].Name = "openai-key"; s.Verify.Slot = "openai-key" },
		"non-secret slot":     func(s *apikey.Spec) { s.Slots[0].Secret = false; s.Slots[0].Policy = "" },
		"two slots":           func(s *apikey.Spec) { s.Slots = append(s.Slots, providers.Slot{Name: "OPENAI_ORG"}) },
		"extra overrides key": func(s *apikey.Spec) { s.Verify.Extra = []apikey.Header{{Name: "authorization", Value: "x"}} },
		"extra with newline":  func(s *apikey.Spec) { s.Verify.Extra = []apikey.Header{{Name: "X-A", Value: "a\r\nB: c"}} },
		"no category":         func(s *apikey.Spec) { s.Category = "" },
		"bad name":            func(s *apikey.Spec) { s.Name = "Open AI" },
	} {
		s, _ := apikey.Lookup(good.Name)
		mutate(&s)
		if err := s.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
		if _, err := apikey.New(s); err == nil {
			t.Errorf("%s: New accepted", name)
		}
	}
}

func TestRegisterAll(t *testing.T) {
	var r providers.Registry
	if err := apikey.Register(&r); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(r.Names(), ","); got != "anthropic,github,openai,resend,stripe" {
		t.Errorf("names = %s", got)
	}
	p, _ := r.Get("openai")
	info := p.Info()
	if info.Auth != providers.AuthAPIKey || info.DisplayName != "OpenAI" || len(info.Slots) != 1 || info.Slots[0].Name != "OPENAI_API_KEY" {
		t.Errorf("info = %+v", info)
	}
	if err := apikey.Register(&r); err == nil {
		t.Error("registering the catalog twice succeeded")
	}
}
