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
