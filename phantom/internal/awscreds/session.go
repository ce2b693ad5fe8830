package awscreds

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

// Session-credential lifetimes. GetSessionToken accepts 900–129600 seconds
// for an IAM user (STS API reference); phantom caps it at 12 hours, and
// defaults to one hour: a copy taken out of the child is good for at most
// that long. docs/decisions.md, "AWS: session credentials, not the key".
const (
	DefaultSessionDuration = time.Hour
	MinSessionDuration     = 15 * time.Minute
	MaxSessionDuration     = 12 * time.Hour
)

// stsTimeout bounds one mint (attempts included): the child's SDK is
// waiting on the credentials endpoint meanwhile.
const stsTimeout = 8 * time.Second

// Error is a failure whose Code and Message phantom wrote itself (they
// never quote a value), so Handler serves them to the child as they are.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Minter turns the stored long-lived key into short-lived session
// credentials with STS GetSessionToken and caches them. The key itself is
// only ever sent to STS, signed (SigV4 sends the key ID, never the secret).
//
// The STS client is built by hand, not with config.LoadDefaultConfig: no
// AWS_ENDPOINT_URL(_STS), AWS_PROFILE, proxy variable or shared config file
// can redirect where phantom sends a request signed with the long-lived key.
// The endpoint is STS's own regional endpoint unless Endpoint, which comes
// only from approved project settings, names another.
type Minter struct {
	Key      Credentials   // the long-lived key; SessionToken must be empty
	Duration time.Duration // asked of STS; 0: DefaultSessionDuration
	Region   string        // STS region; "": us-east-1
	Endpoint string        // "": the SDK's built-in regional endpoint
	// RootCAs verifies the STS server (nil: the system roots).
	RootCAs *x509.CertPool
	// Now is the clock (nil: time.Now). Tests move it to cross expiries.
	Now func() time.Time
	// Mint, when set, replaces the STS call (tests).
	Mint func(ctx context.Context) (Credentials, error)

	mu  sync.Mutex
	cur Credentials // zero until the first successful mint
}

// Fetch says what Get did, for the audit log.
type Fetch struct {
	Minted bool // a new session was minted (false: served from the cache)
}

// validRegion accepts AWS region names (us-east-1, us-gov-west-1,
// cn-north-1): the region becomes part of the STS host name.
var validRegion = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`)

// CheckSettings validates a region and endpoint before any request.
func CheckSettings(region, endpoint string) error {
	if region != "" && !validRegion.MatchString(region) {
		return fmt.Errorf("AWS region %q is not a region name like us-east-1", region)
	}
	if endpoint == "" {
		return nil
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("STS endpoint %q is not a URL like https://sts.example.com", endpoint)
	}
	switch u.Scheme {
	case "https":
	case "http":
		// Plain http only to this machine, as the SDKs allow for the
		// container-credentials endpoint itself.
		if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return fmt.Errorf("STS endpoint %q: plain http is allowed only for a loopback host; use https", endpoint)
		}
	default:
		return fmt.Errorf("STS endpoint %q: the scheme must be https (or http for a loopback host)", endpoint)
	}
	return nil
}

// RefreshBefore is how long before expiry a cached session is replaced:
// a third of the lifetime, at most 20 minutes. The SDKs re-fetch a fixed
// window before expiry (aws-sdk-go-v2 and the JS SDK 5 minutes, botocore
// 15 advisory and 10 mandatory), so with the default hour every SDK gets
// credentials it can cache for a while instead of re-fetching (and being
// audited) on every call.
func RefreshBefore(lifetime time.Duration) time.Duration {
	return min(20*time.Minute, lifetime/3)
}

func (m *Minter) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

func (m *Minter) duration() time.Duration {
	if m.Duration == 0 {
		return DefaultSessionDuration
	}
	return m.Duration
}

// Get returns the cached session credentials, minting new ones when there
// are none or they are within RefreshBefore of expiry. A failed mint never
// falls back to the long-lived key, and leaves a still-valid cached session
// in place (served while it lasts).
func (m *Minter) Get(ctx context.Context) (Credentials, Fetch, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if m.cur.AccessKeyID != "" && m.cur.Expiration.Sub(now) > RefreshBefore(m.duration()) {
		return m.cur, Fetch{}, nil
	}
	c, err := m.mint(ctx)
	if err != nil {
		if m.cur.AccessKeyID != "" && m.cur.Expiration.Sub(now) > time.Minute {
			return m.cur, Fetch{}, nil
		}
		return Credentials{}, Fetch{}, err
	}
	m.cur = c
	return c, Fetch{Minted: true}, nil
}

func (m *Minter) mint(ctx context.Context) (Credentials, error) {
	if m.Mint != nil {
		return m.Mint(ctx)
	}
	if m.Key.AccessKeyID == "" || m.Key.SecretAccessKey == "" {
		return Credentials{}, &Error{Status: http.StatusInternalServerError, Code: "CredentialsIncomplete",
			Message: "the vault holds no complete AWS key (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"}
	}
	d := m.duration()
	if d < MinSessionDuration || d > MaxSessionDuration {
		return Credentials{}, fmt.Errorf("session duration %v is outside %v–%v", d, MinSessionDuration, MaxSessionDuration)
	}
	region := m.Region
	if region == "" {
		region = "us-east-1"
	}
	if err := CheckSettings(region, m.Endpoint); err != nil {
		return Credentials{}, &Error{Status: http.StatusInternalServerError, Code: "InvalidConfiguration", Message: err.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, stsTimeout)
	defer cancel()
	opts := sts.Options{
		Region:      region,
		Credentials: credentials.NewStaticCredentialsProvider(m.Key.AccessKeyID, m.Key.SecretAccessKey, ""),
		HTTPClient:  stsHTTPClient(m.RootCAs),
		// Two attempts: a retry rides out a blip, and the child's SDK
		// retries a 5xx from the endpoint itself.
		Retryer: retry.AddWithMaxAttempts(retry.NewStandard(), 2),
	}
	if m.Endpoint != "" {
		opts.BaseEndpoint = aws.String(m.Endpoint)
	}
	out, err := sts.New(opts).GetSessionToken(ctx, &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(int32(d / time.Second))})
	if err != nil {
		return Credentials{}, explainSTS(err, m.where(region))
	}
	c := out.Credentials
	if c == nil || aws.ToString(c.AccessKeyId) == "" || aws.ToString(c.SecretAccessKey) == "" || aws.ToString(c.SessionToken) == "" || c.Expiration == nil {
		return Credentials{}, &Error{Status: http.StatusBadGateway, Code: "STSInvalidResponse", Message: "STS answered GetSessionToken without complete credentials (" + m.where(region) + ")"}
	}
	return Credentials{
		AccessKeyID:     aws.ToString(c.AccessKeyId),
		SecretAccessKey: aws.ToString(c.SecretAccessKey),
		SessionToken:    aws.ToString(c.SessionToken),
		Expiration:      c.Expiration.UTC(),
	}, nil
}

func (m *Minter) where(region string) string {
	if m.Endpoint != "" {
		return "STS at " + m.Endpoint + ", from [aws] sts_endpoint"
	}
	return "STS in " + region
}

// explainSTS turns an STS failure into an Error the child may see: the
// AWS error code and phantom's own words, never the SDK's text (which
// could carry a request detail).
func explainSTS(err error, where string) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code := ae.ErrorCode()
		switch code {
		case "InvalidClientTokenId", "SignatureDoesNotMatch", "AccessDenied", "ExpiredToken", "InvalidAccessKeyId":
			return &Error{Status: http.StatusForbidden, Code: code,
				Message: fmt.Sprintf("%s refused the stored AWS key (%s): it was deleted, deactivated or is wrong, or it is not an IAM user's key; store a working key with `phantom add AWS_ACCESS_KEY_ID --stdin` and `phantom add AWS_SECRET_ACCESS_KEY --stdin`", where, code)}
		}
		return &Error{Status: http.StatusBadGateway, Code: "STSError",
			Message: fmt.Sprintf("%s answered GetSessionToken with %s; phantom serves no AWS credentials until it succeeds (the long-lived key is never served instead)", where, code)}
	}
	return &Error{Status: http.StatusBadGateway, Code: "STSUnreachable",
		Message: fmt.Sprintf("phantom could not reach %s to get short-lived AWS credentials (%s); it never serves the long-lived key instead: check the network, then retry", where, netReason(err))}
}

// netReason names the kind of network failure without quoting the error
// text (which repeats the request URL and could grow values one day).
func netReason(err error) string {
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("no answer within %v", stsTimeout)
	case errors.As(err, &dnsErr):
		return "DNS lookup failed"
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return "connection refused or no route"
	case errors.As(err, new(*tls.CertificateVerificationError)):
		return "its TLS certificate did not verify"
	}
	return "network error"
}

// stsHTTPClient never uses a forward proxy (HTTPS_PROXY is the caller's
// environment, which an agent can set) and verifies STS with roots.
func stsHTTPClient(roots *x509.CertPool) *http.Client {
	t := &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: 5 * time.Second,
		ForceAttemptHTTP2:     true,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots},
	}
	return &http.Client{Transport: t}
}
