package awscreds_test

// These tests run the real aws-sdk-go-v2 default credential chain in a child
// process (this test binary re-executed in "child mode"), because the chain
// reads the process environment and ~/.aws: only a separate process with a
// hand-built environment proves the SDK finds the credentials through the
// endpoint and nowhere else.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"phantomstack.dev/phantom/internal/awscreds"
)

// childModeEnv selects what the re-executed test binary does instead of
// running tests.
const childModeEnv = "PHANTOM_AWSCREDS_TEST_CHILD"

const (
	credsPath   = "/phantom/aws/credentials"
	testRegion  = "us-east-1"
	testAccount = "123456789012"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(childModeEnv); mode != "" {
		os.Exit(child(mode))
	}
	os.Exit(m.Run())
}

// child runs the SDK and prints key=value lines. It never prints the secret
// or session token, only their SHA-256, so test output cannot leak them.
func child(mode string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "LoadDefaultConfig:", err)
		return 1
	}
	switch mode {
	case "retrieve":
		c, err := cfg.Credentials.Retrieve(ctx)
		if err != nil {
			fmt.Fprintln(os.Stderr, "Retrieve:", err)
			return 1
		}
		fmt.Printf("AccessKeyID=%s\n", c.AccessKeyID)
		fmt.Printf("SecretSHA256=%s\n", sha256Hex(c.SecretAccessKey))
		fmt.Printf("SessionTokenSHA256=%s\n", sha256Hex(c.SessionToken))
		fmt.Printf("Source=%s\n", c.Source)
		fmt.Printf("CanExpire=%t\n", c.CanExpire)
		fmt.Printf("Expires=%s\n", c.Expires.UTC().Format(time.RFC3339))
	case "sign":
		// The endpoint comes from AWS_ENDPOINT_URL, as it would for a real app.
		out, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			fmt.Fprintln(os.Stderr, "GetCallerIdentity:", err)
			return 1
		}
		if out.Account != nil {
			fmt.Printf("Account=%s\n", *out.Account)
		}
	default:
		fmt.Fprintln(os.Stderr, "unknown child mode", mode)
		return 2
	}
	return 0
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// credsServer serves Handler on a loopback listener at credsPath.
func credsServer(t *testing.T, get func() (awscreds.Credentials, error)) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle(credsPath, awscreds.Handler(testToken, get))
	srv := httptest.NewServer(mux) // httptest listens on 127.0.0.1
	t.Cleanup(srv.Close)
	return srv.URL + credsPath
}

// runChild runs this test binary in child mode with exactly the given
// environment plus the minimum the SDK needs: a region, an empty HOME (no
// ~/.aws files) and IMDS disabled. Nothing is inherited from the parent, so
// no AWS_ACCESS_KEY_ID, AWS_PROFILE or proxy setting can leak in.
func runChild(t *testing.T, mode string, env ...string) (stdout, stderr string, err error) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append([]string{
		childModeEnv + "=" + mode,
		"AWS_REGION=" + testRegion,
		"HOME=" + t.TempDir(),
		"AWS_EC2_METADATA_DISABLED=true",
	}, env...)
	cmd.WaitDelay = 5 * time.Second
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("child %s timed out; stderr:\n%s", mode, e.String())
	}
	return o.String(), e.String(), err
}

func parseLines(t *testing.T, out string) map[string]string {
	t.Helper()
	kv := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			t.Fatalf("unexpected child output line %q", sc.Text())
		}
		kv[k] = v
	}
	return kv
}

func TestSDKChildRetrievesCredentials(t *testing.T) {
	start := time.Now().Truncate(time.Second)
	uri := credsServer(t, staticCreds)

	out, stderr, err := runChild(t, "retrieve", awscreds.Env(uri, testToken)...)
	if err != nil {
		t.Fatalf("child failed: %v\nstderr:\n%s", err, stderr)
	}
	got := parseLines(t, out)
	if got["AccessKeyID"] != testKeyID {
		t.Errorf("AccessKeyID = %q, want %q", got["AccessKeyID"], testKeyID)
	}
	if got["SecretSHA256"] != sha256Hex(testSecret) {
		t.Error("child got a different secret access key")
	}
	if got["SessionTokenSHA256"] != sha256Hex("") {
		t.Error("child got a session token; none was served")
	}
	// The SDK must attribute the credentials to the endpoint provider, not to
	// some other source that happened to be present.
	if got["Source"] != "CredentialsEndpointProvider" {
		t.Errorf("Source = %q, want CredentialsEndpointProvider", got["Source"])
	}
	// CanExpire is what makes a long-running child re-fetch after a rotation.
	if got["CanExpire"] != "true" {
		t.Errorf("CanExpire = %q, want true", got["CanExpire"])
	}
	exp, err := time.Parse(time.RFC3339, got["Expires"])
	if err != nil || !exp.After(start) {
		t.Errorf("Expires = %q (%v), want after %v", got["Expires"], err, start)
	}
	if strings.Contains(out+stderr, testSecret) {
		t.Error("child output contains the secret")
	}
}

func TestSDKChildRejectsWrongToken(t *testing.T) {
	called := false
	var mu sync.Mutex
	uri := credsServer(t, func() (awscreds.Credentials, error) {
		mu.Lock()
		called = true
		mu.Unlock()
		return staticCreds()
	})

	out, stderr, err := runChild(t, "retrieve", awscreds.Env(uri, "not-"+testToken)...)
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() != 1 {
		t.Fatalf("child err = %v, want exit status 1; stdout:\n%s\nstderr:\n%s", err, out, stderr)
	}
	// The SDK parsed our JSON error, so the 401 (not some other failure) is
	// what stopped it.
	if !strings.Contains(stderr, "Unauthorized") {
		t.Errorf("stderr does not mention the 401 error code:\n%s", stderr)
	}
	if strings.Contains(out, testKeyID) || strings.Contains(out+stderr, testSecret) {
		t.Error("child saw credentials despite a wrong token")
	}
	mu.Lock()
	defer mu.Unlock()
	if called {
		t.Error("get was called for a request with a wrong token")
	}
}

func TestSDKChildGetErrorDoesNotLeak(t *testing.T) {
	uri := credsServer(t, func() (awscreds.Credentials, error) {
		return awscreds.Credentials{}, errors.New("decrypt " + testKeyID + " " + testSecret)
	})

	_, stderr, err := runChild(t, "retrieve", awscreds.Env(uri, testToken)...)
	if err == nil {
		t.Fatal("child succeeded although get failed")
	}
	if !strings.Contains(stderr, "CredentialsUnavailable") {
		t.Errorf("stderr does not carry the 500 error code:\n%s", stderr)
	}
	if strings.Contains(stderr, testSecret) || strings.Contains(stderr, testKeyID) {
		t.Error("the get error's values reached the child")
	}
}

func TestSDKChildSignsWithServedKey(t *testing.T) {
	const session = "FwoGZXIvYXdzEPHANTOMSESSION"
	uri := credsServer(t, func() (awscreds.Credentials, error) {
		return awscreds.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret, SessionToken: session}, nil
	})

	// A fake STS that records how it was signed; it need not verify the
	// signature, only answer well enough for the SDK to succeed.
	var (
		mu       sync.Mutex
		auth     string
		secToken string
		requests int
	)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests++
		auth = r.Header.Get("Authorization")
		secToken = r.Header.Get("X-Amz-Security-Token")
		mu.Unlock()
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprintf(w, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetCallerIdentityResult>
    <Arn>arn:aws:iam::%[1]s:user/phantom-test</Arn>
    <UserId>AIDAPHANTOMTEST</UserId>
    <Account>%[1]s</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ResponseMetadata>
</GetCallerIdentityResponse>`, testAccount)
	}))
	t.Cleanup(upstream.Close)

	env := append(awscreds.Env(uri, testToken), "AWS_ENDPOINT_URL="+upstream.URL)
	out, stderr, err := runChild(t, "sign", env...)
	if err != nil {
		t.Fatalf("child failed: %v\nstderr:\n%s", err, stderr)
	}
	if got := parseLines(t, out)["Account"]; got != testAccount {
		t.Errorf("Account = %q, want %q (fake STS response not parsed)", got, testAccount)
	}

	mu.Lock()
	defer mu.Unlock()
	if requests != 1 {
		t.Errorf("fake STS saw %d requests, want 1", requests)
	}
	scope, err := credentialScope(auth)
	if err != nil {
		t.Fatalf("Authorization %q: %v", auth, err)
	}
	// Skip the date (scope[1]): it is the signing day, not ours to check.
	got := []string{scope[0], scope[2], scope[3], scope[4]}
	if want := []string{testKeyID, testRegion, "sts", "aws4_request"}; !slices.Equal(got, want) {
		t.Errorf("credential scope = %q, want key/region/service/terminator %q", scope, want)
	}
	if secToken != session {
		t.Errorf("X-Amz-Security-Token = %q, want the served session token", secToken)
	}
	if strings.Contains(auth, testSecret) {
		t.Error("Authorization header contains the secret")
	}
}

// credentialScope returns the five parts of the Credential= element of a
// SigV4 Authorization header: key ID, date, region, service, terminator.
func credentialScope(auth string) ([]string, error) {
	rest, ok := strings.CutPrefix(auth, "AWS4-HMAC-SHA256 ")
	if !ok {
		return nil, errors.New("not a SigV4 Authorization header")
	}
	for _, part := range strings.Split(rest, ",") {
		if cred, ok := strings.CutPrefix(strings.TrimSpace(part), "Credential="); ok {
			scope := strings.Split(cred, "/")
			if len(scope) != 5 {
				return nil, fmt.Errorf("credential scope %q has %d parts, want 5", cred, len(scope))
			}
			return scope, nil
		}
	}
	return nil, errors.New("no Credential= element")
}
