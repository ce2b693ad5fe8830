package awsfake

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
)

// An identity-based IAM policy, evaluated the way IAM does for one account:
// an explicit Deny wins, otherwise any Allow grants, otherwise implicit deny.
// Action matching is case-insensitive with * and ? wildcards; Resource
// matching is case-sensitive with the same wildcards. Condition blocks are
// not evaluated: an Allow with a Condition never grants (so the fake is
// never more permissive than AWS) and a Deny with a Condition always denies.

type statement struct {
	Effect                string
	Action, NotAction     []string
	Resource, NotResource []string
	hasCondition          bool
}

type policy struct{ statements []statement }

// stringOrList decodes IAM's "string or array of strings".
type stringOrList []string

func (l *stringOrList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("Syntax errors in policy.")
	}
	*l = many
	return nil
}

var errPolicySyntax = errors.New("Syntax errors in policy.")

// parsePolicy validates a policy document the way PutUserPolicy does; the
// error text is the MalformedPolicyDocument message.
func parsePolicy(doc string) (*policy, error) {
	var top map[string]json.RawMessage
	dec := json.NewDecoder(strings.NewReader(doc))
	if err := dec.Decode(&top); err != nil || dec.More() {
		return nil, errPolicySyntax
	}
	for k := range top {
		switch k {
		case "Version", "Id", "Statement":
		default:
			return nil, errPolicySyntax
		}
	}
	if v, ok := top["Version"]; ok {
		var ver string
		if json.Unmarshal(v, &ver) != nil || (ver != "2012-10-17" && ver != "2008-10-17") {
			return nil, errors.New("The policy failed legacy parsing")
		}
	}
	raw, ok := top["Statement"]
	if !ok {
		return nil, errPolicySyntax
	}
	var rawStmts []map[string]json.RawMessage
	if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '{' {
		var one map[string]json.RawMessage
		if json.Unmarshal(raw, &one) != nil {
			return nil, errPolicySyntax
		}
		rawStmts = append(rawStmts, one)
	} else if json.Unmarshal(raw, &rawStmts) != nil {
		return nil, errPolicySyntax
	}
	if len(rawStmts) == 0 {
		return nil, errPolicySyntax
	}
	p := &policy{}
	for _, rs := range rawStmts {
		var st statement
		for k, v := range rs {
			var err error
			switch k {
			case "Sid":
				var sid string
				err = json.Unmarshal(v, &sid)
			case "Effect":
				err = json.Unmarshal(v, &st.Effect)
			case "Action":
				err = json.Unmarshal(v, (*stringOrList)(&st.Action))
			case "NotAction":
				err = json.Unmarshal(v, (*stringOrList)(&st.NotAction))
			case "Resource":
				err = json.Unmarshal(v, (*stringOrList)(&st.Resource))
			case "NotResource":
				err = json.Unmarshal(v, (*stringOrList)(&st.NotResource))
			case "Condition":
				var c map[string]map[string]json.RawMessage
				err = json.Unmarshal(v, &c)
				st.hasCondition = true
			case "Principal", "NotPrincipal":
				return nil, errors.New("Policy document should not specify a principal.")
			default:
				return nil, errPolicySyntax
			}
			if err != nil {
				return nil, errPolicySyntax
			}
		}
		if st.Effect != "Allow" && st.Effect != "Deny" {
			return nil, errPolicySyntax
		}
		if len(st.Action) == 0 && len(st.NotAction) == 0 {
			return nil, errors.New("Policy statement must contain actions.")
		}
		if len(st.Resource) == 0 && len(st.NotResource) == 0 {
			return nil, errors.New("Policy statement must contain resources.")
		}
		for _, a := range append(append([]string(nil), st.Action...), st.NotAction...) {
			if a == "*" {
				continue
			}
			svc, name, ok := strings.Cut(a, ":")
			if !ok || svc == "" || name == "" {
				return nil, errors.New("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.")
			}
		}
		for _, r := range append(append([]string(nil), st.Resource...), st.NotResource...) {
			if r != "*" && !strings.HasPrefix(r, "arn:") {
				return nil, errors.New("Resource " + r + " must be in ARN format or \"*\".")
			}
		}
		p.statements = append(p.statements, st)
	}
	return p, nil
}

type decision int

const (
	implicitDeny decision = iota
	allowed
	explicitDeny
)

func (p *policy) evaluate(action, resource string) decision {
	d := implicitDeny
	for _, st := range p.statements {
		if !st.matches(action, resource) {
			continue
		}
		if st.Effect == "Deny" {
			return explicitDeny
		}
		if !st.hasCondition {
			d = allowed
		}
	}
	return d
}

func (st statement) matches(action, resource string) bool {
	actionOK := false
	if len(st.Action) > 0 {
		actionOK = anyMatch(st.Action, action, true)
	} else {
		actionOK = !anyMatch(st.NotAction, action, true)
	}
	if !actionOK {
		return false
	}
	if len(st.Resource) > 0 {
		return anyMatch(st.Resource, resource, false)
	}
	return !anyMatch(st.NotResource, resource, false)
}

func anyMatch(patterns []string, s string, fold bool) bool {
	for _, p := range patterns {
		if fold {
			if wildcardMatch(strings.ToLower(p), strings.ToLower(s)) {
				return true
			}
		} else if wildcardMatch(p, s) {
			return true
		}
	}
	return false
}

// wildcardMatch matches * (any run) and ? (any one byte), iteratively (no
// exponential backtracking).
func wildcardMatch(p, s string) bool {
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == s[si]):
			pi++
			si++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// policySize is IAM's measure for the inline-policy quota: characters, not
// counting white space.
func policySize(doc string) int {
	n := 0
	for _, r := range doc {
		if r != ' ' && r != '\t' && r != '\n' && r != '\r' {
			n++
		}
	}
	return n
}

// authorize decides whether u may perform action on resource.
func (s *Server) authorize(u *user, action, resource string) *apiError {
	s.mu.Lock()
	docs := make([]string, 0, len(u.policies))
	for _, d := range u.policies {
		docs = append(docs, d)
	}
	admin := u.bootstrap && len(u.policies) == 0
	s.mu.Unlock()
	if admin {
		return nil
	}
	d := implicitDeny
	for _, doc := range docs {
		p, err := parsePolicy(doc)
		if err != nil {
			continue
		}
		switch p.evaluate(action, resource) {
		case explicitDeny:
			d = explicitDeny
		case allowed:
			if d != explicitDeny {
				d = allowed
			}
		}
	}
	switch d {
	case allowed:
		return nil
	case explicitDeny:
		return &apiError{Status: 403, Code: "AccessDenied", Message: "User: " + u.arn + " is not authorized to perform: " + action +
			" on resource: " + resource + " with an explicit deny in an identity-based policy"}
	default:
		return &apiError{Status: 403, Code: "AccessDenied", Message: "User: " + u.arn + " is not authorized to perform: " + action +
			" on resource: " + resource + " because no identity-based policy allows the " + action + " action"}
	}
}
