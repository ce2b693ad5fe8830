package cli

// End-to-end tests with the official SDKs as the clients: the real phantom
// binary runs `phantom exec -- <app>`, the app uses openai-node,
// @anthropic-ai/sdk or aws-sdk-go-v2 with no configuration of its own, and
// fake upstreams on loopback record what arrived on the wire.
//
// phantom masks the child's stdout and stderr (every real value becomes its
// phm token), so "the child printed no real key" proves little by itself.
// The children therefore also print base64 copies (Node) or SHA-256 digests
// (Go) of what they received, which the masker cannot rewrite.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"maps"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"phantomstack.dev/phantom/internal/config"
)

// TestOfficialNodeSDKsThroughProxy: openai-node and @anthropic-ai/sdk, built
// with no baseURL and no apiKey, talk to fake upstreams through phantom's
// proxy (HTTPS + HTTP/2 upstream side), normal and streamed.
func TestOfficialNodeSDKsThroughProxy(t *testing.T) {
	node, npm := requireNode(t)
	sdkDir := nodeSDKDir(t, npm)

	const (
		openaiKey    = "sk-proj-E2eOpenAI0123456789abcdefGHIJKLmnopQRSTuvwx"
		anthropicKey = "sk-ant-api03-E2eAnthropic0123456789abcdefGHIJKLmnop-QRSTUVwx"
	)
	caFile, leaf := newTestCA(t)
	oai := startFakeUpstream(t, leaf, fakeOpenAI(openaiKey))
	ant := startFakeUpstream(t, leaf, fakeAnthropic(anthropicKey))

	// SSL_CERT_FILE would make phantom trust the fake's CA only for the
	// child; phantom's own connections ignore it (path 3 of the threat
	// model): the routes name the CA in ca_file, which the approval covers.
	s := newSandbox(t, "PHANTOM_VAULT_PASSPHRASE=sdk-e2e-pass-123", "SSL_CERT_FILE="+caFile)
	s.write(".env", "APP_NAME=sdk-e2e\nOPENAI_API_KEY="+openaiKey+"\nANTHROPIC_API_KEY="+anthropicKey+"\n")
	s.mustRun("", "init", "--yes")
	env := s.read(".env")
	if strings.Contains(env, openaiKey) || strings.Contains(env, anthropicKey) {
		t.Fatalf("init left a real key in .env:\n%s", env)
	}
	openaiTok := envToken(t, env, "OPENAI_API_KEY")
	anthropicTok := envToken(t, env, "ANTHROPIC_API_KEY")

	tomlPath := filepath.Join(s.dir, ConfigFile)
	appendFile(t, tomlPath, fmt.Sprintf("\n[routes.openai]\nupstream = %q\nca_file = %q\n\n[routes.anthropic]\nupstream = %q\nca_file = %q\n", oai.srv.URL, caFile, ant.srv.URL, caFile))

	script := filepath.Join(sdkDir, "sdk.mjs")

	// Not approved yet: exec refuses before running anything.
	out, errOut, code := s.run("", "exec", "--", node, script)
	if code != 5 || !strings.Contains(errOut, "phantom trust") {
		t.Fatalf("exec with unapproved routes: exit %d, want 5 naming `phantom trust`\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if out != "" || oai.count() != 0 || ant.count() != 0 {
		t.Fatalf("exec refused but something ran: stdout %q, %d openai / %d anthropic requests", out, oai.count(), ant.count())
	}

	// Approve the routes the way `phantom trust` stores them.
	cfg, err := config.Load(tomlPath)
	if err != nil {
		t.Fatal(err)
	}
	specs := cfg.Routes()
	if specs["openai"].Upstream != oai.srv.URL || specs["anthropic"].Upstream != ant.srv.URL {
		t.Fatalf("routes parsed from %s: %+v", ConfigFile, specs)
	}
	if err := approveAll(s.dir, s.env); err != nil {
		t.Fatal(err)
	}

	out, errOut, code = s.run("", "exec", "--", node, script)
	if code != 0 {
		t.Fatalf("phantom exec -- node sdk.mjs: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, v := range []string{openaiKey, anthropicKey} {
		if strings.Contains(out, v) || strings.Contains(errOut, v) {
			t.Errorf("a real key reached the child's output")
		}
	}
	got := parseJSONLines(t, out)

	// The child's environment: tokens, and base URLs in each SDK's convention.
	e := got["env"]
	if e == nil {
		t.Fatalf("no env line in the child's output:\n%s", out)
	}
	if k := b64field(t, e, "OPENAI_API_KEY_b64"); k != openaiTok {
		t.Errorf("child's OPENAI_API_KEY is %q, want its phm token %s", k, openaiTok)
	}
	if k := b64field(t, e, "ANTHROPIC_API_KEY_b64"); k != anthropicTok {
		t.Errorf("child's ANTHROPIC_API_KEY is %q, want its phm token %s", k, anthropicTok)
	}
	mount := `^http://127\.0\.0\.1:[0-9]+/_phantom/[0-9a-f]{64}/`
	if u, _ := e["OPENAI_BASE_URL"].(string); !regexp.MustCompile(mount + `openai/v1$`).MatchString(u) {
		t.Errorf("OPENAI_BASE_URL = %q", u)
	}
	if u, _ := e["ANTHROPIC_BASE_URL"].(string); !regexp.MustCompile(mount + `anthropic$`).MatchString(u) {
		t.Errorf("ANTHROPIC_BASE_URL = %q", u)
	}

	// What the SDKs got back: the upstreams echoed the real key, the child
	// must have received the token in its place.
	for _, c := range []struct {
		kind, field, want string
		stream            bool
	}{
		{"openai", "content_b64", "Hello from the fake OpenAI API; key=" + openaiTok, false},
		{"openai", "echo_header_b64", openaiTok, false},
		{"openai_stream", "content_b64", "Hello from the fake OpenAI stream; key=" + openaiTok, true},
		{"anthropic", "content_b64", "Hello from the fake Anthropic API; key=" + anthropicTok, false},
		{"anthropic_stream", "content_b64", "Hello from the fake Anthropic stream; key=" + anthropicTok, true},
		{"anthropic_stream", "final_b64", "Hello from the fake Anthropic stream; key=" + anthropicTok, true},
		{"anthropic_xapikey", "content_b64", "Hello from the fake Anthropic API; key=" + anthropicTok, false},
	} {
		line := got[c.kind]
		if line == nil {
			t.Errorf("no %s line in the child's output (SDK call failed?):\n%s\nstderr:\n%s", c.kind, out, errOut)
			continue
		}
		if v := b64field(t, line, c.field); v != c.want {
			t.Errorf("%s %s: the SDK saw %q, want %q", c.kind, c.field, v, c.want)
		}
		if n, _ := line["chunks"].(float64); c.stream && n < 2 {
			t.Errorf("%s: %v chunks, want at least 2", c.kind, line["chunks"])
		}
	}
	if got["error"] != nil {
		t.Errorf("the script reported an error: %v", got["error"])
	}
	// phantom's own 403, as each SDK shows it: the message is phantom's
	// explanation with its hint, not a bare string.
	for _, c := range []struct{ kind, where string }{
		{"openai_refused", "Authorization header"},
		{"anthropic_refused", "X-Api-Key header"},
	} {
		line := got[c.kind]
		if line == nil {
			t.Errorf("no %s line in the child's output:\n%s", c.kind, out)
			continue
		}
		msg := b64field(t, line, "message_b64")
		if intField(line, "status") != 403 || !strings.Contains(msg, "phantom proxy: the phm token in "+c.where+" is not in this project's vault") || !strings.Contains(msg, "phantom status") {
			t.Errorf("%s: the SDK's error is %v %q; want 403 with phantom's explanation and hint", c.kind, line["status"], msg)
		}
	}

	// What arrived upstream.
	checkUpstream := func(name string, f *fakeUpstream, path string, want int, tok, realKey string, cred func(recordedRequest) string) {
		t.Helper()
		reqs := f.requests()
		if len(reqs) != want {
			t.Errorf("%s upstream got %d requests, want %d", name, len(reqs), want)
		}
		var streamed int
		for _, r := range reqs {
			if r.Method != http.MethodPost || r.Path != path || r.RawQuery != "" {
				t.Errorf("%s upstream got %s %s?%s, want POST %s", name, r.Method, r.Path, r.RawQuery, path)
			}
			if r.Proto != "HTTP/2.0" {
				t.Errorf("%s upstream: the proxy spoke %s, want HTTP/2.0", name, r.Proto)
			}
			if msg := cred(r); msg != "" {
				t.Errorf("%s upstream: %s", name, msg)
			}
			if r.Header.Get("X-Phantom-Proxy-Token") != "" {
				t.Errorf("%s upstream got phantom's session header", name)
			}
			for h, vs := range r.Header {
				for _, v := range vs {
					if strings.Contains(v, "phm_") {
						t.Errorf("%s upstream: header %s still carries a phm token: %q", name, h, v)
					}
				}
			}
			if !bytes.Contains(r.Body, []byte("my key is "+tok)) {
				t.Errorf("%s upstream: the prompt's phm token did not arrive unchanged; body: %s", name, r.Body)
			}
			if bytes.Contains(r.Body, []byte(realKey)) {
				t.Errorf("%s upstream: a token in the request body was replaced by the real key", name)
			}
			var body struct {
				Stream bool `json:"stream"`
			}
			json.Unmarshal(r.Body, &body)
			if body.Stream {
				streamed++
			}
		}
		if streamed != 1 {
			t.Errorf("%s upstream got %d streaming requests, want 1", name, streamed)
		}
	}
	checkUpstream("openai", oai, "/v1/chat/completions", 2, openaiTok, openaiKey, func(r recordedRequest) string {
		if got := r.Header.Get("Authorization"); got != "Bearer "+openaiKey {
			return fmt.Sprintf("Authorization = %q, want Bearer and the real key", got)
		}
		return ""
	})
	sdkHeaders := map[string]bool{}
	checkUpstream("anthropic", ant, "/v1/messages", 3, anthropicTok, anthropicKey, func(r recordedRequest) string {
		if r.Header.Get("Anthropic-Version") == "" {
			return "no anthropic-version header (not the official SDK?)"
		}
		key, auth := r.Header.Get("X-Api-Key"), r.Header.Get("Authorization")
		switch {
		case r.Header.Get("X-E2e-Call") == "x-api-key":
			if key != anthropicKey || auth != "" {
				return fmt.Sprintf("x-api-key call: X-Api-Key = %q, Authorization = %q; want the real key in X-Api-Key only", key, auth)
			}
		case key == anthropicKey && auth == "":
			sdkHeaders["X-Api-Key"] = true
		case key == "" && auth == "Bearer "+anthropicKey:
			sdkHeaders["Authorization"] = true
		default:
			return fmt.Sprintf("X-Api-Key = %q, Authorization = %q; want the real key in exactly one of them", key, auth)
		}
		return ""
	})
	t.Logf("@anthropic-ai/sdk sent its key in: %v", slices.Sorted(maps.Keys(sdkHeaders)))

	s.assertNoPlaintext(openaiKey, anthropicKey)
}

// TestAWSSDKGetsCredentialsUnderExec: an app using aws-sdk-go-v2's default
// chain under `phantom exec` finds credentials through phantom's
// container-credentials endpoint only, and what it finds are session
// credentials phantom minted with STS GetSessionToken (signed with the
// stored key), never the stored key; its own STS call is signed with them
// and their X-Amz-Security-Token. The STS endpoint comes from an approved
// [aws] sts_endpoint: unapproved, exec refuses.
func TestAWSSDKGetsCredentialsUnderExec(t *testing.T) {
	const (
		keyID   = "AKIAE2EPHANTOM012345"
		secret  = "e2eSecretKey/0123456789abcdefGHIJKLMNOPqrst"
		region  = "us-east-1"
		account = "123456789012"
	)
	child := buildAWSChild(t)
	sts := startFakeSTS(t, account)

	root := t.TempDir()
	s := newSandbox(t,
		"PHANTOM_VAULT_PASSPHRASE=aws-e2e-pass-123",
		"AWS_REGION="+region,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE="+filepath.Join(root, "no-aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(root, "no-aws-credentials"),
		"AWS_ENDPOINT_URL="+sts.URL,
	)
	s.write(".env", "APP_NAME=aws-e2e\n")
	s.mustRun("", "init", "--yes")
	s.mustRun(keyID+"\n", "add", "AWS_ACCESS_KEY_ID", "--stdin")
	s.mustRun(secret+"\n", "add", "AWS_SECRET_ACCESS_KEY", "--stdin")
	s.mustRun("", "sync", "--env-file", ".env")
	env := s.read(".env")
	if strings.Contains(env, secret) || strings.Contains(env, keyID) {
		t.Fatalf("sync wrote a real value into .env:\n%s", env)
	}
	envToken(t, env, "AWS_ACCESS_KEY_ID")
	secretTok := envToken(t, env, "AWS_SECRET_ACCESS_KEY")

	// Stale keys and a profile in the shell that runs phantom must not reach
	// the child either: the SDK would prefer them over the endpoint.
	s.env = append(s.env,
		"AWS_ACCESS_KEY_ID=AKIADECOYDECOYDECOY0",
		"AWS_SECRET_ACCESS_KEY=decoy-secret-0123456789",
		"AWS_PROFILE=decoy-profile",
	)

	// Another STS endpoint receives requests signed with the stored key:
	// not before a human approved it.
	tomlPath := filepath.Join(s.dir, ConfigFile)
	appendFile(t, tomlPath, fmt.Sprintf("\n[aws]\nsts_endpoint = %q\n", sts.URL))
	out, errOut, code := s.run("", "exec", "--", child)
	if code != 5 || !strings.Contains(errOut, "sts_endpoint") || !strings.Contains(errOut, "phantom trust") || out != "" {
		t.Fatalf("exec with an unapproved sts_endpoint: exit %d, want 5 naming it and `phantom trust`\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if sts.count() != 0 {
		t.Fatalf("phantom called the unapproved STS endpoint (%d requests)", sts.count())
	}
	if a := s.auditLines(); !strings.Contains(a, "aws.credentials") || !strings.Contains(a, "refused") {
		t.Errorf("the refusal is not audited:\n%s", a)
	}
	approveAWSSettings(t, s, "aws-e2e-pass-123")

	start := time.Now()
	out, errOut, code = s.run("", "exec", "--", child)
	if code != 0 {
		t.Fatalf("phantom exec -- awschild: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, v := range []string{secret, secretTok, keyID} {
		if strings.Contains(out, v) || strings.Contains(errOut, v) {
			t.Error("the child printed the stored key")
		}
	}
	kv := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			t.Fatalf("unexpected child output line %q", sc.Text())
		}
		kv[k] = v
	}
	for _, n := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"} {
		if kv["env."+n] != "unset" {
			t.Errorf("child env %s: %q, want unset", n, kv["env."+n])
		}
	}
	if u := kv["env.AWS_CONTAINER_CREDENTIALS_FULL_URI"]; !regexp.MustCompile(`^http://127\.0\.0\.1:[0-9]+/_phantom/[0-9a-f]{64}/_aws/credentials$`).MatchString(u) {
		t.Errorf("AWS_CONTAINER_CREDENTIALS_FULL_URI = %q", u)
	}
	if kv["env.AWS_CONTAINER_AUTHORIZATION_TOKEN.set"] != "true" {
		t.Error("AWS_CONTAINER_AUTHORIZATION_TOKEN not set for the child")
	}
	if kv["Source"] != "CredentialsEndpointProvider" {
		t.Errorf("credentials Source = %q, want CredentialsEndpointProvider", kv["Source"])
	}
	// The session credentials, not the stored key.
	if kv["AccessKeyIDSHA256"] != sha256Hex(fakeSessionKeyID) || kv["SecretSHA256"] != sha256Hex(fakeSessionSecret) || kv["SessionTokenSHA256"] != sha256Hex(fakeSessionToken) {
		t.Errorf("the SDK did not get the session credentials STS issued (access key id %s, want %s)", kv["AccessKeyIDSHA256"], sha256Hex(fakeSessionKeyID))
	}
	if kv["CanExpire"] != "true" {
		t.Errorf("CanExpire = %q, want true", kv["CanExpire"])
	}
	if exp, err := time.Parse(time.RFC3339, kv["Expires"]); err != nil || exp.After(start.Add(time.Hour+time.Minute)) || exp.Before(start.Add(50*time.Minute)) {
		t.Errorf("Expires = %q (%v), want about an hour from now (the default session)", kv["Expires"], err)
	}
	if kv["Account"] != account {
		t.Errorf("Account = %q, want %q (fake STS response not parsed)", kv["Account"], account)
	}

	reqs := sts.requests()
	if len(reqs) != 2 {
		t.Fatalf("fake STS got %d requests, want GetSessionToken from phantom and GetCallerIdentity from the child", len(reqs))
	}
	// 1: phantom mints the session with the stored key (and no token).
	mint := reqs[0]
	if b := string(mint.Body); !strings.Contains(b, "Action=GetSessionToken") || !strings.Contains(b, "DurationSeconds=3600") {
		t.Errorf("phantom's STS body %q, want GetSessionToken for 3600 s", b)
	}
	if scope, err := sigV4Scope(mint.Header.Get("Authorization")); err != nil || scope[0] != keyID || scope[2] != region || scope[3] != "sts" {
		t.Errorf("GetSessionToken signed for %q (%v), want the stored key in %s", scope, err, region)
	}
	if err := verifySigV4(mint, secret); err != nil {
		t.Errorf("GetSessionToken is not signed with the stored secret: %v", err)
	}
	if tok := mint.Header.Get("X-Amz-Security-Token"); tok != "" {
		t.Error("GetSessionToken carried a session token")
	}
	// 2: the child signs with the session credentials and their token.
	call := reqs[1]
	if !strings.Contains(string(call.Body), "Action=GetCallerIdentity") {
		t.Errorf("child's STS body %q", call.Body)
	}
	if scope, err := sigV4Scope(call.Header.Get("Authorization")); err != nil || scope[0] != fakeSessionKeyID {
		t.Errorf("the child signed with %q (%v), want the session key", scope, err)
	}
	if err := verifySigV4(call, fakeSessionSecret); err != nil {
		t.Errorf("the child's call is not signed with the session secret: %v", err)
	}
	if call.Header.Get("X-Amz-Security-Token") != fakeSessionToken || !strings.Contains(call.Header.Get("Authorization"), "x-amz-security-token") {
		t.Error("the child's call does not carry (and sign) the session token")
	}
	for _, r := range reqs {
		for h, vs := range r.Header {
			for _, v := range vs {
				if strings.Contains(v, secret) || strings.Contains(v, "phm_") {
					t.Errorf("STS request header %s carries the secret or a token", h)
				}
			}
		}
	}
	if a := s.auditLines(); !regexp.MustCompile(`aws\.credentials.*served session credentials ASIA`).MatchString(a) {
		t.Errorf("the fetch is not audited as served session credentials:\n%s", a)
	}

	s.assertNoPlaintext(secret)
}

// --- Node and npm ---

// requireNode returns node and npm, skipping without them unless CI is set.
func requireNode(t *testing.T) (node, npm string) {
	t.Helper()
	node, err1 := exec.LookPath("node")
	npm, err2 := exec.LookPath("npm")
	if err1 != nil || err2 != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("node and npm are required when CI is set: %v %v", err1, err2)
		}
		t.Skip("node or npm not installed")
	}
	return node, npm
}

// nodeSDKDir is a directory holding testdata/sdk and a node_modules with
// openai and @anthropic-ai/sdk: PHANTOM_TEST_NODE_MODULES when it points at
// an existing node_modules (or a directory containing one), else a fresh
// npm install.
func nodeSDKDir(t *testing.T, npm string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"package.json", "sdk.mjs"} {
		b, err := os.ReadFile(filepath.Join("testdata", "sdk", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if cache := os.Getenv("PHANTOM_TEST_NODE_MODULES"); cache != "" {
		if st, err := os.Stat(cache); err == nil && st.IsDir() {
			nm := cache
			if _, err := os.Stat(filepath.Join(cache, "node_modules", "openai")); err == nil {
				nm = filepath.Join(cache, "node_modules")
			}
			abs, err := filepath.Abs(nm)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(abs, filepath.Join(dir, "node_modules")); err != nil {
				t.Fatal(err)
			}
			t.Logf("using node_modules from PHANTOM_TEST_NODE_MODULES=%s", cache)
			return dir
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "install", "--no-audit", "--no-fund", "--no-update-notifier", "openai", "@anthropic-ai/sdk")
	cmd.Dir = dir
	cmd.WaitDelay = 10 * time.Second
	outb, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("npm install openai @anthropic-ai/sdk: %v (timed out: %t)\n%s", err, ctx.Err() != nil, outb)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "package.json")); err == nil {
		t.Logf("installed SDKs: %s", dependencyLine(b))
	}
	return dir
}

func dependencyLine(pkgJSON []byte) string {
	var p struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	json.Unmarshal(pkgJSON, &p)
	var parts []string
	for k, v := range p.Dependencies {
		parts = append(parts, k+"@"+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// parseJSONLines indexes the child's JSON lines by their "kind".
func parseJSONLines(t *testing.T, out string) map[string]map[string]any {
	t.Helper()
	got := map[string]map[string]any{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("child output line %q is not JSON: %v\nall output:\n%s", line, err, out)
		}
		kind, _ := m["kind"].(string)
		got[kind] = m
	}
	return got
}

func b64field(t *testing.T, m map[string]any, field string) string {
	t.Helper()
	s, _ := m[field].(string)
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Errorf("%s: %v", field, err)
	}
	return string(b)
}

// envToken returns the phm token the env file holds for name.
func envToken(t *testing.T, env, name string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + name + `=["']?(phm_[0-9a-f]{64})`).FindStringSubmatch(env)
	if m == nil {
		t.Fatalf("no phm token for %s in .env:\n%s", name, env)
	}
	return m[1]
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// --- TLS ---

// newTestCA makes a throwaway CA and a leaf for 127.0.0.1 signed by it, and
// writes the CA certificate to a PEM file (a route's ca_file).
func newTestCA(t *testing.T) (caFile string, leaf tls.Certificate) {
	t.Helper()
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "phantom e2e test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644); err != nil {
		t.Fatal(err)
	}
	return caFile, tls.Certificate{Certificate: [][]byte{leafDER, caDER}, PrivateKey: leafKey}
}

// --- fake upstreams ---

type recordedRequest struct {
	Method, Path, RawQuery, Proto, Host string
	ContentLength                       int64
	Header                              http.Header
	Body                                []byte
}

type fakeUpstream struct {
	srv  *httptest.Server
	URL  string
	mu   sync.Mutex
	reqs []recordedRequest
}

func (f *fakeUpstream) requests() []recordedRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.reqs)
}

func (f *fakeUpstream) count() int { return len(f.requests()) }

func (f *fakeUpstream) record(r *http.Request) []byte {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	f.mu.Lock()
	f.reqs = append(f.reqs, recordedRequest{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery,
		Proto: r.Proto, Host: r.Host, ContentLength: r.ContentLength, Header: r.Header.Clone(), Body: body})
	f.mu.Unlock()
	return body
}

// startFakeUpstream serves h over TLS (leaf) with HTTP/2, recording every
// request.
func startFakeUpstream(t *testing.T, leaf tls.Certificate, h func(w http.ResponseWriter, r *http.Request, body []byte)) *fakeUpstream {
	t.Helper()
	f := &fakeUpstream{}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h(w, r, f.record(r))
	}))
	f.srv.EnableHTTP2 = true
	f.srv.TLS = &tls.Config{Certificates: []tls.Certificate{leaf}}
	f.srv.StartTLS()
	f.URL = f.srv.URL
	t.Cleanup(f.srv.Close)
	return f
}

// writeEvents writes SSE events one flush at a time; an event holding
// split is written in two halves cut inside split, so the proxy's streaming
// scrubber sees the real key arrive across two reads.
func writeEvents(w http.ResponseWriter, split string, events []string) {
	rc := http.NewResponseController(w)
	for _, ev := range events {
		if i := strings.Index(ev, split); split != "" && i >= 0 {
			cut := i + len(split)/2
			io.WriteString(w, ev[:cut])
			rc.Flush()
			ev = ev[cut:]
		}
		io.WriteString(w, ev)
		rc.Flush()
	}
}

func apiError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":{"type":"invalid_request_error","message":%q}}`, msg)
}

// fakeOpenAI implements POST /v1/chat/completions, JSON and SSE, echoing
// realKey in the content (and a header) as a leaky upstream might.
func fakeOpenAI(realKey string) func(http.ResponseWriter, *http.Request, []byte) {
	return func(w http.ResponseWriter, r *http.Request, body []byte) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/chat/completions" {
			apiError(w, http.StatusNotFound, "no route "+r.Method+" "+r.URL.Path)
			return
		}
		var req struct {
			Model  string `json:"model"`
			Stream bool   `json:"stream"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			apiError(w, http.StatusBadRequest, err.Error())
			return
		}
		const created = 1767225600
		if !req.Stream {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Echo-Key", realKey)
			json.NewEncoder(w).Encode(map[string]any{
				"id": "chatcmpl-e2e1", "object": "chat.completion", "created": created, "model": req.Model,
				"choices": []any{map[string]any{
					"index":         0,
					"message":       map[string]any{"role": "assistant", "content": "Hello from the fake OpenAI API; key=" + realKey, "refusal": nil},
					"logprobs":      nil,
					"finish_reason": "stop",
				}},
				"usage": map[string]any{"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21},
			})
			return
		}
		chunk := func(delta map[string]any, finish any) string {
			b, _ := json.Marshal(map[string]any{
				"id": "chatcmpl-e2e2", "object": "chat.completion.chunk", "created": created, "model": req.Model,
				"choices": []any{map[string]any{"index": 0, "delta": delta, "logprobs": nil, "finish_reason": finish}},
			})
			return "data: " + string(b) + "\n\n"
		}
		w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		writeEvents(w, realKey, []string{
			chunk(map[string]any{"role": "assistant", "content": ""}, nil),
			chunk(map[string]any{"content": "Hello"}, nil),
			chunk(map[string]any{"content": " from the fake OpenAI stream;"}, nil),
			chunk(map[string]any{"content": " key=" + realKey}, nil),
			chunk(map[string]any{}, "stop"),
			"data: [DONE]\n\n",
		})
	}
}

// fakeAnthropic implements POST /v1/messages, JSON and SSE, echoing realKey
// in the content.
func fakeAnthropic(realKey string) func(http.ResponseWriter, *http.Request, []byte) {
	return func(w http.ResponseWriter, r *http.Request, body []byte) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/messages" {
			apiError(w, http.StatusNotFound, "no route "+r.Method+" "+r.URL.Path)
			return
		}
		var req struct {
			Model  string `json:"model"`
			Stream bool   `json:"stream"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			apiError(w, http.StatusBadRequest, err.Error())
			return
		}
		if !req.Stream {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]any{
				"id": "msg_e2e1", "type": "message", "role": "assistant", "model": req.Model,
				"content":     []any{map[string]any{"type": "text", "text": "Hello from the fake Anthropic API; key=" + realKey}},
				"stop_reason": "end_turn", "stop_sequence": nil,
				"usage": map[string]any{"input_tokens": 12, "output_tokens": 9},
			})
			return
		}
		event := func(typ string, data map[string]any) string {
			data["type"] = typ
			b, _ := json.Marshal(data)
			return "event: " + typ + "\ndata: " + string(b) + "\n\n"
		}
		delta := func(text string) string {
			return event("content_block_delta", map[string]any{"index": 0, "delta": map[string]any{"type": "text_delta", "text": text}})
		}
		w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		writeEvents(w, realKey, []string{
			event("message_start", map[string]any{"message": map[string]any{
				"id": "msg_e2e2", "type": "message", "role": "assistant", "model": req.Model, "content": []any{},
				"stop_reason": nil, "stop_sequence": nil, "usage": map[string]any{"input_tokens": 12, "output_tokens": 1},
			}}),
			event("content_block_start", map[string]any{"index": 0, "content_block": map[string]any{"type": "text", "text": ""}}),
			event("ping", map[string]any{}),
			delta("Hello"),
			delta(" from the fake Anthropic stream;"),
			delta(" key=" + realKey),
			event("content_block_stop", map[string]any{"index": 0}),
			event("message_delta", map[string]any{"delta": map[string]any{"stop_reason": "end_turn", "stop_sequence": nil}, "usage": map[string]any{"output_tokens": 9}}),
			event("message_stop", map[string]any{}),
		})
	}
}

// --- AWS ---

// buildAWSChild builds testdata/sdk/awschild (aws-sdk-go-v2 from phantom's
// go.mod).
func buildAWSChild(t *testing.T) string {
	t.Helper()
	return buildGoChild(t, "awschild")
}

// buildGoChild builds the Go program in testdata/sdk/<name> into a temp dir.
func buildGoChild(t *testing.T, name string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./testdata/sdk/"+name)
	cmd.WaitDelay = 10 * time.Second
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building testdata/sdk/%s: %v\n%s", name, err, out)
	}
	return bin
}

// Session credentials the fake STS issues from GetSessionToken.
const (
	fakeSessionKeyID  = "ASIAE2EPHANTOMSESS01"
	fakeSessionSecret = "e2eSessionSecret/0123456789abcdefGHIJKLMNO"
	fakeSessionToken  = "IQoJb3JpZ2luX2VjE2EPHANTOMSESSIONTOKEN0123456789"
)

// startFakeSTS answers GetSessionToken (session credentials for the
// requested DurationSeconds) and GetCallerIdentity over plain http on
// loopback, and records each request; the test checks the signatures.
func startFakeSTS(t *testing.T, account string) *fakeUpstream {
	t.Helper()
	f := &fakeUpstream{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := f.record(r)
		form, _ := url.ParseQuery(string(body))
		w.Header().Set("Content-Type", "text/xml")
		if form.Get("Action") == "GetSessionToken" {
			secs, _ := strconv.Atoi(form.Get("DurationSeconds"))
			fmt.Fprintf(w, `<GetSessionTokenResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetSessionTokenResult><Credentials>
    <AccessKeyId>%s</AccessKeyId><SecretAccessKey>%s</SecretAccessKey>
    <SessionToken>%s</SessionToken><Expiration>%s</Expiration>
  </Credentials></GetSessionTokenResult>
  <ResponseMetadata><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ResponseMetadata>
</GetSessionTokenResponse>`, fakeSessionKeyID, fakeSessionSecret, fakeSessionToken, time.Now().Add(time.Duration(secs)*time.Second).UTC().Format(time.RFC3339))
			return
		}
		fmt.Fprintf(w, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetCallerIdentityResult>
    <Arn>arn:aws:iam::%[1]s:user/phantom-e2e</Arn>
    <UserId>AIDAPHANTOME2E</UserId>
    <Account>%[1]s</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ResponseMetadata>
</GetCallerIdentityResponse>`, account)
	}))
	f.URL = f.srv.URL
	t.Cleanup(f.srv.Close)
	return f
}

// sigV4Scope returns the five parts of a SigV4 Authorization header's
// Credential=: key id, date, region, service, terminator.
func sigV4Scope(auth string) ([]string, error) {
	fields, err := sigV4Fields(auth)
	if err != nil {
		return nil, err
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 {
		return nil, fmt.Errorf("credential scope %q has %d parts, want 5", fields["Credential"], len(scope))
	}
	return scope, nil
}

func sigV4Fields(auth string) (map[string]string, error) {
	rest, ok := strings.CutPrefix(auth, "AWS4-HMAC-SHA256 ")
	if !ok {
		return nil, fmt.Errorf("not a SigV4 Authorization header")
	}
	fields := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		fields[k] = v
	}
	for _, k := range []string{"Credential", "SignedHeaders", "Signature"} {
		if fields[k] == "" {
			return nil, fmt.Errorf("no %s= element", k)
		}
	}
	return fields, nil
}

// verifySigV4 recomputes the request's SigV4 signature with secret.
func verifySigV4(r recordedRequest, secret string) error {
	fields, err := sigV4Fields(r.Header.Get("Authorization"))
	if err != nil {
		return err
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 {
		return fmt.Errorf("credential scope %q", fields["Credential"])
	}
	amzDate := r.Header.Get("X-Amz-Date")
	if !strings.HasPrefix(amzDate, scope[1]) {
		return fmt.Errorf("X-Amz-Date %q does not match the scope date %s", amzDate, scope[1])
	}
	var canonHeaders strings.Builder
	for _, h := range strings.Split(fields["SignedHeaders"], ";") {
		var v string
		switch h {
		case "host":
			v = r.Host
		case "content-length":
			v = strconv.FormatInt(r.ContentLength, 10)
		default:
			vals := r.Header.Values(h)
			for i := range vals {
				vals[i] = strings.Join(strings.Fields(vals[i]), " ")
			}
			v = strings.Join(vals, ",")
		}
		canonHeaders.WriteString(h + ":" + v + "\n")
	}
	payload := r.Header.Get("X-Amz-Content-Sha256")
	if payload == "" {
		payload = sha256Hex(string(r.Body))
	}
	path := r.Path
	if path == "" {
		path = "/"
	}
	canon := strings.Join([]string{r.Method, path, canonicalQuery(r.RawQuery), canonHeaders.String(), fields["SignedHeaders"], payload}, "\n")
	toSign := strings.Join([]string{"AWS4-HMAC-SHA256", amzDate, strings.Join(scope[1:], "/"), sha256Hex(canon)}, "\n")
	key := []byte("AWS4" + secret)
	for _, part := range scope[1:] {
		key = hmacSHA256(key, part)
	}
	if want := hex.EncodeToString(hmacSHA256(key, toSign)); want != fields["Signature"] {
		return fmt.Errorf("signature %s, the stored secret gives %s", fields["Signature"], want)
	}
	return nil
}

func canonicalQuery(raw string) string {
	if raw == "" {
		return ""
	}
	parts := strings.Split(raw, "&")
	sort.Strings(parts)
	return strings.Join(parts, "&")
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
