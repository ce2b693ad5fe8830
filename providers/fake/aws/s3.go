package awsfake

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/xml"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// S3 is REST+XML, path-style here: /{bucket} and /{bucket}/{key}. (Virtual-
// hosted style needs DNS for bucket.127.0.0.1, so clients set UsePathStyle.)

const s3Namespace = "http://s3.amazonaws.com/doc/2006-03-01/"
const s3Time = "2006-01-02T15:04:05.000Z"

// s3Actions names the operations, as the SDK does, for faults and throttling.
var s3Actions = map[string]bool{
	"ListBuckets": true, "CreateBucket": true, "HeadBucket": true, "DeleteBucket": true,
	"GetBucketLocation": true, "PutBucketTagging": true, "GetBucketTagging": true, "DeleteBucketTagging": true,
	"ListObjectsV2": true, "PutObject": true, "GetObject": true, "HeadObject": true, "DeleteObject": true,
}

// Query parameters the fake understands; any other sub-resource is NotImplemented.
var s3KnownParams = map[string]bool{
	"x-id": true, "list-type": true, "prefix": true, "delimiter": true, "max-keys": true,
	"continuation-token": true, "start-after": true, "encoding-type": true, "fetch-owner": true,
	"tagging": true, "location": true,
}

type s3Request struct {
	w        http.ResponseWriter
	r        *http.Request
	body     []byte
	caller   *user
	reqID    string
	bucket   string
	key      string
	q        url.Values
	resource string
}

func (s *Server) serveS3(w http.ResponseWriter, r *http.Request, body []byte, caller *user, reqID string) {
	path := strings.TrimPrefix(r.URL.Path, "/")
	bkt, key, _ := strings.Cut(path, "/")
	q := r.URL.Query()
	req := &s3Request{w: w, r: r, body: body, caller: caller, reqID: reqID, bucket: bkt, key: key, q: q}
	w.Header().Set("X-Amz-Request-Id", reqID)
	w.Header().Set("X-Amz-Id-2", reqID)
	for k := range q {
		if !s3KnownParams[k] {
			s.s3Fail(req, "", &apiError{Status: 501, Code: "NotImplemented", Message: "The sub-resource or parameter '" + k + "' is not implemented by this fake."})
			return
		}
	}

	_, tagging := q["tagging"]
	_, location := q["location"]
	var op string
	switch {
	case bkt == "" && r.Method == http.MethodGet:
		op = "ListBuckets"
	case bkt == "":
		op = ""
	case key == "" && r.Method == http.MethodPut && tagging:
		op = "PutBucketTagging"
	case key == "" && r.Method == http.MethodGet && tagging:
		op = "GetBucketTagging"
	case key == "" && r.Method == http.MethodDelete && tagging:
		op = "DeleteBucketTagging"
	case key == "" && r.Method == http.MethodGet && location:
		op = "GetBucketLocation"
	case key == "" && r.Method == http.MethodPut:
		op = "CreateBucket"
	case key == "" && r.Method == http.MethodHead:
		op = "HeadBucket"
	case key == "" && r.Method == http.MethodDelete:
		op = "DeleteBucket"
	case key == "" && r.Method == http.MethodGet && q.Get("list-type") == "2":
		op = "ListObjectsV2"
	case key != "" && !tagging && r.Method == http.MethodPut:
		op = "PutObject"
	case key != "" && !tagging && r.Method == http.MethodGet:
		op = "GetObject"
	case key != "" && !tagging && r.Method == http.MethodHead:
		op = "HeadObject"
	case key != "" && !tagging && r.Method == http.MethodDelete:
		op = "DeleteObject"
	}
	if op == "" {
		s.s3Fail(req, "", &apiError{Status: 501, Code: "NotImplemented", Message: r.Method + " " + r.URL.Path + " is not implemented by this fake."})
		return
	}
	if e := s.checkFault(op); e != nil {
		s.s3Fail(req, op, e)
		return
	}
	req.resource = "arn:aws:s3:::" + bkt
	if key != "" {
		req.resource += "/" + key
	}
	var e *apiError
	switch op {
	case "ListBuckets":
		e = s.s3ListBuckets(req)
	case "CreateBucket":
		e = s.s3CreateBucket(req)
	case "HeadBucket":
		e = s.s3HeadBucket(req)
	case "DeleteBucket":
		e = s.s3DeleteBucket(req)
	case "GetBucketLocation":
		e = s.s3GetBucketLocation(req)
	case "PutBucketTagging":
		e = s.s3PutBucketTagging(req)
	case "GetBucketTagging":
		e = s.s3GetBucketTagging(req)
	case "DeleteBucketTagging":
		e = s.s3DeleteBucketTagging(req)
	case "ListObjectsV2":
		e = s.s3ListObjectsV2(req)
	case "PutObject":
		e = s.s3PutObject(req)
	case "GetObject", "HeadObject":
		e = s.s3GetObject(req, op == "HeadObject")
	case "DeleteObject":
		e = s.s3DeleteObject(req)
	}
	if e != nil {
		s.s3Fail(req, op, e)
		return
	}
	s.logf("awsfake: s3 %s %s by %s -> ok", op, r.URL.Path, req.caller.arn)
}

func (s *Server) s3Fail(req *s3Request, op string, e *apiError) {
	s.logf("awsfake: s3 %s %s -> %d %s", op, req.r.URL.Path, e.Status, e.Code)
	writeS3Error(req.w, req.r, req.reqID, e)
}

func writeXML(w http.ResponseWriter, status int, v any) {
	out, _ := xml.Marshal(v)
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(out)
}

func noSuchBucket(name string) *apiError {
	return &apiError{Status: 404, Code: "NoSuchBucket", Message: "The specified bucket does not exist", bucket: name}
}

// bucketFor authorizes action on the request's resource, then finds the bucket
// (S3 authorizes first: a caller without permission learns nothing).
func (s *Server) bucketFor(req *s3Request, action, resource string) (*bucket, *apiError) {
	if e := s.authorize(req.caller, action, resource); e != nil {
		return nil, e
	}
	s.mu.Lock()
	b := s.buckets[req.bucket]
	s.mu.Unlock()
	if b == nil {
		return nil, noSuchBucket(req.bucket)
	}
	return b, nil
}

// ---- buckets ----

var bucketNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

func validBucketName(n string) bool {
	return bucketNameRE.MatchString(n) && !strings.Contains(n, "..") && net.ParseIP(n) == nil &&
		!strings.HasPrefix(n, "xn--") && !strings.HasPrefix(n, "sthree-") &&
		!strings.HasSuffix(n, "-s3alias") && !strings.HasSuffix(n, "--ol-s3")
}

func (s *Server) s3ListBuckets(req *s3Request) *apiError {
	if e := s.authorize(req.caller, "s3:ListAllMyBuckets", "*"); e != nil {
		return e
	}
	type xb struct {
		Name         string
		CreationDate string
		BucketRegion string
	}
	doc := struct {
		XMLName xml.Name `xml:"ListAllMyBucketsResult"`
		Xmlns   string   `xml:"xmlns,attr"`
		Owner   struct{ ID, DisplayName string }
		Buckets struct {
			Bucket []xb
		}
	}{Xmlns: s3Namespace}
	doc.Owner.ID = sha256Hex([]byte(s.opts.AccountID))
	doc.Owner.DisplayName = "fake-" + s.opts.AccountID
	for _, b := range s.Buckets() {
		doc.Buckets.Bucket = append(doc.Buckets.Bucket, xb{Name: b.Name, CreationDate: b.CreateDate.Format(s3Time), BucketRegion: b.Region})
	}
	writeXML(req.w, 200, doc)
	return nil
}

func (s *Server) s3CreateBucket(req *s3Request) *apiError {
	if !validBucketName(req.bucket) {
		return &apiError{Status: 400, Code: "InvalidBucketName", Message: "The specified bucket is not valid.", bucket: req.bucket}
	}
	if e := s.authorize(req.caller, "s3:CreateBucket", req.resource); e != nil {
		return e
	}
	constraint := ""
	if len(bytes.TrimSpace(req.body)) > 0 {
		var cfg struct {
			XMLName            xml.Name `xml:"CreateBucketConfiguration"`
			LocationConstraint string
		}
		if err := xml.Unmarshal(req.body, &cfg); err != nil {
			return &apiError{Status: 400, Code: "MalformedXML", Message: "The XML you provided was not well-formed or did not validate against our published schema."}
		}
		constraint = cfg.LocationConstraint
	}
	// Region rules: us-east-1 takes no constraint (and rejects "us-east-1");
	// every other regional endpoint needs its own region as the constraint.
	region := s.opts.Region
	switch {
	case region == "us-east-1" && constraint == "us-east-1":
		return &apiError{Status: 400, Code: "InvalidLocationConstraint", Message: "The specified location-constraint is not valid"}
	case region == "us-east-1" && constraint != "":
		return &apiError{Status: 400, Code: "IllegalLocationConstraintException", Message: "The " + constraint + " location constraint is incompatible for the region specific endpoint this request was sent to."}
	case region != "us-east-1" && constraint == "":
		return &apiError{Status: 400, Code: "IllegalLocationConstraintException", Message: "The unspecified location constraint is incompatible for the region specific endpoint this request was sent to."}
	case region != "us-east-1" && constraint != region:
		return &apiError{Status: 400, Code: "IllegalLocationConstraintException", Message: "The " + constraint + " location constraint is incompatible for the region specific endpoint this request was sent to."}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.taken[req.bucket] {
		return &apiError{Status: 409, Code: "BucketAlreadyExists", Message: "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.", bucket: req.bucket}
	}
	if _, ok := s.buckets[req.bucket]; ok {
		if region != "us-east-1" {
			return &apiError{Status: 409, Code: "BucketAlreadyOwnedByYou", Message: "Your previous request to create the named bucket succeeded and you already own it.", bucket: req.bucket}
		}
		// us-east-1 answers 200 to re-creating your own bucket (legacy behaviour).
	} else {
		s.buckets[req.bucket] = &bucket{name: req.bucket, region: region, created: s.now(), objects: map[string]*object{}}
		s.created.Buckets++
	}
	req.w.Header().Set("Location", "/"+req.bucket)
	req.w.WriteHeader(200)
	return nil
}

func (s *Server) s3HeadBucket(req *s3Request) *apiError {
	b, e := s.bucketFor(req, "s3:ListBucket", req.resource)
	if e != nil {
		return e
	}
	req.w.Header().Set("X-Amz-Bucket-Region", b.region)
	req.w.WriteHeader(200)
	return nil
}

func (s *Server) s3DeleteBucket(req *s3Request) *apiError {
	if _, e := s.bucketFor(req, "s3:DeleteBucket", req.resource); e != nil {
		return e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buckets[req.bucket]
	if b == nil {
		return noSuchBucket(req.bucket)
	}
	if len(b.objects) > 0 {
		return &apiError{Status: 409, Code: "BucketNotEmpty", Message: "The bucket you tried to delete is not empty", bucket: req.bucket}
	}
	delete(s.buckets, req.bucket)
	req.w.WriteHeader(204)
	return nil
}

func (s *Server) s3GetBucketLocation(req *s3Request) *apiError {
	b, e := s.bucketFor(req, "s3:GetBucketLocation", req.resource)
	if e != nil {
		return e
	}
	loc := b.region
	if loc == "us-east-1" {
		loc = "" // us-east-1 buckets have a null LocationConstraint
	}
	writeXML(req.w, 200, struct {
		XMLName xml.Name `xml:"LocationConstraint"`
		Xmlns   string   `xml:"xmlns,attr"`
		Value   string   `xml:",chardata"`
	}{Xmlns: s3Namespace, Value: loc})
	return nil
}

type xmlTagging struct {
	XMLName xml.Name `xml:"Tagging"`
	Xmlns   string   `xml:"xmlns,attr,omitempty"`
	TagSet  struct {
		Tag []xmlTag `xml:"Tag"`
	}
}

func (s *Server) s3PutBucketTagging(req *s3Request) *apiError {
	if _, e := s.bucketFor(req, "s3:PutBucketTagging", req.resource); e != nil {
		return e
	}
	if req.r.Header.Get("Content-Md5") == "" && checksumHeader(req.r) == "" {
		return &apiError{Status: 400, Code: "InvalidRequest", Message: "Missing required header for this request: Content-Md5"}
	}
	if e := verifyDigests(req.r, req.body); e != nil {
		return e
	}
	var t xmlTagging
	if err := xml.Unmarshal(req.body, &t); err != nil {
		return &apiError{Status: 400, Code: "MalformedXML", Message: "The XML you provided was not well-formed or did not validate against our published schema."}
	}
	if len(t.TagSet.Tag) > 50 {
		return &apiError{Status: 400, Code: "InvalidTag", Message: "Object tags cannot be greater than 50"}
	}
	var tags []Tag
	seen := map[string]bool{}
	for _, x := range t.TagSet.Tag {
		if x.Key == "" || len(x.Key) > 128 || len(x.Value) > 256 {
			return &apiError{Status: 400, Code: "InvalidTag", Message: "The TagKey you have provided is invalid"}
		}
		if seen[x.Key] {
			return &apiError{Status: 400, Code: "InvalidTag", Message: "Cannot provide multiple Tags with the same key"}
		}
		seen[x.Key] = true
		tags = append(tags, Tag{x.Key, x.Value})
	}
	s.mu.Lock()
	if b := s.buckets[req.bucket]; b != nil {
		b.tags = tags
	}
	s.mu.Unlock()
	req.w.WriteHeader(204)
	return nil
}

func (s *Server) s3GetBucketTagging(req *s3Request) *apiError {
	b, e := s.bucketFor(req, "s3:GetBucketTagging", req.resource)
	if e != nil {
		return e
	}
	s.mu.Lock()
	tags := append([]Tag(nil), b.tags...)
	s.mu.Unlock()
	if len(tags) == 0 {
		return &apiError{Status: 404, Code: "NoSuchTagSet", Message: "The TagSet does not exist", bucket: req.bucket}
	}
	t := xmlTagging{Xmlns: s3Namespace}
	for _, x := range tags {
		t.TagSet.Tag = append(t.TagSet.Tag, xmlTag{x.Key, x.Value})
	}
	writeXML(req.w, 200, t)
	return nil
}

func (s *Server) s3DeleteBucketTagging(req *s3Request) *apiError {
	// DeleteBucketTagging is authorized by s3:PutBucketTagging.
	b, e := s.bucketFor(req, "s3:PutBucketTagging", req.resource)
	if e != nil {
		return e
	}
	s.mu.Lock()
	b.tags = nil
	s.mu.Unlock()
	req.w.WriteHeader(204)
	return nil
}

// ---- objects ----

func (s *Server) s3ListObjectsV2(req *s3Request) *apiError {
	b, e := s.bucketFor(req, "s3:ListBucket", req.resource)
	if e != nil {
		return e
	}
	q := req.q
	prefix, delim, startAfter := q.Get("prefix"), q.Get("delimiter"), q.Get("start-after")
	maxKeys := 1000
	if v := q.Get("max-keys"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return &apiError{Status: 400, Code: "InvalidArgument", Message: "Provided max-keys not an integer or within integer range"}
		}
		maxKeys = min(n, 1000)
	}
	after := startAfter
	token := q.Get("continuation-token")
	if _, present := q["continuation-token"]; present {
		raw, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil || token == "" {
			return &apiError{Status: 400, Code: "InvalidArgument", Message: "The continuation token provided is incorrect"}
		}
		after = string(raw)
	}
	encURL := q.Get("encoding-type") == "url"
	if v := q.Get("encoding-type"); v != "" && v != "url" {
		return &apiError{Status: 400, Code: "InvalidArgument", Message: "Invalid Encoding Method specified in Request"}
	}
	enc := func(s string) string {
		if encURL {
			return escapeRFC3986(s, true)
		}
		return s
	}

	s.mu.Lock()
	keys := make([]string, 0, len(b.objects))
	for k := range b.objects {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	type xo struct {
		Key               string
		LastModified      string
		ETag              string
		ChecksumAlgorithm []string `xml:",omitempty"`
		Size              int
		StorageClass      string
	}
	type xp struct{ Prefix string }
	var contents []xo
	var prefixes []xp
	seenPrefix := map[string]bool{}
	truncated, last := false, ""
	for _, k := range keys {
		if !strings.HasPrefix(k, prefix) || k <= after {
			continue
		}
		entry := k
		isPrefix := false
		if delim != "" {
			if i := strings.Index(k[len(prefix):], delim); i >= 0 {
				entry = k[:len(prefix)+i+len(delim)]
				isPrefix = true
				if seenPrefix[entry] {
					continue
				}
			}
		}
		if len(contents)+len(prefixes) >= maxKeys {
			truncated = true
			break
		}
		if isPrefix {
			seenPrefix[entry] = true
			prefixes = append(prefixes, xp{enc(entry)})
			last = entry + "\xff" // skip the rest of this prefix on the next page
			continue
		}
		o := b.objects[k]
		var algos []string
		for a := range o.checksums {
			algos = append(algos, strings.ToUpper(a))
		}
		sort.Strings(algos)
		contents = append(contents, xo{Key: enc(k), LastModified: o.modified.Format(s3Time), ETag: o.etag, ChecksumAlgorithm: algos, Size: len(o.data), StorageClass: "STANDARD"})
		last = k
	}
	s.mu.Unlock()

	doc := struct {
		XMLName               xml.Name `xml:"ListBucketResult"`
		Xmlns                 string   `xml:"xmlns,attr"`
		Name                  string
		Prefix                string
		Delimiter             string `xml:",omitempty"`
		MaxKeys               int
		KeyCount              int
		IsTruncated           bool
		EncodingType          string `xml:",omitempty"`
		ContinuationToken     string `xml:",omitempty"`
		NextContinuationToken string `xml:",omitempty"`
		StartAfter            string `xml:",omitempty"`
		Contents              []xo
		CommonPrefixes        []xp
	}{Xmlns: s3Namespace, Name: b.name, Prefix: enc(prefix), Delimiter: enc(delim), MaxKeys: maxKeys,
		KeyCount: len(contents) + len(prefixes), IsTruncated: truncated, ContinuationToken: token, StartAfter: enc(startAfter),
		Contents: contents, CommonPrefixes: prefixes}
	if encURL {
		doc.EncodingType = "url"
	}
	if truncated {
		doc.NextContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(last))
	}
	writeXML(req.w, 200, doc)
	return nil
}

// checksumAlgos are the flexible-checksum headers S3 verifies.
var checksumAlgos = []string{"crc32", "crc32c", "crc64nvme", "sha1", "sha256"}

// CRC-64/NVME, reflected polynomial (what S3's CRC64NVME is).
var crc64NVME = crc64.MakeTable(0x9a6c9329ac4bc9b5)

func computeChecksum(algo string, data []byte) string {
	var h hash.Hash
	switch algo {
	case "crc32":
		h = crc32.NewIEEE()
	case "crc32c":
		h = crc32.New(crc32.MakeTable(crc32.Castagnoli))
	case "crc64nvme":
		sum := make([]byte, 8)
		binary.BigEndian.PutUint64(sum, crc64.Checksum(data, crc64NVME))
		return base64.StdEncoding.EncodeToString(sum)
	case "sha1":
		h = sha1.New()
	case "sha256":
		h = sha256.New()
	default:
		return ""
	}
	h.Write(data)
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

func checksumHeader(r *http.Request) string {
	for _, a := range checksumAlgos {
		if r.Header.Get("X-Amz-Checksum-"+a) != "" {
			return a
		}
	}
	return ""
}

// verifyDigests checks Content-MD5 and any x-amz-checksum-* header against the body.
func verifyDigests(r *http.Request, body []byte) *apiError {
	if v := r.Header.Get("Content-Md5"); v != "" {
		want, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(want) != md5.Size {
			return &apiError{Status: 400, Code: "InvalidDigest", Message: "The Content-MD5 you specified was invalid."}
		}
		got := md5.Sum(body)
		if !bytes.Equal(got[:], want) {
			return &apiError{Status: 400, Code: "BadDigest", Message: "The Content-MD5 you specified did not match what we received."}
		}
	}
	for _, a := range checksumAlgos {
		if v := r.Header.Get("X-Amz-Checksum-" + a); v != "" && v != computeChecksum(a, body) {
			return &apiError{Status: 400, Code: "BadDigest", Message: "The " + strings.ToUpper(a) + " you specified did not match the calculated checksum."}
		}
	}
	return nil
}

func (s *Server) s3PutObject(req *s3Request) *apiError {
	if len(req.key) > 1024 {
		return &apiError{Status: 400, Code: "KeyTooLongError", Message: "Your key is too long"}
	}
	if req.r.Header.Get("X-Amz-Copy-Source") != "" {
		return &apiError{Status: 501, Code: "NotImplemented", Message: "CopyObject is not implemented by this fake."}
	}
	if _, e := s.bucketFor(req, "s3:PutObject", req.resource); e != nil {
		return e
	}
	if e := verifyDigests(req.r, req.body); e != nil {
		return e
	}
	sum := md5.Sum(req.body)
	o := &object{data: append([]byte(nil), req.body...), contentType: req.r.Header.Get("Content-Type"),
		etag: `"` + hex.EncodeToString(sum[:]) + `"`, modified: s.now().Truncate(time.Second), checksums: map[string]string{}}
	if o.contentType == "" {
		o.contentType = "binary/octet-stream"
	}
	for _, a := range checksumAlgos {
		if v := req.r.Header.Get("X-Amz-Checksum-" + a); v != "" {
			o.checksums[a] = v
		}
	}
	s.mu.Lock()
	b := s.buckets[req.bucket]
	if b == nil {
		s.mu.Unlock()
		return noSuchBucket(req.bucket)
	}
	b.objects[req.key] = o
	s.mu.Unlock()
	req.w.Header().Set("ETag", o.etag)
	for a, v := range o.checksums {
		req.w.Header().Set("X-Amz-Checksum-"+a, v)
	}
	req.w.WriteHeader(200)
	return nil
}

func (s *Server) s3GetObject(req *s3Request, head bool) *apiError {
	if req.r.Header.Get("Range") != "" {
		return &apiError{Status: 501, Code: "NotImplemented", Message: "Range requests are not implemented by this fake."}
	}
	b, e := s.bucketFor(req, "s3:GetObject", req.resource)
	if e != nil {
		return e
	}
	s.mu.Lock()
	o := b.objects[req.key]
	s.mu.Unlock()
	if o == nil {
		if head {
			return &apiError{Status: 404, Code: "NotFound", Message: "Not Found"}
		}
		return &apiError{Status: 404, Code: "NoSuchKey", Message: "The specified key does not exist.", key: req.key}
	}
	h := req.w.Header()
	h.Set("Content-Type", o.contentType)
	h.Set("Content-Length", strconv.Itoa(len(o.data)))
	h.Set("ETag", o.etag)
	h.Set("Last-Modified", o.modified.Format(http.TimeFormat))
	h.Set("Accept-Ranges", "bytes")
	if strings.EqualFold(req.r.Header.Get("X-Amz-Checksum-Mode"), "ENABLED") {
		for a, v := range o.checksums {
			h.Set("X-Amz-Checksum-"+a, v)
		}
		if len(o.checksums) > 0 {
			h.Set("X-Amz-Checksum-Type", "FULL_OBJECT")
		}
	}
	req.w.WriteHeader(200)
	if !head {
		_, _ = req.w.Write(o.data)
	}
	return nil
}

func (s *Server) s3DeleteObject(req *s3Request) *apiError {
	b, e := s.bucketFor(req, "s3:DeleteObject", req.resource)
	if e != nil {
		return e
	}
	s.mu.Lock()
	delete(b.objects, req.key) // deleting a missing key is a success in S3
	s.mu.Unlock()
	req.w.WriteHeader(204)
	return nil
}
