package proxy

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"phantomstack.dev/phantom/internal/catalog"
)

// A body grant lets the vercel route carry OPENAI_API_KEY in its declared
// "value" field (stack env push), and nowhere else: not in a credential
// header, not in an undeclared field, not on another route; secrets not
// granted stay refused.
func TestBodyGrant(t *testing.T) {
	var up seen
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { up.add(r) }))
	defer upstream.Close()
	h := start(t, upstream.URL, nil, func(o *Options) {
		o.BodyGrants = map[string][]string{"vercel": {"OPENAI_API_KEY"}}
	})
	post := func(route, body, auth string) (int, string) {
		req := newReq(t, "POST", h.url(route, "/v10/projects/p/env?upsert=true"), body)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+auth)
		resp, rb := do(t, req)
		return resp.StatusCode, rb
	}
	body := `{"key":"OPENAI_API_KEY","value":"` + openaiTok + `","comment":"` + openaiTok + `","type":"encrypted","target":["production"]}`
	if code, rb := post("vercel", body, vercelTok); code != 200 {
		t.Fatalf("granted body field: %d %s", code, rb)
	}
	r, got := up.last(t)
	want := strings.Replace(body, `"value":"`+openaiTok, `"value":"`+openaiValue, 1)
	if got != want {
		t.Fatalf("upstream body\n got %s\nwant %s", got, want)
	}
	if r.Header.Get("Authorization") != "Bearer "+vercelValue {
		t.Fatal("route token not substituted")
	}
	n := len(up.reqs)
	for name, c := range map[string]struct{ route, body, auth string }{
		"granted secret in the credential header": {"vercel", `{"value":"x"}`, openaiTok},
		"secret that was not granted":             {"vercel", `{"value":"` + stripeTok + `"}`, vercelTok},
	} {
		if code, rb := post(c.route, c.body, c.auth); code != http.StatusForbidden {
			t.Fatalf("%s: %d %s", name, code, rb)
		}
	}
	if len(up.reqs) != n {
		t.Fatal("a refused request reached the upstream")
	}
	// Another route: the grant does not apply, the token goes as it came.
	if code, _ := post("stripe", `{"value":"`+openaiTok+`"}`, stripeTok); code != 200 {
		t.Fatalf("stripe: %d", code)
	}
	if _, got := up.last(t); strings.Contains(got, openaiValue) || !strings.Contains(got, openaiTok) {
		t.Fatalf("grant leaked to another route: %s", got)
	}
	// A grant on a route that declares no body fields is a setup error.
	_, err := New(Options{Routes: func() []catalog.Route {
		r, _ := catalog.Lookup("openai")
		r.Upstream = upstream.URL
		return []catalog.Route{r}
	}(),
		Secrets: secrets(), BodyGrants: map[string][]string{"openai": {"STRIPE_SECRET_KEY"}}})
	if err == nil {
		t.Fatal("grant on a route without body fields accepted")
	}
}
