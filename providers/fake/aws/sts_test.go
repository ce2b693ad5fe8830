package awsfake

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// sessionClients builds clients that sign with temporary credentials (the
// SDK then sends and signs X-Amz-Security-Token).
func sessionClients(t *testing.T, endpoint, id, secret, token string) clients {
	t.Helper()
	cfg := aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(id, secret, token),
		BaseEndpoint: aws.String(endpoint),
	}
	return clients{
		iam: iam.NewFromConfig(cfg),
		sts: sts.NewFromConfig(cfg),
		s3:  s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }),
	}
}

func TestSDKGetSessionToken(t *testing.T) {
	clk := &clock{}
	srv := New(Options{Now: clk.Now})
	url := srv.Start()
	defer srv.Close()
	id, secret := srv.BootstrapCredentials()
	ctx := context.Background()
	c := newClients(t, url, "us-east-1", id, secret)

	// Default duration: 12 hours.
	before := time.Now()
	out, err := c.sts.GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	cr := out.Credentials
	if !strings.HasPrefix(aws.ToString(cr.AccessKeyId), "ASIA") || aws.ToString(cr.SecretAccessKey) == "" || aws.ToString(cr.SessionToken) == "" {
		t.Fatalf("credentials %q / secret set %t / token set %t", aws.ToString(cr.AccessKeyId), aws.ToString(cr.SecretAccessKey) != "", aws.ToString(cr.SessionToken) != "")
	}
	if d := cr.Expiration.Sub(before); d < 12*time.Hour-time.Minute || d > 12*time.Hour+time.Minute {
		t.Errorf("default Expiration in %v, want 12h", d)
	}

	// An explicit duration, and its bounds.
	out, err = c.sts.GetSessionToken(ctx, &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(900)})
	if err != nil {
		t.Fatal(err)
	}
	if d := out.Credentials.Expiration.Sub(before); d < 14*time.Minute || d > 16*time.Minute {
		t.Errorf("Expiration in %v, want 15m", d)
	}
	for _, n := range []int32{899, 129601} {
		_, err := c.sts.GetSessionToken(ctx, &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(n)})
		if apiCode(err) != "ValidationError" || !strings.Contains(err.Error(), "durationSeconds") {
			t.Errorf("DurationSeconds %d: %v, want ValidationError", n, err)
		}
	}
	if _, err := c.sts.GetSessionToken(ctx, &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(129600)}); err != nil {
		t.Errorf("DurationSeconds 129600: %v", err)
	}

	// The session credentials work for STS GetCallerIdentity (as the IAM
	// user) and S3, with their token.
	sid, ssecret, stoken := aws.ToString(out.Credentials.AccessKeyId), aws.ToString(out.Credentials.SecretAccessKey), aws.ToString(out.Credentials.SessionToken)
	sc := sessionClients(t, url, sid, ssecret, stoken)
	who, err := sc.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("GetCallerIdentity with session credentials: %v", err)
	}
	if aws.ToString(who.Arn) != srv.BootstrapARN() {
		t.Errorf("Arn = %q, want the user's %q", aws.ToString(who.Arn), srv.BootstrapARN())
	}
	if _, err := sc.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("phantom-session-bucket")}); err != nil {
		t.Errorf("CreateBucket with session credentials: %v", err)
	}

	// Not GetSessionToken itself, and not IAM (no MFA).
	_, err = sc.sts.GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	if apiCode(err) != "AccessDenied" || !strings.Contains(err.Error(), "Cannot call GetSessionToken with session credentials") {
		t.Errorf("GetSessionToken with session credentials: %v, want AccessDenied", err)
	}
	if _, err := sc.iam.GetUser(ctx, &iam.GetUserInput{}); apiCode(err) != "InvalidClientTokenId" {
		t.Errorf("IAM with session credentials: %v, want InvalidClientTokenId", err)
	}

	// Without the token, or with another one.
	for name, tok := range map[string]string{"missing": "", "wrong": stoken[:len(stoken)-4] + "AAAA"} {
		bad := sessionClients(t, url, sid, ssecret, tok)
		if _, err := bad.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); apiCode(err) != "InvalidClientTokenId" {
			t.Errorf("%s token, STS: %v, want InvalidClientTokenId", name, err)
		}
		_, err := bad.s3.ListBuckets(ctx, &s3.ListBucketsInput{})
		want := map[string]string{"missing": "InvalidAccessKeyId", "wrong": "InvalidToken"}[name]
		if apiCode(err) != want {
			t.Errorf("%s token, S3: %v, want %s", name, err, want)
		}
	}
	// A long-term key with a token is refused too.
	if _, err := sessionClients(t, url, id, secret, stoken).sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); apiCode(err) != "InvalidClientTokenId" {
		t.Errorf("long-term key with a token: %v, want InvalidClientTokenId", err)
	}

	// The wrong secret with the right token.
	if _, err := sessionClients(t, url, sid, secret, stoken).sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); apiCode(err) != "SignatureDoesNotMatch" {
		t.Errorf("wrong secret: %v, want SignatureDoesNotMatch", err)
	}

	// Expired: the server clock passes the expiry. The token is checked
	// before the signing time, as AWS answers ExpiredToken for it.
	clk.Advance(16 * time.Minute)
	if _, err := sc.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); apiCode(err) != "ExpiredToken" {
		t.Errorf("expired session, STS: %v, want ExpiredToken", err)
	}
	if _, err := sc.s3.ListBuckets(ctx, &s3.ListBucketsInput{}); apiCode(err) != "ExpiredToken" {
		t.Errorf("expired session, S3: %v, want ExpiredToken", err)
	}

	if n := len(srv.Sessions()); n != 3 {
		t.Errorf("Sessions() = %d, want 3", n)
	}
	if s, tok, ok := srv.SessionSecret(sid); !ok || s != ssecret || tok != stoken {
		t.Error("SessionSecret does not return the issued values")
	}
}

// TestSessionTokenMustBeSigned: a token added after signing is refused.
func TestSessionTokenMustBeSigned(t *testing.T) {
	srv := New(Options{})
	url := srv.Start()
	defer srv.Close()
	id, secret := srv.BootstrapCredentials()
	ctx := context.Background()
	out, err := newClients(t, url, "us-east-1", id, secret).sts.GetSessionToken(ctx, &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(900)})
	if err != nil {
		t.Fatal(err)
	}
	cr := out.Credentials
	// Sign without the token, then add it to the request on the wire.
	c := sessionClients(t, url, aws.ToString(cr.AccessKeyId), aws.ToString(cr.SecretAccessKey), "")
	_, err = c.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}, func(o *sts.Options) {
		o.HTTPClient = addHeader{"X-Amz-Security-Token", aws.ToString(cr.SessionToken)}
	})
	if apiCode(err) != "IncompleteSignature" {
		t.Errorf("unsigned token: %v, want IncompleteSignature", err)
	}
}

type addHeader struct{ k, v string }

func (a addHeader) Do(r *http.Request) (*http.Response, error) {
	r.Header.Set(a.k, a.v)
	return http.DefaultClient.Do(r)
}
