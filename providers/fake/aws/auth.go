package awsfake

import (
	"crypto/subtle"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

var sha256HexRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// authenticate verifies the request's SigV4 signature and returns the IAM
// user whose key signed it, and the session when the key is a temporary one
// from GetSessionToken (nil for a long-term key). Errors are the codes each
// service really returns.
func (s *Server) authenticate(r *http.Request, body []byte, svc string) (*user, *session, *apiError) {
	u, sess, e := s.authenticateSig(r, body, svc)
	if e == nil && sess != nil && svc == "iam" {
		// Credentials from GetSessionToken cannot call IAM unless the
		// session was made with MFA (STS API reference, GetSessionToken);
		// the fake has no MFA, and IAM answers this way.
		return nil, nil, &apiError{Status: 403, Code: "InvalidClientTokenId", Message: "The security token included in the request is invalid."}
	}
	return u, sess, e
}

func (s *Server) authenticateSig(r *http.Request, body []byte, svc string) (*user, *session, *apiError) {
	isS3 := svc == "s3"
	// malformed builds the "your Authorization header is wrong" error.
	malformed := func(msg string) *apiError {
		if isS3 {
			return &apiError{Status: 400, Code: "AuthorizationHeaderMalformed", Message: msg}
		}
		return &apiError{Status: 400, Code: "IncompleteSignature", Message: msg}
	}
	mismatch := func(msg string) *apiError {
		return &apiError{Status: 403, Code: "SignatureDoesNotMatch", Message: msg}
	}
	badKey := func() *apiError {
		if isS3 {
			return &apiError{Status: 403, Code: "InvalidAccessKeyId", Message: "The AWS Access Key Id you provided does not exist in our records."}
		}
		return &apiError{Status: 403, Code: "InvalidClientTokenId", Message: "The security token included in the request is invalid."}
	}

	h := r.Header.Get("Authorization")
	if h == "" {
		if r.URL.Query().Get("X-Amz-Credential") != "" {
			return nil, nil, &apiError{Status: 501, Code: "NotImplemented", Message: "Presigned (query-string) SigV4 requests are not supported by this fake."}
		}
		if isS3 {
			return nil, nil, &apiError{Status: 403, Code: "AccessDenied", Message: "Access Denied"}
		}
		return nil, nil, &apiError{Status: 403, Code: "MissingAuthenticationToken", Message: "Request is missing Authentication Token"}
	}
	a, err := parseAuthorization(h)
	if err != nil {
		return nil, nil, malformed(err.Error())
	}
	if a.Terminator != "aws4_request" {
		return nil, nil, malformed("Credential should be scoped with a valid terminator: 'aws4_request', not '" + a.Terminator + "'.")
	}
	if a.Service != svc {
		if isS3 {
			return nil, nil, malformed("The authorization header is malformed; incorrect service '" + a.Service + "'. This endpoint belongs to 's3'.")
		}
		return nil, nil, mismatch("Credential should be scoped to correct service: '" + svc + "'. ")
	}
	wantRegion := s.opts.Region
	if svc == "iam" {
		wantRegion = "us-east-1" // IAM is global; its SigV4 region is us-east-1
	}
	if a.Region != wantRegion {
		if isS3 {
			e := malformed("The authorization header is malformed; the region '" + a.Region + "' is wrong; expecting '" + wantRegion + "'")
			e.region = wantRegion
			return nil, nil, e
		}
		return nil, nil, mismatch("Credential should be scoped to a valid region. ")
	}
	if !slices.Contains(a.SignedHeaders, "host") {
		return nil, nil, malformed("'Host' must be a 'SignedHeader' in the AWS Authorization.")
	}

	s.mu.Lock()
	k, ok := s.keys[a.AccessKeyID]
	var secret string
	var owner *user
	var sess *session
	if ok {
		secret = k.secret
		owner = s.users[strings.ToLower(k.userName)]
		if k.status != "Active" || s.now().Before(k.created.Add(s.opts.KeyPropagationDelay)) {
			ok = false // inactive, or not yet visible to the service (eventual consistency)
		}
	} else if sess, ok = s.sessions[a.AccessKeyID]; ok {
		secret = sess.secret
		owner = s.users[strings.ToLower(sess.userName)]
	}
	s.mu.Unlock()
	if !ok || owner == nil {
		return nil, nil, badKey()
	}
	// A session key works only with its own X-Amz-Security-Token, signed,
	// and only until it expires; a long-term key takes no token at all.
	tok := r.Header.Get("X-Amz-Security-Token")
	invalidToken := func() *apiError {
		if isS3 {
			return &apiError{Status: 400, Code: "InvalidToken", Message: "The provided token is malformed or otherwise invalid."}
		}
		return badKey()
	}
	switch {
	case sess == nil && tok != "":
		return nil, nil, invalidToken()
	case sess != nil && tok == "":
		return nil, nil, badKey()
	case sess != nil && subtle.ConstantTimeCompare([]byte(tok), []byte(sess.token)) != 1:
		return nil, nil, invalidToken()
	case sess != nil && !s.now().Before(sess.expires):
		if isS3 {
			return nil, nil, &apiError{Status: 400, Code: "ExpiredToken", Message: "The provided token has expired."}
		}
		return nil, nil, &apiError{Status: 403, Code: "ExpiredToken", Message: "The security token included in the request is expired"}
	case sess != nil && !slices.Contains(a.SignedHeaders, "x-amz-security-token"):
		return nil, nil, malformed("'x-amz-security-token' must be a 'SignedHeader' in the AWS Authorization.")
	}

	t, amzDate, err := requestTime(r)
	if err != nil {
		if isS3 {
			return nil, nil, &apiError{Status: 403, Code: "AccessDenied", Message: "AWS authentication requires a valid Date or x-amz-date header"}
		}
		return nil, nil, malformed(err.Error())
	}
	dateHeader := "x-amz-date"
	if r.Header.Get("X-Amz-Date") == "" {
		dateHeader = "date"
	}
	if !slices.Contains(a.SignedHeaders, dateHeader) {
		return nil, nil, malformed("'" + dateHeader + "' must be a 'SignedHeader' in the AWS Authorization.")
	}
	if amzDate[:8] != a.Date {
		if isS3 {
			return nil, nil, malformed("The authorization header is malformed; Invalid credential date. Date is not the same as X-Amz-Date.")
		}
		return nil, nil, mismatch("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '" + a.Date + "' != '" + amzDate[:8] + "', from '" + dateHeader + "'.")
	}
	now := s.now()
	if t.Before(now.Add(-s.opts.MaxSkew)) || t.After(now.Add(s.opts.MaxSkew)) {
		if isS3 {
			return nil, nil, &apiError{Status: 403, Code: "RequestTimeTooSkewed", Message: "The difference between the request time and the current time is too large."}
		}
		if t.Before(now) {
			return nil, nil, mismatch("Signature expired: " + amzDate + " is now earlier than " + now.Add(-s.opts.MaxSkew).Format(amzDateFormat) +
				" (" + now.Format(amzDateFormat) + " - " + minutes(s.opts.MaxSkew) + ")")
		}
		return nil, nil, mismatch("Signature not yet current: " + amzDate + " is still later than " + now.Add(s.opts.MaxSkew).Format(amzDateFormat) +
			" (" + now.Format(amzDateFormat) + " + " + minutes(s.opts.MaxSkew) + ")")
	}

	// S3 signs whatever x-amz-content-sha256 says; the other services sign
	// the body's hash.
	payloadHash := sha256Hex(body)
	if isS3 {
		ph := r.Header.Get("X-Amz-Content-Sha256")
		switch {
		case ph == "":
			return nil, nil, &apiError{Status: 400, Code: "InvalidRequest", Message: "Missing required header for this request: x-amz-content-sha256"}
		case !slices.Contains(a.SignedHeaders, "x-amz-content-sha256"):
			return nil, nil, malformed("'x-amz-content-sha256' must be a 'SignedHeader' in the AWS Authorization.")
		case ph == unsignedPayload || sha256HexRE.MatchString(ph):
			payloadHash = ph
		case strings.HasPrefix(ph, "STREAMING-"):
			return nil, nil, &apiError{Status: 501, Code: "NotImplemented", Message: "aws-chunked uploads (x-amz-content-sha256: " + ph + ") are not supported by this fake; aws-sdk-go-v2 uses them only over HTTPS."}
		default:
			return nil, nil, &apiError{Status: 400, Code: "InvalidArgument", Message: "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, or a valid sha256 value."}
		}
	}

	canonical, err := canonicalRequest(r, a.SignedHeaders, payloadHash, isS3)
	if err != nil {
		return nil, nil, malformed(err.Error())
	}
	if !signatureMatches(a.Signature, signature(secret, a, amzDate, canonical)) {
		if isS3 {
			return nil, nil, mismatch("The request signature we calculated does not match the signature you provided. Check your key and signing method.")
		}
		return nil, nil, mismatch("The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
	}
	if isS3 && payloadHash != unsignedPayload && payloadHash != sha256Hex(body) {
		return nil, nil, &apiError{Status: 400, Code: "XAmzContentSHA256Mismatch", Message: "The provided 'x-amz-content-sha256' header does not match what was computed."}
	}
	return owner, sess, nil
}

func minutes(d time.Duration) string { return strconv.Itoa(int(d.Minutes())) + " min." }
