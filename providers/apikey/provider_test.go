package apikey_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"phantomstack.dev/providers"
	"phantomstack.dev/providers/apikey"
	"phantomstack.dev/shared/term"
)

// keyServer accepts exactly one bearer key.
func keyServer(t *testing.T, good string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+good {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func openai(t *testing.T) providers.Provider {
	s, _ := apikey.Lookup("openai")
	p, err := apikey.New(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func envWith(srv *httptest.Server, vars map[string]string) (providers.Env, *strings.Builder) {
	var log strings.Builder
	vars["STACK_OPENAI_API_URL"] = srv.URL
	return providers.Env{
		HTTP:   srv.Client(),
		Getenv: func(k string) string { return vars[k] },
		Logf:   func(f string, a ...any) { fmt.Fprintf(&log, f+"\n", a...) },
	}, &log
}

// linePrompter answers each ReadSecret with the next line, then io.EOF.
type linePrompter struct{ lines []string }

func (p *linePrompter) CanPrompt() bool { return true }
func (p *linePrompter) ReadSecret(string) ([]byte, error) {
	if len(p.lines) == 0 {
		return nil, io.EOF
	}
	l := p.lines[0]
	p.lines = p.lines[1:]
	return []byte(l), nil
}

func ttyPrompt(lines ...string) providers.Prompter { return &linePrompter{lines} }

func TestTermStreamsArePrompters(t *testing.T) {
	ios, in, _, errOut := term.Test()
	ios.SetTTY(true, false, true)
	in.WriteString("sk-good\n")
	srv := keyServer(t, "sk-good")
	env, _ := envWith(srv, map[string]string{})
	env.Prompt = ios.Prompter(context.Background())
	cred, err := openai(t).Login(context.Background(), env, providers.LoginRequest{})
	if err != nil || string(cred.Value) != "sk-good" {
		t.Fatalf("Login via term streams: %v", err)
	}
	if !strings.Contains(errOut.String(), "Paste your OpenAI key") {
		t.Errorf("prompt = %q", errOut.String())
	}
}

func TestLoginFromEnvironment(t *testing.T) {
	srv := keyServer(t, "sk-good")
	env, _ := envWith(srv, map[string]string{"OPENAI_API_KEY": " sk-good\n"})
	cred, err := openai(t).Login(context.Background(), env, providers.LoginRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if cred.Slot != "OPENAI_API_KEY" || string(cred.Value) != "sk-good" {
		t.Errorf("cred = %s %q", cred.Slot, cred.Value)
	}

	env, _ = envWith(srv, map[string]string{"OPENAI_API_KEY": "sk-bad"})
	_, err = openai(t).Login(context.Background(), env, providers.LoginRequest{})
	if !errors.Is(err, providers.ErrAuthInvalid) || !strings.Contains(err.Error(), "$OPENAI_API_KEY") || strings.Contains(err.Error(), "sk-bad") {
		t.Errorf("bad env key: %v", err)
	}
}

func TestLoginRefusesPhantomPlaceholder(t *testing.T) {
	srv := keyServer(t, "sk-good")
	tok := "phm_" + strings.Repeat("ab", 32)
	env, _ := envWith(srv, map[string]string{"OPENAI_API_KEY": tok})
	_, err := openai(t).Login(context.Background(), env, providers.LoginRequest{})
	if !errors.Is(err, providers.ErrAuthInvalid) || !strings.Contains(err.Error(), "placeholder") {
		t.Errorf("err = %v", err)
	}
}

func TestLoginNonInteractiveWithoutKey(t *testing.T) {
	srv := keyServer(t, "sk-good")
	env, _ := envWith(srv, map[string]string{})
	_, err := openai(t).Login(context.Background(), env, providers.LoginRequest{})
	if !errors.Is(err, providers.ErrAuthRequired) || !strings.Contains(err.Error(), "OPENAI_API_KEY") || !strings.Contains(err.Error(), "https://platform.openai.com/api-keys") {
		t.Errorf("err = %v", err)
	}
	// Streams that are not a terminal do not count as interactive.
	ios, _, _, _ := term.Test()
	env.Prompt = ios.Prompter(context.Background())
	if _, err := openai(t).Login(context.Background(), env, providers.LoginRequest{}); !errors.Is(err, providers.ErrAuthRequired) {
		t.Errorf("non-TTY prompt: %v", err)
	}
}

func TestLoginPasteRetriesThenAccepts(t *testing.T) {
	srv := keyServer(t, "sk-good")
	env, log := envWith(srv, map[string]string{})
	env.Prompt = ttyPrompt("sk-wrong", "  sk-good  ")
	cred, err := openai(t).Login(context.Background(), env, providers.LoginRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if string(cred.Value) != "sk-good" {
		t.Errorf("value %q", cred.Value)
	}
	if !strings.Contains(log.String(), "platform.openai.com/api-keys") || !strings.Contains(log.String(), "rejected") {
		t.Errorf("log = %q", log.String())
	}
	if strings.Contains(log.String(), "sk-wrong") {
		t.Error("log echoes the pasted key")
	}
}

func TestLoginPasteGivesUp(t *testing.T) {
	srv := keyServer(t, "sk-good")
	env, _ := envWith(srv, map[string]string{})
	env.Prompt = ttyPrompt("a", "b", "c", "sk-good")
	if _, err := openai(t).Login(context.Background(), env, providers.LoginRequest{}); !errors.Is(err, providers.ErrAuthInvalid) {
		t.Errorf("after 3 bad pastes: %v", err)
	}
	env.Prompt = ttyPrompt("")
	if _, err := openai(t).Login(context.Background(), env, providers.LoginRequest{}); !errors.Is(err, providers.ErrAuthRequired) {
		t.Errorf("empty paste: %v", err)
	}
}

func TestLoginCachedCredential(t *testing.T) {
	srv := keyServer(t, "sk-good")
	env, log := envWith(srv, map[string]string{"OPENAI_API_KEY": "sk-good"})
	cached := &providers.Credential{Slot: "OPENAI_API_KEY", Value: []byte("sk-good")}
	cred, err := openai(t).Login(context.Background(), env, providers.LoginRequest{Cached: cached})
	if err != nil || string(cred.Value) != "sk-good" {
		t.Fatalf("cached good: %v", err)
	}
	if &cred.Value[0] == &cached.Value[0] {
		t.Error("Login returned the caller's buffer; clearing one would clear the other")
	}
	// A rejected cached key falls through to the environment.
	cached.Value = []byte("sk-stale")
	cred, err = openai(t).Login(context.Background(), env, providers.LoginRequest{Cached: cached})
	if err != nil || string(cred.Value) != "sk-good" {
		t.Fatalf("stale cache: %v", err)
	}
	if !strings.Contains(log.String(), "rejected") {
		t.Errorf("log = %q", log.String())
	}
}

func TestLoginUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }))
	t.Cleanup(srv.Close)
	env, _ := envWith(srv, map[string]string{"OPENAI_API_KEY": "sk-any"})
	if _, err := openai(t).Login(context.Background(), env, providers.LoginRequest{}); !errors.Is(err, providers.ErrUnreachable) {
		t.Errorf("env key, 503: %v", err)
	}
	cached := &providers.Credential{Value: []byte("sk-any")}
	if _, err := openai(t).Login(context.Background(), env, providers.LoginRequest{Cached: cached}); !errors.Is(err, providers.ErrUnreachable) {
		t.Errorf("cached key, 503: %v", err)
	}
}

func TestProvisionMaterializeHealthcheckDeprovision(t *testing.T) {
	srv := keyServer(t, "sk-good")
	env, log := envWith(srv, map[string]string{})
	p := openai(t)
	ctx := context.Background()

	res, err := p.Provision(ctx, env, nil, providers.ProvisionRequest{})
	if err != nil || res.ID != "default" {
		t.Errorf("Provision = %+v, %v", res, err)
	}
	if res, _ := p.Provision(ctx, env, nil, providers.ProvisionRequest{UseID: "org-1"}); res.ID != "org-1" {
		t.Errorf("--use ignored: %+v", res)
	}
	if _, err := p.Provision(ctx, env, nil, providers.ProvisionRequest{Region: "eu"}); err == nil {
		t.Error("region accepted")
	}

	cred := &providers.Credential{Slot: "OPENAI_API_KEY", Value: []byte("sk-good")}
	m, err := p.Materialize(ctx, env, cred, res)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Values) != 1 || m.Values[0].Slot != "OPENAI_API_KEY" || string(m.Values[0].Value) != "sk-good" {
		t.Errorf("values = %+v", m.Values)
	}
	cred.Clear()
	if string(m.Values[0].Value) != "sk-good" {
		t.Error("Materialize shares the credential's buffer")
	}
	if _, err := p.Materialize(ctx, env, nil, res); !errors.Is(err, providers.ErrAuthRequired) {
		t.Errorf("Materialize(nil) = %v", err)
	}

	src := func(v string) providers.SecretSource {
		return func(slot string) ([]byte, bool) {
			if slot != "OPENAI_API_KEY" || v == "" {
				return nil, false
			}
			return []byte(v), true
		}
	}
	if h := p.Healthcheck(ctx, env, res, src("sk-good")); h.Status != providers.StatusOK {
		t.Errorf("good: %+v", h)
	}
	if h := p.Healthcheck(ctx, env, res, src("sk-bad")); h.Status != providers.StatusInvalid {
		t.Errorf("bad: %+v", h)
	}
	if h := p.Healthcheck(ctx, env, res, src("")); h.Status != providers.StatusMissing {
		t.Errorf("missing: %+v", h)
	}
	if h := p.Healthcheck(ctx, env, res, nil); h.Status != providers.StatusMissing {
		t.Errorf("nil source: %+v", h)
	}

	if err := p.Deprovision(ctx, env, nil, res); err != nil {
		t.Error(err)
	}
	if !strings.Contains(log.String(), "revoke") {
		t.Errorf("Deprovision should tell the user where to revoke: %q", log.String())
	}
}

// Stripe's entry is its hosted server (the MCP client signs in with OAuth,
// nothing on this machine); GitHub's is the local binary, which cannot use
// phantom's proxy (docs/providers.md, "MCP servers").
func TestMCPServers(t *testing.T) {
	for name, want := range map[string]providers.MCPServer{
		"stripe": {Name: "stripe", URL: "https://mcp.stripe.com"},
		"github": {Name: "github", Command: "github-mcp-server"},
	} {
		s, ok := apikey.Lookup(name)
		if !ok || s.MCP == nil || s.MCP.Command != want.Command || s.MCP.URL != want.URL || s.MCP.ProxyAware || s.MCP.Source == "" {
			t.Fatalf("%s: MCP = %+v", name, s.MCP)
		}
		if s.MCP.URL != "" && (len(s.MCP.Args) > 0 || len(s.MCP.EnvFrom) > 0) {
			t.Fatalf("%s: a hosted server with a local command line: %+v", name, s.MCP)
		}
		p, _ := apikey.New(s)
		if m := p.Info().MCP; m == nil || m == s.MCP || m.Name != name {
			t.Fatalf("%s: Info().MCP = %+v (must be a copy)", name, m)
		}
	}
	if s, _ := apikey.Lookup("github"); s.MCP.EnvFrom["GITHUB_PERSONAL_ACCESS_TOKEN"] != "GITHUB_TOKEN" {
		t.Fatalf("github rename: %+v", s.MCP.EnvFrom)
	}
	for _, name := range []string{"openai", "anthropic", "resend"} {
		if s, _ := apikey.Lookup(name); s.MCP != nil {
			t.Fatalf("%s has no official local MCP server in the catalog: %+v", name, s.MCP)
		}
	}
	// A rename from a slot the provider does not have, or a value
	// placeholder in the arguments, is refused.
	bad := []providers.MCPServer{
		{Name: "x", Command: "x", Source: "s", EnvFrom: map[string]string{"A": "NOT_A_SLOT"}},
		{Name: "x", Command: "x", Source: "s", Args: []string{"--api-key=$STRIPE_SECRET_KEY"}},
		{Name: "x", Command: "x y", Source: "s"},
		{Name: "X", Command: "x", Source: "s"},
	}
	for _, m := range bad {
		s, _ := apikey.Lookup("stripe")
		m := m
		s.MCP = &m
		if _, err := apikey.New(s); err == nil {
			t.Errorf("accepted %+v", m)
		}
	}
}

// With no-verify a fresh key is taken without a call upstream (the provider
// is unreachable); a phantom placeholder is still refused. Without it, the
// unreachable error names the flag.
func TestLoginNoVerify(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls++; w.WriteHeader(503) }))
	t.Cleanup(srv.Close)
	env, log := envWith(srv, map[string]string{"OPENAI_API_KEY": "sk-offline"})
	_, err := openai(t).Login(context.Background(), env, providers.LoginRequest{})
	if !errors.Is(err, providers.ErrUnreachable) || !strings.Contains(err.Error(), "stack add openai --no-verify") {
		t.Fatalf("unreachable: %v", err)
	}
	calls = 0
	opts := map[string]string{providers.OptionNoVerify: "true"}
	cred, err := openai(t).Login(context.Background(), env, providers.LoginRequest{Options: opts})
	if err != nil || string(cred.Value) != "sk-offline" || calls != 0 {
		t.Fatalf("no-verify: %v (%d calls upstream)", err, calls)
	}
	if !strings.Contains(log.String(), "unverified") || strings.Contains(log.String(), "sk-offline") {
		t.Errorf("log = %q", log.String())
	}
	env, _ = envWith(srv, map[string]string{"OPENAI_API_KEY": "phm_" + strings.Repeat("ab", 32)})
	if _, err := openai(t).Login(context.Background(), env, providers.LoginRequest{Options: opts}); !errors.Is(err, providers.ErrAuthInvalid) {
		t.Errorf("placeholder with no-verify: %v", err)
	}
	// A pasted key too.
	env, _ = envWith(srv, map[string]string{})
	env.Prompt = ttyPrompt("sk-pasted")
	if cred, err := openai(t).Login(context.Background(), env, providers.LoginRequest{Options: opts}); err != nil || string(cred.Value) != "sk-pasted" {
		t.Errorf("pasted with no-verify: %v", err)
	}
}

// The paste prompt's article follows the name: "an OpenAI key".
func TestLoginPromptArticle(t *testing.T) {
	srv := keyServer(t, "sk-good")
	env, log := envWith(srv, map[string]string{})
	env.Prompt = ttyPrompt("sk-good")
	if _, err := openai(t).Login(context.Background(), env, providers.LoginRequest{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "Create an OpenAI key at ") || strings.Contains(log.String(), "a OpenAI") {
		t.Errorf("log = %q", log.String())
	}
}
