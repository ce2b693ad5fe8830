package vercelfake

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
)

func (s *Server) getUser(w http.ResponseWriter, _ *http.Request) {
	u := s.opts.User
	var defaultTeam any
	if len(s.opts.Teams) > 0 {
		defaultTeam = s.opts.Teams[0].ID
	}
	writeJSON(w, http.StatusOK, map[string]any{"user": map[string]any{
		"id": u.ID, "email": u.Email, "name": u.Name, "username": u.Username,
		"avatar": nil, "defaultTeamId": defaultTeam,
	}})
}

// Project names: up to 100 lowercase letters, digits, '.', '_' and '-',
// without the sequence '---' (Vercel's rule).
var projectName = regexp.MustCompile(`^[a-z0-9._-]{1,100}$`)

func validProjectName(n string) bool {
	return projectName.MatchString(n) && !strings.Contains(n, "---")
}

// createProjectBody lists the create-project fields the fake accepts;
// others are refused like the real API's additional-property check.
type createProjectBody struct {
	Name                 *string         `json:"name"`
	Framework            *string         `json:"framework"`
	BuildCommand         *string         `json:"buildCommand"`
	DevCommand           *string         `json:"devCommand"`
	InstallCommand       *string         `json:"installCommand"`
	OutputDirectory      *string         `json:"outputDirectory"`
	RootDirectory        *string         `json:"rootDirectory"`
	PublicSource         *bool           `json:"publicSource"`
	ServerlessFuncRegion *string         `json:"serverlessFunctionRegion"`
	SkipGitConnect       *bool           `json:"skipGitConnectDuringLink"`
	EnvironmentVariables json.RawMessage `json:"environmentVariables"`
}

func decodeStrict(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		writeError(w, http.StatusBadRequest, "bad_request", "Invalid request: Content-Type must be application/json.")
		return false
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		msg := err.Error()
		if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
			msg = "should NOT have additional property " + strings.Trim(f, `"`)
		}
		writeError(w, http.StatusBadRequest, "bad_request", "Invalid request: "+msg+".")
		return false
	}
	return true
}

func (s *Server) projectJSON(p *project) map[string]any {
	env := []map[string]any{}
	for _, e := range p.env {
		env = append(env, envJSON(e, false))
	}
	return map[string]any{
		"id": p.id, "name": p.name, "accountId": p.owner, "framework": p.framework,
		"createdAt": p.created.UnixMilli(), "updatedAt": p.updated.UnixMilli(),
		"nodeVersion": "22.x", "live": false, "latestDeployments": []any{}, "env": env,
	}
}

func (s *Server) createProject(w http.ResponseWriter, r *http.Request) {
	owner, ok := s.scope(w, r)
	if !ok {
		return
	}
	var b createProjectBody
	if !decodeStrict(w, r, &b) {
		return
	}
	if b.Name == nil || *b.Name == "" {
		writeError(w, http.StatusBadRequest, "bad_request", "Invalid request: missing required property `name`.")
		return
	}
	if !validProjectName(*b.Name) {
		writeError(w, http.StatusBadRequest, "bad_request",
			"Project names can be up to 100 characters long and must be lowercase. They can include letters, digits, and the following characters: '.', '_', '-'. However, they cannot contain the sequence '---'.")
		return
	}
	var envs []envInput
	if len(b.EnvironmentVariables) > 0 && string(b.EnvironmentVariables) != "null" {
		if err := json.Unmarshal(b.EnvironmentVariables, &envs); err != nil {
			writeError(w, http.StatusBadRequest, "bad_request", "Invalid request: `environmentVariables` should be array.")
			return
		}
		for _, e := range envs {
			if msg := e.validate(); msg != "" {
				writeError(w, http.StatusBadRequest, "bad_request", "Invalid request: "+msg)
				return
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.projects {
		if p.owner == owner && p.name == *b.Name {
			writeError(w, http.StatusConflict, "conflict", fmt.Sprintf("A project with the name %q already exists.", *b.Name))
			return
		}
	}
	now := s.now()
	p := &project{id: "prj_" + randomID(28), name: *b.Name, owner: owner, framework: b.Framework, created: now, updated: now}
	for _, e := range envs {
		p.env = append(p.env, s.newEnvLocked(e))
	}
	s.projects[p.id] = p
	s.order = append(s.order, p.id)
	s.created++
	writeJSON(w, http.StatusOK, s.projectJSON(p))
}

// findLocked resolves idOrName within the caller's scope only: a project
// of another team is "not found", as on Vercel.
func (s *Server) findLocked(w http.ResponseWriter, r *http.Request, owner string) *project {
	v := r.PathValue("idOrName")
	if p := s.projects[v]; p != nil && p.owner == owner {
		return p
	}
	for _, id := range s.order {
		if p := s.projects[id]; p != nil && p.owner == owner && p.name == v {
			return p
		}
	}
	writeError(w, http.StatusNotFound, "not_found", "Project not found")
	return nil
}

func (s *Server) getProject(w http.ResponseWriter, r *http.Request) {
	owner, ok := s.scope(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.findLocked(w, r, owner); p != nil {
		writeJSON(w, http.StatusOK, s.projectJSON(p))
	}
}

func (s *Server) deleteProject(w http.ResponseWriter, r *http.Request) {
	owner, ok := s.scope(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.findLocked(w, r, owner); p != nil {
		delete(s.projects, p.id)
		w.WriteHeader(http.StatusNoContent)
	}
}

// ---- environment variables ----

var envKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

var targets = map[string]bool{"production": true, "preview": true, "development": true}

type envInput struct {
	Key                  *string  `json:"key"`
	Value                *string  `json:"value"`
	Type                 *string  `json:"type"`
	Target               []string `json:"target"`
	GitBranch            *string  `json:"gitBranch"`
	Comment              *string  `json:"comment"`
	CustomEnvironmentIDs []string `json:"customEnvironmentIds"`
}

// validate applies the documented body rules; "" when valid.
func (e envInput) validate() string {
	switch {
	case e.Key == nil || *e.Key == "":
		return "missing required property `key`."
	case !envKey.MatchString(*e.Key):
		return fmt.Sprintf("the name %q is invalid: it may only contain letters, digits and underscores and must not start with a digit.", *e.Key)
	case e.Value == nil:
		return "missing required property `value`."
	case e.Type == nil:
		return "missing required property `type`."
	}
	switch *e.Type {
	case "encrypted", "plain", "sensitive":
	case "secret", "system":
		return fmt.Sprintf("type `%s` can not be created through this endpoint.", *e.Type)
	default:
		return "`type` should be equal to one of the allowed values: encrypted, plain, sensitive."
	}
	if len(e.CustomEnvironmentIDs) > 0 {
		return "custom environments are not available in this sandbox."
	}
	if len(e.Target) == 0 {
		return "missing required property `target`."
	}
	seen := map[string]bool{}
	for _, t := range e.Target {
		if !targets[t] {
			return fmt.Sprintf("`target` %q should be one of: production, preview, development.", t)
		}
		if seen[t] {
			return fmt.Sprintf("`target` %q is given twice.", t)
		}
		seen[t] = true
		if t == "development" && *e.Type == "sensitive" {
			return "sensitive environment variables can not be created for the development target."
		}
	}
	if e.GitBranch != nil && *e.GitBranch != "" && (len(e.Target) != 1 || e.Target[0] != "preview") {
		return "`gitBranch` requires `target` to be [\"preview\"]."
	}
	if e.Comment != nil && len(*e.Comment) > 500 {
		return "`comment` must be at most 500 characters."
	}
	return ""
}

func (s *Server) newEnvLocked(in envInput) *envVar {
	now := s.now()
	e := &envVar{EnvVar{
		ID: randomID(16), Key: *in.Key, Value: *in.Value, Type: *in.Type,
		Target: append([]string(nil), in.Target...), CreatedAt: now, UpdatedAt: now,
	}}
	if in.GitBranch != nil {
		e.GitBranch = *in.GitBranch
	}
	if in.Comment != nil {
		e.Comment = *in.Comment
	}
	return e
}

// envJSON renders a variable. Its plaintext is shown only for plain
// variables (or encrypted ones with decrypt); encrypted values appear as an
// opaque ciphertext and sensitive ones not at all, as on Vercel.
func envJSON(e *envVar, decrypt bool) map[string]any {
	m := map[string]any{
		"id": e.ID, "key": e.Key, "type": e.Type, "target": e.Target,
		"configurationId": nil, "createdAt": e.CreatedAt.UnixMilli(), "updatedAt": e.UpdatedAt.UnixMilli(),
		"decrypted": false,
	}
	switch {
	case e.Type == "plain", e.Type == "encrypted" && decrypt:
		m["value"] = e.Value
		m["decrypted"] = e.Type == "encrypted"
	case e.Type == "encrypted":
		m["value"] = "enc_" + base64.RawStdEncoding.EncodeToString([]byte(e.ID+e.UpdatedAt.String()))
	}
	if e.GitBranch != "" {
		m["gitBranch"] = e.GitBranch
	}
	if e.Comment != "" {
		m["comment"] = e.Comment
	}
	return m
}

func overlap(a, b []string) string {
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return x
			}
		}
	}
	return ""
}

func (s *Server) createEnv(w http.ResponseWriter, r *http.Request) {
	owner, ok := s.scope(w, r)
	if !ok {
		return
	}
	upsert := false
	switch v := r.URL.Query().Get("upsert"); v {
	case "", "false":
	case "true":
		upsert = true
	default:
		writeError(w, http.StatusBadRequest, "bad_request", "Invalid request: `upsert` should be true or false.")
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		writeError(w, http.StatusBadRequest, "bad_request", "Invalid request: Content-Type must be application/json.")
		return
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "Invalid request: unreadable body.")
		return
	}
	raw = bytes.TrimSpace(raw)
	single := len(raw) > 0 && raw[0] == '{'
	var inputs []envInput
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if single {
		var one envInput
		err = dec.Decode(&one)
		inputs = []envInput{one}
	} else {
		err = dec.Decode(&inputs)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "Invalid request: "+err.Error()+".")
		return
	}
	if len(inputs) == 0 {
		writeError(w, http.StatusBadRequest, "bad_request", "Invalid request: at least one environment variable is required.")
		return
	}
	for _, in := range inputs {
		if msg := in.validate(); msg != "" {
			writeError(w, http.StatusBadRequest, "bad_request", "Invalid request: "+msg)
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.findLocked(w, r, owner)
	if p == nil {
		return
	}
	var created []map[string]any
	var failed []map[string]any
	now := s.now()
	for _, in := range inputs {
		branch := ""
		if in.GitBranch != nil {
			branch = *in.GitBranch
		}
		var existing *envVar
		var clash string
		for _, e := range p.env {
			if e.Key == *in.Key && e.GitBranch == branch {
				if t := overlap(e.Target, in.Target); t != "" {
					existing, clash = e, t
					break
				}
			}
		}
		switch {
		case existing == nil:
			e := s.newEnvLocked(in)
			p.env = append(p.env, e)
			created = append(created, envJSON(e, false))
		case upsert:
			// upsert=true updates the existing variable instead of adding one.
			existing.Value, existing.Type = *in.Value, *in.Type
			existing.Target = append([]string(nil), in.Target...)
			if in.Comment != nil {
				existing.Comment = *in.Comment
			}
			existing.UpdatedAt = now
			created = append(created, envJSON(existing, false))
		default:
			b := "undefined"
			if branch != "" {
				b = branch
			}
			failed = append(failed, map[string]any{"error": map[string]any{
				"code":      "ENV_ALREADY_EXISTS",
				"message":   fmt.Sprintf("A variable with the name `%s` already exists for the target %s on branch %s", *in.Key, clash, b),
				"key":       *in.Key,
				"envVarId":  existing.ID,
				"envVarKey": existing.Key,
				"target":    in.Target,
				"project":   p.id,
			}})
		}
	}
	if len(created) > 0 {
		p.updated = now
	}
	if len(created) == 0 {
		// Nothing was stored: the call fails with the (first) reason.
		writeJSON(w, http.StatusBadRequest, failed[0])
		return
	}
	if failed == nil {
		failed = []map[string]any{}
	}
	var c any = created
	if single {
		c = created[0]
	}
	writeJSON(w, http.StatusCreated, map[string]any{"created": c, "failed": failed})
}

func (s *Server) listEnv(w http.ResponseWriter, r *http.Request) {
	owner, ok := s.scope(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	decrypt := q.Get("decrypt") == "true"
	target := q.Get("target")
	if target != "" && !targets[target] {
		writeError(w, http.StatusBadRequest, "bad_request", "Invalid request: `target` should be one of: production, preview, development.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.findLocked(w, r, owner)
	if p == nil {
		return
	}
	envs := []map[string]any{}
	for _, e := range p.env {
		if target != "" && overlap(e.Target, []string{target}) == "" {
			continue
		}
		envs = append(envs, envJSON(e, decrypt))
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"envs":       envs,
		"pagination": map[string]any{"count": len(envs), "next": nil, "prev": nil},
	})
}

func (s *Server) deleteEnv(w http.ResponseWriter, r *http.Request) {
	owner, ok := s.scope(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.findLocked(w, r, owner)
	if p == nil {
		return
	}
	id := r.PathValue("id")
	for i, e := range p.env {
		if e.ID == id {
			p.env = append(p.env[:i], p.env[i+1:]...)
			writeJSON(w, http.StatusOK, envJSON(e, false))
			return
		}
	}
	writeError(w, http.StatusNotFound, "not_found", "Environment variable not found")
}
