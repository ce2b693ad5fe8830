package awsprovider

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"phantomstack.dev/providers"
)

// Deprovision implements providers.Provider: the user's access keys, its
// inline policy, the user, and the bucket. It checks first that the bucket
// is empty: a bucket that holds objects is user data, so nothing is deleted
// and the error says how to empty it (stack never deletes data silently).
// A user without the managed-by=stack tag is refused. Pieces already gone
// are not errors, so a removal can be re-run after a failure.
func (p *Provider) Deprovision(ctx context.Context, env providers.Env, cred *providers.Credential, res providers.Resource) error {
	if res.ID == "" {
		return nil
	}
	region := firstNonEmpty(res.Region, defaultRegion)
	bucket := res.Meta["bucket"]
	c, err := p.bootstrapClients(ctx, env, cred, region)
	if err != nil {
		return err
	}
	userGone := false
	out, err := c.iam.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(res.ID)})
	switch {
	case isCode(err, "NoSuchEntity"):
		userGone = true
	case err != nil:
		return explain(err, "reading IAM user "+res.ID, "iam:GetUser")
	default:
		tags := tagMap(out.User.Tags)
		if tags[TagManagedBy] != managedValue {
			return fmt.Errorf("IAM user %s was not created by stack (no %s=%s tag); stack does not delete it", res.ID, TagManagedBy, managedValue)
		}
		if bucket == "" {
			bucket = tags[TagBucket]
		}
	}

	bucketGone := bucket == ""
	if !bucketGone {
		lo, err := c.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), MaxKeys: aws.Int32(1)}, inRegion(region))
		switch {
		case isCode(err, "NoSuchBucket"):
			bucketGone = true
		case err != nil:
			return explain(err, "checking that S3 bucket "+bucket+" is empty", "s3:ListBucket")
		case aws.ToInt32(lo.KeyCount) > 0 || len(lo.Contents) > 0:
			return fmt.Errorf("%w; nothing was removed", errBucketNotEmpty{bucket})
		}
	}

	if !userGone {
		if err := deleteUser(ctx, c, res.ID); err != nil {
			return err
		}
		env.Printf("AWS: deleted IAM user %s with its access keys and policy.", res.ID)
	}
	p.dropPending(res.ID)
	if !bucketGone {
		if err := deleteBucket(ctx, c, bucket, region); err != nil {
			return err
		}
		env.Printf("AWS: deleted S3 bucket %s.", bucket)
	}
	return nil
}
