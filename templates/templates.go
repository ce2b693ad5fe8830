// Package templates holds stack's starter templates: named sets of services
// (provider + env var slots) that `stack init --template` and `stack templates`
// work from. Templates are TOML data embedded in the binary, parsed strictly:
// an unknown key, a bad slot name or a duplicate is an error, never ignored.
//
// A template file looks like:
//
//	name = "ai-app"
//	description = "One line that says what the stack is for."
//
//	[[services]]
//	name = "openai"            # the service's key in .stack.toml
//	provider = "openai"        # a provider name from stack's registry
//	slots = ["OPENAI_API_KEY"] # env vars the service fills
package templates

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/BurntSushi/toml"

	"phantomstack.dev/shared/suggest"
)

//go:embed templates/*.toml
var files embed.FS

// Template is one starter stack.
type Template struct {
	Name        string    `toml:"name"`
	Description string    `toml:"description"`
	Services    []Service `toml:"services"`
}

// Service is one entry of a template: a provider and the slots it fills.
type Service struct {
	Name     string   `toml:"name"`
	Provider string   `toml:"provider"`
	Slots    []string `toml:"slots"`
}

// ErrUnknown is wrapped by Get when no template has the name.
var ErrUnknown = errors.New("unknown template")

var load = sync.OnceValues(func() ([]Template, error) { return loadFS(files, "templates") })

// List returns every embedded template, sorted by name. The slice and its
// contents are the caller's to modify.
//
// The embedded files are checked by this package's tests; should one be
// invalid anyway, List panics: that is a defect of the build, not of the input.
func List() []Template {
	ts, err := load()
	if err != nil {
		panic("templates: embedded template is invalid: " + err.Error())
	}
	out := make([]Template, len(ts))
	for i, t := range ts {
		out[i] = t.Clone()
	}
	return out
}

// Names returns the embedded template names, sorted.
func Names() []string {
	var names []string
	for _, t := range List() {
		names = append(names, t.Name)
	}
	return names
}

// Get returns the template called name. An unknown name gives an error that
// wraps ErrUnknown, suggests the closest name and lists the valid ones.
func Get(name string) (Template, error) {
	for _, t := range List() {
		if t.Name == name {
			return t, nil
		}
	}
	names := Names()
	hint := ""
	if s := suggest.Nearest(name, names); s != "" {
		hint = fmt.Sprintf(" (did you mean %q?)", s)
	}
	return Template{}, fmt.Errorf("%w %q%s; valid templates: %s", ErrUnknown, name, hint, strings.Join(names, ", "))
}

// Clone returns a deep copy of t.
func (t Template) Clone() Template {
	t.Services = slices.Clone(t.Services)
	for i := range t.Services {
		t.Services[i].Slots = slices.Clone(t.Services[i].Slots)
	}
	return t
}

// Slots returns every slot of the template in service order.
func (t Template) Slots() []string {
	var out []string
	for _, s := range t.Services {
		out = append(out, s.Slots...)
	}
	return out
}

// loadFS parses every *.toml in dir of fsys; names must be unique.
func loadFS(fsys fs.FS, dir string) ([]Template, error) {
	paths, err := fs.Glob(fsys, dir+"/*.toml")
	if err != nil {
		return nil, err
	}
	slices.Sort(paths)
	var out []Template
	seen := map[string]string{}
	for _, p := range paths {
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, err
		}
		t, err := Parse(p, data)
		if err != nil {
			return nil, err
		}
		if want := strings.TrimSuffix(path.Base(p), ".toml"); t.Name != want {
			return nil, fmt.Errorf("%s: name %q does not match the file name (want %q)", p, t.Name, want)
		}
		if other, dup := seen[t.Name]; dup {
			return nil, fmt.Errorf("%s: template %q is already defined in %s", p, t.Name, other)
		}
		seen[t.Name] = p
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b Template) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

var (
	nameRE = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)
	envRE  = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`)
)

// the keys a template may use, by table
var validKeys = map[string][]string{
	"":         {"name", "description", "services"},
	"services": {"name", "provider", "slots"},
}

// Parse decodes and validates one template. file names the source in errors.
func Parse(file string, data []byte) (Template, error) {
	var t Template
	md, err := toml.Decode(string(data), &t)
	if err != nil {
		return Template{}, fmt.Errorf("%s: %w", file, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		k := und[0]
		table, key := strings.Join(k[:len(k)-1], "."), k[len(k)-1]
		msg := fmt.Sprintf("%s: unknown key %q", file, k.String())
		if s := suggest.Nearest(key, validKeys[table]); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		} else if valid, ok := validKeys[table]; ok {
			msg += fmt.Sprintf(" (valid keys here: %s)", strings.Join(valid, ", "))
		}
		return Template{}, errors.New(msg)
	}
	if err := t.Validate(); err != nil {
		return Template{}, fmt.Errorf("%s: %w", file, err)
	}
	return t, nil
}

// Validate checks the invariants every template keeps.
func (t Template) Validate() error {
	if !nameRE.MatchString(t.Name) {
		return fmt.Errorf("name %q: want lowercase letters, digits and single hyphens", t.Name)
	}
	if strings.TrimSpace(t.Description) == "" || strings.ContainsAny(t.Description, "\r\n") {
		return fmt.Errorf("template %s: description must be one non-empty line", t.Name)
	}
	if len(t.Services) == 0 {
		return fmt.Errorf("template %s: no [[services]]", t.Name)
	}
	services := map[string]bool{}
	slotOwner := map[string]string{}
	for i, s := range t.Services {
		where := fmt.Sprintf("template %s, service #%d", t.Name, i+1)
		if s.Name != "" {
			where = fmt.Sprintf("template %s, service %q", t.Name, s.Name)
		}
		if !nameRE.MatchString(s.Name) {
			return fmt.Errorf("%s: name %q: want lowercase letters, digits and single hyphens", where, s.Name)
		}
		if services[s.Name] {
			return fmt.Errorf("%s: listed twice", where)
		}
		services[s.Name] = true
		if !nameRE.MatchString(s.Provider) {
			return fmt.Errorf("%s: provider %q: want a provider name like \"supabase\"", where, s.Provider)
		}
		if len(s.Slots) == 0 {
			return fmt.Errorf("%s: no slots", where)
		}
		for _, slot := range s.Slots {
			if !envRE.MatchString(slot) {
				return fmt.Errorf("%s: slot %q is not a valid environment variable name (A-Z, 0-9, _)", where, slot)
			}
			if other, dup := slotOwner[slot]; dup {
				return fmt.Errorf("%s: slot %s is already filled by service %q", where, slot, other)
			}
			slotOwner[slot] = s.Name
		}
	}
	return nil
}
