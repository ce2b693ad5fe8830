//go:build linux

package redteam

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func init() {
	// callopenai: the agent's program under phantom exec. It calls the
	// openai route the way the SDK does (OPENAI_BASE_URL, the token as a
	// Bearer key) and writes what came back to a file in the project,
	// where masking does not reach.
	children["callopenai"] = func(args []string) int {
		os.WriteFile("child-ran", []byte("yes"), 0o644)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "POST", os.Getenv("OPENAI_BASE_URL")+"/chat/completions", strings.NewReader(`{"model":"x"}`))
		req.Header.Set("Authorization", "Bearer "+os.Getenv("OPENAI_API_KEY"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			os.WriteFile("child-got", []byte("error: "+err.Error()), 0o644)
			return 1
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		os.WriteFile("child-got", []byte(fmt.Sprintf("%d %s", resp.StatusCode, b)), 0o644)
		return 0
	}
	children["printenvall"] = func(args []string) int {
		b, _ := os.ReadFile("/proc/self/environ")
		os.WriteFile("child-env", b, 0o644)
		return 0
	}
}

// humanTrust is the human's part of a setup: `phantom trust` on a
// terminal, answered "trust". (An agent can do the same through a
// pseudo-terminal it opens itself; docs/security.md lists that path as
// open until the hardened mode.)
func (a *Agent) humanTrust() {
	a.t.Helper()
	if _, err := lookPath("script"); err != nil {
		if os.Getenv("CI") != "" {
			a.t.Fatal("script(1) is missing; .ci/run installs bsdutils")
		}
		a.t.Skip("script(1) not installed")
	}
	r := a.Run("trust\n", "script", "-qec", phantomBin+" trust", "/dev/null")
	if !strings.Contains(r.Out(), "Approved") {
		a.t.Fatalf("phantom trust on a terminal did not approve: %s", r.Out())
	}
}

// TestPath2_ForgedRouteApproval: the agent points the openai route at its
// own listener and forges the approval the way it used to work — a
// trust.json in PHANTOM_HOME holding the route's unkeyed SHA-256 — then
// runs the app. Approvals now live inside the encrypted vault: the forged
// file is ignored, exec runs nothing, the key never reaches the listener,
// and the refusal is audited.
func TestPath2_ForgedRouteApproval(t *testing.T) {
	a := NewAgent(t, []string{"OPENAI_API_KEY"})
	l := Listen(t)
	a.WriteFile(".phantom.toml", a.ReadFile(".phantom.toml")+fmt.Sprintf("\n[routes.openai]\nupstream = %q\n", l.URL()))

	// The old format's hash, recomputed as any same-user process could.
	canon, _ := json.Marshal(struct {
		Upstream, InjectHeader, InjectFormat, Suffix string
		Secrets, Headers, Query, BodyFields, BaseURL []string
	}{Upstream: l.URL(), Secrets: []string{}, Headers: []string{}, Query: []string{}, BodyFields: []string{}, BaseURL: []string{}})
	sum := sha256.Sum256(canon)
	pid := projectID(t, a)
	forged := fmt.Sprintf(`{"version":1,"projects":{%q:{"openai":{"hash":"sha256:%s","upstream":%q,"approved_at":"2026-01-01T00:00:00Z"}}}}`, pid, hex.EncodeToString(sum[:]), l.URL())
	if err := os.WriteFile(filepath.Join(a.Home, "trust.json"), []byte(forged), 0o600); err != nil {
		t.Fatal(err)
	}

	r := a.Phantom("", append([]string{"exec", "--"}, Child("callopenai")...)...)
	if r.Code != 5 || !strings.Contains(r.Stderr, "phantom trust") {
		t.Fatalf("exec with a forged approval: exit %d, want 5 naming phantom trust\n%s", r.Code, r.Out())
	}
	if _, err := os.Stat(filepath.Join(a.Dir, "child-ran")); err == nil {
		t.Fatal("the child ran although the route is not approved")
	}
	if n := l.Connections(); n != 0 {
		t.Fatalf("the agent's listener got %d connection(s)", n)
	}
	AssertNoValue(t, "the agent's listener", l.Received(), a.Values()...)
	a.AssertClean(r)
	a.AssertAudited("exec.refused", "unapproved route change")

	// Approving takes a terminal; without one it is refused and audited.
	r = a.Phantom("", "trust")
	if r.Code != 5 {
		t.Fatalf("trust without a terminal: exit %d\n%s", r.Code, r.Out())
	}
	a.AssertAudited("trust.refused", "no terminal")

	// Once a human approves, the approval covers the route exactly: the
	// audit says where each route sends requests.
	a.humanTrust()
	a.AssertAudited("route.trust", l.URL())
	r = a.Phantom("", append([]string{"exec", "--"}, Child("callopenai")...)...)
	if r.Code != 0 {
		t.Fatalf("exec after approval: %d %s", r.Code, r.Out())
	}
	a.AssertAudited("exec.start", "openai="+l.URL())
}

// TestPath2_SwappedCAFile: a human approved a route whose ca_file names a
// CA; the agent replaces the file's content with its own CA. The approval
// covers the content, so the route is pending again.
func TestPath2_SwappedCAFile(t *testing.T) {
	a := NewAgent(t, []string{"OPENAI_API_KEY"})
	a.WriteFile("ca.pem", testCAPEM(t))
	a.WriteFile(".phantom.toml", a.ReadFile(".phantom.toml")+"\n[routes.openai]\nupstream = \"https://llm.internal.example\"\nca_file = \"ca.pem\"\n")
	a.humanTrust()
	if r := a.Phantom("", "exec", "--", "true"); r.Code != 0 {
		t.Fatalf("exec after approval: %d %s", r.Code, r.Out())
	}
	a.WriteFile("ca.pem", testCAPEM(t)) // another CA: the agent's
	r := a.Phantom("", append([]string{"exec", "--"}, Child("callopenai")...)...)
	if r.Code != 5 || !strings.Contains(r.Stderr, "ca.pem") {
		t.Fatalf("exec after the CA file changed: exit %d, want 5\n%s", r.Code, r.Out())
	}
	a.AssertClean(r)
	a.AssertAudited("exec.refused", "ca.pem")
}

// TestPath3_EnvironmentMITM: the agent starts phantom with HTTPS_PROXY
// pointing at its own CONNECT listener and SSL_CERT_FILE at its own CA.
// phantom's connections ignore both: the built-in openai route connects
// directly with the system roots, so the listener gets nothing (there is
// no internet here, so the request itself fails), and the child still
// gets the variables for its own connections.
func TestPath3_EnvironmentMITM(t *testing.T) {
	l := Listen(t)
	ca := filepath.Join(t.TempDir(), "agent-ca.pem")
	os.WriteFile(ca, []byte(testCAPEM(t)), 0o644)
	a := NewAgent(t, []string{"OPENAI_API_KEY"},
		"HTTPS_PROXY="+l.URL(), "https_proxy="+l.URL(), "HTTP_PROXY="+l.URL(), "ALL_PROXY="+l.URL(), "SSL_CERT_FILE="+ca, "SSL_CERT_DIR="+filepath.Dir(ca))
	r := a.Phantom("", append([]string{"exec", "--"}, Child("callopenai")...)...)
	if _, err := os.Stat(filepath.Join(a.Dir, "child-ran")); err != nil {
		t.Fatalf("the child did not run: %d %s", r.Code, r.Out())
	}
	if n := l.Connections(); n != 0 {
		t.Fatalf("phantom connected to the agent's proxy %d time(s): %.200q", n, l.Received())
	}
	got, _ := os.ReadFile(filepath.Join(a.Dir, "child-got"))
	AssertNoValue(t, "the child's response", got, a.Values()...)
	a.AssertClean(r)
	a.AssertAudited("proxy.request", "route=openai")

	// The child's own environment keeps them (its connections are its
	// business); phantom's own use of them is what changed.
	a.Phantom("", append([]string{"exec", "--"}, Child("printenvall")...)...)
	env, _ := os.ReadFile(filepath.Join(a.Dir, "child-env"))
	if !strings.Contains(string(env), "SSL_CERT_FILE="+ca) || !strings.Contains(string(env), "HTTPS_PROXY=") {
		t.Fatalf("the child lost SSL_CERT_FILE/HTTPS_PROXY: %q", env)
	}
}

// TestPath5_PolicyWeakening: the agent edits .phantom.toml so that the
// proxied OPENAI_API_KEY is injected into the next child, and lowers the
// audit mode. Neither takes effect without a human's approval: exec runs
// nothing and says so, the refusal is audited, and commands keep the
// approved audit mode meanwhile.
func TestPath5_PolicyWeakening(t *testing.T) {
	a := NewAgent(t, []string{"OPENAI_API_KEY", "DATABASE_URL"})
	orig := a.ReadFile(".phantom.toml")
	required := strings.Replace(orig, `audit = "on"`, `audit = "required"`, 1)
	if required == orig {
		t.Fatalf("no audit = \"on\" line to change in:\n%s", orig)
	}
	a.WriteFile(".phantom.toml", required)
	if r := a.Phantom("", append([]string{"exec", "--"}, Child("printenvall")...)...); r.Code != 0 {
		t.Fatalf("exec with a tightened audit mode: %d %s", r.Code, r.Out())
	}

	for _, weaken := range []struct{ name, toml, says string }{
		{"inject a proxied key", orig + "\n[secrets.OPENAI_API_KEY]\npolicy = \"inject\"\n", "secret OPENAI_API_KEY: policy inject (approved: proxy)"},
		{"audit lowered", orig, `audit = "on" (approved: "required")`},
		{"an env file beyond the defaults", strings.Replace(required, `env_files = [".env", ".env.local"]`, `env_files = [".env", ".env.agent"]`, 1), "env file .env.agent"},
	} {
		t.Run(weaken.name, func(t *testing.T) {
			os.Remove(filepath.Join(a.Dir, "child-env"))
			a.WriteFile(".phantom.toml", weaken.toml)
			r := a.Phantom("", append([]string{"exec", "--"}, Child("printenvall")...)...)
			if r.Code != 5 || !strings.Contains(r.Stderr, weaken.says) {
				t.Fatalf("exit %d, want 5 saying %q\n%s", r.Code, weaken.says, r.Out())
			}
			if _, err := os.Stat(filepath.Join(a.Dir, "child-env")); err == nil {
				t.Fatal("the child ran")
			}
			a.AssertClean(r)
			a.AssertAudited("exec.refused", "unapproved settings")
		})
	}

	// A [classify] public pattern the agent adds is not applied by init:
	// a secret pasted into .env afterwards is still protected.
	a.WriteFile(".phantom.toml", required+"\n[classify]\npublic = [\"*_KEY\"]\n")
	pasted := RandomValue("PASTED_KEY")
	a.Secrets = append(a.Secrets, Secret{Name: "PASTED_KEY", Value: pasted})
	a.WriteFile(".env", a.ReadFile(".env")+"PASTED_KEY="+pasted+"\n")
	r := a.Phantom("", "init", "--yes")
	if r.Code != 0 || !strings.Contains(r.Stderr, "not applied until a person approves it") {
		t.Fatalf("init with an unapproved public pattern: %d\n%s", r.Code, r.Out())
	}
	a.AssertClean(r)

	// With audit lowered in the file, phantom keeps the approved mode:
	// PHANTOM_AUDIT=0 is still refused for a vault write.
	a.WriteFile(".phantom.toml", orig)
	a.Env = append(a.Env, "PHANTOM_AUDIT=0")
	r = a.Phantom("new-value-0123456789\n", "add", "EXTRA_KEY", "--stdin")
	if r.Code != 5 {
		t.Fatalf("PHANTOM_AUDIT=0 with audit lowered in the file but required by approval: exit %d\n%s", r.Code, r.Out())
	}
}

// TestPath7_SupabaseProjectSwap: the agent owns a Supabase project and
// writes its URL into SUPABASE_URL. It has the usual shape, but the vaulted
// keys' ref claim names the victim's project: exec refuses, the key never
// leaves, and the refusal is audited.
func TestPath7_SupabaseProjectSwap(t *testing.T) {
	a := NewAgent(t, nil)
	victim := "victimprojectref0000"
	key := fakeJWT(victim, "service_role")
	a.Secrets = append(a.Secrets, Secret{Name: "SUPABASE_SERVICE_ROLE_KEY", Value: key})
	a.MustPhantom(key+"\n", "add", "SUPABASE_SERVICE_ROLE_KEY", "--stdin", "--env-file", ".env")
	a.WriteFile(".env", a.ReadFile(".env")+"SUPABASE_URL=https://"+victim+".supabase.co\n")
	if r := a.Phantom("", "exec", "--", "true"); r.Code != 0 {
		t.Fatalf("exec with the project's own URL: %d %s", r.Code, r.Out())
	}

	a.WriteFile(".env", strings.Replace(a.ReadFile(".env"), victim, "agentownsthisproject", 1))
	r := a.Phantom("", append([]string{"exec", "--"}, Child("printenvall")...)...)
	if r.Code != 5 || !strings.Contains(r.Stderr, "belong to project "+victim) {
		t.Fatalf("exec with another project's URL: exit %d, want 5\n%s", r.Code, r.Out())
	}
	if _, err := os.Stat(filepath.Join(a.Dir, "child-env")); err == nil {
		t.Fatal("the child ran")
	}
	a.AssertClean(r)
	a.AssertAudited("exec.refused", "agentownsthisproject")
}

func fakeJWT(ref, role string) string {
	enc := base64.RawURLEncoding.EncodeToString
	payload, _ := json.Marshal(map[string]any{"iss": "supabase", "ref": ref, "role": role, "iat": 1700000000})
	return enc([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc(payload) + "." + enc([]byte("redteam-signature-0123456789"))
}

func projectID(t *testing.T, a *Agent) string {
	t.Helper()
	for _, line := range strings.Split(a.ReadFile(".phantom.toml"), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "project_id = "); ok {
			return strings.Trim(v, `"`)
		}
	}
	t.Fatal("no project_id in .phantom.toml")
	return ""
}

func lookPath(name string) (string, error) { return exec.LookPath(name) }

// testCAPEM is a fresh self-signed CA certificate (PEM).
func testCAPEM(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "redteam agent CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}
