package supabasefake

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"phantomstack.dev/providers/fake/internal/oauthsrv"
)

// Statuses lists every project status the Management API documents.
var Statuses = []string{
	"INACTIVE", "ACTIVE_HEALTHY", "ACTIVE_UNHEALTHY", "COMING_UP", "UNKNOWN", "GOING_DOWN",
	"INIT_FAILED", "REMOVED", "RESTORING", "UPGRADING", "PAUSING", "RESTORE_FAILED",
	"RESTARTING", "PAUSE_FAILED", "RESIZING",
}

// Regions are the region codes POST /v1/projects accepts.
var Regions = []string{
	"us-east-1", "us-east-2", "us-west-1", "us-west-2", "ap-east-1", "ap-southeast-1",
	"ap-northeast-1", "ap-northeast-2", "ap-southeast-2", "eu-west-1", "eu-west-2",
	"eu-west-3", "eu-north-1", "eu-central-1", "eu-central-2", "ca-central-1",
	"ap-south-1", "sa-east-1",
}

var smartGroups = map[string]string{"americas": "us-east-1", "emea": "eu-central-1", "apac": "ap-southeast-1"}

const postgresVersion = "17.4.1.054"

// newRef makes a project ref: 20 lowercase letters.
func newRef() string {
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	for i := range b {
		b[i] = 'a' + b[i]%26
	}
	return string(b)
}

func newUUID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func validRef(ref string) bool {
	if len(ref) != 20 {
		return false
	}
	for _, c := range ref {
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// statusLocked computes a project's status from the readiness clock.
func (s *Server) statusLocked(p *project) string {
	if p.forced != "" {
		return p.forced
	}
	if p.neverReady || s.now().Sub(p.created) < p.readyAfter {
		return "COMING_UP"
	}
	return "ACTIVE_HEALTHY"
}

func (s *Server) orgByIDOrSlug(v string) *Organization {
	for i := range s.opts.Organizations {
		o := &s.opts.Organizations[i]
		if o.ID == v || o.Slug == v {
			return o
		}
	}
	return nil
}

func (s *Server) projectJSONLocked(p *project, withDB bool) map[string]any {
	orgID, orgSlug := p.orgID, p.orgID
	if o := s.orgByIDOrSlug(p.orgID); o != nil {
		orgID, orgSlug = o.ID, o.Slug
	}
	m := map[string]any{
		"id":                p.ref,
		"ref":               p.ref,
		"organization_id":   orgID,
		"organization_slug": orgSlug,
		"name":              p.name,
		"region":            p.region,
		"created_at":        p.created.Format("2006-01-02T15:04:05.000000Z"),
		"status":            s.statusLocked(p),
	}
	if withDB {
		m["database"] = map[string]any{
			"host":            "db." + p.ref + ".supabase.co",
			"version":         postgresVersion,
			"postgres_engine": "17",
			"release_channel": "ga",
		}
	}
	return m
}

func (s *Server) listOrganizations(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.opts.Organizations)
}

func (s *Server) listProjects(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	out := []map[string]any{}
	for _, ref := range s.order {
		if p := s.projects[ref]; p != nil {
			out = append(out, s.projectJSONLocked(p, true))
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// createBody is V1CreateProjectBody. Unknown fields are refused, as the
// real API's validation does.
type createBody struct {
	DBPass           *string `json:"db_pass"`
	Name             *string `json:"name"`
	OrganizationID   *string `json:"organization_id"`
	OrganizationSlug *string `json:"organization_slug"`
	Plan             *string `json:"plan"`
	Region           *string `json:"region"`
	RegionSelection  *struct {
		Type string `json:"type"`
		Code string `json:"code"`
	} `json:"region_selection"`
	KPSEnabled          *bool   `json:"kps_enabled"`
	DesiredInstanceSize *string `json:"desired_instance_size"`
	TemplateURL         *string `json:"template_url"`
	HighAvailability    *bool   `json:"high_availability"`
	ReleaseChannel      *string `json:"release_channel"`
	PostgresEngine      *string `json:"postgres_engine"`
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func (s *Server) createProject(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		writeMessage(w, http.StatusBadRequest, "Content-Type must be application/json")
		return
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	var b createBody
	if err := dec.Decode(&b); err != nil {
		writeMessage(w, http.StatusBadRequest, "Invalid request body: "+err.Error())
		return
	}
	var problems []string
	if b.Name == nil || strings.TrimSpace(*b.Name) == "" {
		problems = append(problems, "name must be a non-empty string")
	} else if strings.Contains(*b.Name, ".") {
		problems = append(problems, "name should not contain dots")
	} else if len(*b.Name) > 256 {
		problems = append(problems, "name must be at most 256 characters")
	}
	if b.DBPass == nil || *b.DBPass == "" {
		problems = append(problems, "db_pass must be a non-empty string")
	}
	orgRef := ""
	switch {
	case b.OrganizationSlug != nil && *b.OrganizationSlug != "":
		orgRef = *b.OrganizationSlug
	case b.OrganizationID != nil && *b.OrganizationID != "":
		orgRef = *b.OrganizationID // deprecated field, still accepted
	default:
		problems = append(problems, "organization_slug must be a non-empty string")
	}
	plan := "free"
	if b.Plan != nil {
		if *b.Plan != "free" && *b.Plan != "pro" {
			problems = append(problems, "plan must be one of: free, pro")
		}
		plan = *b.Plan
	}
	region := "us-east-1"
	switch {
	case b.Region != nil && b.RegionSelection != nil:
		problems = append(problems, "give region or region_selection, not both")
	case b.Region != nil:
		if !contains(Regions, *b.Region) {
			problems = append(problems, fmt.Sprintf("region must be one of: %s", strings.Join(Regions, ", ")))
		}
		region = *b.Region
	case b.RegionSelection != nil:
		rs := b.RegionSelection
		switch {
		case rs.Type == "specific" && contains(Regions, rs.Code):
			region = rs.Code
		case rs.Type == "smartGroup" && smartGroups[rs.Code] != "":
			region = smartGroups[rs.Code]
		default:
			problems = append(problems, "region_selection must be {type: specific, code: <region>} or {type: smartGroup, code: americas|emea|apac}")
		}
	}
	if len(problems) > 0 {
		writeMessage(w, http.StatusBadRequest, strings.Join(problems, "; "))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orgByIDOrSlug(orgRef)
	if o == nil {
		writeMessage(w, http.StatusForbidden, "You do not have permission to create a project in organization "+orgRef)
		return
	}
	// Stricter than the documented contract (400/403 only): a second
	// project with the same name in the organization is refused with 409,
	// so a retried create cannot silently make a twin.
	for _, p := range s.projects {
		if p.orgID == o.ID && strings.EqualFold(p.name, *b.Name) {
			writeMessage(w, http.StatusConflict, fmt.Sprintf("A project named %q already exists in this organization", *b.Name))
			return
		}
	}
	p := s.newProjectLocked(*b.Name, o.ID, region, plan, *b.DBPass)
	resp := s.projectJSONLocked(p, false)
	resp["status"] = "COMING_UP" // provisioning has just begun, whatever the delay
	writeJSON(w, http.StatusCreated, resp)
}

func (s *Server) newProjectLocked(name, orgID, region, plan, dbPass string) *project {
	ref := newRef()
	for s.projects[ref] != nil {
		ref = newRef()
	}
	now := s.now()
	p := &project{
		ref: ref, name: name, orgID: orgID, region: region, plan: plan, dbPass: dbPass,
		created: now, neverReady: s.neverReady, readyAfter: s.readyAfter,
		jwtSecret: oauthsrv.Random(32),
		tables:    map[string][]map[string]any{},
	}
	for t, rows := range s.opts.Tables {
		cp := make([]map[string]any, len(rows))
		for i, row := range rows {
			c := map[string]any{}
			for k, v := range row {
				c[k] = v
			}
			cp[i] = c
		}
		p.tables[t] = cp
	}
	iat := now.Unix()
	p.keys = []*apiKey{
		{id: "anon", name: "anon", typ: "legacy", value: legacyJWT(p, "anon", iat), created: now,
			description: "Legacy anon API key: safe to use in a browser if Row Level Security is enabled."},
		{id: "service_role", name: "service_role", typ: "legacy", value: legacyJWT(p, "service_role", iat), created: now,
			description: "Legacy service_role API key: bypasses Row Level Security; never share it publicly."},
		{id: newUUID(), name: "default", typ: "publishable", prefix: "sb_publishable_", created: now,
			value: "sb_publishable_" + randomKeyBody()},
		{id: newUUID(), name: "default", typ: "secret", prefix: "sb_secret_", created: now,
			value: "sb_secret_" + randomKeyBody()},
	}
	s.created++
	p.num = s.created
	s.projects[ref] = p
	s.order = append(s.order, ref)
	return p
}

func randomKeyBody() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// legacyJWT makes an HS256 JWT like the legacy anon/service_role keys
// (iss "supabase", the project ref, the Postgres role, ten-year expiry),
// signed with the project's JWT secret.
func legacyJWT(p *project, role string, iat int64) string {
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	claims, _ := json.Marshal(map[string]any{
		"iss": "supabase", "ref": p.ref, "role": role, "iat": iat, "exp": iat + 10*365*24*3600,
	})
	unsigned := header + "." + enc.EncodeToString(claims)
	mac := hmac.New(sha256.New, []byte(p.jwtSecret))
	mac.Write([]byte(unsigned))
	return unsigned + "." + enc.EncodeToString(mac.Sum(nil))
}

// lookupProject validates the ref path parameter and finds the project,
// writing the error when it cannot.
func (s *Server) lookupProjectLocked(w http.ResponseWriter, r *http.Request) *project {
	ref := r.PathValue("ref")
	if !validRef(ref) {
		writeMessage(w, http.StatusBadRequest, "ref must be a string of 20 lowercase letters")
		return nil
	}
	p := s.projects[ref]
	if p == nil {
		writeMessage(w, http.StatusNotFound, "Project not found")
		return nil
	}
	return p
}

func (s *Server) getProject(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.lookupProjectLocked(w, r)
	if p == nil {
		return
	}
	writeJSON(w, http.StatusOK, s.projectJSONLocked(p, true))
}

// deleteProject answers {id, ref, name}; the project is gone at once (a
// later GET is 404).
func (s *Server) deleteProject(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.lookupProjectLocked(w, r)
	if p == nil {
		return
	}
	delete(s.projects, p.ref)
	writeJSON(w, http.StatusOK, map[string]any{"id": p.num, "ref": p.ref, "name": p.name})
}

// updateDBPassword is PATCH /v1/projects/{ref}/database/password: body
// {"password": string}, 200 {"message"}. Like the platform it takes effect
// at once; a project that is not running yet cannot have its role changed,
// so anything but ACTIVE_HEALTHY answers 400.
func (s *Server) updateDBPassword(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		writeMessage(w, http.StatusBadRequest, "Content-Type must be application/json")
		return
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<16))
	dec.DisallowUnknownFields()
	var b struct {
		Password *string `json:"password"`
	}
	if err := dec.Decode(&b); err != nil {
		writeMessage(w, http.StatusBadRequest, "Invalid request body: "+err.Error())
		return
	}
	if b.Password == nil || *b.Password == "" {
		writeMessage(w, http.StatusBadRequest, "password must be a non-empty string")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.lookupProjectLocked(w, r)
	if p == nil {
		return
	}
	if st := s.statusLocked(p); st != "ACTIVE_HEALTHY" {
		writeMessage(w, http.StatusBadRequest, "Project is "+st+"; the database password can be changed once it is ACTIVE_HEALTHY")
		return
	}
	p.dbPass = *b.Password
	p.passwordResets++
	writeJSON(w, http.StatusOK, map[string]any{"message": "Database password updated"})
}

// maskSecret hides a secret key's value the way the listing does without
// reveal=true: the type prefix and a few characters stay visible.
func maskSecret(v string) string {
	const keep = len("sb_secret_") + 4
	if len(v) <= keep {
		return v
	}
	return v[:keep] + strings.Repeat("•", 16)
}

func (s *Server) listAPIKeys(w http.ResponseWriter, r *http.Request) {
	reveal := false
	switch v := r.URL.Query().Get("reveal"); v {
	case "", "false":
	case "true":
		reveal = true
	default:
		writeMessage(w, http.StatusBadRequest, "reveal must be a boolean string, true or false")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.lookupProjectLocked(w, r)
	if p == nil {
		return
	}
	out := []map[string]any{}
	for _, k := range p.keys {
		if k.revoked {
			continue
		}
		value := k.value
		if k.typ == "secret" && !reveal {
			value = maskSecret(value)
		}
		item := map[string]any{
			"name": k.name, "api_key": value, "id": k.id, "type": k.typ,
			"prefix": nil, "description": nil, "hash": nil, "secret_jwt_template": nil,
			"inserted_at": k.created.Format(time.RFC3339), "updated_at": k.created.Format(time.RFC3339),
		}
		if k.description != "" {
			item["description"] = k.description
		}
		if k.prefix != "" {
			item["prefix"] = k.prefix
			sum := sha256.Sum256([]byte(k.value))
			item["hash"] = base64.RawURLEncoding.EncodeToString(sum[:])
		}
		if k.typ == "secret" {
			item["secret_jwt_template"] = map[string]any{"role": "service_role"}
		}
		out = append(out, item)
	}
	writeJSON(w, http.StatusOK, out)
}
