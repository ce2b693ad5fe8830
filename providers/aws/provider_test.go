package awsprovider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"phantomstack.dev/providers"
	awsfake "phantomstack.dev/providers/fake/aws"
)

// clock is a test clock shared by the fake and the provider. It starts at
// the real time because the SDK signs with the real time; the fake allows
// 15 minutes of skew, far more than any test advances it.
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.off += d
}

// harness is one fake AWS and a provider pointed at it.
type harness struct {
	t      *testing.T
	srv    *awsfake.Server
	clk    *clock
	p      *Provider
	vars   map[string]string
	mu     sync.Mutex
	logs   []string
	sleeps int
	// extraSecrets are secrets a test obtained that must appear nowhere.
	extraSecrets []string
}

// isolateProcessEnv keeps the SDK, which also reads the process
// environment and ~/.aws, away from the developer's real AWS setup and from
// the instance metadata service (not loopback).
func isolateProcessEnv(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_IAM",
		"AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL_S3", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_WEB_IDENTITY_TOKEN_FILE",
		"AWS_ROLE_ARN", "AWS_CA_BUNDLE"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("HOME", dir)
	return dir
}

func newHarness(t *testing.T, opts awsfake.Options) *harness {
	t.Helper()
	dir := isolateProcessEnv(t)
	h := &harness{t: t, clk: &clock{}}
	if opts.Region == "" {
		opts.Region = "eu-west-1"
	}
	opts.Now = h.clk.Now
	h.srv = awsfake.New(opts)
	url := h.srv.Start()
	t.Cleanup(h.srv.Close)
	id, secret := h.srv.BootstrapCredentials()
	h.vars = map[string]string{
		"AWS_ACCESS_KEY_ID":           id,
		"AWS_SECRET_ACCESS_KEY":       secret,
		"AWS_REGION":                  opts.Region,
		"AWS_ENDPOINT_URL":            url,
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_CONFIG_FILE":             filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
	}
	h.p = New()
	h.p.Now = h.clk.Now
	h.p.MaxAttempts = 1 // no SDK retry sleeps; tests that want retries set it
	h.p.Sleep = func(ctx context.Context, d time.Duration) error {
		h.mu.Lock()
		h.sleeps++
		h.mu.Unlock()
		h.clk.Advance(d)
		return ctx.Err()
	}
	return h
}

func (h *harness) env() providers.Env {
	vars := map[string]string{}
	for k, v := range h.vars {
		vars[k] = v
	}
	return providers.Env{
		HTTP:   &http.Client{Timeout: 10 * time.Second},
		Getenv: func(k string) string { return vars[k] },
		Logf: func(format string, args ...any) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.logs = append(h.logs, fmt.Sprintf(format, args...))
		},
	}
}

func (h *harness) log() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return strings.Join(h.logs, "\n")
}

func (h *harness) login() *providers.Credential {
	h.t.Helper()
	cred, err := h.p.Login(context.Background(), h.env(), providers.LoginRequest{})
	if err != nil {
		h.t.Fatalf("Login: %v", err)
	}
	return cred
}

// noSecret fails when any of the secrets shows up in the texts.
func (h *harness) noSecret(texts ...string) {
	h.t.Helper()
	_, boot := h.srv.BootstrapCredentials()
	secrets := []string{boot}
	h.p.mu.Lock()
	for _, k := range h.p.pending {
		secrets = append(secrets, string(k.secret))
	}
	h.p.mu.Unlock()
	secrets = append(secrets, h.extraSecrets...)
	texts = append(texts, h.log())
	for _, s := range secrets {
		if s == "" {
			continue
		}
		for _, txt := range texts {
			if strings.Contains(txt, s) {
				h.t.Fatalf("a secret appears in %q", txt)
			}
		}
	}
}

// nothingLeft asserts the fake holds no user, key or bucket of stack's.
func (h *harness) nothingLeft() {
	h.t.Helper()
	if us := h.srv.Users(); len(us) != 0 {
		h.t.Fatalf("users left behind: %+v", us)
	}
	if bs := h.srv.Buckets(); len(bs) != 0 {
		h.t.Fatalf("buckets left behind: %+v", bs)
	}
}

func value(t *testing.T, m *providers.Materialized, slot string) string {
	t.Helper()
	for _, v := range m.Values {
		if v.Slot == slot {
			return string(v.Value)
		}
	}
	t.Fatalf("no %s in %v", slot, m.Values)
	return ""
}

func staticSecrets(m map[string]string) providers.SecretSource {
	return func(slot string) ([]byte, bool) {
		v, ok := m[slot]
		return []byte(v), ok
	}
}

func TestInfoRegisters(t *testing.T) {
	r := &providers.Registry{}
	if err := Register(r); err != nil {
		t.Fatal(err)
	}
	p, err := r.Get("aws")
	if err != nil {
		t.Fatal(err)
	}
	info := p.Info()
	var names []string
	for _, s := range info.Slots {
		names = append(names, s.Name)
		wantSecret := s.Name == SlotAccessKeyID || s.Name == SlotSecretAccessKey
		if s.Secret != wantSecret {
			t.Errorf("slot %s secret = %v", s.Name, s.Secret)
		}
		if wantSecret && s.Policy != providers.PolicyDeny {
			t.Errorf("slot %s policy = %q, want deny (served by phantom's credentials endpoint)", s.Name, s.Policy)
		}
	}
	if got := strings.Join(names, ","); got != "AWS_ACCESS_KEY_ID,AWS_SECRET_ACCESS_KEY,AWS_REGION,S3_BUCKET" {
		t.Fatalf("slots = %s", got)
	}
	if info.Auth != providers.AuthAWSCredentials || info.Category != "cloud" || info.DisplayName != "AWS" {
		t.Fatalf("info = %+v", info)
	}
}

// TestLifecycle: create → materialize across the key's propagation delay →
// healthcheck ok → key revoked at the fake → invalid → deprovision → gone.
func TestLifecycle(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, awsfake.Options{KeyPropagationDelay: 8 * time.Second})
	env := h.env()
	cred := h.login()
	if cred.Slot != "" || len(cred.Value) != 0 {
		t.Fatalf("the bootstrap credential must not be cached: %+v", cred)
	}
	if cred.Identity["arn"] != h.srv.BootstrapARN() || cred.Identity["account"] != "123456789012" {
		t.Fatalf("identity = %v", cred.Identity)
	}

	res, err := h.p.Provision(ctx, env, cred, providers.ProvisionRequest{Name: "myapp", Options: map[string]string{"project": "demo"}})
	if err != nil {
		t.Fatal(err)
	}
	bucket := res.Meta["bucket"]
	if res.ID != "myapp" || res.Region != "eu-west-1" || !strings.HasPrefix(bucket, "stack-myapp-") ||
		res.Meta["user_arn"] != "arn:aws:iam::123456789012:user/myapp" || res.Meta["account"] != "123456789012" ||
		!strings.HasPrefix(res.Meta["access_key_id"], "AKIA") {
		t.Fatalf("resource = %+v", res)
	}
	u, ok := h.srv.User("myapp")
	if !ok {
		t.Fatal("no user at the fake")
	}
	tags := map[string]string{}
	for _, tg := range u.Tags {
		tags[tg.Key] = tg.Value
	}
	if tags["managed-by"] != "stack" || tags["stack-project"] != "demo" || tags["stack-bucket"] != bucket || tags["stack-region"] != "eu-west-1" {
		t.Fatalf("tags = %v", tags)
	}
	if u.Policies[PolicyName] != BucketPolicy(bucket) || len(u.Policies) != 1 {
		t.Fatalf("policies = %v", u.Policies)
	}
	if bs := h.srv.Buckets(); len(bs) != 1 || bs[0].Name != bucket || bs[0].Region != "eu-west-1" {
		t.Fatalf("buckets = %+v", bs)
	}
	for k, v := range res.Meta {
		if len(v) == 40 && k != "user_arn" {
			t.Fatalf("Meta[%s] looks like a secret", k)
		}
	}

	before := h.clk.Now()
	m, err := h.p.Materialize(ctx, env, cred, res)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Clear()
	keyID, secret := value(t, m, SlotAccessKeyID), value(t, m, SlotSecretAccessKey)
	h.extraSecrets = append(h.extraSecrets, secret)
	if keyID != res.Meta["access_key_id"] || len(secret) != 40 || value(t, m, SlotRegion) != "eu-west-1" || value(t, m, SlotBucket) != bucket {
		t.Fatalf("materialized %s / %s / %s", keyID, value(t, m, SlotRegion), value(t, m, SlotBucket))
	}
	// Rejected (still propagating) calls are not counted by the fake, so
	// the wait shows on the shared clock.
	if waited := h.clk.Now().Sub(before); waited < 8*time.Second || waited > 20*time.Second || h.sleeps < 2 {
		t.Fatalf("Materialize did not wait out the 8s propagation delay: waited %s, %d sleeps", waited, h.sleeps)
	}
	if !strings.Contains(h.log(), "waiting for the new access key") {
		t.Fatalf("no progress line while waiting:\n%s", h.log())
	}
	if h.p.getPending(res.ID) != nil {
		t.Fatal("the key secret is still held after Materialize handed it out")
	}

	// The app's key can do its job, within its policy only.
	app := appS3(t, h, keyID, secret)
	if _, err := app.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("hello.txt"), Body: strings.NewReader("hi")}); err != nil {
		t.Fatalf("app PutObject: %v", err)
	}
	if _, err := app.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("stack-other")}); apiCode(err) != "AccessDenied" {
		t.Fatalf("app CreateBucket outside its policy: %v", err)
	}
	if _, err := app.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("hello.txt")}); err != nil {
		t.Fatal(err)
	}

	sec := staticSecrets(map[string]string{SlotAccessKeyID: keyID, SlotSecretAccessKey: secret})
	if hl := h.p.Healthcheck(ctx, env, res, sec); hl.Status != providers.StatusOK || !strings.Contains(hl.Detail, "user/myapp") {
		t.Fatalf("healthcheck = %+v", hl)
	}
	// A checkout with no instance data (a fresh clone, CI): the key works,
	// but whose it is cannot be compared: unverifiable, with the ARN.
	if hl := h.p.Healthcheck(ctx, env, providers.Resource{}, sec); hl.Status != providers.StatusUnverifiable || !strings.Contains(hl.Detail, "user/myapp") {
		t.Fatalf("healthcheck without instance data = %+v", hl)
	}
	// Deactivated, then deleted: both are "invalid".
	h.srv.SetAccessKeyStatus(keyID, "Inactive")
	if hl := h.p.Healthcheck(ctx, env, res, sec); hl.Status != providers.StatusInvalid {
		t.Fatalf("healthcheck with an Inactive key = %+v", hl)
	}
	h.srv.SetAccessKeyStatus(keyID, "Active")
	if !h.srv.DeleteAccessKey(keyID) {
		t.Fatal("key unknown to the fake")
	}
	hl := h.p.Healthcheck(ctx, env, res, sec)
	if hl.Status != providers.StatusInvalid || !strings.Contains(hl.Detail, "InvalidClientTokenId") {
		t.Fatalf("healthcheck with a revoked key = %+v", hl)
	}

	if err := h.p.Deprovision(ctx, env, cred, res); err != nil {
		t.Fatal(err)
	}
	h.nothingLeft()
	if ks := h.srv.AccessKeys("myapp"); len(ks) != 0 {
		t.Fatalf("keys left: %+v", ks)
	}
	// Again: everything is already gone, which is not an error.
	if err := h.p.Deprovision(ctx, env, cred, res); err != nil {
		t.Fatalf("second Deprovision: %v", err)
	}
	h.noSecret(hl.Detail)
}

func appS3(t *testing.T, h *harness, id, secret string) *s3.Client {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion(h.srv.Region()),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(id, secret, "")),
		config.WithBaseEndpoint(h.srv.URL()), config.WithRetryMaxAttempts(1))
	if err != nil {
		t.Fatal(err)
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
}

func adminIAM(t *testing.T, h *harness) *iam.Client {
	t.Helper()
	id, secret := h.srv.BootstrapCredentials()
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(id, secret, "")),
		config.WithBaseEndpoint(h.srv.URL()))
	if err != nil {
		t.Fatal(err)
	}
	return iam.NewFromConfig(cfg)
}

func TestLoginWithoutCredentials(t *testing.T) {
	h := newHarness(t, awsfake.Options{})
	delete(h.vars, "AWS_ACCESS_KEY_ID")
	delete(h.vars, "AWS_SECRET_ACCESS_KEY")
	_, err := h.p.Login(context.Background(), h.env(), providers.LoginRequest{})
	if !errors.Is(err, providers.ErrAuthRequired) {
		t.Fatalf("want ErrAuthRequired, got %v", err)
	}
	for _, want := range []string{"aws configure", "AWS_PROFILE", "AWS_ACCESS_KEY_ID", "aws sso login"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
	// An unknown --profile is named.
	_, err = h.p.Login(context.Background(), h.env(), providers.LoginRequest{Options: map[string]string{"profile": "nope"}})
	if !errors.Is(err, providers.ErrAuthRequired) || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("unknown profile: %v", err)
	}
}

// TestLoginProfile: --profile from a shared credentials file wins over keys
// in the environment (as in the SDK's chain).
func TestLoginProfile(t *testing.T) {
	h := newHarness(t, awsfake.Options{})
	id, secret := h.srv.BootstrapCredentials()
	file := h.vars["AWS_SHARED_CREDENTIALS_FILE"]
	if err := os.WriteFile(file, []byte("[dev]\naws_access_key_id = "+id+"\naws_secret_access_key = "+secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h.vars["AWS_ACCESS_KEY_ID"] = "AKIAWRONGWRONGWRONG1"
	h.vars["AWS_SECRET_ACCESS_KEY"] = strings.Repeat("x", 40)
	cred, err := h.p.Login(context.Background(), h.env(), providers.LoginRequest{Options: map[string]string{"profile": "dev"}})
	if err != nil {
		t.Fatal(err)
	}
	if cred.Identity["arn"] != h.srv.BootstrapARN() || cred.Identity["profile"] != "dev" || len(cred.Value) != 0 {
		t.Fatalf("identity = %v", cred.Identity)
	}
	// The profile travels in Identity, so Provision signs with it too.
	res, err := h.p.Provision(context.Background(), h.env(), cred, providers.ProvisionRequest{Name: "viaprofile"})
	if err != nil {
		t.Fatal(err)
	}
	if res.ID != "viaprofile" {
		t.Fatal(res)
	}
	// Without the profile the bad env keys are used and rejected.
	_, err = h.p.Login(context.Background(), h.env(), providers.LoginRequest{})
	if !errors.Is(err, providers.ErrAuthInvalid) || !strings.Contains(err.Error(), "InvalidClientTokenId") {
		t.Fatalf("rejected keys: %v", err)
	}
	h.noSecret(err.Error())
}

// TestBootstrapLacksCreateUser: the error names the permission and lists
// all of them; nothing is created.
func TestBootstrapLacksCreateUser(t *testing.T) {
	h := newHarness(t, awsfake.Options{BootstrapPolicy: `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":["iam:*","s3:*"],"Resource":"*"},
		{"Effect":"Deny","Action":"iam:CreateUser","Resource":"*"}]}`})
	cred := h.login()
	_, err := h.p.Provision(context.Background(), h.env(), cred, providers.ProvisionRequest{Name: "app"})
	var pe *PermissionError
	if !errors.As(err, &pe) || pe.Permission != "iam:CreateUser" {
		t.Fatalf("want a PermissionError for iam:CreateUser, got %v", err)
	}
	for _, perm := range BootstrapPermissions {
		if !strings.Contains(err.Error(), perm) {
			t.Errorf("error does not list %s", perm)
		}
	}
	h.nothingLeft()
	h.noSecret(err.Error())
}

// TestAccessDeniedLater: a permission missing for a later step (the
// bucket) is named, and the user created before it is deleted again.
func TestAccessDeniedLater(t *testing.T) {
	h := newHarness(t, awsfake.Options{BootstrapPolicy: `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":["iam:*","s3:ListBucket","s3:DeleteBucket"],"Resource":"*"}]}`})
	cred := h.login()
	_, err := h.p.Provision(context.Background(), h.env(), cred, providers.ProvisionRequest{Name: "app"})
	var pe *PermissionError
	if !errors.As(err, &pe) || pe.Permission != "s3:CreateBucket" || !strings.Contains(err.Error(), "not authorized to perform: s3:CreateBucket") {
		t.Fatalf("want a PermissionError for s3:CreateBucket, got %v", err)
	}
	if !strings.Contains(err.Error(), "nothing was left behind in AWS") {
		t.Fatalf("error does not report the rollback: %v", err)
	}
	h.nothingLeft()
	h.noSecret(err.Error())
}

// TestFaultAtEachStep: a failure at any API call of Provision leaves
// nothing behind that this call created.
func TestFaultAtEachStep(t *testing.T) {
	for _, action := range []string{"GetCallerIdentity", "CreateUser", "PutUserPolicy", "CreateBucket", "CreateAccessKey"} {
		for _, status := range []int{409, 500} {
			t.Run(fmt.Sprintf("%s/%d", action, status), func(t *testing.T) {
				h := newHarness(t, awsfake.Options{})
				h.srv.AddFault(awsfake.Fault{Action: action, Status: status, Code: "InjectedFault", Times: -1})
				_, err := h.p.Provision(context.Background(), h.env(), nil, providers.ProvisionRequest{Name: "app"})
				if err == nil || !strings.Contains(err.Error(), "InjectedFault") {
					t.Fatalf("want the injected fault, got %v", err)
				}
				if status == 500 && !errors.Is(err, providers.ErrUnreachable) {
					t.Fatalf("a 5xx is 'unreachable': %v", err)
				}
				h.nothingLeft()
				if h.p.getPending("app") != nil {
					t.Fatal("a key is still held after a failed Provision")
				}
				h.noSecret(err.Error())
			})
		}
	}
}

// TestRetriedThrottling: the SDK's own retries absorb a throttled call.
func TestRetriedThrottling(t *testing.T) {
	h := newHarness(t, awsfake.Options{})
	h.p.MaxAttempts = 3
	h.srv.Throttle("CreateUser", 1, 1)
	res, err := h.p.Provision(context.Background(), h.env(), nil, providers.ProvisionRequest{Name: "app"})
	if err != nil {
		t.Fatal(err)
	}
	if h.srv.Calls("CreateUser") != 2 || res.ID != "app" {
		t.Fatalf("calls = %d", h.srv.Calls("CreateUser"))
	}
}

// TestRollbackFailureIsReported: when clean-up fails too, the error says
// what is left in AWS.
func TestRollbackFailureIsReported(t *testing.T) {
	h := newHarness(t, awsfake.Options{})
	h.srv.AddFault(awsfake.Fault{Action: "CreateAccessKey", Status: 409, Code: "LimitExceeded"})
	h.srv.AddFault(awsfake.Fault{Action: "DeleteUser", Status: 409, Code: "DeleteConflict", Times: -1})
	_, err := h.p.Provision(context.Background(), h.env(), nil, providers.ProvisionRequest{Name: "app"})
	if err == nil || !strings.Contains(err.Error(), "need deleting by hand") || !strings.Contains(err.Error(), "IAM user app") {
		t.Fatalf("want a rollback report, got %v", err)
	}
	// The bucket was rolled back; the user could not be.
	if bs := h.srv.Buckets(); len(bs) != 0 {
		t.Fatalf("buckets = %+v", bs)
	}
	if _, ok := h.srv.User("app"); !ok {
		t.Fatal("the fault should have kept the user")
	}
}

// TestCancelRollsBack: a cancelled context (Ctrl-C) still cleans up.
func TestCancelRollsBack(t *testing.T) {
	h := newHarness(t, awsfake.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	env := h.env()
	env.Logf = func(format string, args ...any) {
		if strings.Contains(format, "created S3 bucket") {
			cancel()
		}
	}
	_, err := h.p.Provision(ctx, env, nil, providers.ProvisionRequest{Name: "app"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	h.nothingLeft()
}

// TestReprovisionAdopts: running Provision again with the same name (after
// a crash, in a new process) adopts the user and bucket: exactly one user,
// one bucket, and never more than two keys.
func TestReprovisionAdopts(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, awsfake.Options{Region: "us-east-1"})
	first, err := h.p.Provision(ctx, h.env(), nil, providers.ProvisionRequest{Name: "app"})
	if err != nil {
		t.Fatal(err)
	}
	var last providers.Resource
	for i := range 3 {
		p2 := New() // a new process: no key in memory
		p2.Now, p2.Sleep, p2.MaxAttempts = h.p.Now, h.p.Sleep, 1
		res, err := p2.Provision(ctx, h.env(), nil, providers.ProvisionRequest{Name: "app"})
		if err != nil {
			t.Fatalf("run %d: %v", i+2, err)
		}
		if res.Meta["bucket"] != first.Meta["bucket"] || res.Meta["user_arn"] != first.Meta["user_arn"] {
			t.Fatalf("run %d: adopted %+v, first was %+v", i+2, res, first)
		}
		if ks := h.srv.AccessKeys("app"); len(ks) > 2 {
			t.Fatalf("run %d: %d keys", i+2, len(ks))
		}
		last = res
		h.p = p2
	}
	if us := h.srv.Users(); len(us) != 1 {
		t.Fatalf("users = %+v", us)
	}
	if bs := h.srv.Buckets(); len(bs) != 1 || bs[0].Region != "us-east-1" {
		t.Fatalf("buckets = %+v", bs)
	}
	// The newest key (created by the last run) is one of the two left.
	ks := h.srv.AccessKeys("app")
	if len(ks) != 2 || (ks[0].AccessKeyID != last.Meta["access_key_id"] && ks[1].AccessKeyID != last.Meta["access_key_id"]) {
		t.Fatalf("keys = %+v, last = %s", ks, last.Meta["access_key_id"])
	}
	if !strings.Contains(h.log(), "already exists and is stack's") || !strings.Contains(h.log(), "deleted the old access key") {
		t.Fatalf("log:\n%s", h.log())
	}
	m, err := h.p.Materialize(ctx, h.env(), nil, last)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Clear()
	if value(t, m, SlotAccessKeyID) != last.Meta["access_key_id"] {
		t.Fatal("Materialize did not hand out the key Provision created")
	}
}

// TestForeignUserNotAdopted: a user stack did not create is never adopted,
// attached to, or deleted.
func TestForeignUserNotAdopted(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, awsfake.Options{})
	if _, err := adminIAM(t, h).CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("alice"),
		Tags: []iamtypes.Tag{{Key: aws.String("team"), Value: aws.String("ops")}}}); err != nil {
		t.Fatal(err)
	}
	for _, req := range []providers.ProvisionRequest{{Name: "alice"}, {UseID: "alice"}} {
		_, err := h.p.Provision(ctx, h.env(), nil, req)
		if err == nil || !strings.Contains(err.Error(), "not created by stack") {
			t.Fatalf("%+v: %v", req, err)
		}
	}
	err := h.p.Deprovision(ctx, h.env(), nil, providers.Resource{ID: "alice", Region: "eu-west-1"})
	if err == nil || !strings.Contains(err.Error(), "not created by stack") {
		t.Fatalf("Deprovision: %v", err)
	}
	if _, ok := h.srv.User("alice"); !ok || len(h.srv.AccessKeys("alice")) != 0 || len(h.srv.Buckets()) != 0 {
		t.Fatal("alice was touched")
	}
	if _, err := h.p.Provision(ctx, h.env(), nil, providers.ProvisionRequest{UseID: "nobody"}); err == nil || !strings.Contains(err.Error(), "no IAM user nobody") {
		t.Fatalf("--use of a missing user: %v", err)
	}
}

// TestUseAndResume: --use attaches to a stack user in a new process; with
// no key in memory, Materialize creates one and waits for it.
func TestUseAndResume(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, awsfake.Options{KeyPropagationDelay: 3 * time.Second})
	res, err := h.p.Provision(ctx, h.env(), nil, providers.ProvisionRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.ID, "stack-") {
		t.Fatalf("generated name %q", res.ID)
	}
	p2 := New()
	p2.Now, p2.Sleep, p2.MaxAttempts = h.p.Now, h.p.Sleep, 1
	att, err := p2.Provision(ctx, h.env(), nil, providers.ProvisionRequest{UseID: res.ID})
	if err != nil {
		t.Fatal(err)
	}
	if att.Meta["bucket"] != res.Meta["bucket"] || att.Region != res.Region {
		t.Fatalf("attached %+v, created %+v", att, res)
	}
	if us := h.srv.Users(); len(us) != 1 {
		t.Fatalf("users = %+v", us)
	}

	p3 := New() // resume: Provision's key is lost
	p3.Now, p3.Sleep, p3.MaxAttempts = h.p.Now, h.p.Sleep, 1
	m, err := p3.Materialize(ctx, h.env(), nil, att)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Clear()
	id := value(t, m, SlotAccessKeyID)
	if id == att.Meta["access_key_id"] || id == res.Meta["access_key_id"] {
		t.Fatal("Materialize without a key in memory must create a new one")
	}
	if ks := h.srv.AccessKeys(res.ID); len(ks) != 2 {
		t.Fatalf("keys = %+v", ks)
	}
	secret := value(t, m, SlotSecretAccessKey)
	hl := p3.Healthcheck(ctx, h.env(), att, staticSecrets(map[string]string{SlotAccessKeyID: id, SlotSecretAccessKey: secret}))
	if hl.Status != providers.StatusOK {
		t.Fatalf("healthcheck = %+v", hl)
	}
}

// TestMaterializeTimeout: a key that never propagates gives up after the
// bound, on the injected clock, with an error that says what to do; Ctrl-C
// stops the wait at once.
func TestMaterializeTimeout(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, awsfake.Options{KeyPropagationDelay: time.Hour})
	res, err := h.p.Provision(ctx, h.env(), nil, providers.ProvisionRequest{Name: "slow"})
	if err != nil {
		t.Fatal(err)
	}
	start := h.clk.Now()
	_, err = h.p.Materialize(ctx, h.env(), nil, res)
	if !errors.Is(err, providers.ErrUnreachable) || !strings.Contains(err.Error(), "run the command again") {
		t.Fatalf("want a timeout, got %v", err)
	}
	if waited := h.clk.Now().Sub(start); waited > 70*time.Second || waited < 50*time.Second {
		t.Fatalf("waited %s on the clock, want about 60s", waited)
	}
	if h.p.getPending("slow") == nil {
		t.Fatal("the key should stay in memory so a retry can use it")
	}
	cctx, cancel := context.WithCancel(ctx)
	h.p.Sleep = func(ctx context.Context, d time.Duration) error { cancel(); return ctx.Err() }
	if _, err := h.p.Materialize(cctx, h.env(), nil, res); !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	h.noSecret(err.Error())
}

// TestHealthcheckViaCredentialsEndpoint: under phantom exec the key is not
// in the environment; the check fetches it from the container-credentials
// endpoint (a stand-in for phantom's, with its authorization token).
func TestHealthcheckViaCredentialsEndpoint(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, awsfake.Options{})
	res, err := h.p.Provision(ctx, h.env(), nil, providers.ProvisionRequest{Name: "app"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := h.p.Materialize(ctx, h.env(), nil, res)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Clear()
	served := struct{ id, secret string }{value(t, m, SlotAccessKeyID), value(t, m, SlotSecretAccessKey)}
	h.extraSecrets = append(h.extraSecrets, served.secret)
	var mu sync.Mutex
	var hits int
	mode := "key" // "key": serve the key; "session": mint session credentials from it, as phantom does; "refused": STS refused the key
	ep := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "session-token" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		mu.Lock()
		hits++
		id, secret, m := served.id, served.secret, mode
		mu.Unlock()
		switch m {
		case "session":
			c := sts.New(sts.Options{Region: h.srv.Region(), BaseEndpoint: aws.String(h.srv.URL()),
				Credentials: credentials.NewStaticCredentialsProvider(id, secret, "")})
			out, err := c.GetSessionToken(r.Context(), &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(3600)})
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			json.NewEncoder(w).Encode(map[string]string{"AccessKeyId": aws.ToString(out.Credentials.AccessKeyId),
				"SecretAccessKey": aws.ToString(out.Credentials.SecretAccessKey), "Token": aws.ToString(out.Credentials.SessionToken),
				"Expiration": out.Credentials.Expiration.UTC().Format(time.RFC3339)})
			return
		case "refused":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `{"code":"InvalidClientTokenId","message":"STS in us-east-1 refused the stored AWS key (InvalidClientTokenId)"}`)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"AccessKeyId": id, "SecretAccessKey": secret,
			"Expiration": time.Now().Add(20 * time.Minute).UTC().Format(time.RFC3339)})
	}))
	defer ep.Close()

	// What doctor's probe sees: phantom removed the key variables, the
	// slots' tokens are not usable, the endpoint is announced.
	delete(h.vars, "AWS_ACCESS_KEY_ID")
	delete(h.vars, "AWS_SECRET_ACCESS_KEY")
	h.vars["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = ep.URL + "/_phantom/x/_aws/credentials"
	h.vars["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "session-token"
	tokens := staticSecrets(map[string]string{SlotAccessKeyID: "phm_" + strings.Repeat("a", 40)})
	hl := h.p.Healthcheck(ctx, h.env(), res, tokens)
	if hl.Status != providers.StatusOK || hits == 0 {
		t.Fatalf("healthcheck via the endpoint = %+v (%d fetches)", hl, hits)
	}

	// phantom serves session credentials minted from the app's key: they
	// identify as the app's user.
	mu.Lock()
	mode = "session"
	mu.Unlock()
	if hl = h.p.Healthcheck(ctx, h.env(), res, tokens); hl.Status != providers.StatusOK {
		t.Fatalf("healthcheck with session credentials = %+v", hl)
	}
	// STS refused the stored key when phantom asked for a session: invalid.
	mu.Lock()
	mode = "refused"
	mu.Unlock()
	if hl = h.p.Healthcheck(ctx, h.env(), res, tokens); hl.Status != providers.StatusInvalid || !strings.Contains(hl.Detail, "InvalidClientTokenId") {
		t.Fatalf("healthcheck with the key refused by STS = %+v", hl)
	}
	mu.Lock()
	mode = "key"
	mu.Unlock()

	// The endpoint serving somebody else's key: invalid, and says whose.
	mu.Lock()
	served.id, served.secret = h.srv.BootstrapCredentials()
	mu.Unlock()
	hl = h.p.Healthcheck(ctx, h.env(), res, tokens)
	if hl.Status != providers.StatusInvalid || !strings.Contains(hl.Detail, h.srv.BootstrapARN()) || !strings.Contains(hl.Detail, "user/app") {
		t.Fatalf("healthcheck with the wrong identity = %+v", hl)
	}

	// A wrong authorization token: the endpoint refuses; validity unknown.
	h.vars["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "wrong"
	if hl = h.p.Healthcheck(ctx, h.env(), res, tokens); hl.Status != providers.StatusUnreachable {
		t.Fatalf("healthcheck with a refused endpoint = %+v", hl)
	}
	// A non-loopback plain-http endpoint is not trusted.
	h.vars["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = "http://192.0.2.1/creds"
	if hl = h.p.Healthcheck(ctx, h.env(), res, tokens); hl.Status != providers.StatusUnexpected {
		t.Fatalf("healthcheck with a remote http endpoint = %+v", hl)
	}
	h.noSecret(hl.Detail)
}

func TestHealthcheckUnreachableAndMissing(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, awsfake.Options{})
	res := providers.Resource{ID: "app", Region: "eu-west-1", Meta: map[string]string{"user_arn": "arn:aws:iam::123456789012:user/app"}}
	id, secret := h.srv.BootstrapCredentials()
	sec := staticSecrets(map[string]string{SlotAccessKeyID: id, SlotSecretAccessKey: secret})

	h.srv.Throttle("GetCallerIdentity", 1, -1)
	if hl := h.p.Healthcheck(ctx, h.env(), res, sec); hl.Status != providers.StatusUnreachable {
		t.Fatalf("throttled = %+v", hl)
	}
	h.srv.ClearFaults()
	h.srv.AddFault(awsfake.Fault{Action: "GetCallerIdentity", Status: 503, Code: "ServiceUnavailable"})
	if hl := h.p.Healthcheck(ctx, h.env(), res, sec); hl.Status != providers.StatusUnreachable {
		t.Fatalf("5xx = %+v", hl)
	}
	// A wrong secret is "invalid" (SignatureDoesNotMatch).
	bad := staticSecrets(map[string]string{SlotAccessKeyID: id, SlotSecretAccessKey: strings.Repeat("y", 40)})
	if hl := h.p.Healthcheck(ctx, h.env(), res, bad); hl.Status != providers.StatusInvalid || !strings.Contains(hl.Detail, "SignatureDoesNotMatch") {
		t.Fatalf("wrong secret = %+v", hl)
	}
	// No key anywhere: missing.
	delete(h.vars, "AWS_ACCESS_KEY_ID")
	delete(h.vars, "AWS_SECRET_ACCESS_KEY")
	if hl := h.p.Healthcheck(ctx, h.env(), res, staticSecrets(nil)); hl.Status != providers.StatusMissing {
		t.Fatalf("no key = %+v", hl)
	}
	// Nobody listening: unreachable.
	h.srv.Close()
	if hl := h.p.Healthcheck(ctx, h.env(), res, sec); hl.Status != providers.StatusUnreachable {
		t.Fatalf("closed endpoint = %+v", hl)
	}
}

// TestDeprovisionKeepsData: a bucket with objects is never emptied; nothing
// is removed and the error says how to empty it.
func TestDeprovisionKeepsData(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, awsfake.Options{})
	res, err := h.p.Provision(ctx, h.env(), nil, providers.ProvisionRequest{Name: "app"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := h.p.Materialize(ctx, h.env(), nil, res)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Clear()
	app := appS3(t, h, value(t, m, SlotAccessKeyID), value(t, m, SlotSecretAccessKey))
	if _, err := app.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(res.Meta["bucket"]), Key: aws.String("data.csv"), Body: strings.NewReader("1,2")}); err != nil {
		t.Fatal(err)
	}
	err = h.p.Deprovision(ctx, h.env(), nil, res)
	if err == nil || !strings.Contains(err.Error(), "aws s3 rm s3://"+res.Meta["bucket"]+" --recursive") || !strings.Contains(err.Error(), "nothing was removed") {
		t.Fatalf("Deprovision of a non-empty bucket: %v", err)
	}
	if _, ok := h.srv.User("app"); !ok || len(h.srv.Buckets()) != 1 || len(h.srv.AccessKeys("app")) != 1 {
		t.Fatal("Deprovision removed something although it refused")
	}
	if _, ok := h.srv.Object(res.Meta["bucket"], "data.csv"); !ok {
		t.Fatal("the object is gone")
	}
	// Emptied, it goes.
	if _, err := app.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(res.Meta["bucket"]), Key: aws.String("data.csv")}); err != nil {
		t.Fatal(err)
	}
	if err := h.p.Deprovision(ctx, h.env(), nil, res); err != nil {
		t.Fatal(err)
	}
	h.nothingLeft()
}

// TestServiceEndpoints: the per-service variables alone are enough, and
// IAM is signed for us-east-1 even when the app's region is another.
func TestServiceEndpoints(t *testing.T) {
	h := newHarness(t, awsfake.Options{Region: "ap-southeast-2"})
	url := h.vars["AWS_ENDPOINT_URL"]
	delete(h.vars, "AWS_ENDPOINT_URL")
	h.vars["AWS_ENDPOINT_URL_IAM"], h.vars["AWS_ENDPOINT_URL_STS"], h.vars["AWS_ENDPOINT_URL_S3"] = url, url, url
	cred := h.login()
	res, err := h.p.Provision(context.Background(), h.env(), cred, providers.ProvisionRequest{Name: "syd"})
	if err != nil {
		t.Fatal(err)
	}
	if bs := h.srv.Buckets(); len(bs) != 1 || bs[0].Region != "ap-southeast-2" || res.Region != "ap-southeast-2" {
		t.Fatalf("buckets = %+v", bs)
	}
	if !strings.Contains(h.log(), "local sandbox") {
		t.Fatalf("the sandbox endpoint is not announced:\n%s", h.log())
	}
}

// TestBootstrapPolicyIsEnough: the documented bootstrap policy (and nothing
// more) carries the whole lifecycle, and docs/providers.md has it verbatim.
func TestBootstrapPolicyIsEnough(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, awsfake.Options{BootstrapPolicy: BootstrapPolicy, KeyPropagationDelay: 2 * time.Second})
	cred := h.login()
	res, err := h.p.Provision(ctx, h.env(), cred, providers.ProvisionRequest{Name: "least"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := h.p.Materialize(ctx, h.env(), cred, res)
	if err != nil {
		t.Fatal(err)
	}
	m.Clear()
	// Adopt and --use need GetUser/TagUser/ListAccessKeys/DeleteAccessKey.
	for _, req := range []providers.ProvisionRequest{{Name: "least"}, {UseID: "least"}} {
		if _, err := h.p.Provision(ctx, h.env(), cred, req); err != nil {
			t.Fatalf("%+v: %v", req, err)
		}
	}
	if err := h.p.Deprovision(ctx, h.env(), cred, res); err != nil {
		t.Fatal(err)
	}
	h.nothingLeft()

	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "providers.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "```json\n"+BootstrapPolicy+"\n```") {
		t.Fatal("docs/providers.md does not carry BootstrapPolicy verbatim in a json block")
	}
	for _, perm := range BootstrapPermissions {
		if !strings.Contains(BootstrapPolicy, `"`+perm+`"`) {
			t.Errorf("BootstrapPolicy lacks %s", perm)
		}
	}
}

// newProcess is the provider as a new stack process sees it: the same
// clock, no key in memory.
func (h *harness) newProcess() *Provider {
	p := New()
	p.Now, p.Sleep, p.MaxAttempts = h.p.Now, h.p.Sleep, 1
	return p
}

// TestResumeOwnedReplacesStaleKeys: a resumed add (Owned), by the journal's
// id or by the planned name, deletes the keys interrupted runs made — their
// secrets are gone — so the user ends with exactly one key, the new one.
func TestResumeOwnedReplacesStaleKeys(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, awsfake.Options{Region: "us-east-1"})
	if _, err := h.p.Provision(ctx, h.env(), nil, providers.ProvisionRequest{Name: "app"}); err != nil {
		t.Fatal(err)
	}
	for i, req := range []providers.ProvisionRequest{
		{UseID: "app", Owned: true}, // journal at "created" or later
		{Name: "app", Owned: true},  // journal at "planned": adopted by name
		{UseID: "app", Owned: true},
	} {
		p := h.newProcess()
		res, err := p.Provision(ctx, h.env(), nil, req)
		if err != nil {
			t.Fatalf("resume %d: %v", i+1, err)
		}
		ks := h.srv.AccessKeys("app")
		if len(ks) != 1 || ks[0].AccessKeyID != res.Meta["access_key_id"] {
			t.Fatalf("resume %d: keys = %+v, want only %s", i+1, ks, res.Meta["access_key_id"])
		}
		m, err := p.Materialize(ctx, h.env(), nil, res)
		if err != nil {
			t.Fatal(err)
		}
		if value(t, m, SlotAccessKeyID) != ks[0].AccessKeyID {
			t.Fatalf("resume %d: Materialize handed out another key than the user's only one", i+1)
		}
		m.Clear()
	}
	if n := h.srv.Created(); n.Users != 1 || n.Buckets != 1 || n.AccessKeys != 4 {
		t.Fatalf("created = %+v, want 1 user, 1 bucket, 4 keys", n)
	}
	if !strings.Contains(h.log(), "deleted the stale access key") || strings.Contains(h.log(), "deleted the old access key") {
		t.Fatalf("log:\n%s", h.log())
	}
}

// TestUseKeepsExistingKey: --use (not Owned) never deletes the key a
// running copy of the app may use while there is room for a second one.
func TestUseKeepsExistingKey(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, awsfake.Options{Region: "us-east-1"})
	first, err := h.p.Provision(ctx, h.env(), nil, providers.ProvisionRequest{Name: "app"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.newProcess().Provision(ctx, h.env(), nil, providers.ProvisionRequest{UseID: "app"}); err != nil {
		t.Fatal(err)
	}
	ks := h.srv.AccessKeys("app")
	if len(ks) != 2 || ks[0].AccessKeyID != first.Meta["access_key_id"] {
		t.Fatalf("keys = %+v, want the first one kept", ks)
	}
	if strings.Contains(h.log(), "stale") {
		t.Fatalf("log:\n%s", h.log())
	}
}

// TestResumedUseReplacesOnlyItsOwnKey: a --use add interrupted after it
// made a key (its secret lost) is resumed: the key IAM dated after the
// interrupted add started goes, the user's own older key stays, and the
// user ends with that key and the new one. Without ResumedSince the quota
// rule would delete the oldest key — the user's.
func TestResumedUseReplacesOnlyItsOwnKey(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, awsfake.Options{Region: "us-east-1"})
	now, step := h.clk.Now, h.clk.Advance
	first, err := h.p.Provision(ctx, h.env(), nil, providers.ProvisionRequest{Name: "app"})
	if err != nil {
		t.Fatal(err)
	}
	// Minutes later (SigV4 allows the fake's clock 15 min off the signer's)
	// a teammate's add --use starts, makes a key, and dies.
	step(5 * time.Minute)
	started := now()
	step(10 * time.Second)
	if _, err := h.newProcess().Provision(ctx, h.env(), nil, providers.ProvisionRequest{UseID: "app"}); err != nil {
		t.Fatal(err)
	}
	orphan := h.srv.AccessKeys("app")[1].AccessKeyID
	step(time.Minute)
	res, err := h.newProcess().Provision(ctx, h.env(), nil, providers.ProvisionRequest{UseID: "app", ResumedSince: started})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, k := range h.srv.AccessKeys("app") {
		ids = append(ids, k.AccessKeyID)
	}
	if len(ids) != 2 || ids[0] != first.Meta["access_key_id"] || slices.Contains(ids, orphan) || ids[1] != res.Meta["access_key_id"] {
		t.Fatalf("keys %v: want the user's own %s and the new %s, not the orphan %s\nlog:\n%s", ids, first.Meta["access_key_id"], res.Meta["access_key_id"], orphan, h.log())
	}
	if !strings.Contains(h.log(), "deleted the stale access key "+orphan) {
		t.Fatalf("log:\n%s", h.log())
	}
}

// TestFailedAttachKeepsBucket: in us-east-1, CreateBucket answers 200 for a
// bucket the caller owns, so an attach must not take the bucket for new and
// delete it when a later step fails.
func TestFailedAttachKeepsBucket(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, awsfake.Options{Region: "us-east-1"})
	if _, err := h.p.Provision(ctx, h.env(), nil, providers.ProvisionRequest{Name: "app"}); err != nil {
		t.Fatal(err)
	}
	h.srv.AddFault(awsfake.Fault{Action: "CreateAccessKey", Status: 500, Code: "InjectedFault", Times: -1})
	_, err := h.newProcess().Provision(ctx, h.env(), nil, providers.ProvisionRequest{UseID: "app"})
	if err == nil || !strings.Contains(err.Error(), "InjectedFault") {
		t.Fatalf("want the injected fault, got %v", err)
	}
	if _, ok := h.srv.User("app"); !ok || len(h.srv.Buckets()) != 1 || len(h.srv.AccessKeys("app")) != 1 {
		t.Fatalf("the attached user was changed: users %+v, buckets %+v", h.srv.Users(), h.srv.Buckets())
	}
	if h.srv.Created().Buckets != 1 {
		t.Fatalf("created = %+v", h.srv.Created())
	}
}

// TestFailedResumeByNameRollsBack: a resume that adopted, by its planned
// name, the user an interrupted run made (the journal has no id for it)
// deletes it again when it fails, so nothing is left that no journal names.
func TestFailedResumeByNameRollsBack(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, awsfake.Options{Region: "us-east-1"})
	if _, err := h.p.Provision(ctx, h.env(), nil, providers.ProvisionRequest{Name: "app"}); err != nil {
		t.Fatal(err)
	}
	h.srv.AddFault(awsfake.Fault{Action: "CreateAccessKey", Status: 500, Code: "InjectedFault", Times: -1})
	_, err := h.newProcess().Provision(ctx, h.env(), nil, providers.ProvisionRequest{Name: "app", Owned: true})
	if err == nil || !strings.Contains(err.Error(), "InjectedFault") || !strings.Contains(err.Error(), "IAM user app") {
		t.Fatalf("want the fault and a rollback of the user, got %v", err)
	}
	h.nothingLeft()
}
