package oauthsrv

import "testing"

func TestRedirectAllowed(t *testing.T) {
	c := &Client{RedirectURIs: []string{"http://127.0.0.1/callback", "http://[::1]/cb?x=1", "https://app.example/cb"}}
	cases := map[string]bool{
		"http://127.0.0.1/callback":        true,
		"http://127.0.0.1:53682/callback":  true, // any port on loopback (RFC 8252 §7.3)
		"http://127.0.0.1:53682/callback/": false,
		"http://127.0.0.1:53682/other":     false,
		"https://127.0.0.1:53682/callback": false,
		"http://127.0.0.2:53682/callback":  false, // another host
		"http://localhost:53682/callback":  false, // a different loopback host than registered
		"http://[::1]:9000/cb?x=1":         true,
		"http://[::1]:9000/cb":             false,
		"https://app.example/cb":           true,
		"https://app.example:8443/cb":      false, // not loopback: exact match only
		"http://127.0.0.1:1/callback#frag": false,
		"http://u:p@127.0.0.1:1/callback":  false,
	}
	for u, want := range cases {
		if got := redirectAllowed(c, u); got != want {
			t.Errorf("%s: %v, want %v", u, got, want)
		}
	}
}

func TestVerifierAndChallenge(t *testing.T) {
	// RFC 7636 Appendix B.
	if got := S256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"); got != "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM" {
		t.Fatalf("S256 %s", got)
	}
	if !validChallenge("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM") || validChallenge("plain-value") {
		t.Fatal("challenge check")
	}
	if validVerifier("short") || validVerifier("has space and is long enough to pass the length check ok") || !validVerifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") {
		t.Fatal("verifier check")
	}
}
