package catalog

import "testing"

func TestDefaultPolicy(t *testing.T) {
	if RouteFor("OPENAI_API_KEY") != "openai" || DefaultPolicy("OPENAI_API_KEY") != PolicyProxy {
		t.Fatal("OPENAI_API_KEY must be owned by the openai route")
	}
	if RouteFor("DATABASE_URL") != "" || DefaultPolicy("DATABASE_URL") != PolicyInject {
		t.Fatal("DATABASE_URL has no route and must default to inject")
	}
	for _, n := range []string{AWSAccessKeyID, AWSSecretAccessKey, AWSSessionToken} {
		if DefaultPolicy(n) != PolicyDeny {
			t.Fatalf("%s must default to deny (served only by the credentials endpoint), got %s", n, DefaultPolicy(n))
		}
	}
}

func TestNoSecretOwnedTwice(t *testing.T) {
	seen := map[string]string{}
	for _, r := range Routes() {
		for _, s := range r.Secrets {
			if prev, ok := seen[s]; ok {
				t.Errorf("%s owned by both %s and %s", s, prev, r.Name)
			}
			seen[s] = r.Name
		}
	}
}

// An upstream from the env files is usual only when it has the route's
// host shape exactly; everything else needs phantom trust.
func TestUsualUpstream(t *testing.T) {
	r, _ := Lookup("supabase")
	for up, want := range map[string]bool{
		"https://abcdefghijklmnopqrst.supabase.co":   true,
		"https://abcdefghijklmnopqrst.supabase.co/":  true,
		"https://ABCDEFGHIJKLMNOPQRST.Supabase.Co":   true,
		"http://abcdefghijklmnopqrst.supabase.co":    false, // not https
		"https://evil.example.com":                   false,
		"https://supabase.co":                        false, // no project label
		"https://a.b.supabase.co":                    false, // two labels
		"https://x.supabase.co.evil.com":             false,
		"https://x.supabase.co:8443":                 false,
		"https://user:pw@x.supabase.co":              false,
		"https://x.supabase.co/rest/v1":              false,
		"https://x.supabase.co?x=1":                  false,
		"https://evilsupabase.co":                    false,
		"http://127.0.0.1:5432/project/abcdefghijkl": false,
		"": false,
	} {
		if got := r.UsualUpstream(up); got != want {
			t.Errorf("UsualUpstream(%q) = %v, want %v", up, got, want)
		}
	}
	if o, _ := Lookup("openai"); o.UsualUpstream("https://api.openai.com") {
		t.Error("a route without UpstreamHost has no usual env upstream")
	}
}
