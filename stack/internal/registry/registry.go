// Package registry is the per-user list of stack projects,
// $STACK_HOME/projects.json (default ~/.stack/projects.json). It lets
// `stack projects` find a project by name and `stack doctor --all` check
// every project at once. It holds paths, names, project ids and service
// names: never a secret.
//
// Every change is a read-modify-write under an exclusive lock
// (projects.json.lock) with an atomic replace, so two stack processes never
// lose each other's entries. A file that cannot be read (bad JSON, unknown
// fields, a newer version) is reported with its path and never written over:
// the user's entries are worth more than a fresh registry.
package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"phantomstack.dev/shared/fsx"
)

// Version is the registry format this stack reads and writes. A later stack
// that adds a field bumps it, because this one refuses unknown fields rather
// than drop them on the next write.
const Version = 1

// FileName is the registry's name inside the stack home.
const FileName = "projects.json"

// lockWait bounds how long a change waits for another stack process.
const lockWait = 10 * time.Second

// Project is one registered project.
type Project struct {
	Path      string    `json:"path"` // absolute, symlinks resolved
	Name      string    `json:"name"` // unique; the directory's basename, or basename-N
	ProjectID string    `json:"project_id"`
	Template  string    `json:"template"`
	Services  []string  `json:"services"`
	LastSeen  time.Time `json:"last_seen"` // last config write or register
}

type file struct {
	Version  int       `json:"version"`
	Projects []Project `json:"projects"`
}

// CorruptError is a registry file stack cannot read. It is left untouched.
type CorruptError struct {
	Path string
	Err  error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("the project registry %s cannot be read: %v; stack left it untouched. Fix it, or move it away and run `stack projects register` in each project", e.Path, e.Err)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// ErrNotFound is wrapped when no project matches a name or path.
var ErrNotFound = errors.New("no such registered project")

// Home returns the stack home: $STACK_HOME, else ~/.stack.
func Home(getenv func(string) string) (string, error) {
	if h := getenv("STACK_HOME"); h != "" {
		return filepath.Abs(h)
	}
	u, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("cannot find the home directory for the project registry (%v); set STACK_HOME", err)
	}
	return filepath.Join(u, ".stack"), nil
}

// Registry is the registry file in one stack home.
type Registry struct {
	Dir string
	Now func() time.Time // nil: time.Now
}

// Open returns the registry in dir (nothing is read yet).
func Open(dir string) *Registry { return &Registry{Dir: dir} }

// Path is the registry file.
func (r *Registry) Path() string { return filepath.Join(r.Dir, FileName) }

func (r *Registry) now() time.Time {
	if r.Now != nil {
		return r.Now().UTC()
	}
	return time.Now().UTC().Round(time.Second)
}

// Canonical is how a project directory is recorded: absolute and with
// symlinks resolved, so one project reached two ways is one entry. A path
// that no longer exists is only made absolute.
func Canonical(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		return real, nil
	}
	return filepath.Clean(abs), nil
}

// List returns the projects, sorted by name. A missing file is an empty
// registry.
func (r *Registry) List() ([]Project, error) {
	f, err := r.read()
	if err != nil {
		return nil, err
	}
	return f.Projects, nil
}

func (r *Registry) read() (*file, error) {
	b, err := os.ReadFile(r.Path())
	if errors.Is(err, fs.ErrNotExist) {
		return &file{Version: Version, Projects: []Project{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read the project registry %s: %w", r.Path(), err)
	}
	return decode(r.Path(), b)
}

func decode(path string, b []byte) (*file, error) {
	bad := func(format string, args ...any) error {
		return &CorruptError{Path: path, Err: fmt.Errorf(format, args...)}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f file
	if err := dec.Decode(&f); err != nil {
		return nil, bad("%v", err)
	}
	if dec.More() {
		return nil, bad("data after the JSON object")
	}
	switch {
	case f.Version > Version:
		return nil, bad("it was written by a newer stack (version %d; this stack reads %d); upgrade stack", f.Version, Version)
	case f.Version != Version:
		return nil, bad("version is %d, want %d", f.Version, Version)
	}
	names, paths := map[string]bool{}, map[string]bool{}
	for i, p := range f.Projects {
		switch {
		case p.Name == "":
			return nil, bad("project %d has no name", i+1)
		case !filepath.IsAbs(p.Path):
			return nil, bad("project %s has a path that is not absolute: %q", p.Name, p.Path)
		case names[strings.ToLower(p.Name)]:
			return nil, bad("the name %s is used twice", p.Name)
		case paths[p.Path]:
			return nil, bad("the path %s is registered twice", p.Path)
		}
		names[strings.ToLower(p.Name)], paths[p.Path] = true, true
		if f.Projects[i].Services == nil {
			f.Projects[i].Services = []string{}
		}
	}
	if f.Projects == nil {
		f.Projects = []Project{}
	}
	sortProjects(f.Projects)
	return &f, nil
}

func sortProjects(ps []Project) {
	slices.SortFunc(ps, func(a, b Project) int { return strings.Compare(a.Name, b.Name) })
}

// update runs fn on the registry under the lock and writes the result
// atomically. An unreadable file stops it before fn runs, so it is never
// written over.
func (r *Registry) update(fn func(f *file) (changed bool, err error)) error {
	if err := fsx.MkdirPrivate(r.Dir); err != nil {
		return fmt.Errorf("cannot create the stack home %s: %w", r.Dir, err)
	}
	lock, err := fsx.AcquireLock(r.Path()+".lock", lockWait, "stack")
	if err != nil {
		return err
	}
	defer lock.Release()
	f, err := r.read()
	if err != nil {
		return err
	}
	changed, err := fn(f)
	if err != nil || !changed {
		return err
	}
	f.Version = Version
	if f.Projects == nil {
		f.Projects = []Project{}
	}
	sortProjects(f.Projects)
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := fsx.WriteFileAtomic(r.Path(), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("could not write the project registry: %w", err)
	}
	return nil
}

// Upsert records the project at p.Path (made canonical), keeping its name
// when it is already registered and otherwise naming it after its
// directory: the first project called "app" is app, the next app-2, then
// app-3 (names compare case-insensitively, so lookups stay unambiguous).
// LastSeen is set to now. It returns the stored entry.
func (r *Registry) Upsert(p Project) (Project, error) {
	path, err := Canonical(p.Path)
	if err != nil {
		return Project{}, err
	}
	p.Path = path
	p.LastSeen = r.now()
	if p.Services == nil {
		p.Services = []string{}
	}
	err = r.update(func(f *file) (bool, error) {
		for i, q := range f.Projects {
			if q.Path == p.Path {
				p.Name = q.Name
				f.Projects[i] = p
				return true, nil
			}
		}
		p.Name = freeName(f.Projects, filepath.Base(p.Path))
		f.Projects = append(f.Projects, p)
		return true, nil
	})
	return p, err
}

func freeName(ps []Project, base string) string {
	if base == "" || base == "/" || base == "." {
		base = "project"
	}
	taken := func(n string) bool {
		return slices.ContainsFunc(ps, func(q Project) bool { return strings.EqualFold(q.Name, n) })
	}
	if !taken(base) {
		return base
	}
	for i := 2; ; i++ {
		if n := base + "-" + strconv.Itoa(i); !taken(n) {
			return n
		}
	}
}

// Lookup finds a project by name: exact first, then case-insensitive (when
// exactly one matches).
func Lookup(ps []Project, name string) (Project, error) {
	for _, p := range ps {
		if p.Name == name {
			return p, nil
		}
	}
	var hits []Project
	for _, p := range ps {
		if strings.EqualFold(p.Name, name) {
			hits = append(hits, p)
		}
	}
	if len(hits) == 1 {
		return hits[0], nil
	}
	return Project{}, fmt.Errorf("%w named %q", ErrNotFound, name)
}

// Remove unregisters the project called nameOrPath (name lookup first, then
// the path) and returns it. Its files are not touched.
func (r *Registry) Remove(nameOrPath string) (Project, error) {
	var gone Project
	err := r.update(func(f *file) (bool, error) {
		p, err := Lookup(f.Projects, nameOrPath)
		if err != nil {
			abs, aerr := Canonical(nameOrPath)
			if aerr != nil {
				return false, err
			}
			i := slices.IndexFunc(f.Projects, func(q Project) bool { return q.Path == abs })
			if i < 0 {
				return false, fmt.Errorf("%w named %q or at %s", ErrNotFound, nameOrPath, abs)
			}
			p = f.Projects[i]
		}
		gone = p
		f.Projects = slices.DeleteFunc(f.Projects, func(q Project) bool { return q.Path == p.Path })
		return true, nil
	})
	return gone, err
}

// Prune drops the projects whose .stack.toml (configFile inside the
// project) no longer exists and returns them with the remaining list. A
// project that cannot be checked for another reason (permissions) stays.
func (r *Registry) Prune(configFile string) (kept, pruned []Project, err error) {
	gone := func(p Project) bool {
		_, err := os.Stat(filepath.Join(p.Path, configFile))
		return errors.Is(err, fs.ErrNotExist)
	}
	ps, err := r.List()
	if err != nil {
		return nil, nil, err
	}
	if !slices.ContainsFunc(ps, gone) {
		return ps, nil, nil // the common case takes no lock and writes nothing
	}
	err = r.update(func(f *file) (bool, error) {
		kept, pruned = nil, nil
		for _, p := range f.Projects {
			if gone(p) {
				pruned = append(pruned, p)
			} else {
				kept = append(kept, p)
			}
		}
		f.Projects = kept
		return len(pruned) > 0, nil
	})
	if kept == nil {
		kept = []Project{}
	}
	return kept, pruned, err
}
