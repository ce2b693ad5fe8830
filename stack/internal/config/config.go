// Package config reads and edits a project's two stack files (docs/architecture.md
// §7): .stack.toml, the committed shape (which services, which provider,
// which slot names), and .stack.local.toml, the gitignored instance data
// (resource ids, regions, timestamps). Neither ever holds a secret value.
//
// Parsing is strict: an unknown key, a wrong type, an unknown provider, a
// duplicate service or a slot that is not an env var name is an error with
// the file and line. Edits to .stack.toml change only the text of the
// service they touch, so the user's comments elsewhere survive;
// .stack.local.toml is machine-written and rewritten whole.
package config

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"phantomstack.dev/shared/fsx"
	"phantomstack.dev/shared/suggest"
	"phantomstack.dev/stack/internal/pipeline"
)

// File names.
const (
	FileName  = ".stack.toml"
	LocalName = ".stack.local.toml"
)

// SchemaVersion is the version this stack reads and writes.
const SchemaVersion = 1

// ErrNotFound is wrapped when a directory has no .stack.toml.
var ErrNotFound = errors.New("no " + FileName)

// Service is one [services.<name>] table merged with its local data.
type Service struct {
	Name     string
	Provider string
	Secrets  []string // slot names stored in phantom
	Config   []string // non-secret slot names (values live in .env.local)
	MCP      string
	// Instance data from .stack.local.toml.
	ResourceID string
	Region     string
	CreatedAt  time.Time
	CreatedBy  string
	Meta       map[string]string
	// Login are the vault names of stack's own sign-in to the provider
	// (OAuth access/refresh tokens), stored with policy deny; this
	// checkout's, so they live in .stack.local.toml.
	Login []string
	// Unverified are the secret slots stored without checking them with the
	// provider (stack add --no-verify, for an unreachable provider); this
	// checkout's vault, so .stack.local.toml. stack doctor checks them like
	// any other slot; a later add that checks the key clears the list.
	Unverified []string
}

// Config is a project's stack configuration.
type Config struct {
	Dir      string
	Template string
	Services map[string]*Service
	// Env are the vault keys the project uses that no service provides
	// ([env] secrets: what `stack import` moved into phantom, e.g.
	// DATABASE_URL or PORT), declared so `stack env diff` counts them.
	Env       []string
	order     []string // services as they appear in .stack.toml
	src       []byte   // .stack.toml as read (for text edits)
	ProjectID string
	// Journals are the pending adds recorded in .stack.local.toml.
	Journals map[string]pipeline.Journal
}

// Error is one problem in a stack file, located by line.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

var (
	topKeys     = []string{"stack", "services", "env"}
	envKeys     = []string{"secrets"}
	stackKeys   = []string{"version", "template"}
	serviceKeys = []string{"provider", "secrets", "config", "mcp"}
	localSvc    = []string{"resource_id", "region", "created_at", "created_by", "meta"}
	envName     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	serviceName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,39}$`)
)

// Known reports whether a provider name exists; Load uses it to refuse an
// unknown provider.
type Known func(provider string) bool

// Load reads dir's stack files.
func Load(dir string, known Known) (*Config, error) {
	src, err := os.ReadFile(filepath.Join(dir, FileName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w in %s; run `stack init` first", ErrNotFound, dir)
	}
	if err != nil {
		return nil, err
	}
	c, err := parse(src, known)
	if err != nil {
		return nil, err
	}
	c.Dir = dir
	if err := c.loadLocal(); err != nil {
		return nil, err
	}
	return c, nil
}

func lineOf(src []byte, needle string) int {
	i := bytes.Index(src, []byte(needle))
	if i < 0 {
		return 0
	}
	return bytes.Count(src[:i], []byte("\n")) + 1
}

func parse(src []byte, known Known) (*Config, error) {
	var raw map[string]any
	md, err := toml.Decode(string(src), &raw)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, &Error{File: FileName, Line: pe.Position.Line, Msg: "invalid TOML: " + pe.Message}
		}
		return nil, &Error{File: FileName, Msg: err.Error()}
	}
	_ = md
	c := &Config{Services: map[string]*Service{}, src: src}
	bad := func(needle, format string, args ...any) error {
		return &Error{File: FileName, Line: lineOf(src, needle), Msg: fmt.Sprintf(format, args...)}
	}
	for k := range raw {
		if !slices.Contains(topKeys, k) {
			return nil, bad(k, "unknown key %q at the top level%s", k, hint(k, topKeys))
		}
	}
	st, ok := raw["stack"].(map[string]any)
	if !ok {
		return nil, &Error{File: FileName, Line: 1, Msg: "missing [stack] table (with version = 1); run `stack init` to create the file"}
	}
	for k := range st {
		if !slices.Contains(stackKeys, k) {
			return nil, bad(k, "unknown key %q in [stack]%s", k, hint(k, stackKeys))
		}
	}
	switch v := st["version"].(type) {
	case int64:
		if v > SchemaVersion {
			return nil, bad("version", "written by a newer stack (version = %d; this stack reads %d); upgrade stack", v, SchemaVersion)
		}
		if v < 1 {
			return nil, bad("version", "invalid version %d", v)
		}
	case nil:
		return nil, bad("[stack]", "missing version in [stack] (add: version = %d)", SchemaVersion)
	default:
		return nil, bad("version", "stack.version must be an integer")
	}
	if t, ok := st["template"]; ok {
		s, ok := t.(string)
		if !ok {
			return nil, bad("template", "stack.template must be a string")
		}
		c.Template = s
	}
	if v, ok := raw["env"]; ok {
		t, ok := v.(map[string]any)
		if !ok {
			return nil, bad("env", "env must be a table ([env] with secrets = [...])")
		}
		for k, val := range t {
			if !slices.Contains(envKeys, k) {
				return nil, bad(k, "unknown key %q in [env]%s", k, hint(k, envKeys))
			}
			list, err := strList(val)
			if err != nil {
				return nil, bad("[env]", "env.secrets %v", err)
			}
			for _, slot := range list {
				if !envName.MatchString(slot) {
					return nil, bad(slot, "env.secrets: %q is not an env var name (letters, digits and _, not starting with a digit)", slot)
				}
			}
			c.Env = list
		}
	}
	svcs, _ := raw["services"].(map[string]any)
	if raw["services"] != nil && svcs == nil {
		return nil, bad("services", "services must be a table of [services.<name>] tables")
	}
	for name, v := range svcs {
		header := "[services." + name + "]"
		if !serviceName.MatchString(name) {
			return nil, bad(name, "invalid service name %q: use lowercase letters, digits and -", name)
		}
		t, ok := v.(map[string]any)
		if !ok {
			return nil, bad(header, "services.%s must be a table", name)
		}
		s := &Service{Name: name}
		for k, val := range t {
			switch k {
			case "provider", "mcp":
				str, ok := val.(string)
				if !ok {
					return nil, bad(header, "services.%s.%s must be a string", name, k)
				}
				if k == "provider" {
					s.Provider = str
				} else {
					s.MCP = str
				}
			case "secrets", "config":
				list, err := strList(val)
				if err != nil {
					return nil, bad(header, "services.%s.%s %v", name, k, err)
				}
				for _, slot := range list {
					if !envName.MatchString(slot) {
						return nil, bad(slot, "services.%s.%s: %q is not an env var name (letters, digits and _, not starting with a digit)", name, k, slot)
					}
				}
				if k == "secrets" {
					s.Secrets = list
				} else {
					s.Config = list
				}
			default:
				return nil, bad(k, "unknown key %q in [services.%s]%s", k, name, hint(k, serviceKeys))
			}
		}
		if s.Provider == "" {
			return nil, bad(header, "services.%s has no provider", name)
		}
		if known != nil && !known(s.Provider) {
			return nil, bad(header, "services.%s: unknown provider %q; `stack providers` lists them", name, s.Provider)
		}
		c.Services[name] = s
	}
	// Services in file order; a slot may belong to one service only.
	owner := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^\s*\[services\.([a-z0-9-]+)\]`).FindAllSubmatch(src, -1) {
		n := string(m[1])
		if _, ok := c.Services[n]; ok && !slices.Contains(c.order, n) {
			c.order = append(c.order, n)
		}
	}
	for _, n := range c.Names() {
		for _, slot := range append(slices.Clone(c.Services[n].Secrets), c.Services[n].Config...) {
			if o, dup := owner[slot]; dup {
				return nil, bad(slot, "slot %s is declared by both %s and %s", slot, o, n)
			}
			owner[slot] = n
		}
	}
	for _, slot := range c.Env {
		if o, dup := owner[slot]; dup {
			return nil, bad(slot, "slot %s is declared by both %s and [env]", slot, o)
		}
	}
	return c, nil
}

func strList(v any) ([]string, error) {
	arr, ok := v.([]any)
	if !ok {
		return nil, errors.New("must be an array of strings")
	}
	out := make([]string, 0, len(arr))
	for _, e := range arr {
		s, ok := e.(string)
		if !ok {
			return nil, errors.New("must be an array of strings")
		}
		out = append(out, s)
	}
	return out, nil
}

func hint(k string, valid []string) string {
	best := suggest.Nearest(k, valid)
	if best == "" {
		return ""
	}
	return fmt.Sprintf("; did you mean %q?", best)
}

// Names returns the services in file order (new ones last).
func (c *Config) Names() []string {
	out := slices.Clone(c.order)
	var rest []string
	for n := range c.Services {
		if !slices.Contains(out, n) {
			rest = append(rest, n)
		}
	}
	slices.Sort(rest)
	return append(out, rest...)
}

// Slots returns every declared slot (secrets and config) of every service.
func (c *Config) Slots() []string {
	var out []string
	for _, n := range c.Names() {
		out = append(out, c.Services[n].Secrets...)
		out = append(out, c.Services[n].Config...)
	}
	return out
}

// Providers returns the provider of every service.
func (c *Config) Providers() []string {
	var out []string
	for _, n := range c.Names() {
		out = append(out, c.Services[n].Provider)
	}
	return out
}

// SecretSlots returns every declared secret slot.
func (c *Config) SecretSlots() []string {
	var out []string
	for _, n := range c.Names() {
		out = append(out, c.Services[n].Secrets...)
	}
	return out
}

type localFile struct {
	Stack struct {
		ProjectID string `toml:"project_id"`
	} `toml:"stack"`
	Services map[string]localService `toml:"services"`
	// Journal holds the journals of adds in progress (stack/internal/pipeline):
	// present only between a crash and the re-run that resumes it.
	Journal map[string]pipeline.Journal `toml:"journal,omitempty"`
}

type localService struct {
	ResourceID string            `toml:"resource_id,omitempty"`
	Region     string            `toml:"region,omitempty"`
	CreatedAt  time.Time         `toml:"created_at,omitempty"`
	CreatedBy  string            `toml:"created_by,omitempty"`
	Login      []string          `toml:"login_slots,omitempty"`
	Meta       map[string]string `toml:"meta,omitempty"`
	Unverified []string          `toml:"unverified_slots,omitempty"`
}

func (c *Config) loadLocal() error {
	b, err := os.ReadFile(filepath.Join(c.Dir, LocalName))
	if errors.Is(err, fs.ErrNotExist) {
		c.ProjectID = newProjectID()
		return nil
	}
	if err != nil {
		return err
	}
	var lf localFile
	md, err := toml.Decode(string(b), &lf)
	if err != nil {
		return &Error{File: LocalName, Msg: "invalid TOML: " + err.Error() + "; it is machine-written: delete it and re-run `stack add` to rebuild it"}
	}
	if und := md.Undecoded(); len(und) > 0 {
		return &Error{File: LocalName, Line: lineOf(b, und[0].String()), Msg: fmt.Sprintf("unknown key %q", und[0].String())}
	}
	c.ProjectID = lf.Stack.ProjectID
	c.Journals = lf.Journal
	if c.ProjectID == "" {
		c.ProjectID = newProjectID()
	}
	for name, ls := range lf.Services {
		s := c.Services[name]
		if s == nil {
			continue // a service removed from the shape; dropped on the next write
		}
		s.ResourceID, s.Region, s.CreatedAt, s.CreatedBy, s.Meta, s.Login = ls.ResourceID, ls.Region, ls.CreatedAt, ls.CreatedBy, ls.Meta, ls.Login
		s.Unverified = ls.Unverified
	}
	return nil
}

func newProjectID() string {
	var b [6]byte
	rand.Read(b[:])
	return "stk_" + hex.EncodeToString(b[:])
}

// New returns an empty configuration for dir.
func New(dir, template string) *Config {
	c := &Config{Dir: dir, Template: template, Services: map[string]*Service{}, ProjectID: newProjectID()}
	var b strings.Builder
	b.WriteString("# stack: the services this project uses and the slot names they fill.\n")
	b.WriteString("# Safe to commit: secret values live in phantom's vault, never here.\n")
	b.WriteString("# Instance data (resource ids) is in .stack.local.toml, which is gitignored.\n\n")
	b.WriteString("[stack]\nversion = 1\n")
	if template != "" {
		fmt.Fprintf(&b, "template = %q\n", template)
	}
	c.src = []byte(b.String())
	return c
}

// serviceSpan finds the text of [services.name] (and any
// [services.name.*] subtables) in src.
func serviceSpan(src []byte, name string) (start, end int, ok bool) {
	hdr := regexp.MustCompile(`(?m)^[ \t]*\[[^\]]*\][^\n]*\n?`)
	locs := hdr.FindAllIndex(src, -1)
	own := func(h string) bool {
		h = strings.TrimSpace(h)
		h = strings.TrimSuffix(strings.TrimPrefix(strings.SplitN(h, "]", 2)[0], "["), "")
		h = strings.TrimSpace(h)
		return h == "services."+name || strings.HasPrefix(h, "services."+name+".")
	}
	start = -1
	for i, l := range locs {
		h := string(src[l[0]:l[1]])
		if start < 0 && own(h) {
			start = l[0]
			end = len(src)
			for _, m := range locs[i+1:] {
				if !own(string(src[m[0]:m[1]])) {
					end = m[0]
					break
				}
			}
			return start, end, true
		}
	}
	return 0, 0, false
}

func renderService(s *Service) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[services.%s]\nprovider = %q\n", s.Name, s.Provider)
	quote := func(l []string) string {
		q := make([]string, len(l))
		for i, v := range l {
			q[i] = fmt.Sprintf("%q", v)
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	fmt.Fprintf(&b, "secrets = %s\n", quote(s.Secrets))
	if len(s.Config) > 0 {
		fmt.Fprintf(&b, "config = %s\n", quote(s.Config))
	}
	if s.MCP != "" {
		fmt.Fprintf(&b, "mcp = %q\n", s.MCP)
	}
	return b.String()
}

// SetService adds s or replaces the service of the same name, editing only
// that service's text in .stack.toml.
func (c *Config) SetService(s *Service) {
	block := renderService(s)
	if start, end, ok := serviceSpan(c.src, s.Name); ok {
		// Keep a blank line before whatever follows.
		if end < len(c.src) {
			block += "\n"
		}
		c.src = append(append(append([]byte{}, c.src[:start]...), block...), c.src[end:]...)
	} else {
		src := bytes.TrimRight(c.src, "\n")
		c.src = append(append(src, "\n\n"...), block...)
		c.order = append(c.order, s.Name)
	}
	c.Services[s.Name] = s
}

// AddEnv declares names in [env] secrets (keys no service provides), keeping
// the ones already there; only the [env] table's text changes.
func (c *Config) AddEnv(names ...string) {
	list := slices.Clone(c.Env)
	for _, n := range names {
		if !slices.Contains(list, n) {
			list = append(list, n)
		}
	}
	if len(list) == len(c.Env) {
		return
	}
	q := make([]string, len(list))
	for i, v := range list {
		q[i] = fmt.Sprintf("%q", v)
	}
	block := "[env]\n# Keys in phantom's vault that no service provides (stack import).\nsecrets = [" + strings.Join(q, ", ") + "]\n"
	if start, end, ok := tableSpan(c.src, "env"); ok {
		if end < len(c.src) {
			block += "\n"
		}
		c.src = append(append(append([]byte{}, c.src[:start]...), block...), c.src[end:]...)
	} else {
		src := bytes.TrimRight(c.src, "\n")
		c.src = append(append(src, "\n\n"...), block...)
	}
	c.Env = list
}

// tableSpan finds the text of the top-level table [name] up to the next
// table header.
func tableSpan(src []byte, name string) (start, end int, ok bool) {
	hdr := regexp.MustCompile(`(?m)^[ \t]*\[[^\]]*\][^\n]*\n?`)
	locs := hdr.FindAllIndex(src, -1)
	for i, l := range locs {
		h := strings.TrimSpace(string(src[l[0]:l[1]]))
		if strings.TrimSpace(strings.TrimPrefix(strings.SplitN(h, "]", 2)[0], "[")) != name {
			continue
		}
		end = len(src)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		return l[0], end, true
	}
	return 0, 0, false
}

// RemoveService deletes a service's text from .stack.toml.
func (c *Config) RemoveService(name string) {
	if start, end, ok := serviceSpan(c.src, name); ok {
		last := end == len(c.src)
		c.src = append(append([]byte{}, c.src[:start]...), c.src[end:]...)
		if last {
			// The blank line that separated the table from the one before
			// would otherwise stay behind: add then remove is a no-op.
			c.src = append(bytes.TrimRight(c.src, "\n"), '\n')
		}
	}
	delete(c.Services, name)
	c.order = slices.DeleteFunc(c.order, func(n string) bool { return n == name })
}

// Save writes both files atomically and makes sure .gitignore ignores the
// local one. The new .stack.toml is parsed again before it is written, so a
// bad edit never reaches the disk.
func (c *Config) Save(known Known) error {
	if _, err := parse(c.src, known); err != nil {
		return fmt.Errorf("internal error: the edited %s does not parse (%v); nothing was written", FileName, err)
	}
	if err := fsx.WriteFileAtomic(filepath.Join(c.Dir, FileName), c.src, 0o644); err != nil {
		return fmt.Errorf("could not write %s: %w", FileName, err)
	}
	if err := c.SaveLocal(); err != nil {
		return err
	}
	return EnsureGitignore(c.Dir)
}

// SaveLocal writes .stack.local.toml alone (instance data and journals),
// atomically.
func (c *Config) SaveLocal() error {
	var lf localFile
	lf.Stack.ProjectID = c.ProjectID
	lf.Services = map[string]localService{}
	for n, s := range c.Services {
		lf.Services[n] = localService{ResourceID: s.ResourceID, Region: s.Region, CreatedAt: s.CreatedAt.UTC().Round(time.Second), CreatedBy: s.CreatedBy, Meta: s.Meta, Login: s.Login, Unverified: s.Unverified}
	}
	if len(c.Journals) > 0 {
		lf.Journal = c.Journals
	}
	var lb bytes.Buffer
	lb.WriteString("# stack: local instance data for this checkout. Written by stack; do not commit.\n")
	if err := toml.NewEncoder(&lb).Encode(lf); err != nil {
		return err
	}
	if err := fsx.WriteFileAtomic(filepath.Join(c.Dir, LocalName), lb.Bytes(), 0o600); err != nil {
		return fmt.Errorf("could not write %s: %w", LocalName, err)
	}
	return nil
}

// JournalStore keeps add journals in .stack.local.toml (pipeline.Store).
type JournalStore struct{ C *Config }

// Load returns the pending journal for service, or nil.
func (js JournalStore) Load(service string) (*pipeline.Journal, error) {
	j, ok := js.C.Journals[service]
	if !ok {
		return nil, nil
	}
	j.StoredSlots = slices.Clone(j.StoredSlots)
	j.Options, j.Meta = maps.Clone(j.Options), maps.Clone(j.Meta)
	return &j, nil
}

// Save records j and writes the local file.
func (js JournalStore) Save(j *pipeline.Journal) error {
	if js.C.Journals == nil {
		js.C.Journals = map[string]pipeline.Journal{}
	}
	c := *j
	c.StoredSlots = slices.Clone(j.StoredSlots)
	c.Options, c.Meta = maps.Clone(j.Options), maps.Clone(j.Meta)
	c.Started, c.Updated = c.Started.UTC().Round(time.Second), c.Updated.UTC().Round(time.Second)
	js.C.Journals[j.Service] = c
	return js.C.SaveLocal()
}

// Delete drops service's journal and writes the local file.
func (js JournalStore) Delete(service string) error {
	if _, ok := js.C.Journals[service]; !ok {
		return nil
	}
	delete(js.C.Journals, service)
	return js.C.SaveLocal()
}

// EnsureGitignore appends the local files to .gitignore when missing,
// leaving every existing line as it is.
func EnsureGitignore(dir string) error {
	p := filepath.Join(dir, ".gitignore")
	b, err := os.ReadFile(p)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	var missing []string
	for _, want := range []string{LocalName, ".env.local"} {
		found := false
		for _, l := range strings.Split(string(b), "\n") {
			if l = strings.TrimSpace(l); l == want || l == "/"+want {
				found = true
			}
		}
		if !found {
			missing = append(missing, want)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	out := b
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	out = append(out, "# stack: local instance data and tokens\n"...)
	out = append(out, strings.Join(missing, "\n")+"\n"...)
	return fsx.WriteFileAtomic(p, out, 0o644)
}
