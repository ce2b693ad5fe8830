// Package awsfake is a strict, offline stand-in for the parts of AWS IAM, STS
// and S3 that stack's AWS provider uses. One http.Handler serves all three on
// one loopback port and routes each request by the service named in its SigV4
// credential scope. Every request must carry a valid SigV4 signature made with
// a key the fake knows (the bootstrap key from Options, or one created through
// CreateAccessKey); wire shapes, status codes and error codes follow the public
// AWS API references (see docs/providers.md, "AWS (IAM, STS, S3)").
//
// Clients reach it with a custom endpoint: aws-sdk-go-v2 BaseEndpoint (or
// AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_IAM/_STS/_S3), UsePathStyle for S3, and
// Region "us-east-1" for IAM (IAM is a global service signed in us-east-1).
package awsfake

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"time"
)

// Options configures a Server. The zero value is usable: it serves account
// 123456789012 in us-east-1 with a freshly generated bootstrap admin key.
type Options struct {
	// AccountID is the 12-digit account every ARN is in (default 123456789012).
	AccountID string
	// Region is the region this endpoint serves for STS and S3 (default
	// us-east-1). IAM requests must always be signed for us-east-1.
	Region string

	// BootstrapAccessKeyID / BootstrapSecretAccessKey are the credentials of
	// the bootstrap identity (the user's own AWS credentials in real life).
	// Generated in the real format when empty; read them back with
	// BootstrapCredentials.
	BootstrapAccessKeyID     string
	BootstrapSecretAccessKey string
	// BootstrapUserName names the bootstrap IAM user (default "bootstrap").
	BootstrapUserName string
	// BootstrapPolicy, when set, is an IAM policy document that limits what
	// the bootstrap identity may do (to test "bootstrap lacks iam:CreateUser").
	// Empty means administrator access.
	BootstrapPolicy string

	// KeyPropagationDelay is how long a newly created access key is rejected
	// with InvalidClientTokenId / InvalidAccessKeyId, like IAM's eventual
	// consistency (seconds in real life). Zero means immediately usable.
	KeyPropagationDelay time.Duration

	// MaxSkew is the allowed distance between the request's signing time and
	// the server clock (default 15 minutes, as AWS).
	MaxSkew time.Duration

	// Now is the server clock (default time.Now). Tests inject one to step
	// over KeyPropagationDelay without sleeping.
	Now func() time.Time

	// TakenBucketNames are bucket names owned by "another account":
	// CreateBucket on them fails with BucketAlreadyExists.
	TakenBucketNames []string

	// Logf, when set, receives one line per request (never secrets).
	Logf func(format string, args ...any)
}

// Tag is an IAM or S3 tag.
type Tag struct{ Key, Value string }

// User is an introspection copy of an IAM user.
type User struct {
	UserName, UserID, Arn, Path string
	CreateDate                  time.Time
	Tags                        []Tag
	// Policies maps inline policy name to its JSON document.
	Policies map[string]string
}

// AccessKey is an introspection copy of an access key (without its secret).
type AccessKey struct {
	AccessKeyID, UserName, Status string
	CreateDate                    time.Time
}

// Object is an introspection copy of an S3 object.
type Object struct {
	Key, ContentType, ETag string
	Body                   []byte
}

// Bucket is an introspection copy of an S3 bucket.
type Bucket struct {
	Name, Region string
	CreateDate   time.Time
	Tags         []Tag
	Keys         []string
}

type user struct {
	name, path, id, arn string
	created             time.Time
	tags                []Tag
	policies            map[string]string
	bootstrap           bool
}

// session is a set of temporary credentials GetSessionToken issued: an
// ASIA… key ID, its secret and the session token every request signed with
// it must carry, valid until expires for the user who asked.
type session struct {
	id, secret, token string
	userName          string
	expires           time.Time
}

type accessKey struct {
	id, secret, userName string // userName of the owning user
	status               string // Active | Inactive
	created              time.Time
}

type object struct {
	data        []byte
	contentType string
	etag        string
	modified    time.Time
	checksums   map[string]string // x-amz-checksum-<algo> → base64
}

type bucket struct {
	name, region string
	created      time.Time
	tags         []Tag
	objects      map[string]*object
}

// Server is the fake. Its methods are safe for concurrent use.
type Server struct {
	opts Options

	mu        sync.Mutex
	bootstrap *user
	users     map[string]*user // by lower-case name: IAM names are case-insensitive
	keys      map[string]*accessKey
	sessions  map[string]*session // by ASIA… key ID
	buckets   map[string]*bucket
	taken     map[string]bool
	faults    []*faultState
	calls     map[string]int
	created   Counts

	ts *httptest.Server
}

// New builds a Server; call Start to listen, or mount it as an http.Handler.
func New(opts Options) *Server {
	if opts.AccountID == "" {
		opts.AccountID = "123456789012"
	}
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.BootstrapUserName == "" {
		opts.BootstrapUserName = "bootstrap"
	}
	if opts.MaxSkew == 0 {
		opts.MaxSkew = 15 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.BootstrapAccessKeyID == "" {
		opts.BootstrapAccessKeyID = newID("AKIA")
	}
	if opts.BootstrapSecretAccessKey == "" {
		opts.BootstrapSecretAccessKey = newSecret()
	}
	s := &Server{
		opts:     opts,
		users:    map[string]*user{},
		keys:     map[string]*accessKey{},
		sessions: map[string]*session{},
		buckets:  map[string]*bucket{},
		taken:    map[string]bool{},
		calls:    map[string]int{},
	}
	for _, n := range opts.TakenBucketNames {
		s.taken[n] = true
	}
	now := opts.Now().UTC()
	s.bootstrap = &user{
		name: opts.BootstrapUserName, path: "/", id: newID("AIDA"),
		arn:     s.userARN("/", opts.BootstrapUserName),
		created: now, policies: map[string]string{}, bootstrap: true,
	}
	if opts.BootstrapPolicy != "" {
		s.bootstrap.policies["bootstrap"] = opts.BootstrapPolicy
	}
	s.users[strings.ToLower(s.bootstrap.name)] = s.bootstrap
	// The bootstrap key predates the test: no propagation delay.
	s.keys[opts.BootstrapAccessKeyID] = &accessKey{
		id: opts.BootstrapAccessKeyID, secret: opts.BootstrapSecretAccessKey,
		userName: opts.BootstrapUserName, status: "Active", created: now.Add(-24 * time.Hour),
	}
	return s
}

// Start listens on 127.0.0.1 on a free port and returns the base URL
// (http://127.0.0.1:PORT). Close stops it.
func (s *Server) Start() string {
	s.ts = httptest.NewServer(s)
	return s.ts.URL
}

// StartOn listens on a fixed loopback address such as "127.0.0.1:4566"
// (for a launcher that prints stable endpoints) and returns the base URL.
// Non-loopback addresses are refused: the fake is a local sandbox.
func (s *Server) StartOn(addr string) (string, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", fmt.Errorf("awsfake: refusing to listen on %s: only loopback addresses are allowed", addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	s.ts = httptest.NewUnstartedServer(s)
	_ = s.ts.Listener.Close()
	s.ts.Listener = l
	s.ts.Start()
	return s.ts.URL, nil
}

// URL is the base URL after Start ("" before).
func (s *Server) URL() string {
	if s.ts == nil {
		return ""
	}
	return s.ts.URL
}

// Close stops the listener started by Start.
func (s *Server) Close() {
	if s.ts != nil {
		s.ts.Close()
	}
}

// AccountID is the account every ARN is in.
func (s *Server) AccountID() string { return s.opts.AccountID }

// Region is the region this endpoint serves for STS and S3.
func (s *Server) Region() string { return s.opts.Region }

// BootstrapCredentials returns the bootstrap identity's access key pair.
func (s *Server) BootstrapCredentials() (accessKeyID, secretAccessKey string) {
	return s.opts.BootstrapAccessKeyID, s.opts.BootstrapSecretAccessKey
}

// BootstrapARN is the bootstrap identity's ARN.
func (s *Server) BootstrapARN() string { return s.bootstrap.arn }

func (s *Server) userARN(path, name string) string {
	return "arn:aws:iam::" + s.opts.AccountID + ":user" + path + name
}

func (s *Server) now() time.Time { return s.opts.Now().UTC() }

func (s *Server) logf(format string, args ...any) {
	if s.opts.Logf != nil {
		s.opts.Logf(format, args...)
	}
}

// maxBody bounds what the fake buffers per request.
const maxBody = 32 << 20

// ServeHTTP routes by the SigV4 scope's service after verifying the signature.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := newRequestID()
	w.Header().Set("Date", s.now().Format(http.TimeFormat))

	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
		return
	}
	if len(body) > maxBody {
		writeS3Error(w, r, reqID, &apiError{Status: 400, Code: "EntityTooLarge", Message: "Your proposed upload exceeds the maximum allowed object size."})
		return
	}

	svc := guessService(r, body)
	p, sess, aerr := s.authenticate(r, body, svc)
	if aerr != nil {
		s.logf("awsfake: %s %s %s -> %d %s", svc, r.Method, r.URL.Path, aerr.Status, aerr.Code)
		if svc == "s3" {
			writeS3Error(w, r, reqID, aerr)
		} else {
			writeQueryError(w, svc, reqID, aerr)
		}
		return
	}
	switch svc {
	case "iam", "sts":
		s.serveQuery(w, r, body, svc, p, sess, reqID)
	case "s3":
		s.serveS3(w, r, body, p, reqID)
	}
}

// guessService decides the error format before the signature is parsed: a
// form-encoded Action is the query protocol, anything else S3.
func guessService(r *http.Request, body []byte) string {
	if a, err := parseAuthorization(r.Header.Get("Authorization")); err == nil {
		switch a.Service {
		case "iam", "sts", "s3":
			return a.Service
		}
	}
	for _, a := range []string{"GetCallerIdentity", "GetSessionToken"} {
		if strings.Contains(string(body), "Action="+a) || r.URL.Query().Get("Action") == a {
			return "sts"
		}
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") || r.URL.Query().Get("Action") != "" {
		return "iam"
	}
	return "s3"
}

// ---- faults ----

// Fault makes the Nth call of an operation fail.
type Fault struct {
	// Action is the operation name as the SDK calls it: "CreateUser",
	// "PutUserPolicy", "CreateAccessKey", "GetCallerIdentity", "CreateBucket",
	// "HeadBucket", "PutObject", "ListObjectsV2", ...
	Action string
	// Nth is which call fails, counted from when the fault is added (1, or 0,
	// means the next one).
	Nth int
	// Times is how many calls in a row fail from the Nth on (0 means 1,
	// negative means every call from then on).
	Times int
	// Status, Code and Message are the error returned in the service's own
	// error shape (query ErrorResponse for IAM/STS, S3 Error for S3).
	Status  int
	Code    string
	Message string
}

type faultState struct {
	Fault
	seen int
}

// AddFault registers a fault. Faults apply after the signature is verified,
// so a faulted request still had to be correctly signed.
func (s *Server) AddFault(f Fault) {
	if f.Nth <= 0 {
		f.Nth = 1
	}
	if f.Times == 0 {
		f.Times = 1
	}
	if f.Message == "" {
		f.Message = "injected fault"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &faultState{Fault: f})
}

// Throttle makes `times` calls of action fail, starting with the nth, the way
// AWS throttles: IAM/STS "Throttling" (400, "Rate exceeded"), S3 "SlowDown"
// (503). The SDKs retry both.
func (s *Server) Throttle(action string, nth, times int) {
	f := Fault{Action: action, Nth: nth, Times: times, Status: 400, Code: "Throttling", Message: "Rate exceeded"}
	if s3Actions[action] {
		f.Status, f.Code, f.Message = 503, "SlowDown", "Please reduce your request rate."
	}
	s.AddFault(f)
}

// ClearFaults removes every registered fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// Calls is how many authenticated calls of action arrived (faulted ones too).
func (s *Server) Calls(action string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[action]
}

// checkFault counts a call and returns the injected error, if any. Caller holds no lock.
func (s *Server) checkFault(action string) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[action]++
	for _, f := range s.faults {
		if f.Action != action {
			continue
		}
		f.seen++
		if f.seen >= f.Nth && (f.Times < 0 || f.seen < f.Nth+f.Times) {
			return &apiError{Status: f.Status, Code: f.Code, Message: f.Message, receiver: f.Status >= 500}
		}
	}
	return nil
}

// ---- revocation and introspection ----

// DeleteAccessKey removes a key from the test side (revocation); false when unknown.
func (s *Server) DeleteAccessKey(accessKeyID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keys[accessKeyID]; !ok {
		return false
	}
	delete(s.keys, accessKeyID)
	return true
}

// SetAccessKeyStatus sets a key Active or Inactive from the test side.
func (s *Server) SetAccessKeyStatus(accessKeyID, status string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[accessKeyID]
	if !ok || (status != "Active" && status != "Inactive") {
		return false
	}
	k.status = status
	return true
}

// SecretAccessKey returns the secret of a key the fake issued, for leak
// tests that must grep for it (introspection only: the API never returns a
// secret again after CreateAccessKey).
func (s *Server) SecretAccessKey(accessKeyID string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[accessKeyID]
	if !ok {
		return "", false
	}
	return k.secret, true
}

// Session is an introspection copy of temporary credentials GetSessionToken
// issued (without the secret or the token).
type Session struct {
	AccessKeyID, UserName string
	Expiration            time.Time
}

// Sessions lists the temporary credentials issued so far, soonest expiry
// first (expired ones too).
func (s *Server) Sessions() []Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Session, 0, len(s.sessions))
	for _, ss := range s.sessions {
		out = append(out, Session{AccessKeyID: ss.id, UserName: ss.userName, Expiration: ss.expires})
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Expiration.Equal(out[j].Expiration) {
			return out[i].Expiration.Before(out[j].Expiration)
		}
		return out[i].AccessKeyID < out[j].AccessKeyID
	})
	return out
}

// SessionSecret returns the secret and token of a session the fake issued,
// for leak tests (introspection only).
func (s *Server) SessionSecret(accessKeyID string) (secret, token string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.sessions[accessKeyID]
	if !ok {
		return "", "", false
	}
	return ss.secret, ss.token, true
}

// Counts says how many of each resource were ever created through the API
// (deleted ones too): a resumed run that adopts instead of creating again
// leaves them unchanged.
type Counts struct {
	Users, Buckets, AccessKeys int
}

// Created returns the creation counts. A CreateBucket that answered 200 for
// a bucket the caller already owned (us-east-1) does not count.
func (s *Server) Created() Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.created
}

// Users lists the IAM users created through the API (not the bootstrap one), by name.
func (s *Server) Users() []User {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]User, 0, len(s.users))
	for _, u := range s.users {
		if u.bootstrap {
			continue
		}
		out = append(out, u.snapshot())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UserName < out[j].UserName })
	return out
}

// User returns one user by name (case-insensitive, like IAM).
func (s *Server) User(name string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[strings.ToLower(name)]
	if !ok || u.bootstrap {
		return User{}, false
	}
	return u.snapshot(), true
}

func (u *user) snapshot() User {
	pol := make(map[string]string, len(u.policies))
	for k, v := range u.policies {
		pol[k] = v
	}
	return User{UserName: u.name, UserID: u.id, Arn: u.arn, Path: u.path, CreateDate: u.created,
		Tags: append([]Tag(nil), u.tags...), Policies: pol}
}

// AccessKeys lists a user's keys (without secrets), oldest first.
func (s *Server) AccessKeys(userName string) []AccessKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keysOfLocked(userName)
}

func (s *Server) keysOfLocked(userName string) []AccessKey {
	var out []AccessKey
	for _, k := range s.keys {
		if strings.EqualFold(k.userName, userName) {
			out = append(out, AccessKey{AccessKeyID: k.id, UserName: k.userName, Status: k.status, CreateDate: k.created})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreateDate.Equal(out[j].CreateDate) {
			return out[i].CreateDate.Before(out[j].CreateDate)
		}
		return out[i].AccessKeyID < out[j].AccessKeyID
	})
	return out
}

// Buckets lists the buckets, by name.
func (s *Server) Buckets() []Bucket {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Bucket, 0, len(s.buckets))
	for _, b := range s.buckets {
		keys := make([]string, 0, len(b.objects))
		for k := range b.objects {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out = append(out, Bucket{Name: b.name, Region: b.region, CreateDate: b.created, Tags: append([]Tag(nil), b.tags...), Keys: keys})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Object returns a copy of one object.
func (s *Server) Object(bucketName, key string) (Object, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.buckets[bucketName]
	if !ok {
		return Object{}, false
	}
	o, ok := b.objects[key]
	if !ok {
		return Object{}, false
	}
	return Object{Key: key, ContentType: o.contentType, ETag: o.etag, Body: append([]byte(nil), o.data...)}, true
}

// ---- ids ----

// base32 alphabet of real AWS ids (AKIA…, AIDA…).
const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

func newID(prefix string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = idAlphabet[int(b[i])%len(idAlphabet)]
	}
	return prefix + string(b)
}

const secretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

func newSecret() string {
	b := make([]byte, 40)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = secretAlphabet[int(b[i])%len(secretAlphabet)]
	}
	return string(b)
}

// newSessionToken is an opaque token shaped like STS's (long, base64).
func newSessionToken() string {
	b := make([]byte, 192)
	_, _ = rand.Read(b)
	return "IQoJb3JpZ2luX2Vj" + base64.StdEncoding.EncodeToString(b)
}

func newRequestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return fmt.Sprintf("%s-%s-%s-%s-%s", h[:8], h[8:12], h[12:16], h[16:20], h[20:])
}
