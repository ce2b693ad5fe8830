package awscreds_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"phantomstack.dev/phantom/internal/awscreds"
)

const (
	testToken  = "phm-test-token-0123456789abcdef"
	testKeyID  = "AKIAPHANTOMTEST00001"
	testSecret = "s3cr3t/PHANTOM+value/do-not-leak-0000"
)

func staticCreds() (awscreds.Credentials, error) {
	return awscreds.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret}, nil
}

func serve(t *testing.T, h http.Handler, method, auth string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, "http://127.0.0.1/aws", nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// checkError asserts the error shape aws-sdk-go-v2 parses: exact
// Content-Type and a {"code","message"} body.
func checkError(t *testing.T, rec *httptest.ResponseRecorder, status int, code string) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status = %d, want %d", rec.Code, status)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	var body map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("error body is not JSON: %v", err)
	}
	if body["code"] != code || body["message"] == "" || len(body) != 2 {
		t.Errorf("error body = %v, want code %q and a message", body, code)
	}
	if strings.Contains(rec.Body.String(), testSecret) || strings.Contains(rec.Body.String(), testKeyID) {
		t.Errorf("error body leaks a credential value: %s", rec.Body)
	}
}

func TestHandlerRejectsMissingToken(t *testing.T) {
	called := false
	h := awscreds.Handler(testToken, func() (awscreds.Credentials, error) {
		called = true
		return staticCreds()
	})
	checkError(t, serve(t, h, http.MethodGet, ""), http.StatusUnauthorized, "Unauthorized")
	if called {
		t.Error("get was called for an unauthenticated request")
	}
}

func TestHandlerRejectsWrongToken(t *testing.T) {
	h := awscreds.Handler(testToken, staticCreds)
	for _, auth := range []string{"wrong", testToken + "x", testToken[:len(testToken)-1], "Bearer " + testToken} {
		checkError(t, serve(t, h, http.MethodGet, auth), http.StatusUnauthorized, "Unauthorized")
	}
}

func TestHandlerEmptyTokenRejectsEverything(t *testing.T) {
	h := awscreds.Handler("", staticCreds)
	checkError(t, serve(t, h, http.MethodGet, ""), http.StatusUnauthorized, "Unauthorized")
}

func TestHandlerRejectsNonGET(t *testing.T) {
	h := awscreds.Handler(testToken, staticCreds)
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodHead} {
		rec := serve(t, h, m, testToken)
		checkError(t, rec, http.StatusMethodNotAllowed, "MethodNotAllowed")
		if a := rec.Header().Get("Allow"); a != http.MethodGet {
			t.Errorf("%s: Allow = %q, want GET", m, a)
		}
	}
}

func TestHandlerServesCredentials(t *testing.T) {
	before := time.Now().Truncate(time.Second)
	h := awscreds.Handler(testToken, func() (awscreds.Credentials, error) {
		return awscreds.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret, SessionToken: "sess"}, nil
	})
	rec := serve(t, h, http.MethodGet, testToken)
	after := time.Now()
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200; body %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	var body map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 0, len(body))
	for k := range body {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"AccessKeyId", "Expiration", "SecretAccessKey", "Token"}; !slices.Equal(keys, want) {
		t.Fatalf("fields = %v, want %v", keys, want)
	}
	if body["AccessKeyId"] != testKeyID || body["SecretAccessKey"] != testSecret || body["Token"] != "sess" {
		t.Errorf("wrong values served (AccessKeyId %q)", body["AccessKeyId"])
	}
	if !strings.HasSuffix(body["Expiration"], "Z") {
		t.Errorf("Expiration %q is not UTC", body["Expiration"])
	}
	exp, err := time.Parse(time.RFC3339, body["Expiration"])
	if err != nil {
		t.Fatalf("Expiration: %v", err)
	}
	// With no expiry of its own the credential gets the rolling Lifetime.
	if exp.Before(before.Add(awscreds.Lifetime)) || exp.After(after.Add(awscreds.Lifetime)) {
		t.Errorf("Expiration = %v, want now+%v (requested between %v and %v)", exp, awscreds.Lifetime, before, after)
	}
}

func TestHandlerKeepsEarlierExpiration(t *testing.T) {
	own := time.Now().Add(3 * time.Minute).Truncate(time.Second)
	h := awscreds.Handler(testToken, func() (awscreds.Credentials, error) {
		return awscreds.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret, SessionToken: "sess", Expiration: own}, nil
	})
	rec := serve(t, h, http.MethodGet, testToken)
	var body map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if want := own.UTC().Format(time.RFC3339); body["Expiration"] != want {
		t.Errorf("Expiration = %q, want the credentials' own %q", body["Expiration"], want)
	}
}

func TestHandlerEmptySessionTokenIsPresent(t *testing.T) {
	// botocore and the JS SDK reject a response without a Token field.
	rec := serve(t, awscreds.Handler(testToken, staticCreds), http.MethodGet, testToken)
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if tok, ok := body["Token"]; !ok || tok != "" {
		t.Errorf("Token = %v (present %v), want an empty string", tok, ok)
	}
}

func TestHandlerCallsGetPerRequest(t *testing.T) {
	id := testKeyID
	h := awscreds.Handler(testToken, func() (awscreds.Credentials, error) {
		return awscreds.Credentials{AccessKeyID: id, SecretAccessKey: testSecret}, nil
	})
	for _, want := range []string{testKeyID, "AKIAROTATED000000002"} {
		id = want
		var body map[string]string
		if err := json.Unmarshal(serve(t, h, http.MethodGet, testToken).Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		if body["AccessKeyId"] != want {
			t.Errorf("AccessKeyId = %q, want %q", body["AccessKeyId"], want)
		}
	}
}

func TestHandlerGetErrorIs500WithoutDetails(t *testing.T) {
	h := awscreds.Handler(testToken, func() (awscreds.Credentials, error) {
		// An error that quotes values must not reach the body.
		return awscreds.Credentials{}, errors.New("vault: bad entry " + testKeyID + ":" + testSecret)
	})
	rec := serve(t, h, http.MethodGet, testToken)
	checkError(t, rec, http.StatusInternalServerError, "CredentialsUnavailable")
	if strings.Contains(rec.Body.String(), "vault") {
		t.Errorf("500 body carries the error text: %s", rec.Body)
	}
}

func TestHandlerIncompleteCredentialsIs500(t *testing.T) {
	for _, c := range []awscreds.Credentials{{AccessKeyID: testKeyID}, {SecretAccessKey: testSecret}} {
		h := awscreds.Handler(testToken, func() (awscreds.Credentials, error) { return c, nil })
		checkError(t, serve(t, h, http.MethodGet, testToken), http.StatusInternalServerError, "CredentialsIncomplete")
	}
}

func TestEnv(t *testing.T) {
	got := awscreds.Env("http://127.0.0.1:4242/aws", testToken)
	want := []string{
		"AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:4242/aws",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN=" + testToken,
	}
	if !slices.Equal(got, want) {
		t.Errorf("Env = %q, want %q", got, want)
	}
}
