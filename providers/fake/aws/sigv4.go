package awsfake

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// SigV4 verification, written from the spec
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html)
// and checked in tests against aws-sdk-go-v2's own signer.

const (
	sigAlgorithm  = "AWS4-HMAC-SHA256"
	amzDateFormat = "20060102T150405Z"
	scopeDate     = "20060102"

	unsignedPayload = "UNSIGNED-PAYLOAD"
)

// authHeader is a parsed "AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…".
type authHeader struct {
	AccessKeyID   string
	Date          string // yyyymmdd from the scope
	Region        string
	Service       string
	Terminator    string
	SignedHeaders []string
	Signature     string
}

func (a authHeader) scope() string {
	return a.Date + "/" + a.Region + "/" + a.Service + "/" + a.Terminator
}

// parseAuthorization parses the Authorization header; the error text is what
// AWS would say in an IncompleteSignature / AuthorizationHeaderMalformed error.
func parseAuthorization(h string) (authHeader, error) {
	var a authHeader
	alg, rest, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || alg != sigAlgorithm {
		return a, fmt.Errorf("Unsupported authorization type; only %s is accepted", sigAlgorithm)
	}
	fields := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return a, fmt.Errorf("Authorization header is malformed: %q is not key=value", part)
		}
		fields[k] = v
	}
	for _, k := range []string{"Credential", "SignedHeaders", "Signature"} {
		if fields[k] == "" {
			return a, fmt.Errorf("Authorization header requires '%s' parameter. Authorization=%s", k, alg)
		}
	}
	cred := strings.Split(fields["Credential"], "/")
	if len(cred) != 5 {
		return a, fmt.Errorf("Credential should be scoped to a valid region, service and terminator: %q", fields["Credential"])
	}
	a.AccessKeyID, a.Date, a.Region, a.Service, a.Terminator = cred[0], cred[1], cred[2], cred[3], cred[4]
	a.SignedHeaders = strings.Split(fields["SignedHeaders"], ";")
	a.Signature = fields["Signature"]
	return a, nil
}

// requestTime reads X-Amz-Date (or, failing that, Date).
func requestTime(r *http.Request) (time.Time, string, error) {
	if v := r.Header.Get("X-Amz-Date"); v != "" {
		t, err := time.Parse(amzDateFormat, v)
		if err != nil {
			return time.Time{}, "", fmt.Errorf("Invalid X-Amz-Date %q: want yyyyMMddTHHmmssZ", v)
		}
		return t, v, nil
	}
	if v := r.Header.Get("Date"); v != "" {
		t, err := http.ParseTime(v)
		if err != nil {
			return time.Time{}, "", fmt.Errorf("Invalid Date header %q", v)
		}
		return t.UTC(), t.UTC().Format(amzDateFormat), nil
	}
	return time.Time{}, "", fmt.Errorf("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
}

// canonicalRequest rebuilds the canonical request from what arrived on the wire.
// S3 signs the path as sent; every other service escapes it once more.
func canonicalRequest(r *http.Request, signedHeaders []string, payloadHash string, s3 bool) (string, error) {
	rawPath := r.RequestURI
	if i := strings.IndexByte(rawPath, '?'); i >= 0 {
		rawPath = rawPath[:i]
	}
	if rawPath == "" {
		rawPath = "/"
	}
	uri := rawPath
	if !s3 {
		uri = escapeRFC3986(rawPath, true)
	}

	query, err := canonicalQuery(r.URL.RawQuery)
	if err != nil {
		return "", err
	}

	var hdrs strings.Builder
	for _, name := range signedHeaders {
		var vals []string
		switch name {
		case "host":
			vals = []string{r.Host}
		case "content-length":
			if v := r.Header.Get("Content-Length"); v != "" {
				vals = []string{v}
			} else {
				vals = []string{strconv.FormatInt(r.ContentLength, 10)}
			}
		default:
			vals = r.Header.Values(name)
		}
		if vals == nil {
			return "", fmt.Errorf("signed header %q is not present in the request", name)
		}
		clean := make([]string, len(vals))
		for i, v := range vals {
			clean[i] = strings.Join(strings.Fields(v), " ")
		}
		hdrs.WriteString(name)
		hdrs.WriteByte(':')
		hdrs.WriteString(strings.Join(clean, ","))
		hdrs.WriteByte('\n')
	}

	return strings.Join([]string{
		r.Method,
		uri,
		query,
		hdrs.String(),
		strings.Join(signedHeaders, ";"),
		payloadHash,
	}, "\n"), nil
}

func canonicalQuery(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	var pairs []string
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		dk, err := url.QueryUnescape(k)
		if err != nil {
			return "", fmt.Errorf("malformed query string")
		}
		dv, err := url.QueryUnescape(v)
		if err != nil {
			return "", fmt.Errorf("malformed query string")
		}
		pairs = append(pairs, escapeRFC3986(dk, false)+"="+escapeRFC3986(dv, false))
	}
	// Sorting happens after encoding (the spec, and the SDK, say so).
	sort.Strings(pairs)
	return strings.Join(pairs, "&"), nil
}

// escapeRFC3986 percent-encodes every byte outside A-Z a-z 0-9 - _ . ~ (and
// '/' when keepSlash), upper-case hex, as SigV4 and IAM's policy documents use.
func escapeRFC3986(s string, keepSlash bool) string {
	const hexd = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '~', keepSlash && c == '/':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexd[c>>4])
			b.WriteByte(hexd[c&15])
		}
	}
	return b.String()
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// signature computes the SigV4 signature for a canonical request.
func signature(secret string, a authHeader, amzDate, canonical string) string {
	stringToSign := sigAlgorithm + "\n" + amzDate + "\n" + a.scope() + "\n" + sha256Hex([]byte(canonical))
	k := hmacSHA256([]byte("AWS4"+secret), a.Date)
	k = hmacSHA256(k, a.Region)
	k = hmacSHA256(k, a.Service)
	k = hmacSHA256(k, a.Terminator)
	return hex.EncodeToString(hmacSHA256(k, stringToSign))
}

// signatureMatches compares in constant time.
func signatureMatches(got, want string) bool {
	g, err := hex.DecodeString(got)
	if err != nil {
		return false
	}
	w, _ := hex.DecodeString(want)
	return hmac.Equal(g, w)
}
