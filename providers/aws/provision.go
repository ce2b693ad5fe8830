package awsprovider

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"phantomstack.dev/providers"
)

// userNameRE is IAM's user name rule.
var userNameRE = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)

// user is what Provision knows about the app's IAM user.
type user struct {
	name, arn string
	tags      map[string]string
}

// BucketPolicy is the inline policy of the app's user: list its bucket,
// read, write and delete its objects — nothing else.
func BucketPolicy(bucket string) string {
	type stmt struct {
		Sid      string
		Effect   string
		Action   []string
		Resource string
	}
	doc := struct {
		Version   string
		Statement []stmt
	}{"2012-10-17", []stmt{
		{"ListBucket", "Allow", []string{"s3:ListBucket"}, "arn:aws:s3:::" + bucket},
		{"Objects", "Allow", []string{"s3:GetObject", "s3:PutObject", "s3:DeleteObject"}, "arn:aws:s3:::" + bucket + "/*"},
	}}
	b, _ := json.Marshal(doc)
	return string(b)
}

// bucketName derives a new bucket name from the user name. Bucket names are
// global across all AWS accounts, so a random suffix avoids collisions; the
// name is recorded in the user's stack-bucket tag, which is how a re-run
// finds it again. The stack- prefix lets the bootstrap policy be limited to
// arn:aws:s3:::stack-*.
func bucketName(userName string) string {
	base := strings.ToLower(strings.TrimPrefix(strings.ToLower(userName), "stack-"))
	var b strings.Builder
	dash := false
	for _, r := range base {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	s := strings.Trim(b.String(), "-")
	if len(s) > 46 {
		s = strings.Trim(s[:46], "-")
	}
	if s == "" {
		return "stack-" + randHex(6)
	}
	return "stack-" + s + "-" + randHex(4)
}

// Provision implements providers.Provider: a tagged IAM user, its inline
// bucket policy, the S3 bucket and an access key, in that order. Anything
// this call created is deleted again when a later step fails (or ctx is
// cancelled). Run again with the same name after a crash, it adopts the
// user (only one tagged managed-by=stack), its bucket and policy instead of
// failing. With req.UseID it attaches to such a user and never creates one.
//
// req.Owned says the user is this add's own (an interrupted run of it
// created the user, or may have): the access keys it already has were made
// by that run, whose secrets died with it, so they are deleted and the user
// ends with exactly one key, the one handed to Materialize. Without Owned
// (--use) the user's keys may be in use elsewhere and only the quota is
// made room for.
func (p *Provider) Provision(ctx context.Context, env providers.Env, cred *providers.Credential, req providers.ProvisionRequest) (res providers.Resource, err error) {
	attach := req.UseID != ""
	name := req.UseID
	if !attach {
		name = req.Name
		if name == "" {
			name = "stack-" + randHex(4)
		}
	}
	if !userNameRE.MatchString(name) {
		return res, fmt.Errorf("%q is not a valid IAM user name (1-64 letters, digits and + = , . @ _ -)", name)
	}
	wantRegion := firstNonEmpty(req.Region, req.Options["region"])
	c, err := p.bootstrapClients(ctx, env, cred, wantRegion)
	if err != nil {
		return res, err
	}
	account := ""
	if cred != nil {
		account = cred.Identity["account"]
	}
	if account == "" {
		out, err := c.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			return res, explain(err, "checking your AWS identity", "")
		}
		account = aws.ToString(out.Account)
	}

	var undo rollback
	defer func() {
		if err != nil {
			err = undo.run(ctx, env, err)
		}
	}()

	// 1. The user: create it, or adopt/attach to a stack-managed one.
	env.Report("creating the IAM user")
	u, created, err := p.ensureUser(ctx, env, c, name, attach, wantRegion, req)
	if err != nil {
		return res, err
	}
	// A user adopted by name on a resume was made by the interrupted run,
	// and the journal has no id for it yet, so the pipeline's rollback
	// cannot remove it (or its bucket): this call's own rollback must.
	adopted := req.Owned && !attach && !created
	if created || adopted {
		undo.add("IAM user "+name, func(ctx context.Context) error { return deleteUser(ctx, c, name) })
	}
	bucket, region := u.tags[TagBucket], u.tags[TagRegion]
	if region == "" {
		region = c.cfg.Region
	}

	// 2. The least-privilege policy (PutUserPolicy replaces: idempotent).
	env.Report("putting the bucket policy")
	if _, err := c.iam.PutUserPolicy(ctx, &iam.PutUserPolicyInput{
		UserName: aws.String(name), PolicyName: aws.String(PolicyName), PolicyDocument: aws.String(BucketPolicy(bucket)),
	}); err != nil {
		return res, explain(err, "putting the inline policy "+PolicyName+" on IAM user "+name, "iam:PutUserPolicy")
	}

	// 3. The bucket.
	env.Report("creating the S3 bucket")
	madeBucket, err := ensureBucket(ctx, env, c, bucket, region, !created)
	if err != nil {
		return res, err
	}
	if madeBucket || adopted {
		undo.add("S3 bucket "+bucket, func(ctx context.Context) error { return deleteBucket(ctx, c, bucket, region) })
	}

	// 4. The access key; its secret exists only in this answer.
	env.Report("creating an access key")
	key, err := p.createKey(ctx, env, c, name, !created, req.Owned, req.ResumedSince)
	if err != nil {
		return res, err
	}
	undo.add("access key "+key.id, func(ctx context.Context) error { return deleteKey(ctx, c, name, key.id) })
	p.setPending(name, key)
	defer func() {
		if err != nil {
			p.dropPending(name)
		}
	}()
	if err := ctx.Err(); err != nil {
		return res, err
	}

	return providers.Resource{
		ID:          name,
		DisplayName: "IAM user " + name + ", S3 bucket " + bucket,
		Region:      region,
		Meta: map[string]string{
			"bucket":        bucket,
			"user_arn":      u.arn,
			"access_key_id": key.id,
			"account":       account,
		},
	}, nil
}

// ensureUser creates the user with its tags, or (after EntityAlreadyExists,
// or for --use) reads it and checks it is stack's. A user without
// managed-by=stack is never adopted: stack would hand out its keys and
// later delete it.
func (p *Provider) ensureUser(ctx context.Context, env providers.Env, c *clients, name string, attach bool, wantRegion string, req providers.ProvisionRequest) (user, bool, error) {
	if !attach {
		region := c.cfg.Region
		bucket := bucketName(name)
		tags := map[string]string{
			TagManagedBy: managedValue,
			TagProject:   firstNonEmpty(req.Options["project"], name),
			TagBucket:    bucket,
			TagRegion:    region,
		}
		env.Printf("AWS: creating IAM user %s (tagged %s=%s).", name, TagManagedBy, managedValue)
		out, err := c.iam.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name), Tags: iamTags(tags)})
		if err == nil {
			return user{name: name, arn: aws.ToString(out.User.Arn), tags: tags}, true, nil
		}
		if !isCode(err, "EntityAlreadyExists") {
			return user{}, false, explain(err, "creating IAM user "+name, "iam:CreateUser")
		}
	}
	out, err := c.iam.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(name)})
	if err != nil {
		if isCode(err, "NoSuchEntity") {
			return user{}, false, fmt.Errorf("there is no IAM user %s in this account; --use takes the name of a user stack created (tag %s=%s)", name, TagManagedBy, managedValue)
		}
		return user{}, false, explain(err, "reading IAM user "+name, "iam:GetUser")
	}
	u := user{name: aws.ToString(out.User.UserName), arn: aws.ToString(out.User.Arn), tags: tagMap(out.User.Tags)}
	if u.tags[TagManagedBy] != managedValue {
		return user{}, false, fmt.Errorf("IAM user %s exists but was not created by stack (it has no %s=%s tag), so stack leaves it alone; choose another name", name, TagManagedBy, managedValue)
	}
	switch {
	case attach && req.Owned:
		env.Printf("AWS: resuming with IAM user %s (created by the interrupted stack add).", name)
	case attach:
		env.Printf("AWS: attaching to IAM user %s.", name)
	default:
		env.Printf("AWS: IAM user %s already exists and is stack's (an earlier run); using it.", name)
	}
	if r := u.tags[TagRegion]; r != "" && wantRegion != "" && r != wantRegion {
		return user{}, false, fmt.Errorf("IAM user %s's bucket %s is in %s, not %s; leave the region out or pass %s", name, u.tags[TagBucket], r, wantRegion, r)
	}
	if u.tags[TagBucket] == "" || u.tags[TagRegion] == "" {
		add := map[string]string{}
		if u.tags[TagBucket] == "" {
			add[TagBucket] = bucketName(name)
		}
		if u.tags[TagRegion] == "" {
			add[TagRegion] = c.cfg.Region
		}
		if _, err := c.iam.TagUser(ctx, &iam.TagUserInput{UserName: aws.String(name), Tags: iamTags(add)}); err != nil {
			return user{}, false, explain(err, "tagging IAM user "+name+" with its bucket", "iam:TagUser")
		}
		for k, v := range add {
			u.tags[k] = v
		}
	}
	return u, false, nil
}

// ensureBucket creates the bucket, or accepts it when it is already ours;
// it reports whether this call created it. For a user that already existed
// it looks first: in us-east-1, CreateBucket on a bucket you own answers 200
// (not BucketAlreadyOwnedByYou), which would pass an existing bucket off as
// new, and a rollback would then delete it.
func ensureBucket(ctx context.Context, env providers.Env, c *clients, bucket, region string, mayExist bool) (bool, error) {
	if mayExist {
		_, err := c.s3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)}, inRegion(region))
		if err == nil {
			env.Printf("AWS: S3 bucket %s already exists in this account; using it.", bucket)
			return false, nil
		}
		if ctx.Err() != nil {
			return false, explain(err, "looking for S3 bucket "+bucket, "s3:ListBucket")
		}
		// Not found, or not ours, or not allowed: CreateBucket's answer
		// says which.
	}
	in := &s3.CreateBucketInput{Bucket: aws.String(bucket)}
	if region != "us-east-1" {
		// us-east-1 takes no constraint; every other region needs its own.
		in.CreateBucketConfiguration = &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(region)}
	}
	_, err := c.s3.CreateBucket(ctx, in, inRegion(region))
	switch {
	case err == nil:
		env.Printf("AWS: created S3 bucket %s in %s.", bucket, region)
		return true, nil
	case isCode(err, "BucketAlreadyOwnedByYou"):
		env.Printf("AWS: S3 bucket %s already exists in this account; using it.", bucket)
		return false, nil
	case isCode(err, "BucketAlreadyExists"):
		return false, fmt.Errorf("the S3 bucket name %s is taken by another AWS account (bucket names are global); run again to get a new name", bucket)
	}
	return false, explain(err, "creating S3 bucket "+bucket+" in "+region, "s3:CreateBucket")
}

// createKey creates an access key. On a user that already existed it first
// makes room under IAM's two-keys-per-user quota: Inactive keys go first,
// then the oldest, until one key is left, so the newest existing key (the
// one a running copy of the app most likely uses) keeps working. On a user
// this add owns (a resume) every existing key is deleted instead: each was
// made by an interrupted run, nothing can use it but that run's vault entry,
// and its secret cannot be read back, so the user ends with the new key only.
//
// A resumed --use add (not owned, since set) first deletes the keys IAM
// dated after the interrupted add started: that run made them and their
// secrets died with it. Otherwise the quota rule below would delete the
// oldest key — the user's own, possibly in use elsewhere — and keep the
// orphan.
func (p *Provider) createKey(ctx context.Context, env providers.Env, c *clients, name string, existing, owned bool, since time.Time) (*accessKey, error) {
	switch {
	case owned:
		if err := deleteStaleKeys(ctx, env, c, name, time.Time{}); err != nil {
			return nil, err
		}
	case existing:
		if !since.IsZero() {
			if err := deleteStaleKeys(ctx, env, c, name, since); err != nil {
				return nil, err
			}
		}
		if err := makeRoom(ctx, env, c, name); err != nil {
			return nil, err
		}
	}
	out, err := c.iam.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(name)})
	if err != nil {
		return nil, explain(err, "creating an access key for IAM user "+name, "iam:CreateAccessKey")
	}
	k := &accessKey{id: aws.ToString(out.AccessKey.AccessKeyId), secret: []byte(aws.ToString(out.AccessKey.SecretAccessKey))}
	env.Printf("AWS: created access key %s for %s.", k.id, name)
	return k, nil
}

func makeRoom(ctx context.Context, env providers.Env, c *clients, name string) error {
	keys, err := listKeys(ctx, c, name)
	if err != nil {
		return err
	}
	slices.SortStableFunc(keys, func(a, b iamtypes.AccessKeyMetadata) int {
		ai, bi := a.Status == iamtypes.StatusTypeInactive, b.Status == iamtypes.StatusTypeInactive
		if ai != bi {
			if ai {
				return -1
			}
			return 1
		}
		return aws.ToTime(a.CreateDate).Compare(aws.ToTime(b.CreateDate))
	})
	for i := 0; len(keys)-i >= maxKeysPerUser; i++ {
		id := aws.ToString(keys[i].AccessKeyId)
		if err := deleteKey(ctx, c, name, id); err != nil {
			return err
		}
		env.Printf("AWS: deleted the old access key %s of %s (IAM allows %d per user).", id, name, maxKeysPerUser)
	}
	return nil
}

// staleKeySkew allows for the clocks of this machine and IAM differing: a
// key dated up to this long before the interrupted add started still
// counts as that add's.
const staleKeySkew = time.Minute

// deleteStaleKeys deletes the access keys an interrupted run of this add
// made (see createKey): every key of a user this add owns (since zero), or
// those IAM dated after since.
func deleteStaleKeys(ctx context.Context, env providers.Env, c *clients, name string, since time.Time) error {
	keys, err := listKeys(ctx, c, name)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if !since.IsZero() && aws.ToTime(k.CreateDate).Before(since.Add(-staleKeySkew)) {
			continue // older than the interrupted add: the user's own
		}
		id := aws.ToString(k.AccessKeyId)
		if err := deleteKey(ctx, c, name, id); err != nil {
			return err
		}
		env.Printf("AWS: deleted the stale access key %s of %s (made by the interrupted stack add; the new key replaces it).", id, name)
	}
	return nil
}

func listKeys(ctx context.Context, c *clients, name string) ([]iamtypes.AccessKeyMetadata, error) {
	var keys []iamtypes.AccessKeyMetadata
	pg := iam.NewListAccessKeysPaginator(c.iam, &iam.ListAccessKeysInput{UserName: aws.String(name)})
	for i := 0; pg.HasMorePages() && i < 100; i++ {
		out, err := pg.NextPage(ctx)
		if err != nil {
			if isCode(err, "NoSuchEntity") {
				return nil, nil
			}
			return nil, explain(err, "listing the access keys of IAM user "+name, "iam:ListAccessKeys")
		}
		keys = append(keys, out.AccessKeyMetadata...)
	}
	return keys, nil
}

func deleteKey(ctx context.Context, c *clients, name, id string) error {
	_, err := c.iam.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(name), AccessKeyId: aws.String(id)})
	if err != nil && !isCode(err, "NoSuchEntity") {
		return explain(err, "deleting access key "+id+" of IAM user "+name, "iam:DeleteAccessKey")
	}
	return nil
}

// deleteUser deletes a user with its access keys and inline policies (IAM
// refuses to delete a user that still has either). A user that is already
// gone is not an error.
func deleteUser(ctx context.Context, c *clients, name string) error {
	keys, err := listKeys(ctx, c, name)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := deleteKey(ctx, c, name, aws.ToString(k.AccessKeyId)); err != nil {
			return err
		}
	}
	pg := iam.NewListUserPoliciesPaginator(c.iam, &iam.ListUserPoliciesInput{UserName: aws.String(name)})
	for i := 0; pg.HasMorePages() && i < 100; i++ {
		out, err := pg.NextPage(ctx)
		if err != nil {
			if isCode(err, "NoSuchEntity") {
				return nil
			}
			return explain(err, "listing the inline policies of IAM user "+name, "iam:ListUserPolicies")
		}
		for _, pn := range out.PolicyNames {
			_, err := c.iam.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String(name), PolicyName: aws.String(pn)})
			if err != nil && !isCode(err, "NoSuchEntity") {
				return explain(err, "deleting inline policy "+pn+" of IAM user "+name, "iam:DeleteUserPolicy")
			}
		}
	}
	_, err = c.iam.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String(name)})
	if err != nil && !isCode(err, "NoSuchEntity") {
		return explain(err, "deleting IAM user "+name, "iam:DeleteUser")
	}
	return nil
}

// errBucketNotEmpty is returned instead of deleting anybody's data.
type errBucketNotEmpty struct{ bucket string }

func (e errBucketNotEmpty) Error() string {
	return fmt.Sprintf("S3 bucket %s still holds objects, and stack never deletes data; empty it (aws s3 rm s3://%s --recursive) and run the removal again", e.bucket, e.bucket)
}

func deleteBucket(ctx context.Context, c *clients, bucket, region string) error {
	_, err := c.s3.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)}, inRegion(region))
	switch {
	case err == nil || isCode(err, "NoSuchBucket"):
		return nil
	case isCode(err, "BucketNotEmpty"):
		return errBucketNotEmpty{bucket}
	}
	return explain(err, "deleting S3 bucket "+bucket, "s3:DeleteBucket")
}

func inRegion(region string) func(*s3.Options) {
	return func(o *s3.Options) { o.Region = region }
}

func iamTags(m map[string]string) []iamtypes.Tag {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]iamtypes.Tag, 0, len(keys))
	for _, k := range keys {
		out = append(out, iamtypes.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return out
}

func tagMap(tags []iamtypes.Tag) map[string]string {
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

// rollback undoes, newest first, what a failed Provision created. It runs
// on a context that outlives cancellation (Ctrl-C must still clean up), but
// bounded.
type rollback []undoStep

type undoStep struct {
	what string
	fn   func(context.Context) error
}

func (r *rollback) add(what string, fn func(context.Context) error) {
	*r = append(*r, undoStep{what, fn})
}

func (r rollback) run(ctx context.Context, env providers.Env, cause error) error {
	if len(r) == 0 {
		return cause
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
	defer cancel()
	var undone, left []string
	for i := len(r) - 1; i >= 0; i-- {
		if err := r[i].fn(ctx); err != nil {
			left = append(left, fmt.Sprintf("%s (%v)", r[i].what, err))
			continue
		}
		undone = append(undone, r[i].what)
	}
	if len(undone) > 0 {
		env.Printf("AWS: rolled back: deleted %s.", strings.Join(undone, ", "))
	}
	if len(left) > 0 {
		return fmt.Errorf("%w\nRolling back failed, so these still exist in AWS and need deleting by hand (aws iam delete-user / aws s3 rb): %s", cause, strings.Join(left, "; "))
	}
	return fmt.Errorf("%w\nRolled back: deleted %s again, so nothing was left behind in AWS", cause, strings.Join(undone, ", "))
}
