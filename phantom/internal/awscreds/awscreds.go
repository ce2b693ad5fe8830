// Package awscreds serves AWS credentials to a child process through the
// SDKs' container-credentials endpoint, so that AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY never enter the child's environment, and so that
// what the child can fetch is short-lived.
//
// Every AWS SDK's default credential chain honours
// AWS_CONTAINER_CREDENTIALS_FULL_URI (plain http is accepted only for
// loopback hosts) and sends AWS_CONTAINER_AUTHORIZATION_TOKEN verbatim as the
// Authorization header. phantom sets both for the child (see Env) and mounts
// Handler on its loopback listener. Anything that can read the child's
// environment can fetch what the endpoint serves, so the endpoint does not
// serve the stored long-lived key: Minter exchanges it with STS
// GetSessionToken for session credentials (ASIA…, with a Token and an
// Expiration, one hour by default) and serves those. The long-lived key is
// only ever sent, signed, to STS.
//
// # Wire format
//
// Success is 200 with
//
//	{"AccessKeyId":"…","SecretAccessKey":"…","Token":"…","Expiration":"2026-01-02T15:04:05Z"}
//
// Token and Expiration are always present: botocore and the JS SDK v3 reject
// a response without them (Token may be empty for IAM user keys; the SDKs
// only send X-Amz-Security-Token when it is non-empty). Failures are 4xx/5xx
// with Content-Type exactly "application/json" (aws-sdk-go-v2 compares the
// header verbatim before parsing) and a body {"code":"…","message":"…"},
// which the SDKs put in their error.
//
// # Expiration
//
// Session credentials are served with their own Expiration. Credentials
// without one (a key served as it is: stored temporary credentials, or a
// long-lived key the project approved serving) would be treated as static
// by aws-sdk-go-v2 (CanExpire=false): the SDK caches them for the life of
// the process and never asks again, so a long-running child would keep
// signing with a key that `phantom rotate` has replaced. So they get a
// short rolling window of now+Lifetime. Lifetime is 20 minutes because the
// SDKs refresh a fixed window before expiry: aws-sdk-go-v2 and the JS SDK 5
// minutes, botocore 15 (advisory) and 10 (mandatory). 20 minutes therefore
// makes every SDK re-fetch within at most 15 minutes of a rotation, while
// botocore still caches for 5 minutes instead of re-fetching on every call
// as it would with a 15-minute lifetime.
package awscreds

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"time"
)

// Lifetime is the rolling expiry given to credentials that have none of
// their own; see the package documentation for why it is not longer or
// shorter.
const Lifetime = 20 * time.Minute

// Environment variable names read by the AWS SDKs.
const (
	EnvFullURI   = "AWS_CONTAINER_CREDENTIALS_FULL_URI"
	EnvAuthToken = "AWS_CONTAINER_AUTHORIZATION_TOKEN"
)

// Credentials are the values served to the child.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	Expiration      time.Time // zero = none; Handler then serves now+Lifetime
}

// response is the success body; the field names are the SDKs' wire names.
type response struct {
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
	Token           string `json:"Token"`
	Expiration      string `json:"Expiration"`
}

// Handler serves the credentials to a caller that presents authToken in the
// Authorization header; anyone else gets 401. Only GET is allowed (405
// otherwise). get is called on every request (it caches, see Minter). An
// *Error from get is served with its status, code and message, which phantom
// wrote; any other error becomes a 500 whose body says nothing about it,
// since an error message could quote a value. An empty authToken rejects every
// request rather than accepting a missing header. Handler never logs.
func Handler(authToken string, get func() (Credentials, error)) http.Handler {
	// Comparing digests keeps the comparison constant-time regardless of the
	// presented token's length.
	want := sha256.Sum256([]byte(authToken))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Type", "application/json")

		got := sha256.Sum256([]byte(r.Header.Get("Authorization")))
		if authToken == "" || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			writeError(w, http.StatusUnauthorized, "Unauthorized", "missing or invalid authorization token")
			return
		}
		if r.Method != http.MethodGet {
			h.Set("Allow", http.MethodGet)
			writeError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "only GET is supported")
			return
		}

		c, err := get()
		if err != nil {
			var e *Error
			if errors.As(err, &e) {
				writeError(w, e.Status, e.Code, e.Message)
				return
			}
			writeError(w, http.StatusInternalServerError, "CredentialsUnavailable", "phantom could not load the AWS credentials")
			return
		}
		if c.AccessKeyID == "" || c.SecretAccessKey == "" {
			// Serving empty keys would surface later as a confusing signing
			// failure in the child; fail here instead.
			writeError(w, http.StatusInternalServerError, "CredentialsIncomplete", "the stored AWS credentials are incomplete")
			return
		}

		exp := c.Expiration
		if exp.IsZero() {
			exp = time.Now().Add(Lifetime)
		}
		body, err := json.Marshal(response{
			AccessKeyID:     c.AccessKeyID,
			SecretAccessKey: c.SecretAccessKey,
			Token:           c.SessionToken,
			// Whole seconds in UTC, the format ECS itself serves; every SDK
			// parses it.
			Expiration: exp.UTC().Format(time.RFC3339),
		})
		if err != nil {
			writeError(w, http.StatusInternalServerError, "InternalError", "could not encode the credentials")
			return
		}
		w.WriteHeader(http.StatusOK)
		w.Write(body)
	})
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	body, _ := json.Marshal(struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}{code, message})
	w.WriteHeader(status)
	w.Write(body)
}

// Env returns the environment entries that point the child's AWS SDK at the
// endpoint: fullURI is the loopback URL Handler is served at (base URL plus
// path) and authToken the value Handler expects.
func Env(fullURI, authToken string) []string {
	return []string{
		EnvFullURI + "=" + fullURI,
		EnvAuthToken + "=" + authToken,
	}
}
