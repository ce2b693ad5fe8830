// Package awsprovider is stack's AWS provider. The user's own AWS identity
// (the "bootstrap" identity, from the SDK's standard credential chain) creates,
// for one app: a tagged IAM user, a least-privilege inline policy on one S3
// bucket, that bucket, and an access key. The app's key goes to phantom, which
// serves it to AWS SDKs through its container-credentials endpoint; the
// bootstrap credential stays where the user keeps it and is never cached.
//
// Endpoint settings follow docs/providers.md, "AWS (IAM, STS, S3)": a custom
// endpoint (AWS_ENDPOINT_URL, or AWS_ENDPOINT_URL_IAM/_STS/_S3) is the sandbox;
// IAM is always signed for us-east-1; S3 goes path-style behind a custom
// endpoint.
package awsprovider

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"phantomstack.dev/providers"
	"phantomstack.dev/shared/token"
)

// Slot names.
const (
	SlotAccessKeyID     = "AWS_ACCESS_KEY_ID"
	SlotSecretAccessKey = "AWS_SECRET_ACCESS_KEY"
	SlotRegion          = "AWS_REGION"
	SlotBucket          = "S3_BUCKET"
)

// Tags stack puts on the IAM users it creates. managed-by=stack is what
// adopt, --use and Deprovision check before they touch a user.
const (
	TagManagedBy = "managed-by"
	TagProject   = "stack-project"
	TagBucket    = "stack-bucket"
	TagRegion    = "stack-region"
	managedValue = "stack"
)

// PolicyName is the inline policy stack puts on the app's user.
const PolicyName = "stack-app-bucket"

const (
	defaultRegion = "us-east-1"
	// iamRegion: IAM is global and signed for us-east-1 (docs/providers.md).
	iamRegion = "us-east-1"
	// maxKeysPerUser is IAM's AccessKeysPerUser quota.
	maxKeysPerUser = 2
	// defaultPropagationTimeout bounds the wait for a new key to work.
	defaultPropagationTimeout = 60 * time.Second
	// rollbackTimeout bounds clean-up after a failure or Ctrl-C.
	rollbackTimeout = 60 * time.Second
)

// Provider implements providers.Provider for AWS. The zero value is not
// usable; call New.
type Provider struct {
	// Now and Sleep drive the wait for a new access key; tests inject a
	// clock shared with the fake so the wait takes no real time.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// PropagationTimeout bounds that wait (default 60 s).
	PropagationTimeout time.Duration
	// MaxAttempts overrides the SDK's retry attempts per call (0: SDK default, 3).
	MaxAttempts int

	// pending holds access keys Provision created whose secret Materialize
	// has not handed out yet, by resource ID (the user name). The secret
	// exists only in CreateAccessKey's answer, so it is kept in memory here,
	// never in Resource.Meta.
	mu      sync.Mutex
	pending map[string]*accessKey
}

type accessKey struct {
	id     string
	secret []byte
}

func (k *accessKey) clear() {
	if k != nil {
		clear(k.secret)
		k.secret = nil
	}
}

var _ providers.Provider = (*Provider)(nil)

// New returns the AWS provider with real-time waits.
func New() *Provider {
	return &Provider{
		Now:                time.Now,
		Sleep:              sleepCtx,
		PropagationTimeout: defaultPropagationTimeout,
		pending:            map[string]*accessKey{},
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Info implements providers.Provider.
//
// The two key slots ask for policy "deny": phantom exec serves
// AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY to the command through its
// container-credentials endpoint by name, before it looks at any policy, and
// strips them from the environment. "deny" makes every other path fail
// closed: were a phantom version to stop special-casing the names, the value
// would still never be injected into an environment or substituted on the
// wire. The region and bucket are plain configuration.
func (p *Provider) Info() providers.Info {
	return providers.Info{
		Name:        "aws",
		DisplayName: "AWS",
		Category:    "cloud",
		Auth:        providers.AuthAWSCredentials,
		DocsURL:     "https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-files.html",
		Slots: []providers.Slot{
			{Name: SlotAccessKeyID, Secret: true, Policy: providers.PolicyDeny},
			{Name: SlotSecretAccessKey, Secret: true, Policy: providers.PolicyDeny},
			{Name: SlotRegion},
			{Name: SlotBucket},
		},
	}
}

// Register adds the AWS provider to r.
func Register(r *providers.Registry) error { return r.Register(New()) }

// ---- SDK configuration ----

// clients are the three SDK clients for one identity.
type clients struct {
	cfg      aws.Config
	iam      *iam.Client
	sts      *sts.Client
	s3       *s3.Client
	sandbox  string // the custom endpoint, "" for real AWS
	identity string // where the credentials came from, for messages
}

// bootstrapSource picks the bootstrap credentials the way the SDK's chain
// does, but reading the environment through env.Getenv: an explicit
// --profile wins over keys in the environment, which win over AWS_PROFILE;
// with none of them the SDK's own chain runs (default profile, SSO cache,
// container or instance role).
func bootstrapSource(env providers.Env, profile string) (creds aws.CredentialsProvider, prof, source string, err error) {
	if profile != "" {
		return nil, profile, "profile " + profile, nil
	}
	id, secret := env.Lookup("AWS_ACCESS_KEY_ID"), env.Lookup("AWS_SECRET_ACCESS_KEY")
	if id != "" && secret != "" {
		if token.Is(id) || token.Is(secret) {
			return nil, "", "", fmt.Errorf("%w: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY in the environment are phantom placeholders (phm_…), not AWS keys; run stack outside `phantom exec`, or use a profile (--profile)", providers.ErrAuthInvalid)
		}
		return credentials.NewStaticCredentialsProvider(id, secret, env.Lookup("AWS_SESSION_TOKEN")), "", "the AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY environment variables", nil
	}
	if prof := env.Lookup("AWS_PROFILE"); prof != "" {
		return nil, prof, "profile " + prof + " (AWS_PROFILE)", nil
	}
	return nil, "", "the default AWS credential chain", nil
}

// newClients loads an SDK config. Everything the provider decides itself is
// read through env.Getenv; config.LoadDefaultConfig still reads the process
// environment for what is not passed explicitly here (SSO and container
// settings, HOME for ~/.aws), which in stack is the same environment.
func (p *Provider) newClients(ctx context.Context, env providers.Env, creds aws.CredentialsProvider, profile, region, source string) (*clients, error) {
	opts := []func(*config.LoadOptions) error{config.WithHTTPClient(sdkHTTPClient(env))}
	if f := env.Lookup("AWS_CONFIG_FILE"); f != "" {
		opts = append(opts, config.WithSharedConfigFiles([]string{f}))
	}
	if f := env.Lookup("AWS_SHARED_CREDENTIALS_FILE"); f != "" {
		opts = append(opts, config.WithSharedCredentialsFiles([]string{f}))
	}
	if strings.EqualFold(env.Lookup("AWS_EC2_METADATA_DISABLED"), "true") {
		opts = append(opts, config.WithEC2IMDSClientEnableState(imds.ClientDisabled))
	}
	if creds != nil {
		opts = append(opts, config.WithCredentialsProvider(creds))
	} else if profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(profile))
	}
	if region == "" {
		region = firstNonEmpty(env.Lookup("AWS_REGION"), env.Lookup("AWS_DEFAULT_REGION"))
	}
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	base := env.Lookup("AWS_ENDPOINT_URL")
	if base != "" {
		opts = append(opts, config.WithBaseEndpoint(base))
	}
	if p.MaxAttempts > 0 {
		opts = append(opts, config.WithRetryMaxAttempts(p.MaxAttempts))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		var missing config.SharedConfigProfileNotExistError
		if errors.As(err, &missing) {
			return nil, fmt.Errorf("%w: AWS profile %q is not in your AWS config files; create it with `aws configure --profile %s` (or `aws configure sso`)", providers.ErrAuthRequired, profile, profile)
		}
		return nil, fmt.Errorf("loading the AWS configuration (~/.aws/config, AWS_* environment variables): %v", err)
	}
	if cfg.Region == "" {
		cfg.Region = defaultRegion
	}
	iamURL := firstNonEmpty(env.Lookup("AWS_ENDPOINT_URL_IAM"), base)
	stsURL := firstNonEmpty(env.Lookup("AWS_ENDPOINT_URL_STS"), base)
	s3URL := firstNonEmpty(env.Lookup("AWS_ENDPOINT_URL_S3"), base)
	c := &clients{cfg: cfg, identity: source, sandbox: firstNonEmpty(base, iamURL, stsURL, s3URL)}
	c.iam = iam.NewFromConfig(cfg, func(o *iam.Options) {
		o.Region = iamRegion
		if iamURL != "" {
			o.BaseEndpoint = aws.String(iamURL)
		}
	})
	c.sts = sts.NewFromConfig(cfg, func(o *sts.Options) {
		if stsURL != "" {
			o.BaseEndpoint = aws.String(stsURL)
		}
	})
	c.s3 = s3.NewFromConfig(cfg, func(o *s3.Options) {
		if s3URL != "" {
			o.BaseEndpoint = aws.String(s3URL)
			// A bucket in the host name (bucket.127.0.0.1) does not resolve.
			o.UsePathStyle = true
		}
	})
	return c, nil
}

// sdkHTTPClient is the SDK's own buildable client, with env.HTTP's timeout,
// so the SDK can still apply AWS_CA_BUNDLE (a plain *http.Client makes it
// fail). A client with its own Transport (a test's, a proxy's) is used as it
// is.
func sdkHTTPClient(env providers.Env) config.HTTPClient {
	if env.HTTP != nil && env.HTTP.Transport != nil {
		return env.HTTP
	}
	c := awshttp.NewBuildableClient()
	if env.HTTP != nil && env.HTTP.Timeout > 0 {
		c = c.WithTimeout(env.HTTP.Timeout)
	}
	return c
}

// bootstrapClients builds clients for the bootstrap identity that Login
// found (its profile travels in cred.Identity, which holds no secret).
func (p *Provider) bootstrapClients(ctx context.Context, env providers.Env, cred *providers.Credential, region string) (*clients, error) {
	profile := ""
	if cred != nil {
		profile = cred.Identity["profile"]
	}
	creds, prof, source, err := bootstrapSource(env, profile)
	if err != nil {
		return nil, err
	}
	return p.newClients(ctx, env, creds, prof, region, source)
}

// keyClients builds clients that sign with the app's own key.
func (p *Provider) keyClients(ctx context.Context, env providers.Env, id string, secret []byte, region string) (*clients, error) {
	creds := credentials.NewStaticCredentialsProvider(id, string(secret), "")
	return p.newClients(ctx, env, creds, "", region, "the app's access key "+id)
}

const howToCredentials = `Give stack your AWS credentials in one of these ways:
  aws configure                     (writes ~/.aws/credentials)
  AWS_PROFILE=NAME or --profile NAME (a profile from ~/.aws/config)
  aws sso login --profile NAME      (IAM Identity Center; then --profile NAME)
  AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) in the environment
The identity needs the IAM and S3 permissions listed in docs/providers.md, "AWS provider".`

// Login implements providers.Provider. The bootstrap identity is the
// user's own AWS credential from the standard chain; stack does not cache it
// in phantom (Credential.Slot and Value stay empty), because the user already
// keeps it — in ~/.aws, an SSO session or the environment — and a copy in the
// vault would outlive a rotation or an SSO expiry. Login confirms it with STS
// GetCallerIdentity and reports the account and ARN.
func (p *Provider) Login(ctx context.Context, env providers.Env, req providers.LoginRequest) (*providers.Credential, error) {
	profile := req.Options["profile"]
	creds, prof, source, err := bootstrapSource(env, profile)
	if err != nil {
		return nil, err
	}
	c, err := p.newClients(ctx, env, creds, prof, req.Options["region"], source)
	if err != nil {
		return nil, err
	}
	if c.sandbox != "" {
		env.Printf("AWS: using the endpoint %s instead of AWS (AWS_ENDPOINT_URL): a local sandbox, not your AWS account.", c.sandbox)
	}
	if _, err := c.cfg.Credentials.Retrieve(ctx); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: no usable AWS credentials from %s: %v\n%s", providers.ErrAuthRequired, source, err, howToCredentials)
	}
	out, err := c.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return nil, explain(err, "checking your AWS credentials ("+source+") with STS GetCallerIdentity", "")
	}
	id := map[string]string{
		"account": aws.ToString(out.Account),
		"arn":     aws.ToString(out.Arn),
		"user_id": aws.ToString(out.UserId),
		"source":  source,
		"region":  c.cfg.Region,
	}
	if prof != "" {
		id["profile"] = prof
	}
	env.Printf("AWS: signed in as %s (account %s) from %s.", id["arn"], id["account"], source)
	return &providers.Credential{Identity: id}, nil
}

// ---- pending keys ----

func (p *Provider) setPending(resID string, k *accessKey) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pending == nil {
		p.pending = map[string]*accessKey{}
	}
	if old := p.pending[resID]; old != nil && old != k {
		old.clear()
	}
	p.pending[resID] = k
}

func (p *Provider) getPending(resID string) *accessKey {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pending[resID]
}

func (p *Provider) dropPending(resID string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if k := p.pending[resID]; k != nil {
		k.clear()
		delete(p.pending, resID)
	}
}

// ---- helpers ----

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (p *Provider) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Provider) sleep(ctx context.Context, d time.Duration) error {
	if p.Sleep != nil {
		return p.Sleep(ctx, d)
	}
	return sleepCtx(ctx, d)
}
