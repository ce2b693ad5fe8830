package awsprovider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"phantomstack.dev/providers"
)

// BootstrapPermissions is every action stack calls with the bootstrap
// identity. IAM actions are on arn:aws:iam::ACCOUNT:user/*, S3 actions on
// arn:aws:s3:::stack-* (every bucket stack creates is named stack-…);
// sts:GetCallerIdentity needs no permission. docs/providers.md, "AWS
// provider", has them as a policy document.
var BootstrapPermissions = []string{
	"iam:CreateUser", "iam:GetUser", "iam:TagUser", "iam:DeleteUser",
	"iam:PutUserPolicy", "iam:ListUserPolicies", "iam:DeleteUserPolicy",
	"iam:CreateAccessKey", "iam:ListAccessKeys", "iam:DeleteAccessKey",
	"s3:CreateBucket", "s3:ListBucket", "s3:DeleteBucket",
}

// BootstrapPolicy is BootstrapPermissions as a policy document to attach to
// the bootstrap identity; docs/providers.md carries the same text (a test
// checks both, and that it is enough for the whole lifecycle).
const BootstrapPolicy = `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "StackAppUsers",
      "Effect": "Allow",
      "Action": [
        "iam:CreateUser", "iam:GetUser", "iam:TagUser", "iam:DeleteUser",
        "iam:PutUserPolicy", "iam:ListUserPolicies", "iam:DeleteUserPolicy",
        "iam:CreateAccessKey", "iam:ListAccessKeys", "iam:DeleteAccessKey"
      ],
      "Resource": "arn:aws:iam::*:user/*"
    },
    {
      "Sid": "StackAppBuckets",
      "Effect": "Allow",
      "Action": ["s3:CreateBucket", "s3:ListBucket", "s3:DeleteBucket"],
      "Resource": "arn:aws:s3:::stack-*"
    }
  ]
}`

// PermissionError is AWS refusing the bootstrap identity an action.
type PermissionError struct {
	Step       string // what stack was doing
	Permission string // the IAM action that was missing, e.g. iam:CreateUser
	Message    string // AWS's message (ARNs, no secrets)
}

func (e *PermissionError) Error() string {
	return fmt.Sprintf("%s: AWS denied %s to your AWS identity (%s).\nstack needs these permissions on the identity you run it with: %s (IAM actions on arn:aws:iam::ACCOUNT:user/*, S3 actions on arn:aws:s3:::stack-*); docs/providers.md, \"AWS provider\", has a policy to attach",
		e.Step, e.Permission, e.Message, strings.Join(BootstrapPermissions, ", "))
}

var performRE = regexp.MustCompile(`perform: ([A-Za-z0-9-]+:[A-Za-z0-9*]+)`)

// apiCode returns the AWS error code of err, or "".
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// kind classifies an SDK error.
type kind int

const (
	kindOther kind = iota
	kindDenied
	kindInvalidCred
	kindUnreachable
)

func classify(err error) kind {
	code, status := apiCode(err), httpStatus(err)
	switch code {
	case "AccessDenied", "AccessDeniedException", "UnauthorizedOperation":
		return kindDenied
	case "InvalidClientTokenId", "SignatureDoesNotMatch", "InvalidAccessKeyId", "ExpiredToken",
		"ExpiredTokenException", "UnrecognizedClientException", "InvalidToken", "MissingAuthenticationToken":
		return kindInvalidCred
	case "Throttling", "ThrottlingException", "SlowDown", "RequestLimitExceeded", "ServiceUnavailable",
		"InternalError", "InternalFailure", "RequestTimeout", "RequestTimeTooSkewed":
		return kindUnreachable
	}
	switch {
	case status >= 500 || status == http.StatusTooManyRequests:
		return kindUnreachable
	case status == http.StatusForbidden && code == "":
		return kindDenied // S3 HEAD answers have no body
	case status == 0 && code == "":
		return kindUnreachable // no answer: network, DNS, timeout
	}
	return kindOther
}

// explain turns an SDK error into one that says what stack was doing and
// what to do. perm is the action the step needs, used when AWS's message
// does not name it. SDK errors carry the operation, status, request id and
// AWS's message — never a credential.
func explain(err error, step, perm string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", step, err)
	}
	var ae smithy.APIError
	msg := err.Error()
	if errors.As(err, &ae) {
		msg = ae.ErrorCode() + ": " + ae.ErrorMessage()
	}
	switch classify(err) {
	case kindDenied:
		if m := performRE.FindStringSubmatch(msg); m != nil {
			perm = m[1]
		}
		if perm == "" {
			perm = "the permission for this step"
		}
		return &PermissionError{Step: step, Permission: perm, Message: msg}
	case kindInvalidCred:
		return fmt.Errorf("%w: %s: AWS rejected the credentials (%s); check them with `aws sts get-caller-identity`", providers.ErrAuthInvalid, step, msg)
	case kindUnreachable:
		return fmt.Errorf("%w: %s: %v", providers.ErrUnreachable, step, err)
	}
	return fmt.Errorf("%s: %v", step, err)
}

func isCode(err error, codes ...string) bool {
	c := apiCode(err)
	for _, want := range codes {
		if c == want {
			return true
		}
	}
	return false
}
