// Package faults is the fault-injection registry the fakes share: fail the
// Nth call of a route with a status (and an optional Retry-After), count
// calls per route. Each fake writes the failure in its own API's error shape.
package faults

import (
	"sync"
	"time"
)

// Fault fails calls of one route.
type Fault struct {
	// Route is the route's pattern as the fake registers it, e.g.
	// "POST /v1/projects" or "GET /v9/projects/{idOrName}".
	Route string
	// Nth is which call fails, counted from when the fault is added (0 or 1:
	// the next one).
	Nth int
	// Times is how many calls in a row fail from the Nth on (0: one;
	// negative: every call from then on).
	Times int
	// Status is the HTTP status to answer (401, 403, 404, 409, 429, 500…).
	Status int
	// Message goes into the API's error body; a default is used when empty.
	Message string
	// RetryAfter, when set, is sent as the Retry-After header (whole
	// seconds), as rate limiters do with 429.
	RetryAfter time.Duration
	// AfterHandler lets the call take effect before it fails: the handler
	// runs, its answer is thrown away, and the fault is answered instead,
	// as when an answer is lost on the way back. Only fakes whose Fault
	// docs say so honour it (vercelfake); there, Status 0 (with or without
	// AfterHandler) closes the connection with no answer at all.
	AfterHandler bool
}

type state struct {
	Fault
	seen int
}

// Registry holds faults and call counts. The zero value is ready to use and
// safe for concurrent use.
type Registry struct {
	mu     sync.Mutex
	faults []*state
	calls  map[string]int
}

// Add registers a fault.
func (r *Registry) Add(f Fault) {
	if f.Nth <= 0 {
		f.Nth = 1
	}
	if f.Times == 0 {
		f.Times = 1
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.faults = append(r.faults, &state{Fault: f})
}

// Clear removes every fault (call counts stay).
func (r *Registry) Clear() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.faults = nil
}

// Calls is how many calls of route arrived (faulted and refused ones too).
func (r *Registry) Calls(route string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[route]
}

// Hit counts a call of route and returns the fault that applies to it, if any.
func (r *Registry) Hit(route string) (Fault, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.calls == nil {
		r.calls = map[string]int{}
	}
	r.calls[route]++
	hit, found := Fault{}, false
	for _, f := range r.faults {
		if f.Route != route {
			continue
		}
		f.seen++
		if !found && f.seen >= f.Nth && (f.Times < 0 || f.seen < f.Nth+f.Times) {
			hit, found = f.Fault, true
		}
	}
	return hit, found
}
