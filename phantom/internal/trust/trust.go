// Package trust records which custom proxy routes a human has approved.
//
// A route in .phantom.toml decides where secret values are sent, and
// .phantom.toml is committed: a pull request (or an agent with write access
// to the repo) could point the openai route at its own host. So a route whose
// upstream is not the built-in one works only after `phantom trust`, run by a
// human on a terminal, has stored the route's hash here, in
// $PHANTOM_HOME/trust.json. Any later change to the route changes its hash
// and needs a new approval. The file names projects and routes, never values.
package trust

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"phantomstack.dev/phantom/internal/config"
	"phantomstack.dev/shared/fsx"
)

// FileName is the approvals file in PHANTOM_HOME.
const FileName = "trust.json"

// Approval is one approved route definition.
type Approval struct {
	Hash       string    `json:"hash"`
	Upstream   string    `json:"upstream"`
	ApprovedAt time.Time `json:"approved_at"`
}

type file struct {
	Version  int                            `json:"version"`
	Projects map[string]map[string]Approval `json:"projects"`
}

// Hash identifies everything about a route that decides where values go
// and which values may go there.
func Hash(r config.RouteSpec) string {
	canon := struct {
		Upstream, InjectHeader, InjectFormat, Suffix string
		Secrets, Headers, Query, BodyFields, BaseURL []string
	}{r.Upstream, r.InjectHeader, r.InjectFormat, r.BaseURLSufx,
		sorted(r.Secrets), sorted(r.Headers), sorted(r.Query), sorted(r.BodyFields), sorted(r.BaseURLEnv)}
	b, _ := json.Marshal(canon)
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func load(home string) (*file, error) {
	f := &file{Version: 1, Projects: map[string]map[string]Approval{}}
	b, err := os.ReadFile(filepath.Join(home, FileName))
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, f); err != nil {
		return nil, fmt.Errorf("%s is damaged (%v); move it aside and run `phantom trust` again", filepath.Join(home, FileName), err)
	}
	if f.Version != 1 {
		return nil, fmt.Errorf("%s was written by a newer phantom (version %d); upgrade phantom", filepath.Join(home, FileName), f.Version)
	}
	if f.Projects == nil {
		f.Projects = map[string]map[string]Approval{}
	}
	return f, nil
}

// Approved reports whether route r of project is approved as it is now.
func Approved(home, project string, r config.RouteSpec) (bool, error) {
	f, err := load(home)
	if err != nil {
		return false, err
	}
	a, ok := f.Projects[project][r.Name]
	return ok && a.Hash == Hash(r), nil
}

// EnvRouteName is the approval key for a built-in route's upstream read
// from an env var (supabase's SUPABASE_URL): kept apart from the route's
// own [routes.NAME] approval, which is a different question.
func EnvRouteName(route, envVar string) string { return route + "/" + envVar }

// Approve stores the approval of routes (under the trust file's lock, written
// atomically).
func Approve(home, project string, now time.Time, routes ...config.RouteSpec) error {
	lock, err := fsx.AcquireLock(filepath.Join(home, "trust.lock"), 10*time.Second, "phantom trust")
	if err != nil {
		return err
	}
	defer lock.Release()
	f, err := load(home)
	if err != nil {
		return err
	}
	if f.Projects[project] == nil {
		f.Projects[project] = map[string]Approval{}
	}
	for _, r := range routes {
		up := r.Upstream
		if r.HideUpstream {
			up = "(a vaulted value)"
		}
		f.Projects[project][r.Name] = Approval{Hash: Hash(r), Upstream: up, ApprovedAt: now.UTC().Round(time.Second)}
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	return fsx.WriteFileAtomic(filepath.Join(home, FileName), append(b, '\n'), 0o600)
}
