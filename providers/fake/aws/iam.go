package awsfake

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// IAM (Version 2010-05-08) and STS (Version 2011-06-15) speak the AWS query
// protocol: a form-encoded POST to "/" with Action and Version, answered with
// <ActionResponse><ActionResult>…</ActionResult><ResponseMetadata>…</ResponseMetadata></ActionResponse>.

var queryVersion = map[string]string{"iam": "2010-05-08", "sts": "2011-06-15"}

type queryHandler func(s *Server, caller *user, p url.Values) (any, *apiError)

var iamActions = map[string]queryHandler{
	"CreateUser":       (*Server).iamCreateUser,
	"GetUser":          (*Server).iamGetUser,
	"DeleteUser":       (*Server).iamDeleteUser,
	"TagUser":          (*Server).iamTagUser,
	"UntagUser":        (*Server).iamUntagUser,
	"ListUserTags":     (*Server).iamListUserTags,
	"PutUserPolicy":    (*Server).iamPutUserPolicy,
	"GetUserPolicy":    (*Server).iamGetUserPolicy,
	"DeleteUserPolicy": (*Server).iamDeleteUserPolicy,
	"ListUserPolicies": (*Server).iamListUserPolicies,
	"CreateAccessKey":  (*Server).iamCreateAccessKey,
	"ListAccessKeys":   (*Server).iamListAccessKeys,
	"DeleteAccessKey":  (*Server).iamDeleteAccessKey,
	"UpdateAccessKey":  (*Server).iamUpdateAccessKey,
}

var stsActions = map[string]queryHandler{
	"GetCallerIdentity": (*Server).stsGetCallerIdentity,
	"GetSessionToken":   (*Server).stsGetSessionToken,
}

func (s *Server) serveQuery(w http.ResponseWriter, r *http.Request, body []byte, svc string, caller *user, sess *session, reqID string) {
	fail := func(e *apiError) {
		s.logf("awsfake: %s %s -> %d %s", svc, r.URL.Query().Get("Action"), e.Status, e.Code)
		writeQueryError(w, svc, reqID, e)
	}
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		fail(&apiError{Status: 405, Code: "InvalidAction", Message: "Method " + r.Method + " is not allowed"})
		return
	}
	params := r.URL.Query()
	if r.Method == http.MethodPost {
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
			fail(&apiError{Status: 400, Code: "InvalidAction", Message: "Content-Type must be application/x-www-form-urlencoded, not " + strconv.Quote(ct)})
			return
		}
		form, err := url.ParseQuery(string(body))
		if err != nil {
			fail(&apiError{Status: 400, Code: "MalformedQueryString", Message: "The query string contains a syntax error."})
			return
		}
		for k, v := range form {
			params[k] = append(params[k], v...)
		}
	}
	action := params.Get("Action")
	if action == "" {
		fail(&apiError{Status: 400, Code: "MissingAction", Message: "Missing Action"})
		return
	}
	version := params.Get("Version")
	if version == "" {
		fail(&apiError{Status: 400, Code: "MissingParameter", Message: "The request must contain the parameter Version"})
		return
	}
	actions := iamActions
	if svc == "sts" {
		actions = stsActions
	}
	h, ok := actions[action]
	if !ok || version != queryVersion[svc] {
		fail(&apiError{Status: 400, Code: "InvalidAction", Message: "Could not find operation " + action + " for version " + version})
		return
	}
	if e := s.checkFault(action); e != nil {
		fail(e)
		return
	}
	if svc == "sts" && sess != nil && action != "GetCallerIdentity" {
		// Session credentials may call no STS operation but
		// GetCallerIdentity and AssumeRole (STS API reference,
		// GetSessionToken); the fake has no AssumeRole.
		fail(&apiError{Status: 403, Code: "AccessDenied", Message: "Cannot call " + action + " with session credentials"})
		return
	}
	result, e := h(s, caller, params)
	if e != nil {
		fail(e)
		return
	}
	doc := struct {
		XMLName   xml.Name
		Xmlns     string `xml:"xmlns,attr"`
		Result    any
		RequestID string `xml:"ResponseMetadata>RequestId"`
	}{XMLName: xml.Name{Local: action + "Response"}, Xmlns: queryNamespace[svc], Result: result, RequestID: reqID}
	out, err := xml.Marshal(doc)
	if err != nil {
		fail(&apiError{Status: 500, Code: "ServiceFailure", Message: err.Error(), receiver: true})
		return
	}
	s.logf("awsfake: %s %s by %s -> 200", svc, action, caller.arn)
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-Requestid", reqID)
	_, _ = w.Write(out)
}

// ---- validation, with IAM's ValidationError wording ----

var namePattern = regexp.MustCompile(`^[\w+=,.@-]+$`)

func validationError(format string, args ...any) *apiError {
	return &apiError{Status: 400, Code: "ValidationError", Message: "1 validation error detected: " + fmt.Sprintf(format, args...)}
}

func required(p url.Values, param, member string) (string, *apiError) {
	v := p.Get(param)
	if v == "" {
		if _, present := p[param]; !present {
			return "", validationError("Value null at '%s' failed to satisfy constraint: Member must not be null", member)
		}
	}
	return v, nil
}

func checkName(v, member string, max int) *apiError {
	if len(v) < 1 || len(v) > max {
		return validationError("Value '%s' at '%s' failed to satisfy constraint: Member must have length less than or equal to %d", v, member, max)
	}
	if !namePattern.MatchString(v) {
		return validationError(`Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+`, v, member)
	}
	return nil
}

func noSuchUser(name string) *apiError {
	return &apiError{Status: 404, Code: "NoSuchEntity", Message: "The user with name " + name + " cannot be found."}
}

// targetUser resolves the optional UserName parameter (the caller when absent).
func (s *Server) targetUser(caller *user, p url.Values) (name string, e *apiError) {
	name = p.Get("UserName")
	if name == "" {
		return caller.name, nil
	}
	return name, checkName(name, "userName", 128)
}

func (s *Server) lookupUserLocked(name string) *user { return s.users[strings.ToLower(name)] }

// userARNFor is the resource ARN to authorize against for a user name, even
// if the user does not exist (IAM authorizes before it looks).
func (s *Server) userARNFor(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.lookupUserLocked(name); u != nil {
		return u.arn
	}
	return s.userARN("/", name)
}

// parseTags reads Tags.member.N.Key / .Value.
func parseTags(p url.Values, prefix string) ([]Tag, *apiError) {
	var tags []Tag
	for i := 1; ; i++ {
		k, hasK := p[fmt.Sprintf("%s.member.%d.Key", prefix, i)]
		v, hasV := p[fmt.Sprintf("%s.member.%d.Value", prefix, i)]
		if !hasK && !hasV {
			break
		}
		if !hasK {
			return nil, validationError("Value null at 'tags.%d.member.key' failed to satisfy constraint: Member must not be null", i)
		}
		if !hasV {
			return nil, validationError("Value null at 'tags.%d.member.value' failed to satisfy constraint: Member must not be null", i)
		}
		t := Tag{Key: k[0], Value: v[0]}
		if len(t.Key) < 1 || len(t.Key) > 128 {
			return nil, validationError("Value '%s' at 'tags.%d.member.key' failed to satisfy constraint: Member must have length less than or equal to 128", t.Key, i)
		}
		if len(t.Value) > 256 {
			return nil, validationError("Value '%s' at 'tags.%d.member.value' failed to satisfy constraint: Member must have length less than or equal to 256", t.Value, i)
		}
		for _, o := range tags {
			if strings.EqualFold(o.Key, t.Key) {
				return nil, &apiError{Status: 400, Code: "InvalidInput", Message: "Duplicate tag keys found. Please note that Tag keys are case insensitive."}
			}
		}
		tags = append(tags, t)
	}
	if len(tags) > 50 {
		return nil, validationError("Value '[...]' at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50")
	}
	return tags, nil
}

// ---- response shapes ----

const iamTime = "2006-01-02T15:04:05Z"

type xmlTag struct{ Key, Value string }

type xmlTags struct {
	Member []xmlTag `xml:"member"`
}

type xmlUser struct {
	Path       string
	UserName   string
	UserId     string
	Arn        string
	CreateDate string
	Tags       *xmlTags `xml:"Tags,omitempty"`
}

func tagsXML(tags []Tag) *xmlTags {
	if len(tags) == 0 {
		return nil
	}
	x := &xmlTags{}
	for _, t := range tags {
		x.Member = append(x.Member, xmlTag{t.Key, t.Value})
	}
	return x
}

func (u *user) xml() xmlUser {
	return xmlUser{Path: u.path, UserName: u.name, UserId: u.id, Arn: u.arn, CreateDate: u.created.Format(iamTime), Tags: tagsXML(u.tags)}
}

type xmlMembers struct {
	Member []string `xml:"member"`
}

// ---- users ----

func (s *Server) iamCreateUser(caller *user, p url.Values) (any, *apiError) {
	name, e := required(p, "UserName", "userName")
	if e != nil {
		return nil, e
	}
	if e := checkName(name, "userName", 64); e != nil {
		return nil, e
	}
	path := p.Get("Path")
	if path == "" {
		path = "/"
	}
	if len(path) > 512 || !strings.HasPrefix(path, "/") || !strings.HasSuffix(path, "/") {
		return nil, validationError(`Value '%s' at 'path' failed to satisfy constraint: Member must satisfy regular expression pattern: (\u002F)|(\u002F[\u0021-\u007E]+\u002F)`, path)
	}
	if p.Get("PermissionsBoundary") != "" {
		return nil, &apiError{Status: 400, Code: "InvalidInput", Message: "PermissionsBoundary is not supported by this fake."}
	}
	tags, e := parseTags(p, "Tags")
	if e != nil {
		return nil, e
	}
	arn := s.userARN(path, name)
	if e := s.authorize(caller, "iam:CreateUser", arn); e != nil {
		return nil, e
	}
	if len(tags) > 0 {
		// IAM requires iam:TagUser as well to tag at creation.
		if e := s.authorize(caller, "iam:TagUser", arn); e != nil {
			return nil, e
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lookupUserLocked(name) != nil {
		return nil, &apiError{Status: 409, Code: "EntityAlreadyExists", Message: "User with name " + name + " already exists."}
	}
	u := &user{name: name, path: path, id: newID("AIDA"), arn: arn, created: s.now().Truncate(time.Second), tags: tags, policies: map[string]string{}}
	s.users[strings.ToLower(name)] = u
	s.created.Users++
	return struct {
		XMLName xml.Name `xml:"CreateUserResult"`
		User    xmlUser
	}{User: u.xml()}, nil
}

func (s *Server) iamGetUser(caller *user, p url.Values) (any, *apiError) {
	name, e := s.targetUser(caller, p)
	if e != nil {
		return nil, e
	}
	if e := s.authorize(caller, "iam:GetUser", s.userARNFor(name)); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.lookupUserLocked(name)
	if u == nil {
		return nil, noSuchUser(name)
	}
	return struct {
		XMLName xml.Name `xml:"GetUserResult"`
		User    xmlUser
	}{User: u.xml()}, nil
}

func (s *Server) iamDeleteUser(caller *user, p url.Values) (any, *apiError) {
	name, e := required(p, "UserName", "userName")
	if e != nil {
		return nil, e
	}
	if e := checkName(name, "userName", 128); e != nil {
		return nil, e
	}
	if e := s.authorize(caller, "iam:DeleteUser", s.userARNFor(name)); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.lookupUserLocked(name)
	if u == nil {
		return nil, noSuchUser(name)
	}
	if len(s.keysOfLocked(u.name)) > 0 {
		return nil, &apiError{Status: 409, Code: "DeleteConflict", Message: "Cannot delete entity, must delete access keys first."}
	}
	if len(u.policies) > 0 {
		return nil, &apiError{Status: 409, Code: "DeleteConflict", Message: "Cannot delete entity, must delete policies first."}
	}
	delete(s.users, strings.ToLower(name))
	return nil, nil
}

func (s *Server) iamTagUser(caller *user, p url.Values) (any, *apiError) {
	name, e := required(p, "UserName", "userName")
	if e != nil {
		return nil, e
	}
	tags, e := parseTags(p, "Tags")
	if e != nil {
		return nil, e
	}
	if len(tags) == 0 {
		return nil, validationError("Value null at 'tags' failed to satisfy constraint: Member must not be null")
	}
	if e := s.authorize(caller, "iam:TagUser", s.userARNFor(name)); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.lookupUserLocked(name)
	if u == nil {
		return nil, noSuchUser(name)
	}
	merged := append([]Tag(nil), u.tags...)
	for _, t := range tags {
		replaced := false
		for i := range merged {
			if strings.EqualFold(merged[i].Key, t.Key) {
				merged[i] = t
				replaced = true
			}
		}
		if !replaced {
			merged = append(merged, t)
		}
	}
	if len(merged) > 50 {
		return nil, &apiError{Status: 409, Code: "LimitExceeded", Message: "The number of tags has reached the maximum limit."}
	}
	u.tags = merged
	return nil, nil
}

func (s *Server) iamUntagUser(caller *user, p url.Values) (any, *apiError) {
	name, e := required(p, "UserName", "userName")
	if e != nil {
		return nil, e
	}
	if e := s.authorize(caller, "iam:UntagUser", s.userARNFor(name)); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.lookupUserLocked(name)
	if u == nil {
		return nil, noSuchUser(name)
	}
	for i := 1; ; i++ {
		k, ok := p[fmt.Sprintf("TagKeys.member.%d", i)]
		if !ok {
			break
		}
		kept := u.tags[:0]
		for _, t := range u.tags {
			if !strings.EqualFold(t.Key, k[0]) {
				kept = append(kept, t)
			}
		}
		u.tags = kept
	}
	return nil, nil
}

func (s *Server) iamListUserTags(caller *user, p url.Values) (any, *apiError) {
	name, e := required(p, "UserName", "userName")
	if e != nil {
		return nil, e
	}
	if e := s.authorize(caller, "iam:ListUserTags", s.userARNFor(name)); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.lookupUserLocked(name)
	if u == nil {
		return nil, noSuchUser(name)
	}
	tags := tagsXML(u.tags)
	if tags == nil {
		tags = &xmlTags{}
	}
	return struct {
		XMLName     xml.Name `xml:"ListUserTagsResult"`
		Tags        *xmlTags
		IsTruncated bool
	}{Tags: tags}, nil
}

// ---- inline policies ----

func (s *Server) iamPutUserPolicy(caller *user, p url.Values) (any, *apiError) {
	name, e := required(p, "UserName", "userName")
	if e != nil {
		return nil, e
	}
	pname, e := required(p, "PolicyName", "policyName")
	if e != nil {
		return nil, e
	}
	if e := checkName(pname, "policyName", 128); e != nil {
		return nil, e
	}
	doc, e := required(p, "PolicyDocument", "policyDocument")
	if e != nil {
		return nil, e
	}
	if e := s.authorize(caller, "iam:PutUserPolicy", s.userARNFor(name)); e != nil {
		return nil, e
	}
	if _, err := parsePolicy(doc); err != nil {
		return nil, &apiError{Status: 400, Code: "MalformedPolicyDocument", Message: err.Error()}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.lookupUserLocked(name)
	if u == nil {
		return nil, noSuchUser(name)
	}
	// Quota: 2,048 characters (white space not counted) across a user's inline policies.
	total := policySize(doc)
	for n, d := range u.policies {
		if n != pname {
			total += policySize(d)
		}
	}
	if total > 2048 {
		return nil, &apiError{Status: 409, Code: "LimitExceeded", Message: "Maximum policy size of 2048 bytes exceeded for user " + u.name}
	}
	u.policies[pname] = doc
	return nil, nil
}

func (s *Server) iamGetUserPolicy(caller *user, p url.Values) (any, *apiError) {
	name, e := required(p, "UserName", "userName")
	if e != nil {
		return nil, e
	}
	pname, e := required(p, "PolicyName", "policyName")
	if e != nil {
		return nil, e
	}
	if e := s.authorize(caller, "iam:GetUserPolicy", s.userARNFor(name)); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.lookupUserLocked(name)
	if u == nil {
		return nil, noSuchUser(name)
	}
	doc, ok := u.policies[pname]
	if !ok {
		return nil, &apiError{Status: 404, Code: "NoSuchEntity", Message: "The user policy with name " + pname + " cannot be found."}
	}
	return struct {
		XMLName        xml.Name `xml:"GetUserPolicyResult"`
		UserName       string
		PolicyName     string
		PolicyDocument string
	}{UserName: u.name, PolicyName: pname, PolicyDocument: escapeRFC3986(doc, false)}, nil // IAM returns it URL-encoded (RFC 3986)
}

func (s *Server) iamDeleteUserPolicy(caller *user, p url.Values) (any, *apiError) {
	name, e := required(p, "UserName", "userName")
	if e != nil {
		return nil, e
	}
	pname, e := required(p, "PolicyName", "policyName")
	if e != nil {
		return nil, e
	}
	if e := s.authorize(caller, "iam:DeleteUserPolicy", s.userARNFor(name)); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.lookupUserLocked(name)
	if u == nil {
		return nil, noSuchUser(name)
	}
	if _, ok := u.policies[pname]; !ok {
		return nil, &apiError{Status: 404, Code: "NoSuchEntity", Message: "The user policy with name " + pname + " cannot be found."}
	}
	delete(u.policies, pname)
	return nil, nil
}

// page applies Marker/MaxItems (default 100, 1..1000) to a sorted list.
func page[T any](p url.Values, items []T) ([]T, bool, string, *apiError) {
	max := 100
	if v := p.Get("MaxItems"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return nil, false, "", validationError("Value '%s' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000", v)
		}
		max = n
	}
	start := 0
	if m := p.Get("Marker"); m != "" {
		n, err := strconv.Atoi(m)
		if err != nil || n < 0 || n > len(items) {
			return nil, false, "", &apiError{Status: 400, Code: "InvalidInput", Message: "Invalid Marker."}
		}
		start = n
	}
	end := min(start+max, len(items))
	if end < len(items) {
		return items[start:end], true, strconv.Itoa(end), nil
	}
	return items[start:end], false, "", nil
}

func (s *Server) iamListUserPolicies(caller *user, p url.Values) (any, *apiError) {
	name, e := required(p, "UserName", "userName")
	if e != nil {
		return nil, e
	}
	if e := s.authorize(caller, "iam:ListUserPolicies", s.userARNFor(name)); e != nil {
		return nil, e
	}
	s.mu.Lock()
	u := s.lookupUserLocked(name)
	var names []string
	if u != nil {
		for n := range u.policies {
			names = append(names, n)
		}
	}
	s.mu.Unlock()
	if u == nil {
		return nil, noSuchUser(name)
	}
	sort.Strings(names)
	items, truncated, marker, e := page(p, names)
	if e != nil {
		return nil, e
	}
	return struct {
		XMLName     xml.Name `xml:"ListUserPoliciesResult"`
		PolicyNames xmlMembers
		IsTruncated bool
		Marker      string `xml:",omitempty"`
	}{PolicyNames: xmlMembers{Member: items}, IsTruncated: truncated, Marker: marker}, nil
}

// ---- access keys ----

func (s *Server) iamCreateAccessKey(caller *user, p url.Values) (any, *apiError) {
	name, e := s.targetUser(caller, p)
	if e != nil {
		return nil, e
	}
	if e := s.authorize(caller, "iam:CreateAccessKey", s.userARNFor(name)); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.lookupUserLocked(name)
	if u == nil {
		return nil, noSuchUser(name)
	}
	if len(s.keysOfLocked(u.name)) >= 2 {
		return nil, &apiError{Status: 409, Code: "LimitExceeded", Message: "Cannot exceed quota for AccessKeysPerUser: 2"}
	}
	k := &accessKey{id: newID("AKIA"), secret: newSecret(), userName: u.name, status: "Active", created: s.now()}
	s.keys[k.id] = k
	s.created.AccessKeys++
	type xmlKey struct {
		UserName        string
		AccessKeyId     string
		Status          string
		SecretAccessKey string
		CreateDate      string
	}
	return struct {
		XMLName   xml.Name `xml:"CreateAccessKeyResult"`
		AccessKey xmlKey
	}{AccessKey: xmlKey{UserName: u.name, AccessKeyId: k.id, Status: k.status, SecretAccessKey: k.secret, CreateDate: k.created.Format(iamTime)}}, nil
}

func (s *Server) iamListAccessKeys(caller *user, p url.Values) (any, *apiError) {
	name, e := s.targetUser(caller, p)
	if e != nil {
		return nil, e
	}
	if e := s.authorize(caller, "iam:ListAccessKeys", s.userARNFor(name)); e != nil {
		return nil, e
	}
	s.mu.Lock()
	u := s.lookupUserLocked(name)
	var keys []AccessKey
	if u != nil {
		keys = s.keysOfLocked(u.name)
	}
	s.mu.Unlock()
	if u == nil {
		return nil, noSuchUser(name)
	}
	items, truncated, marker, e := page(p, keys)
	if e != nil {
		return nil, e
	}
	type xmlMeta struct {
		UserName    string
		AccessKeyId string
		Status      string
		CreateDate  string
	}
	type metaList struct {
		Member []xmlMeta `xml:"member"`
	}
	out := metaList{}
	for _, k := range items {
		out.Member = append(out.Member, xmlMeta{UserName: k.UserName, AccessKeyId: k.AccessKeyID, Status: k.Status, CreateDate: k.CreateDate.Format(iamTime)})
	}
	return struct {
		XMLName           xml.Name `xml:"ListAccessKeysResult"`
		AccessKeyMetadata metaList
		IsTruncated       bool
		Marker            string `xml:",omitempty"`
	}{AccessKeyMetadata: out, IsTruncated: truncated, Marker: marker}, nil
}

// ownedKey finds accessKeyID among userName's keys.
func (s *Server) ownedKeyLocked(userName, accessKeyID string) *accessKey {
	k, ok := s.keys[accessKeyID]
	if !ok || !strings.EqualFold(k.userName, userName) {
		return nil
	}
	return k
}

func checkKeyID(id string) *apiError {
	if len(id) < 16 || len(id) > 128 || !regexp.MustCompile(`^\w+$`).MatchString(id) {
		return validationError(`Value '%s' at 'accessKeyId' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w]+`, id)
	}
	return nil
}

func (s *Server) iamDeleteAccessKey(caller *user, p url.Values) (any, *apiError) {
	name, e := s.targetUser(caller, p)
	if e != nil {
		return nil, e
	}
	id, e := required(p, "AccessKeyId", "accessKeyId")
	if e != nil {
		return nil, e
	}
	if e := checkKeyID(id); e != nil {
		return nil, e
	}
	if e := s.authorize(caller, "iam:DeleteAccessKey", s.userARNFor(name)); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lookupUserLocked(name) == nil {
		return nil, noSuchUser(name)
	}
	if s.ownedKeyLocked(name, id) == nil {
		return nil, &apiError{Status: 404, Code: "NoSuchEntity", Message: "The Access Key with id " + id + " cannot be found."}
	}
	delete(s.keys, id)
	return nil, nil
}

func (s *Server) iamUpdateAccessKey(caller *user, p url.Values) (any, *apiError) {
	name, e := s.targetUser(caller, p)
	if e != nil {
		return nil, e
	}
	id, e := required(p, "AccessKeyId", "accessKeyId")
	if e != nil {
		return nil, e
	}
	if e := checkKeyID(id); e != nil {
		return nil, e
	}
	status, e := required(p, "Status", "status")
	if e != nil {
		return nil, e
	}
	if status != "Active" && status != "Inactive" {
		return nil, validationError("Value '%s' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]", status)
	}
	if e := s.authorize(caller, "iam:UpdateAccessKey", s.userARNFor(name)); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lookupUserLocked(name) == nil {
		return nil, noSuchUser(name)
	}
	k := s.ownedKeyLocked(name, id)
	if k == nil {
		return nil, &apiError{Status: 404, Code: "NoSuchEntity", Message: "The Access Key with id " + id + " cannot be found."}
	}
	k.status = status
	return nil, nil
}

// ---- STS ----

// GetCallerIdentity needs no permission: AWS answers it even under an
// explicit deny.
func (s *Server) stsGetCallerIdentity(caller *user, _ url.Values) (any, *apiError) {
	return struct {
		XMLName xml.Name `xml:"GetCallerIdentityResult"`
		Arn     string
		UserId  string
		Account string
	}{Arn: caller.arn, UserId: caller.id, Account: s.opts.AccountID}, nil
}

// GetSessionToken issues temporary credentials for the calling IAM user
// (STS API reference, GetSessionToken): DurationSeconds 900–129600, default
// 43200; no permission is needed. The fake has no MFA devices, so a request
// that names one is refused as a wrong code would be.
func (s *Server) stsGetSessionToken(caller *user, p url.Values) (any, *apiError) {
	if p.Get("SerialNumber") != "" || p.Get("TokenCode") != "" {
		return nil, &apiError{Status: 403, Code: "AccessDenied", Message: "MultiFactorAuthentication failed, unable to validate MFA code. Please verify your MFA serial number is valid and associated with this user."}
	}
	dur := int64(43200)
	if v, ok := p["DurationSeconds"]; ok {
		n, err := strconv.ParseInt(v[0], 10, 64)
		switch {
		case err != nil:
			return nil, &apiError{Status: 400, Code: "ValidationError", Message: "1 validation error detected: Value '" + v[0] + "' at 'durationSeconds' failed to satisfy constraint: Member must be an integer"}
		case n < 900:
			return nil, validationError("Value '%d' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900", n)
		case n > 129600:
			return nil, validationError("Value '%d' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 129600", n)
		}
		dur = n
	}
	ss := &session{
		id: newID("ASIA"), secret: newSecret(), token: newSessionToken(),
		userName: caller.name,
		expires:  s.now().Add(time.Duration(dur) * time.Second).Truncate(time.Second),
	}
	s.mu.Lock()
	s.sessions[ss.id] = ss
	s.mu.Unlock()
	type creds struct {
		AccessKeyId     string
		SecretAccessKey string
		SessionToken    string
		Expiration      string
	}
	return struct {
		XMLName     xml.Name `xml:"GetSessionTokenResult"`
		Credentials creds
	}{Credentials: creds{AccessKeyId: ss.id, SecretAccessKey: ss.secret, SessionToken: ss.token, Expiration: ss.expires.UTC().Format("2006-01-02T15:04:05Z")}}, nil
}
