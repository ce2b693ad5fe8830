package providers

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"phantomstack.dev/shared/suggest"
)

// ErrUnknown is wrapped by Registry.Get when no provider has the name.
var ErrUnknown = errors.New("unknown provider")

// Registry holds the providers a stack binary knows, by name. The zero value
// is empty and ready to use; it is safe for concurrent use.
type Registry struct {
	mu sync.RWMutex
	m  map[string]Provider
}

// NewRegistry returns a registry holding ps, or the first registration error.
func NewRegistry(ps ...Provider) (*Registry, error) {
	r := &Registry{}
	for _, p := range ps {
		if err := r.Register(p); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Register adds p. It fails when p's Info is invalid or the name is taken.
func (r *Registry) Register(p Provider) error {
	if p == nil {
		return errors.New("register: nil provider")
	}
	info := p.Info()
	if err := info.Validate(); err != nil {
		return fmt.Errorf("register: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]Provider{}
	}
	if _, dup := r.m[info.Name]; dup {
		return fmt.Errorf("register: provider %q is already registered", info.Name)
	}
	r.m[info.Name] = p
	return nil
}

// Get returns the provider called name. An unknown name gives an error that
// wraps ErrUnknown, suggests the nearest name (shared/suggest, as everywhere
// in stack and phantom) and lists the known names.
func (r *Registry) Get(name string) (Provider, error) {
	r.mu.RLock()
	p, ok := r.m[name]
	r.mu.RUnlock()
	if ok {
		return p, nil
	}
	names := r.Names()
	if len(names) == 0 {
		return nil, fmt.Errorf("%w %q: no providers are registered", ErrUnknown, name)
	}
	hint := ""
	if s := suggest.Nearest(name, names); s != "" {
		hint = fmt.Sprintf(" (did you mean %q?)", s)
	}
	return nil, fmt.Errorf("%w %q%s; available: %s", ErrUnknown, name, hint, strings.Join(names, ", "))
}

// All returns every provider sorted by name.
func (r *Registry) All() []Provider {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]Provider, 0, len(r.m))
	for _, p := range r.m {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b Provider) int { return strings.Compare(a.Info().Name, b.Info().Name) })
	return out
}

// Names returns the registered names, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.m))
	for n := range r.m {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
