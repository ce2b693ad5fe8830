package awsprovider

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"phantomstack.dev/providers"
	"phantomstack.dev/shared/token"
)

const (
	firstBackoff = 250 * time.Millisecond
	maxBackoff   = 5 * time.Second
	// maxWaitAttempts bounds the wait loop even if the clock stands still.
	maxWaitAttempts = 64
)

// Materialize implements providers.Provider. The key secret comes from the
// access key Provision created in this process. When there is none — stack
// resumed after a crash, or attached in a later run — it creates a new key
// (making room under the 2-key quota as Provision does). Before returning
// it waits, bounded by PropagationTimeout, until STS accepts the new key and
// says it is the app's user: IAM is eventually consistent and a new key is
// refused for a few seconds.
func (p *Provider) Materialize(ctx context.Context, env providers.Env, cred *providers.Credential, res providers.Resource) (*providers.Materialized, error) {
	bucket := res.Meta["bucket"]
	region := firstNonEmpty(res.Region, defaultRegion)
	if res.ID == "" || bucket == "" {
		return nil, fmt.Errorf("AWS resource %q has no bucket recorded; provision it again", res.ID)
	}
	wantARN := res.Meta["user_arn"]
	k := p.getPending(res.ID)
	if k == nil {
		c, err := p.bootstrapClients(ctx, env, cred, region)
		if err != nil {
			return nil, err
		}
		out, err := c.iam.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(res.ID)})
		if err != nil {
			return nil, explain(err, "reading IAM user "+res.ID, "iam:GetUser")
		}
		if tagMap(out.User.Tags)[TagManagedBy] != managedValue {
			return nil, fmt.Errorf("IAM user %s was not created by stack (no %s=%s tag); stack does not make keys for it", res.ID, TagManagedBy, managedValue)
		}
		wantARN = aws.ToString(out.User.Arn)
		env.Printf("AWS: no new key for %s is at hand in this run; creating one.", res.ID)
		if k, err = p.createKey(ctx, env, c, res.ID, true, false, time.Time{}); err != nil {
			return nil, err
		}
		p.setPending(res.ID, k)
	}
	if err := p.waitForKey(ctx, env, k, region, res.ID, wantARN); err != nil {
		return nil, err
	}
	m := &providers.Materialized{
		Values: []providers.Value{
			{Slot: SlotAccessKeyID, Value: []byte(k.id)},
			{Slot: SlotSecretAccessKey, Value: append([]byte(nil), k.secret...)},
			{Slot: SlotRegion, Value: []byte(region)},
			{Slot: SlotBucket, Value: []byte(bucket)},
		},
	}
	if env.Lookup("AWS_ENDPOINT_URL") == "" {
		m.URLs = map[string]string{
			"iam_user": "https://console.aws.amazon.com/iam/home#/users/details/" + url.PathEscape(res.ID),
			"bucket":   "https://s3.console.aws.amazon.com/s3/buckets/" + url.PathEscape(bucket) + "?region=" + url.QueryEscape(region),
		}
	}
	// Handed out: the caller owns the copy and clears it.
	p.dropPending(res.ID)
	return m, nil
}

// waitForKey calls STS with the new key until it works, with exponential
// backoff. Only "not valid yet" (InvalidClientTokenId) and transient answers
// are waited out; anything else is an error at once.
func (p *Provider) waitForKey(ctx context.Context, env providers.Env, k *accessKey, region, userName, wantARN string) error {
	kc, err := p.keyClients(ctx, env, k.id, k.secret, region)
	if err != nil {
		return err
	}
	timeout := p.PropagationTimeout
	if timeout <= 0 {
		timeout = defaultPropagationTimeout
	}
	start := p.now()
	delay := firstBackoff
	var lastErr error
	for attempt := 1; attempt <= maxWaitAttempts; attempt++ {
		out, err := kc.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err == nil {
			got := aws.ToString(out.Arn)
			if wantARN != "" && got != wantARN {
				return fmt.Errorf("the new access key %s authenticates as %s, not as the app's user %s", k.id, got, wantARN)
			}
			if attempt > 1 {
				env.Printf("AWS: the new access key works (after %s).", p.now().Sub(start).Round(100*time.Millisecond))
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !isCode(err, "InvalidClientTokenId", "InvalidAccessKeyId") && classify(err) != kindUnreachable {
			return explain(err, "checking the new access key "+k.id+" with STS", "")
		}
		lastErr = err
		if attempt == 1 {
			env.Printf("AWS: waiting for the new access key %s to work (IAM changes take a few seconds to propagate)…", k.id)
		}
		if p.now().Add(delay).Sub(start) > timeout {
			break
		}
		if err := p.sleep(ctx, delay); err != nil {
			return err
		}
		delay = min(delay*2, maxBackoff)
	}
	return fmt.Errorf("%w: AWS still refuses the new access key %s of IAM user %s after %s (last answer: %s); IAM is eventually consistent — run the command again, it reuses the user and bucket",
		providers.ErrUnreachable, k.id, userName, p.now().Sub(start).Round(time.Second), codeOrErr(lastErr))
}

func codeOrErr(err error) string {
	if err == nil {
		return "none"
	}
	if c := apiCode(err); c != "" {
		return c
	}
	return err.Error()
}

// Healthcheck implements providers.Provider: STS GetCallerIdentity with the
// app's key must answer with the app's user ARN (Meta user_arn).
//
// Where the key comes from: stack doctor runs its checks as a child of
// `phantom exec`, and phantom never puts AWS keys into a child's
// environment — it serves them on its container-credentials endpoint
// (AWS_CONTAINER_CREDENTIALS_FULL_URI with AWS_CONTAINER_AUTHORIZATION_TOKEN).
// So: real keys from secrets when it has both (not phm tokens); else that
// endpoint when the environment names one; else the SDK's default chain.
// The ARN comparison catches a chain that found somebody else's key (your
// own profile, say) and the detail says whose it is.
func (p *Provider) Healthcheck(ctx context.Context, env providers.Env, res providers.Resource, secrets providers.SecretSource) providers.Health {
	get := func(slot string) string {
		if secrets == nil {
			return ""
		}
		v, ok := secrets(slot)
		if !ok {
			return ""
		}
		return string(v)
	}
	region := firstNonEmpty(res.Region, get(SlotRegion), env.Lookup("AWS_REGION"), defaultRegion)
	var creds aws.CredentialsProvider
	source := "the default AWS credential chain"
	id, secret := get(SlotAccessKeyID), get(SlotSecretAccessKey)
	switch uri := env.Lookup("AWS_CONTAINER_CREDENTIALS_FULL_URI"); {
	case id != "" && secret != "" && !token.Is(id) && !token.Is(secret):
		creds = staticCreds(id, secret)
		source = "the key in " + SlotAccessKeyID
	case uri != "":
		if err := checkCredentialsURI(uri); err != nil {
			return providers.Health{Status: providers.StatusUnexpected, Detail: err.Error()}
		}
		authToken := env.Lookup("AWS_CONTAINER_AUTHORIZATION_TOKEN")
		creds = aws.NewCredentialsCache(endpointcreds.New(uri, func(o *endpointcreds.Options) {
			o.HTTPClient = env.Client()
			o.AuthorizationToken = authToken
		}))
		source = "phantom's credentials endpoint"
	}
	c, err := p.newClients(ctx, env, creds, "", region, source)
	if err != nil {
		return providers.Health{Status: providers.StatusMissing, Detail: "no AWS key for the app: " + err.Error()}
	}
	if _, err := c.cfg.Credentials.Retrieve(ctx); err != nil {
		if creds != nil && classify(err) == kindInvalidCred {
			// phantom's endpoint mints session credentials with the stored
			// key (STS GetSessionToken) and passes STS's refusal on.
			return providers.Health{Status: providers.StatusInvalid, Detail: "AWS rejected the app's key when " + source + " asked STS for session credentials (" + apiCode(err) + "): it was deleted, deactivated or is wrong"}
		}
		if creds != nil {
			return providers.Health{Status: providers.StatusUnreachable, Detail: "could not get the app's AWS key from " + source + ": " + err.Error()}
		}
		return providers.Health{Status: providers.StatusMissing, Detail: "no AWS key for the app (run the check under `phantom exec`, as `stack doctor` does)"}
	}
	start := time.Now()
	out, err := c.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	lat := time.Since(start)
	if err != nil {
		var ae interface{ ErrorCode() string }
		detail := err.Error()
		if errors.As(err, &ae) {
			detail = "STS answered " + ae.ErrorCode()
		}
		switch classify(err) {
		case kindInvalidCred:
			return providers.Health{Status: providers.StatusInvalid, Latency: lat, Detail: "AWS rejected the app's key from " + source + " (" + apiCode(err) + "): it was deleted, deactivated or is wrong"}
		case kindUnreachable:
			return providers.Health{Status: providers.StatusUnreachable, Latency: lat, Detail: detail}
		}
		return providers.Health{Status: providers.StatusUnexpected, Latency: lat, Detail: detail}
	}
	got := aws.ToString(out.Arn)
	want := res.Meta["user_arn"]
	if want == "" && res.ID == "" {
		// A checkout without stack's instance data (a fresh clone, CI):
		// the key works, but whose it should be is not recorded here.
		return providers.Health{Status: providers.StatusUnverifiable, Latency: lat,
			Detail: "AWS accepted the key (STS GetCallerIdentity: " + got + "), but this checkout does not record the app's IAM user (no .stack.local.toml), so whose key it is cannot be checked"}
	}
	if (want != "" && got != want) || (want == "" && !strings.HasSuffix(got, ":user/"+res.ID)) {
		if want == "" {
			want = "user " + res.ID
		}
		return providers.Health{Status: providers.StatusInvalid, Latency: lat,
			Detail: fmt.Sprintf("the AWS key from %s belongs to %s, not to the app's user %s", source, got, want)}
	}
	return providers.Health{Status: providers.StatusOK, Latency: lat, Detail: "STS GetCallerIdentity: " + got}
}

func staticCreds(id, secret string) aws.CredentialsProvider {
	return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: id, SecretAccessKey: secret, Source: "stack healthcheck"}, nil
	})
}

// checkCredentialsURI accepts what the SDK's container provider accepts for
// a full URI that phantom would use: https anywhere, plain http on loopback.
func checkCredentialsURI(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("AWS_CONTAINER_CREDENTIALS_FULL_URI is not a URL")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if host == "localhost" {
			return nil
		}
		if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
			return nil
		}
	}
	return fmt.Errorf("AWS_CONTAINER_CREDENTIALS_FULL_URI must be https or plain http on a loopback address (got host %q)", u.Hostname())
}
