package supabasefake

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// checkAPIKey applies the API gateway's rule: every request to a project
// carries one of its API keys in the apikey header (or ?apikey=). When an
// Authorization: Bearer is sent too (supabase-js sends the key there when
// no user is signed in), it must also be one of the project's keys.
func (s *Server) checkAPIKey(w http.ResponseWriter, r *http.Request, p *project) bool {
	key := r.Header.Get("apikey")
	if key == "" {
		key = r.URL.Query().Get("apikey")
	}
	if key == "" {
		writeJSON(w, http.StatusUnauthorized, map[string]string{
			"message": "No API key found in request",
			"hint":    "No `apikey` request header or url param was found.",
		})
		return false
	}
	s.mu.Lock()
	okKey := s.projectKeyLocked(p, key)
	bearer, hasBearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	okBearer := !hasBearer || s.projectKeyLocked(p, bearer)
	s.mu.Unlock()
	if !okKey {
		writeJSON(w, http.StatusUnauthorized, map[string]string{
			"message": "Invalid API key",
			"hint":    "Double check your Supabase `anon` or `service_role` API key.",
		})
		return false
	}
	if !okBearer {
		writeJSON(w, http.StatusUnauthorized, map[string]any{
			"code": "PGRST301", "details": nil, "hint": nil, "message": "JWSError JWSInvalidSignature",
		})
		return false
	}
	return true
}

func (s *Server) projectKeyLocked(p *project, v string) bool {
	for _, k := range p.keys {
		if !k.revoked && subtle.ConstantTimeCompare([]byte(k.value), []byte(v)) == 1 {
			return true
		}
	}
	return false
}

func pgrstError(w http.ResponseWriter, status int, code, msg string, hint any) {
	writeJSON(w, status, map[string]any{"code": code, "details": nil, "hint": hint, "message": msg})
}

// restRoot answers GET /rest/v1/ with a minimal OpenAPI description of the
// exposed tables (what PostgREST serves at its root).
func (s *Server) restRoot(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	p := s.projects[r.PathValue("ref")]
	paths := map[string]any{"/": map[string]any{}}
	for _, t := range sortedKeys(p.tables) {
		paths["/"+t] = map[string]any{"get": map[string]any{"tags": []string{t}}}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"swagger": "2.0",
		"info":    map[string]any{"title": "standard public schema", "version": "12.2.3"},
		"paths":   paths,
	})
}

// restSelect is a read-only subset of PostgREST: select=<cols|*>,
// <col>=eq.|neq.|is.<v> filters, order=<col>[.asc|.desc], limit, offset.
func (s *Server) restSelect(w http.ResponseWriter, r *http.Request) {
	if prof := r.Header.Get("Accept-Profile"); prof != "" && prof != "public" {
		pgrstError(w, http.StatusNotAcceptable, "PGRST106", "Invalid schema: "+prof, "Only the following schemas are exposed: public, graphql_public")
		return
	}
	table := r.PathValue("table")
	s.mu.Lock()
	p := s.projects[r.PathValue("ref")]
	src, ok := p.tables[table]
	rows := make([]map[string]any, len(src))
	copy(rows, src)
	s.mu.Unlock()
	if !ok {
		pgrstError(w, http.StatusNotFound, "PGRST205", fmt.Sprintf("Could not find the table 'public.%s' in the schema cache", table), nil)
		return
	}
	cols := map[string]bool{}
	for _, row := range rows {
		for c := range row {
			cols[c] = true
		}
	}
	q := r.URL.Query()
	for name, vals := range q {
		switch name {
		case "select", "order", "limit", "offset", "apikey":
			continue
		}
		if !cols[name] {
			pgrstError(w, http.StatusBadRequest, "42703", fmt.Sprintf("column %s.%s does not exist", table, name), nil)
			return
		}
		for _, v := range vals {
			op, arg, found := strings.Cut(v, ".")
			if !found || (op != "eq" && op != "neq" && op != "is") {
				pgrstError(w, http.StatusBadRequest, "PGRST100", fmt.Sprintf("failed to parse filter (%s)", v), nil)
				return
			}
			var kept []map[string]any
			for _, row := range rows {
				cell := row[name]
				var match bool
				switch op {
				case "is":
					match = (arg == "null" && cell == nil) || (arg == "true" && cell == true) || (arg == "false" && cell == false)
				default:
					match = cell != nil && fmt.Sprint(cell) == arg
					if op == "neq" {
						match = cell != nil && !match
					}
				}
				if match {
					kept = append(kept, row)
				}
			}
			rows = kept
		}
	}
	if ord := q.Get("order"); ord != "" {
		col, dir, _ := strings.Cut(ord, ".")
		if !cols[col] {
			pgrstError(w, http.StatusBadRequest, "42703", fmt.Sprintf("column %s.%s does not exist", table, col), nil)
			return
		}
		sort.SliceStable(rows, func(i, j int) bool {
			less := fmt.Sprint(rows[i][col]) < fmt.Sprint(rows[j][col])
			if a, aok := rows[i][col].(int); aok {
				if b, bok := rows[j][col].(int); bok {
					less = a < b
				}
			}
			if dir == "desc" {
				return !less
			}
			return less
		})
	}
	offset, _ := strconv.Atoi(q.Get("offset"))
	if offset > len(rows) {
		offset = len(rows)
	}
	rows = rows[offset:]
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 {
			pgrstError(w, http.StatusBadRequest, "PGRST102", "limit must be a non-negative integer", nil)
			return
		}
		if n < len(rows) {
			rows = rows[:n]
		}
	}
	sel := q.Get("select")
	if sel != "" && sel != "*" {
		want := strings.Split(sel, ",")
		for _, c := range want {
			if !cols[strings.TrimSpace(c)] {
				pgrstError(w, http.StatusBadRequest, "42703", fmt.Sprintf("column %s.%s does not exist", table, c), nil)
				return
			}
		}
		for i, row := range rows {
			out := map[string]any{}
			for _, c := range want {
				c = strings.TrimSpace(c)
				out[c] = row[c]
			}
			rows[i] = out
		}
	}
	if rows == nil {
		rows = []map[string]any{}
	}
	if len(rows) == 0 {
		w.Header().Set("Content-Range", "*/*")
	} else {
		w.Header().Set("Content-Range", fmt.Sprintf("%d-%d/*", offset, offset+len(rows)-1))
	}
	if r.Method == http.MethodHead {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		return
	}
	writeJSON(w, http.StatusOK, rows)
}

// authHealth mirrors GoTrue's /health.
func (s *Server) authHealth(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{
		"version":     "v2.170.0",
		"name":        "GoTrue",
		"description": "GoTrue is a user registration and authentication API",
	})
}

// authSettings mirrors GoTrue's /settings (public auth configuration).
func (s *Server) authSettings(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"external": map[string]bool{
			"anonymous_users": false, "email": true, "phone": false, "github": false, "google": false,
		},
		"disable_signup":     false,
		"mailer_autoconfirm": false,
		"phone_autoconfirm":  false,
		"sms_provider":       "",
		"saml_enabled":       false,
	})
}
