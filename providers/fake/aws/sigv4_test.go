package awsfake

import (
	"context"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Requests signed by the SDK's own SigV4 signer, then broken on purpose.

type rawReq struct {
	method, path, query, body string
	service, region           string
	id, secret                string
	at                        time.Time
	s3                        bool
	payloadHash               string // S3: x-amz-content-sha256 (default: the body's hash)
	afterSign                 func(*http.Request)
}

type errDoc struct {
	Code    string `xml:"Error>Code"`
	Message string `xml:"Error>Message"`
	S3Code  string `xml:"Code"`
	S3Msg   string `xml:"Message"`
}

func send(t *testing.T, base string, rr rawReq) (int, string, string) {
	t.Helper()
	u := base + rr.path
	if rr.query != "" {
		u += "?" + rr.query
	}
	req, err := http.NewRequest(rr.method, u, strings.NewReader(rr.body))
	if err != nil {
		t.Fatal(err)
	}
	if !rr.s3 {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	}
	hash := sha256Hex([]byte(rr.body))
	if rr.s3 {
		if rr.payloadHash != "" {
			hash = rr.payloadHash
		}
		req.Header.Set("X-Amz-Content-Sha256", hash)
	}
	if rr.at.IsZero() {
		rr.at = time.Now()
	}
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = rr.s3 })
	creds := aws.Credentials{AccessKeyID: rr.id, SecretAccessKey: rr.secret}
	if err := signer.SignHTTP(context.Background(), creds, req, hash, rr.service, rr.region, rr.at); err != nil {
		t.Fatal(err)
	}
	if rr.afterSign != nil {
		rr.afterSign(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var d errDoc
	_ = xml.Unmarshal(b, &d)
	if rr.s3 {
		return resp.StatusCode, d.S3Code, d.S3Msg
	}
	return resp.StatusCode, d.Code, d.Message
}

func TestSigV4(t *testing.T) {
	srv := New(Options{Region: "eu-west-1"})
	base := srv.Start()
	defer srv.Close()
	id, secret := srv.BootstrapCredentials()

	getUser := "Action=GetUser&Version=2010-05-08"
	who := "Action=GetCallerIdentity&Version=2011-06-15"
	iamReq := rawReq{method: "POST", path: "/", body: getUser, service: "iam", region: "us-east-1", id: id, secret: secret}
	stsReq := rawReq{method: "POST", path: "/", body: who, service: "sts", region: "eu-west-1", id: id, secret: secret}
	s3Put := rawReq{method: "PUT", path: "/sig-bkt", service: "s3", region: "eu-west-1", id: id, secret: secret, s3: true,
		body: `<CreateBucketConfiguration><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>`}
	s3List := rawReq{method: "GET", path: "/sig-bkt", query: "list-type=2&prefix=a%20b%2Bc&delimiter=%2F", service: "s3", region: "eu-west-1", id: id, secret: secret, s3: true}

	with := func(r rawReq, f func(*rawReq)) rawReq { f(&r); return r }

	cases := []struct {
		name       string
		req        rawReq
		status     int
		code, text string
	}{
		{"iam ok", iamReq, 200, "", ""},
		{"iam GET query string", with(iamReq, func(r *rawReq) { r.method, r.body, r.query = "GET", "", getUser }), 200, "", ""},
		{"sts ok", stsReq, 200, "", ""},
		{"s3 create ok", s3Put, 200, "", ""},
		{"s3 list with encoded query ok", s3List, 200, "", ""},
		{"s3 key with spaces and plus ok", with(s3List, func(r *rawReq) {
			r.method, r.path, r.query, r.body = "PUT", "/sig-bkt/a%20b%2Bc/d.txt", "x-id=PutObject", "data"
		}), 200, "", ""},
		{"s3 unsigned payload ok", with(s3List, func(r *rawReq) { r.payloadHash = unsignedPayload }), 200, "", ""},

		{"iam wrong secret", with(iamReq, func(r *rawReq) { r.secret = strings.Repeat("x", 40) }), 403, "SignatureDoesNotMatch", "Check your AWS Secret Access Key"},
		{"s3 wrong secret", with(s3List, func(r *rawReq) { r.secret = strings.Repeat("x", 40) }), 403, "SignatureDoesNotMatch", "Check your key and signing method"},
		{"iam unknown key", with(iamReq, func(r *rawReq) { r.id = "AKIAAAAAAAAAAAAAAAAA" }), 403, "InvalidClientTokenId", "security token included in the request is invalid"},
		{"sts unknown key", with(stsReq, func(r *rawReq) { r.id = "AKIAAAAAAAAAAAAAAAAA" }), 403, "InvalidClientTokenId", ""},
		{"s3 unknown key", with(s3List, func(r *rawReq) { r.id = "AKIAAAAAAAAAAAAAAAAA" }), 403, "InvalidAccessKeyId", "does not exist in our records"},
		{"iam tampered body", with(iamReq, func(r *rawReq) {
			r.afterSign = func(q *http.Request) {
				b := "Action=CreateUser&Version=2010-05-08&UserName=evil"
				q.Body, q.ContentLength = io.NopCloser(strings.NewReader(b)), int64(len(b))
				q.Header.Del("Content-Length")
			}
		}), 403, "SignatureDoesNotMatch", ""},
		{"s3 tampered body", with(s3List, func(r *rawReq) {
			r.method, r.path, r.query, r.body = "PUT", "/sig-bkt/k", "", "original"
			r.afterSign = func(q *http.Request) {
				q.Body, q.ContentLength = io.NopCloser(strings.NewReader("tampered")), 8
			}
		}), 400, "XAmzContentSHA256Mismatch", ""},
		{"s3 tampered query", with(s3List, func(r *rawReq) {
			r.afterSign = func(q *http.Request) { q.URL.RawQuery = "list-type=2&prefix=other" }
		}), 403, "SignatureDoesNotMatch", ""},
		{"iam skewed past", with(iamReq, func(r *rawReq) { r.at = time.Now().Add(-20 * time.Minute) }), 403, "SignatureDoesNotMatch", "Signature expired"},
		{"sts skewed future", with(stsReq, func(r *rawReq) { r.at = time.Now().Add(20 * time.Minute) }), 403, "SignatureDoesNotMatch", "Signature not yet current"},
		{"s3 skewed", with(s3List, func(r *rawReq) { r.at = time.Now().Add(-16 * time.Minute) }), 403, "RequestTimeTooSkewed", ""},
		{"iam wrong region", with(iamReq, func(r *rawReq) { r.region = "eu-west-1" }), 403, "SignatureDoesNotMatch", "valid region"},
		{"sts wrong region", with(stsReq, func(r *rawReq) { r.region = "us-west-2" }), 403, "SignatureDoesNotMatch", "valid region"},
		{"s3 wrong region", with(s3List, func(r *rawReq) { r.region = "us-east-1" }), 400, "AuthorizationHeaderMalformed", "expecting 'eu-west-1'"},
		{"session token not issued", with(stsReq, func(r *rawReq) {
			r.afterSign = func(q *http.Request) { q.Header.Set("X-Amz-Security-Token", "tok") }
		}), 403, "InvalidClientTokenId", ""},
		{"iam unsigned", with(iamReq, func(r *rawReq) {
			r.afterSign = func(q *http.Request) { q.Header.Del("Authorization") }
		}), 403, "MissingAuthenticationToken", ""},
		{"s3 unsigned", with(s3List, func(r *rawReq) {
			r.afterSign = func(q *http.Request) { q.Header.Del("Authorization") }
		}), 403, "AccessDenied", ""},
		{"s3 without content sha", with(s3List, func(r *rawReq) {
			r.afterSign = func(q *http.Request) { q.Header.Del("X-Amz-Content-Sha256") }
		}), 400, "InvalidRequest", "x-amz-content-sha256"},
		{"iam unknown action", with(iamReq, func(r *rawReq) { r.body = "Action=CreateRole&Version=2010-05-08" }), 400, "InvalidAction", "CreateRole"},
		{"iam wrong version", with(iamReq, func(r *rawReq) { r.body = "Action=GetUser&Version=2011-06-15" }), 400, "InvalidAction", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, code, msg := send(t, base, c.req)
			if status != c.status || code != c.code || !strings.Contains(msg, c.text) {
				t.Fatalf("got %d %s %q, want %d %s ~%q", status, code, msg, c.status, c.code, c.text)
			}
		})
	}
	if o, ok := srv.Object("sig-bkt", "a b+c/d.txt"); !ok || string(o.Body) != "data" {
		t.Fatalf("object with an escaped key: %+v %v", o, ok)
	}
}

func TestCanonicalQuerySortsAfterEncoding(t *testing.T) {
	got, err := canonicalQuery("b=2&a=z&a=%41&c&~x=%20")
	if err != nil {
		t.Fatal(err)
	}
	if want := "a=A&a=z&b=2&c=&~x=%20"; got != want {
		t.Fatalf("canonicalQuery = %q, want %q", got, want)
	}
	if _, err := url.ParseQuery("%zz"); err == nil {
		t.Fatal("expected a bad escape to fail")
	}
	if _, err := canonicalQuery("a=%zz"); err == nil {
		t.Fatal("canonicalQuery accepted a bad escape")
	}
}
