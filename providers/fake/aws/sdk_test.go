package awsfake

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/url"
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
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

// clock is a settable test clock that starts at the real time (SigV4 signs
// with the real time, so it may only move a little).
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

// clients builds the three SDK clients the way stack's provider must: one
// base endpoint, IAM signed for us-east-1, S3 path-style.
type clients struct {
	iam *iam.Client
	sts *sts.Client
	s3  *s3.Client
}

func newClients(t *testing.T, endpoint, region, id, secret string) clients {
	t.Helper()
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx,
		config.WithRegion(region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(id, secret, "")),
		config.WithBaseEndpoint(endpoint),
		config.WithSharedConfigFiles([]string{}),
		config.WithSharedCredentialsFiles([]string{}),
	)
	if err != nil {
		t.Fatal(err)
	}
	return clients{
		iam: iam.NewFromConfig(cfg, func(o *iam.Options) { o.Region = "us-east-1" }),
		sts: sts.NewFromConfig(cfg),
		s3:  s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }),
	}
}

// apiCode returns the AWS error code of err ("" if none).
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := apiCode(err); got != code {
		t.Fatalf("want error code %s, got %v", code, err)
	}
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

const appPolicy = `{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "Bucket", "Effect": "Allow",
     "Action": ["s3:CreateBucket", "s3:ListBucket", "s3:DeleteBucket"],
     "Resource": "arn:aws:s3:::phs-app-bucket"},
    {"Sid": "Objects", "Effect": "Allow", "Action": "s3:*Object",
     "Resource": "arn:aws:s3:::phs-app-bucket/*"},
    {"Sid": "NoSecrets", "Effect": "Deny", "Action": "s3:PutObject",
     "Resource": "arn:aws:s3:::phs-app-bucket/private/*"}
  ]
}`

// TestSDKLifecycle is the provider's whole flow through the real SDK clients,
// each call SigV4-verified by the fake.
func TestSDKLifecycle(t *testing.T) {
	ctx := context.Background()
	clk := &clock{}
	srv := New(Options{Region: "eu-west-1", KeyPropagationDelay: 8 * time.Second, Now: clk.Now})
	endpoint := srv.Start()
	defer srv.Close()
	id, secret := srv.BootstrapCredentials()
	admin := newClients(t, endpoint, "eu-west-1", id, secret)

	// The bootstrap identity is who STS says it is.
	who, err := admin.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	noErr(t, err)
	if aws.ToString(who.Arn) != srv.BootstrapARN() || aws.ToString(who.Account) != "123456789012" {
		t.Fatalf("bootstrap identity = %s / %s", aws.ToString(who.Arn), aws.ToString(who.Account))
	}

	cu, err := admin.iam.CreateUser(ctx, &iam.CreateUserInput{
		UserName: aws.String("phs-app"),
		Tags:     []iamtypes.Tag{{Key: aws.String("managed-by"), Value: aws.String("stack")}},
	})
	noErr(t, err)
	userARN := aws.ToString(cu.User.Arn)
	if userARN != "arn:aws:iam::123456789012:user/phs-app" || !strings.HasPrefix(aws.ToString(cu.User.UserId), "AIDA") {
		t.Fatalf("CreateUser = %+v", cu.User)
	}
	_, err = admin.iam.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("PHS-APP")})
	wantCode(t, err, "EntityAlreadyExists") // names are case-insensitive

	gu, err := admin.iam.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("phs-app")})
	noErr(t, err)
	if len(gu.User.Tags) != 1 || aws.ToString(gu.User.Tags[0].Value) != "stack" {
		t.Fatalf("tags = %+v", gu.User.Tags)
	}
	_, err = admin.iam.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("phs-app"), Tags: []iamtypes.Tag{{Key: aws.String("app"), Value: aws.String("demo")}}})
	noErr(t, err)
	if u, _ := srv.User("phs-app"); len(u.Tags) != 2 {
		t.Fatalf("tags after TagUser = %+v", u.Tags)
	}

	_, err = admin.iam.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("phs-app"), PolicyName: aws.String("app"), PolicyDocument: aws.String("{not json")})
	wantCode(t, err, "MalformedPolicyDocument")
	_, err = admin.iam.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("phs-app"), PolicyName: aws.String("app"), PolicyDocument: aws.String(appPolicy)})
	noErr(t, err)
	gp, err := admin.iam.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String("phs-app"), PolicyName: aws.String("app")})
	noErr(t, err)
	if doc, _ := url.QueryUnescape(aws.ToString(gp.PolicyDocument)); doc != appPolicy {
		t.Fatalf("GetUserPolicy document (URL-encoded like IAM) decodes to %q", doc)
	}
	lp, err := admin.iam.ListUserPolicies(ctx, &iam.ListUserPoliciesInput{UserName: aws.String("phs-app")})
	noErr(t, err)
	if len(lp.PolicyNames) != 1 || lp.PolicyNames[0] != "app" {
		t.Fatalf("ListUserPolicies = %v", lp.PolicyNames)
	}

	ck, err := admin.iam.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("phs-app")})
	noErr(t, err)
	keyID, keySecret := aws.ToString(ck.AccessKey.AccessKeyId), aws.ToString(ck.AccessKey.SecretAccessKey)
	if !strings.HasPrefix(keyID, "AKIA") || len(keyID) != 20 || len(keySecret) != 40 || ck.AccessKey.Status != iamtypes.StatusTypeActive {
		t.Fatalf("CreateAccessKey = %s (%d chars secret) %s", keyID, len(keySecret), ck.AccessKey.Status)
	}
	lk, err := admin.iam.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("phs-app")})
	noErr(t, err)
	if len(lk.AccessKeyMetadata) != 1 || aws.ToString(lk.AccessKeyMetadata[0].AccessKeyId) != keyID {
		t.Fatalf("ListAccessKeys = %+v", lk.AccessKeyMetadata)
	}

	app := newClients(t, endpoint, "eu-west-1", keyID, keySecret)
	// IAM's eventual consistency: the new key is not yet valid anywhere.
	_, err = app.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantCode(t, err, "InvalidClientTokenId")
	_, err = app.s3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("phs-app-bucket")})
	if !strings.Contains(err.Error(), "403") { // HEAD has no body: the SDK only sees the status
		t.Fatalf("HeadBucket with a key still propagating: %v", err)
	}
	clk.Advance(9 * time.Second)

	me, err := app.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	noErr(t, err)
	if aws.ToString(me.Arn) != userARN || aws.ToString(me.UserId) != aws.ToString(cu.User.UserId) {
		t.Fatalf("GetCallerIdentity as the app = %s %s", aws.ToString(me.Arn), aws.ToString(me.UserId))
	}

	// S3 as the app user, within its policy.
	_, err = app.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("phs-app-bucket")})
	wantCode(t, err, "IllegalLocationConstraintException") // eu-west-1 needs its LocationConstraint
	_, err = app.s3.CreateBucket(ctx, &s3.CreateBucketInput{
		Bucket:                    aws.String("phs-app-bucket"),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraintEuWest1},
	})
	noErr(t, err)
	_, err = app.s3.CreateBucket(ctx, &s3.CreateBucketInput{
		Bucket:                    aws.String("phs-app-bucket"),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraintEuWest1},
	})
	wantCode(t, err, "BucketAlreadyOwnedByYou")
	hb, err := app.s3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("phs-app-bucket")})
	noErr(t, err)
	if aws.ToString(hb.BucketRegion) != "eu-west-1" {
		t.Fatalf("HeadBucket region = %q", aws.ToString(hb.BucketRegion))
	}
	_, err = app.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("phs-app-bucket"), Key: aws.String("dir/hello world+1.txt"),
		Body: strings.NewReader("hello"), ContentType: aws.String("text/plain")})
	noErr(t, err)
	lo, err := app.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("phs-app-bucket"), Prefix: aws.String("dir/")})
	noErr(t, err)
	if len(lo.Contents) != 1 || aws.ToString(lo.Contents[0].Key) != "dir/hello world+1.txt" || aws.ToInt64(lo.Contents[0].Size) != 5 {
		t.Fatalf("ListObjectsV2 = %+v", lo.Contents)
	}
	got, err := app.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("phs-app-bucket"), Key: aws.String("dir/hello world+1.txt")})
	noErr(t, err)
	body, _ := io.ReadAll(got.Body)
	got.Body.Close()
	if string(body) != "hello" || aws.ToString(got.ContentType) != "text/plain" {
		t.Fatalf("GetObject = %q %q", body, aws.ToString(got.ContentType))
	}
	_, err = app.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("phs-app-bucket"), Key: aws.String("missing")})
	wantCode(t, err, "NoSuchKey")

	// Outside the policy: explicit deny, other buckets, IAM.
	_, err = app.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("phs-app-bucket"), Key: aws.String("private/x"), Body: strings.NewReader("x")})
	wantCode(t, err, "AccessDenied")
	if !strings.Contains(err.Error(), "with an explicit deny") {
		t.Fatalf("explicit deny message: %v", err)
	}
	_, err = app.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("someone-elses"),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraintEuWest1}})
	wantCode(t, err, "AccessDenied")
	_, err = app.iam.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("escalate")})
	wantCode(t, err, "AccessDenied")
	if want := "User: " + userARN + " is not authorized to perform: iam:CreateUser on resource: arn:aws:iam::123456789012:user/escalate"; !strings.Contains(err.Error(), want) {
		t.Fatalf("AccessDenied message %q lacks %q", err, want)
	}

	// Tear down in the order AWS insists on.
	_, err = app.s3.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("phs-app-bucket")})
	wantCode(t, err, "BucketNotEmpty")
	_, err = app.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("phs-app-bucket"), Key: aws.String("dir/hello world+1.txt")})
	noErr(t, err)
	_, err = app.s3.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("phs-app-bucket")})
	noErr(t, err)
	_, err = app.s3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("phs-app-bucket")})
	var nf *s3types.NotFound
	if !errors.As(err, &nf) {
		t.Fatalf("HeadBucket after delete: %v", err)
	}

	_, err = admin.iam.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("phs-app")})
	wantCode(t, err, "DeleteConflict")
	_, err = admin.iam.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("phs-app"), AccessKeyId: aws.String(keyID), Status: iamtypes.StatusTypeInactive})
	noErr(t, err)
	_, err = app.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantCode(t, err, "InvalidClientTokenId") // an Inactive key stops working
	_, err = admin.iam.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("phs-app"), AccessKeyId: aws.String(keyID)})
	noErr(t, err)
	_, err = admin.iam.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("phs-app"), AccessKeyId: aws.String(keyID)})
	wantCode(t, err, "NoSuchEntity")
	_, err = admin.iam.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("phs-app")})
	wantCode(t, err, "DeleteConflict") // the inline policy is still attached
	_, err = admin.iam.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String("phs-app"), PolicyName: aws.String("app")})
	noErr(t, err)
	_, err = admin.iam.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("phs-app")})
	noErr(t, err)
	_, err = admin.iam.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("phs-app")})
	wantCode(t, err, "NoSuchEntity")

	if len(srv.Users()) != 0 || len(srv.Buckets()) != 0 || len(srv.AccessKeys("phs-app")) != 0 {
		t.Fatalf("left behind: users %v buckets %v", srv.Users(), srv.Buckets())
	}
}

func TestSDKQuotasAndValidation(t *testing.T) {
	ctx := context.Background()
	srv := New(Options{})
	endpoint := srv.Start()
	defer srv.Close()
	id, secret := srv.BootstrapCredentials()
	c := newClients(t, endpoint, "us-east-1", id, secret)

	_, err := c.iam.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("bad name!")})
	wantCode(t, err, "ValidationError")
	_, err = c.iam.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("u")})
	noErr(t, err)
	for i := 0; i < 2; i++ {
		_, err = c.iam.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("u")})
		noErr(t, err)
	}
	_, err = c.iam.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("u")})
	wantCode(t, err, "LimitExceeded")
	_, err = c.iam.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("nobody")})
	wantCode(t, err, "NoSuchEntity")

	big := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::` + strings.Repeat("b", 2100) + `"}]}`
	_, err = c.iam.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("u"), PolicyName: aws.String("p"), PolicyDocument: aws.String(big)})
	wantCode(t, err, "LimitExceeded")
	_, err = c.iam.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("u"), PolicyName: aws.String("p"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"GetObject","Resource":"*"}]}`)})
	wantCode(t, err, "MalformedPolicyDocument")
	_, err = c.iam.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String("u"), PolicyName: aws.String("none")})
	wantCode(t, err, "NoSuchEntity")

	// us-east-1: no LocationConstraint, and re-creating your own bucket is a 200.
	_, err = c.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bkt-two"),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: "us-east-1"}})
	wantCode(t, err, "InvalidLocationConstraint")
	_, err = c.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("Bad_Name")})
	wantCode(t, err, "InvalidBucketName")
	_, err = c.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bkt-one")})
	noErr(t, err)
	_, err = c.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bkt-one")})
	noErr(t, err)
	_, err = c.s3.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("no-such-bkt")})
	wantCode(t, err, "NoSuchBucket")
	_, err = c.s3.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String("bkt-one"),
		Tagging: &s3types.Tagging{TagSet: []s3types.Tag{{Key: aws.String("managed-by"), Value: aws.String("stack")}}}})
	noErr(t, err)
	gt, err := c.s3.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String("bkt-one")})
	noErr(t, err)
	if len(gt.TagSet) != 1 || aws.ToString(gt.TagSet[0].Key) != "managed-by" {
		t.Fatalf("GetBucketTagging = %+v", gt.TagSet)
	}

	// Pagination over ListObjectsV2.
	for _, k := range []string{"a/1", "a/2", "b", "c"} {
		_, err = c.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt-one"), Key: aws.String(k), Body: bytes.NewReader([]byte(k))})
		noErr(t, err)
	}
	var keys []string
	p := s3.NewListObjectsV2Paginator(c.s3, &s3.ListObjectsV2Input{Bucket: aws.String("bkt-one"), MaxKeys: aws.Int32(1), Delimiter: aws.String("/")})
	for i := 0; p.HasMorePages() && i < 10; i++ {
		out, err := p.NextPage(ctx)
		noErr(t, err)
		for _, o := range out.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
		for _, cp := range out.CommonPrefixes {
			keys = append(keys, aws.ToString(cp.Prefix))
		}
	}
	if strings.Join(keys, ",") != "a/,b,c" {
		t.Fatalf("paged listing = %v", keys)
	}
	if o, ok := srv.Object("bkt-one", "a/2"); !ok || string(o.Body) != "a/2" {
		t.Fatalf("introspection Object = %+v %v", o, ok)
	}
}

func TestSDKRestrictedBootstrap(t *testing.T) {
	ctx := context.Background()
	srv := New(Options{BootstrapPolicy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*","iam:Get*"],"Resource":"*"}]}`})
	endpoint := srv.Start()
	defer srv.Close()
	id, secret := srv.BootstrapCredentials()
	c := newClients(t, endpoint, "us-east-1", id, secret)

	_, err := c.iam.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("app")})
	wantCode(t, err, "AccessDenied")
	want := "User: arn:aws:iam::123456789012:user/bootstrap is not authorized to perform: iam:CreateUser on resource: arn:aws:iam::123456789012:user/app because no identity-based policy allows the iam:CreateUser action"
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("message %q lacks %q", err, want)
	}
	_, err = c.iam.GetUser(ctx, &iam.GetUserInput{}) // iam:Get* is allowed: the caller itself
	noErr(t, err)
	_, err = c.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("allowed-bkt")})
	noErr(t, err)
}

func TestSDKFaults(t *testing.T) {
	ctx := context.Background()
	srv := New(Options{})
	endpoint := srv.Start()
	defer srv.Close()
	id, secret := srv.BootstrapCredentials()
	c := newClients(t, endpoint, "us-east-1", id, secret)

	// One throttle: the SDK's retryer absorbs it.
	srv.Throttle("CreateUser", 1, 1)
	_, err := c.iam.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("t1")})
	noErr(t, err)
	if n := srv.Calls("CreateUser"); n != 2 {
		t.Fatalf("CreateUser calls = %d, want 2 (throttled, retried)", n)
	}

	// S3 SlowDown on every call: the SDK gives up after its attempts.
	srv.Throttle("CreateBucket", 1, -1)
	_, err = c.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("slow-bkt")})
	wantCode(t, err, "SlowDown")
	if n := srv.Calls("CreateBucket"); n != 3 {
		t.Fatalf("CreateBucket attempts = %d, want the SDK's 3", n)
	}
	srv.ClearFaults()

	// The second PutUserPolicy fails with a 409 the SDK does not retry.
	srv.AddFault(Fault{Action: "PutUserPolicy", Nth: 2, Status: 409, Code: "ConcurrentModification", Message: "busy"})
	doc := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}`
	_, err = c.iam.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("t1"), PolicyName: aws.String("a"), PolicyDocument: aws.String(doc)})
	noErr(t, err)
	_, err = c.iam.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("t1"), PolicyName: aws.String("b"), PolicyDocument: aws.String(doc)})
	wantCode(t, err, "ConcurrentModification")
	_, err = c.iam.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("t1"), PolicyName: aws.String("b"), PolicyDocument: aws.String(doc)})
	noErr(t, err)

	// Revocation from the test side.
	ck, err := c.iam.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("t1")})
	noErr(t, err)
	app := newClients(t, endpoint, "us-east-1", aws.ToString(ck.AccessKey.AccessKeyId), aws.ToString(ck.AccessKey.SecretAccessKey))
	_, err = app.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	noErr(t, err)
	if !srv.DeleteAccessKey(aws.ToString(ck.AccessKey.AccessKeyId)) {
		t.Fatal("DeleteAccessKey found no key")
	}
	_, err = app.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantCode(t, err, "InvalidClientTokenId")
	_, err = app.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("any-bkt")})
	wantCode(t, err, "InvalidAccessKeyId")
}

// TestSDKEnvEndpoint checks the environment route a user (or the demo) takes:
// AWS_ENDPOINT_URL for every service, and what goes wrong without the IAM
// region override.
func TestSDKEnvEndpoint(t *testing.T) {
	ctx := context.Background()
	srv := New(Options{Region: "eu-central-1"})
	endpoint := srv.Start()
	defer srv.Close()
	id, secret := srv.BootstrapCredentials()
	t.Setenv("AWS_ENDPOINT_URL", endpoint)
	t.Setenv("AWS_ACCESS_KEY_ID", id)
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
	t.Setenv("AWS_REGION", "eu-central-1")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	cfg, err := config.LoadDefaultConfig(ctx)
	noErr(t, err)

	who, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	noErr(t, err)
	if aws.ToString(who.Arn) != srv.BootstrapARN() {
		t.Fatalf("STS via AWS_ENDPOINT_URL = %s", aws.ToString(who.Arn))
	}
	_, err = s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }).ListBuckets(ctx, &s3.ListBucketsInput{})
	noErr(t, err)

	// With a custom endpoint the SDK signs IAM for the client's region; IAM
	// only accepts us-east-1, so the provider must pin it.
	_, err = iam.NewFromConfig(cfg).GetUser(ctx, &iam.GetUserInput{})
	wantCode(t, err, "SignatureDoesNotMatch")
	if !strings.Contains(err.Error(), "Credential should be scoped to a valid region") {
		t.Fatalf("IAM signed for eu-central-1: %v", err)
	}
	_, err = iam.NewFromConfig(cfg, func(o *iam.Options) { o.Region = "us-east-1" }).GetUser(ctx, &iam.GetUserInput{})
	noErr(t, err)

	// A service-specific variable wins over the global one.
	t.Setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:1")
	cfg2, err := config.LoadDefaultConfig(ctx)
	noErr(t, err)
	if _, err := sts.NewFromConfig(cfg2, func(o *sts.Options) { o.RetryMaxAttempts = 1 }).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("AWS_ENDPOINT_URL_STS was not used: %v", err)
	}
}

func TestStartOnLoopbackOnly(t *testing.T) {
	srv := New(Options{})
	if _, err := srv.StartOn("0.0.0.0:0"); err == nil {
		t.Fatal("StartOn accepted a non-loopback address")
	}
	u, err := srv.StartOn("127.0.0.1:0")
	noErr(t, err)
	defer srv.Close()
	if !strings.HasPrefix(u, "http://127.0.0.1:") || srv.URL() != u {
		t.Fatalf("StartOn = %q", u)
	}
}

// TestSDKCreatedCounts: Created counts what the API created, once each:
// EntityAlreadyExists, and us-east-1's 200 for re-creating one's own bucket,
// do not count; deleting does not uncount.
func TestSDKCreatedCounts(t *testing.T) {
	ctx := context.Background()
	srv := New(Options{})
	endpoint := srv.Start()
	defer srv.Close()
	id, secret := srv.BootstrapCredentials()
	admin := newClients(t, endpoint, "us-east-1", id, secret)
	for range 2 {
		_, _ = admin.iam.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("app")})
		_, err := admin.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("stack-app-1")})
		noErr(t, err) // us-east-1: 200 both times
	}
	k, err := admin.iam.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("app")})
	noErr(t, err)
	_, err = admin.iam.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("app"), AccessKeyId: k.AccessKey.AccessKeyId})
	noErr(t, err)
	_, err = admin.iam.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("app")})
	noErr(t, err)
	if got := srv.Created(); got != (Counts{Users: 1, Buckets: 1, AccessKeys: 2}) {
		t.Fatalf("Created = %+v", got)
	}
}
