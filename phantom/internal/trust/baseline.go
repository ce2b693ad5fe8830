package trust

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"phantomstack.dev/phantom/internal/vault"
)

// Baseline is the protection a human approved for a project: the parts of
// .phantom.toml that decide how much a command run by phantom gets. A
// change that tightens any of them needs nobody's approval; a change that
// loosens one (a policy that hands out more, audit lowered, [classify]
// public patterns added, env files beyond the defaults) takes effect only
// after `phantom trust` (docs/security.md). It is stored as the Data of the
// ConfigKey approval, inside the vault payload.
type Baseline struct {
	Audit string `json:"audit"`
	// Policies is every vaulted secret's effective policy.
	Policies map[string]string `json:"policies"`
	Public   []string          `json:"public,omitempty"`
	// EnvFiles are the env files beyond the defaults (.env, .env.local).
	EnvFiles []string `json:"env_files,omitempty"`
}

func rankAudit(m string) int {
	switch m {
	case "off":
		return 0
	case "required":
		return 2
	}
	return 1
}

// rankPolicy orders policies by how little they hand out.
func rankPolicy(p string) int {
	switch p {
	case "inject":
		return 0
	case "proxy":
		return 1
	}
	return 2 // deny
}

// Approved returns the baseline stored in pl over defaults: a setting the
// store does not mention (a secret added since) is approved at its
// default.
func ApprovedBaseline(pl *vault.Payload, defaults Baseline) (Baseline, error) {
	out := Baseline{Audit: defaults.Audit, Policies: maps.Clone(defaults.Policies)}
	if out.Policies == nil {
		out.Policies = map[string]string{}
	}
	var a *vault.Approval
	if pl != nil {
		a = pl.Approvals[ConfigKey]
	}
	if a == nil {
		return out, nil
	}
	var stored Baseline
	if err := json.Unmarshal(a.Data, &stored); err != nil || a.Hash != baselineHash(a.Data) {
		return out, fmt.Errorf("the approved settings stored in the vault are damaged (%v); approve the current ones with phantom trust", err)
	}
	out.Audit = stored.Audit
	for n, p := range stored.Policies {
		if _, ok := out.Policies[n]; ok {
			out.Policies[n] = p
		}
	}
	out.Public, out.EnvFiles = stored.Public, stored.EnvFiles
	return out, nil
}

// Weaker lists, for people, each setting of cur that hands out more than
// approved allows.
func Weaker(approved, cur Baseline) []string {
	var out []string
	if rankAudit(cur.Audit) < rankAudit(approved.Audit) {
		out = append(out, fmt.Sprintf("audit = %q (approved: %q)", cur.Audit, approved.Audit))
	}
	for _, n := range slices.Sorted(maps.Keys(cur.Policies)) {
		ap, ok := approved.Policies[n]
		if ok && rankPolicy(cur.Policies[n]) < rankPolicy(ap) {
			out = append(out, fmt.Sprintf("secret %s: policy %s (approved: %s)", n, cur.Policies[n], ap))
		}
	}
	for _, p := range cur.Public {
		if !slices.Contains(approved.Public, p) {
			out = append(out, fmt.Sprintf("[classify] public pattern %q", p))
		}
	}
	for _, e := range cur.EnvFiles {
		if !slices.Contains(approved.EnvFiles, e) {
			out = append(out, fmt.Sprintf("env file %s (beyond the defaults)", e))
		}
	}
	return out
}

// Fold returns approved with every setting of cur that is at least as
// strict taken over: tightening is recorded without asking, so loosening
// it again needs an approval. A weaker setting keeps its approved value.
func Fold(approved, cur Baseline) Baseline {
	out := Baseline{Audit: approved.Audit, Policies: map[string]string{}}
	if rankAudit(cur.Audit) >= rankAudit(approved.Audit) {
		out.Audit = cur.Audit
	}
	for n, p := range cur.Policies {
		ap, ok := approved.Policies[n]
		if !ok || rankPolicy(p) >= rankPolicy(ap) {
			out.Policies[n] = p
		} else {
			out.Policies[n] = ap
		}
	}
	for _, p := range approved.Public {
		if slices.Contains(cur.Public, p) {
			out.Public = append(out.Public, p)
		}
	}
	for _, e := range approved.EnvFiles {
		if slices.Contains(cur.EnvFiles, e) {
			out.EnvFiles = append(out.EnvFiles, e)
		}
	}
	return out
}

// Equal reports whether two baselines hold the same settings.
func (b Baseline) Equal(o Baseline) bool {
	return b.Audit == o.Audit && maps.Equal(b.Policies, o.Policies) &&
		slices.Equal(sortedCopy(b.Public), sortedCopy(o.Public)) && slices.Equal(sortedCopy(b.EnvFiles), sortedCopy(o.EnvFiles))
}

func sortedCopy(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// StoreBaseline records b as the approved baseline in pl (call it inside
// vault.Update).
func StoreBaseline(pl *vault.Payload, now time.Time, b Baseline, detail string) {
	b.Public, b.EnvFiles = sortedCopy(b.Public), sortedCopy(b.EnvFiles)
	data, _ := json.Marshal(b)
	if pl.Approvals == nil {
		pl.Approvals = map[string]*vault.Approval{}
	}
	pl.Approvals[ConfigKey] = &vault.Approval{Hash: baselineHash(data), Detail: detail, ApprovedAt: now.UTC().Round(time.Second), Data: data}
}

func baselineHash(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}
