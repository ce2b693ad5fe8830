package cli

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"phantomstack.dev/phantom/internal/catalog"
	"phantomstack.dev/phantom/internal/vault"
)

func TestChildBaseEnvDropsPhantomVariables(t *testing.T) {
	in := []string{"PATH=/bin", "PHANTOM_VAULT_PASSPHRASE=x", "PHANTOM_VAULT_PASSPHRASE_FILE=/p", "PHANTOM_HOME=/h",
		"PHANTOM_AUDIT=0", "PHANTOM_PROXY_TOKEN=old", "MY_PHANTOM_THING=kept", "phantom_lower=kept"}
	got := childBaseEnv(in)
	want := []string{"PATH=/bin", "MY_PHANTOM_THING=kept", "phantom_lower=kept"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if len(in) != 8 || in[1] != "PHANTOM_VAULT_PASSPHRASE=x" {
		t.Fatal("childBaseEnv changed its input")
	}
}

// TestMaskerHidesThePassphrase: both ways of giving the passphrase end up
// in the masker, which replaces it with a placeholder (and a vault value
// with its token).
func TestMaskerHidesThePassphrase(t *testing.T) {
	dir := t.TempDir()
	pf := filepath.Join(dir, "pass")
	os.WriteFile(pf, []byte("from-file-passphrase\n"), 0o600)
	env := map[string]string{vault.EnvPassphrase: "from-env-passphrase"}
	f := &Factory{Env: func(k string) string { return env[k] }}
	pl := &vault.Payload{Secrets: map[string]*vault.Secret{"K": {Value: []byte("sk-value-123"), Token: "phm_" + strings.Repeat("a", 64)}}}

	m := maskerFor(pl, passphraseMask(f))
	got, _ := m.Replace([]byte("a from-env-passphrase b sk-value-123"))
	if string(got) != "a [phantom: vault passphrase] b phm_"+strings.Repeat("a", 64) {
		t.Fatalf("masked: %q", got)
	}
	env = map[string]string{vault.EnvPassphraseFile: pf}
	m = maskerFor(pl, passphraseMask(f))
	if got, _ := m.Replace([]byte("from-file-passphrase")); string(got) != passphrasePlaceholder {
		t.Fatalf("masked: %q", got)
	}
	// Nothing set: nothing extra masked; a vault value is never replaced by
	// the placeholder even when it equals the passphrase.
	env = map[string]string{}
	if len(passphraseMask(f)) != 0 {
		t.Fatal("mask without a passphrase")
	}
	m = maskerFor(pl, map[string]string{"sk-value-123": passphrasePlaceholder})
	if got, _ := m.Replace([]byte("sk-value-123")); !strings.HasPrefix(string(got), "phm_") {
		t.Fatalf("masked: %q", got)
	}
}

// TestProxyOnlyPayload: the background proxy keeps the values of its
// routes' secrets, vaulted upstreams and AWS keys; every other secret keeps
// its token only, and no secret keeps its env-file text.
func TestProxyOnlyPayload(t *testing.T) {
	tok := func(c string) string { return "phm_" + strings.Repeat(c, 64) }
	pl := &vault.Payload{Secrets: map[string]*vault.Secret{
		"OPENAI_API_KEY":        {Value: []byte("sk-openai"), Token: tok("a"), Origins: map[string]string{".env": "sk-openai"}},
		"DATABASE_URL":          {Value: []byte("postgres://u:p@h/db"), Token: tok("b"), Origins: map[string]string{".env": "postgres://u:p@h/db"}},
		"MY_UPSTREAM":           {Value: []byte("https://api.example.test"), Token: tok("c")},
		"AWS_SECRET_ACCESS_KEY": {Value: []byte("aws-secret"), Token: tok("d")},
	}}
	routes := []catalog.Route{{Name: "openai", Secrets: []string{"OPENAI_API_KEY"}}, {Name: "mine", Secrets: []string{"NOT_IN_VAULT"}, UpstreamEnv: "MY_UPSTREAM"}}
	got := proxyOnlyPayload(pl, routes)
	want := map[string]string{"OPENAI_API_KEY": "sk-openai", "DATABASE_URL": "", "MY_UPSTREAM": "https://api.example.test", "AWS_SECRET_ACCESS_KEY": "aws-secret"}
	for name, v := range want {
		s := got.Secrets[name]
		if s == nil || string(s.Value) != v || s.Token != pl.Secrets[name].Token || s.Origins != nil {
			t.Errorf("%s: %+v, want value %q", name, s, v)
		}
	}
	if string(pl.Secrets["DATABASE_URL"].Value) == "" || pl.Secrets["OPENAI_API_KEY"].Origins == nil {
		t.Fatal("proxyOnlyPayload changed the vault's payload")
	}
}
