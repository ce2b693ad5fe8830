package cli

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"

	"phantomstack.dev/phantom/internal/catalog"
	"phantomstack.dev/phantom/internal/vault"
)

// upstreamRefMismatch pins the supabase route to the project its keys
// belong to. Any https://<ref>.supabase.co has the route's usual shape, so
// an agent that owns a Supabase project could write its own URL into
// SUPABASE_URL and receive the service-role key. The keys say which project
// they are for: Supabase's anon and service_role keys are JWTs with a "ref"
// claim (docs/providers.md), and they are in the vault, where no agent can
// change them. So the upstream's ref must equal every ref the route's
// vaulted keys name, and the one stack recorded in .stack.local.toml when
// it set the project up (that file is writable, so it can only add a
// mismatch, never vouch for a ref). With no key that names a ref (only the
// newer sb_secret_ keys, which carry none), nothing pins the URL and a
// human approves it once with phantom trust.
//
// It returns why the upstream needs approval, or "" when it is pinned.
func upstreamRefMismatch(p *Project, pl *vault.Payload, r catalog.Route, up string) string {
	if r.Name != "supabase" {
		return ""
	}
	u, err := url.Parse(up)
	if err != nil {
		return "not a URL"
	}
	ref, _, _ := strings.Cut(u.Hostname(), ".")
	var pins []string
	for _, name := range r.Secrets {
		s := pl.Secrets[name]
		if s == nil {
			continue
		}
		if k := jwtRef(s.Value); k != "" && !slices.Contains(pins, k) {
			pins = append(pins, k)
		}
	}
	for _, k := range pins {
		if k != ref {
			return fmt.Sprintf("project %s, but the keys in your vault belong to project %s", ref, strings.Join(pins, ", "))
		}
	}
	if k := stackSupabaseRef(p.Dir); k != "" && k != ref {
		return fmt.Sprintf("project %s, but stack set this project up with Supabase project %s (.stack.local.toml)", ref, k)
	}
	if len(pins) == 0 {
		return fmt.Sprintf("project %s, and no key in your vault names its project (only JWT anon/service_role keys do), so nothing shows it is yours", ref)
	}
	return ""
}

// jwtRef returns the "ref" claim of a JWT (without verifying it: the vault
// is the trusted store, the signature is Supabase's business), or "".
func jwtRef(v []byte) string {
	parts := strings.Split(string(v), ".")
	if len(parts) != 3 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return ""
	}
	var claims struct {
		Ref string `json:"ref"`
	}
	if json.Unmarshal(b, &claims) != nil {
		return ""
	}
	return claims.Ref
}

// stackSupabaseRef reads the Supabase project ref stack recorded in
// .stack.local.toml ([services.supabase] resource_id), or "".
func stackSupabaseRef(dir string) string {
	b, err := readBounded(filepath.Join(dir, ".stack.local.toml"), 1<<20)
	if err != nil {
		return ""
	}
	var lf struct {
		Services map[string]struct {
			ResourceID string `toml:"resource_id"`
		} `toml:"services"`
	}
	if _, err := toml.Decode(string(b), &lf); err != nil {
		return ""
	}
	return lf.Services["supabase"].ResourceID
}

// readBounded reads at most limit bytes of path; a longer file is an error.
func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return b, nil
}
