package awscreds_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"phantomstack.dev/phantom/internal/awscreds"
	"phantomstack.dev/phantom/internal/config"
)

// fakeClock is a settable clock for the cache tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// countingMint mints numbered sessions valid for lifetime from the clock's now.
func countingMint(clk *fakeClock, lifetime time.Duration, n *int, fail *error) func(context.Context) (awscreds.Credentials, error) {
	return func(context.Context) (awscreds.Credentials, error) {
		if *fail != nil {
			return awscreds.Credentials{}, *fail
		}
		*n++
		return awscreds.Credentials{
			AccessKeyID: fmt.Sprintf("ASIASESSION%09d", *n), SecretAccessKey: "s", SessionToken: "t",
			Expiration: clk.Now().Add(lifetime),
		}, nil
	}
}

func TestMinterCachesAndRefreshesBeforeExpiry(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	var n int
	var fail error
	m := &awscreds.Minter{Duration: time.Hour, Now: clk.Now, Mint: countingMint(clk, time.Hour, &n, &fail)}
	ctx := context.Background()

	c, f, err := m.Get(ctx)
	if err != nil || !f.Minted || c.AccessKeyID != "ASIASESSION000000001" {
		t.Fatalf("first Get = %v, %+v, %v", c.AccessKeyID, f, err)
	}
	// Cached while more than RefreshBefore (20 minutes of an hour) remains.
	clk.Advance(39 * time.Minute)
	if c, f, _ := m.Get(ctx); f.Minted || c.AccessKeyID != "ASIASESSION000000001" || n != 1 {
		t.Fatalf("Get at 39m minted (%+v, %s, %d mints)", f, c.AccessKeyID, n)
	}
	clk.Advance(2 * time.Minute)
	if c, f, _ := m.Get(ctx); !f.Minted || c.AccessKeyID != "ASIASESSION000000002" {
		t.Fatalf("Get at 41m = %s %+v, want a new session", c.AccessKeyID, f)
	}

	// STS fails while the cached session still has time: it is served.
	clk.Advance(45 * time.Minute) // 19 minutes left
	fail = &awscreds.Error{Status: 502, Code: "STSUnreachable", Message: "down"}
	if c, f, err := m.Get(ctx); err != nil || f.Minted || c.AccessKeyID != "ASIASESSION000000002" {
		t.Fatalf("Get with STS down and a valid session = %s, %+v, %v", c.AccessKeyID, f, err)
	}
	// Under a minute left: the failure is the answer, never the key.
	clk.Advance(18*time.Minute + 30*time.Second)
	if c, _, err := m.Get(ctx); !errors.Is(err, fail) || c.AccessKeyID != "" {
		t.Fatalf("Get with STS down and the session expiring = %q, %v", c.AccessKeyID, err)
	}
	fail = nil
	if c, f, err := m.Get(ctx); err != nil || !f.Minted || c.AccessKeyID != "ASIASESSION000000003" {
		t.Fatalf("Get after STS is back = %s %+v %v", c.AccessKeyID, f, err)
	}
}

func TestRefreshBefore(t *testing.T) {
	for d, want := range map[time.Duration]time.Duration{
		15 * time.Minute: 5 * time.Minute,
		30 * time.Minute: 10 * time.Minute,
		time.Hour:        20 * time.Minute,
		12 * time.Hour:   20 * time.Minute,
	} {
		if got := awscreds.RefreshBefore(d); got != want {
			t.Errorf("RefreshBefore(%v) = %v, want %v", d, got, want)
		}
	}
	// config validates what the minter accepts.
	if config.AWSMinSessionDuration != awscreds.MinSessionDuration || config.AWSMaxSessionDuration != awscreds.MaxSessionDuration || config.AWSDefaultSessionDuration != awscreds.DefaultSessionDuration {
		t.Error("config's [aws] session_duration bounds differ from awscreds'")
	}
}

// fakeSTS answers GetSessionToken like STS and records the requests.
type fakeSTS struct {
	mu     sync.Mutex
	reqs   []*http.Request
	bodies []url.Values
	status int
	code   string
}

func (f *fakeSTS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	form, _ := url.ParseQuery(string(b))
	f.mu.Lock()
	f.reqs = append(f.reqs, r)
	f.bodies = append(f.bodies, form)
	status, code := f.status, f.code
	f.mu.Unlock()
	w.Header().Set("Content-Type", "text/xml")
	if status != 0 {
		w.WriteHeader(status)
		fmt.Fprintf(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>%s</Code><Message>The security token included in the request is invalid.</Message></Error><RequestId>1</RequestId></ErrorResponse>`, code)
		return
	}
	secs, _ := time.ParseDuration(form.Get("DurationSeconds") + "s")
	fmt.Fprintf(w, `<GetSessionTokenResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetSessionTokenResult><Credentials>
    <AccessKeyId>ASIAFAKESESSION00001</AccessKeyId>
    <SecretAccessKey>session-secret</SecretAccessKey>
    <SessionToken>session-token</SessionToken>
    <Expiration>%s</Expiration>
  </Credentials></GetSessionTokenResult>
  <ResponseMetadata><RequestId>1</RequestId></ResponseMetadata>
</GetSessionTokenResponse>`, time.Now().Add(secs).UTC().Format(time.RFC3339))
}

func TestMinterCallsSTSIgnoringTheEnvironment(t *testing.T) {
	sts := &fakeSTS{}
	srv := httptest.NewServer(sts)
	defer srv.Close()
	decoy := &fakeSTS{}
	decoySrv := httptest.NewServer(decoy)
	defer decoySrv.Close()
	// An agent can set these for phantom; none may move the signed request.
	for _, k := range []string{"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS", "HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY"} {
		t.Setenv(k, decoySrv.URL)
	}
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIADECOYDECOYDECOY0")

	m := &awscreds.Minter{
		Key:      awscreds.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret},
		Duration: 30 * time.Minute, Region: "eu-central-1", Endpoint: srv.URL,
	}
	c, f, err := m.Get(context.Background())
	if err != nil || !f.Minted {
		t.Fatalf("Get: %v", err)
	}
	if c.AccessKeyID != "ASIAFAKESESSION00001" || c.SessionToken != "session-token" || c.Expiration.IsZero() {
		t.Errorf("credentials %+v", c.AccessKeyID)
	}
	if len(decoy.reqs) != 0 {
		t.Fatalf("a request went to the endpoint from the environment")
	}
	if len(sts.reqs) != 1 {
		t.Fatalf("STS got %d requests, want 1", len(sts.reqs))
	}
	r, form := sts.reqs[0], sts.bodies[0]
	if form.Get("Action") != "GetSessionToken" || form.Get("Version") != "2011-06-15" || form.Get("DurationSeconds") != "1800" {
		t.Errorf("STS form %v", form)
	}
	scope, err := credentialScope(r.Header.Get("Authorization"))
	if err != nil {
		t.Fatal(err)
	}
	if scope[0] != testKeyID || scope[2] != "eu-central-1" || scope[3] != "sts" {
		t.Errorf("signed for %q, want the stored key in eu-central-1 for sts", scope)
	}
	if r.Header.Get("X-Amz-Security-Token") != "" {
		t.Error("the long-lived key was sent with a session token")
	}
	for k, vs := range r.Header {
		if strings.Contains(strings.Join(vs, " "), testSecret) {
			t.Errorf("header %s carries the secret", k)
		}
	}
}

func TestMinterFailuresSayWhatHappened(t *testing.T) {
	sts := &fakeSTS{status: 403, code: "InvalidClientTokenId"}
	srv := httptest.NewServer(sts)
	key := awscreds.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret}
	m := &awscreds.Minter{Key: key, Endpoint: srv.URL}
	_, _, err := m.Get(context.Background())
	var e *awscreds.Error
	if !errors.As(err, &e) || e.Status != 403 || e.Code != "InvalidClientTokenId" || !strings.Contains(e.Message, "phantom add AWS_ACCESS_KEY_ID --stdin") {
		t.Fatalf("refused key: %v", err)
	}

	srv.Close() // STS unreachable
	m = &awscreds.Minter{Key: key, Endpoint: srv.URL}
	_, _, err = m.Get(context.Background())
	if !errors.As(err, &e) || e.Status != 502 || e.Code != "STSUnreachable" || !strings.Contains(e.Message, "never serves the long-lived key") {
		t.Fatalf("STS down: %v", err)
	}
	if strings.Contains(e.Message, testSecret) || strings.Contains(e.Message, testKeyID) {
		t.Error("the message quotes the key")
	}

	// The handler serves phantom's own message and code to the child.
	rec := serve(t, awscreds.Handler(testToken, func() (awscreds.Credentials, error) { return awscreds.Credentials{}, err }), http.MethodGet, testToken)
	checkError(t, rec, http.StatusBadGateway, "STSUnreachable")
	var body map[string]string
	json.Unmarshal(rec.Body.Bytes(), &body)
	if !strings.Contains(body["message"], "never serves the long-lived key") {
		t.Errorf("message %q", body["message"])
	}

	for _, bad := range []*awscreds.Minter{
		{Key: awscreds.Credentials{AccessKeyID: testKeyID}},
		{Key: key, Region: "us-east-1.attacker.example"},
		{Key: key, Endpoint: "http://sts.attacker.example"},
		{Key: key, Duration: 10 * time.Minute},
	} {
		if _, _, err := bad.Get(context.Background()); err == nil {
			t.Errorf("%+v: Get succeeded", bad.Region+bad.Endpoint)
		}
	}
}
