// Package pipeline runs `stack add` for one service as a journaled sequence
// of steps (docs/architecture.md §7): planned → created → secrets stored → files
// written → done. The journal is saved after every step that changes the
// world, so
//
//   - a failure or Ctrl-C rolls back what this run did: the secrets it stored
//     are removed from phantom and a resource it created is deprovisioned;
//   - a crash (kill -9, a power cut) leaves the journal behind, and the next
//     run resumes from it: it attaches to the resource the journal names
//     instead of creating a second one, and re-stores the keys.
//
// The package knows nothing about phantom, files or providers' APIs: the
// caller supplies them as Steps. It never exits the process.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Phase is how far an add got. The order matters: a later phase implies
// every earlier one.
type Phase string

const (
	Planned Phase = "planned" // nothing exists upstream yet
	Created Phase = "created" // the upstream resource exists (ResourceID)
	Stored  Phase = "stored"  // every secret is in phantom's vault
	Written Phase = "written" // .stack.toml, .env.local (and .mcp.json) are written
	Done    Phase = "done"
)

var phaseOrder = map[Phase]int{Planned: 0, Created: 1, Stored: 2, Written: 3, Done: 4}

// Journal is the durable record of one add in progress.
type Journal struct {
	Service  string `toml:"service"`
	Provider string `toml:"provider"`
	Phase    Phase  `toml:"phase"`
	// Name is the name chosen for a new resource when the add was planned.
	// A resumed run asks for the same name, so a provider can find a
	// resource the crashed run created before it could record its id.
	Name       string `toml:"name,omitempty"`
	ResourceID string `toml:"resource_id,omitempty"`
	Region     string `toml:"region,omitempty"`
	// CreatedHere is true when this add created the resource (so a rollback
	// deletes it); false when it attached to an existing one (--use).
	CreatedHere bool     `toml:"created_here"`
	StoredSlots []string `toml:"stored_slots,omitempty"`
	// Options are the provider flags of the add (--team, --org, --region,
	// --profile): a resume must look for the resource where the
	// interrupted run made it.
	Options map[string]string `toml:"options,omitempty"`
	// Meta is the resource's non-secret instance data as Provision reported
	// it (a Vercel project's team): a rollback needs it to delete the
	// resource where it is, even when this run's Provision failed.
	Meta    map[string]string `toml:"meta,omitempty"`
	Started time.Time         `toml:"started"`
	Updated time.Time         `toml:"updated"`
}

// Reached reports whether the journal is at phase p or later.
func (j *Journal) Reached(p Phase) bool { return phaseOrder[j.Phase] >= phaseOrder[p] }

// Store persists journals, one per service (stack keeps them in
// .stack.local.toml). Save must be atomic.
type Store interface {
	Load(service string) (*Journal, error) // nil, nil when there is none
	Save(j *Journal) error
	Delete(service string) error
}

// Resource is what Provision reports.
type Resource struct {
	ID     string
	Region string
	Meta   map[string]string // non-secret instance data; kept in the journal
}

// Steps are the side effects of one add, supplied by the caller. Each must
// honour ctx.
type Steps struct {
	// Provision creates the resource named name, or attaches to useID when
	// it is not empty (--use, or a resume from the journal). On a resume
	// without an id, a provider that can should adopt an existing resource
	// called name instead of creating a second one. owned is true when useID
	// comes from the journal of an add that created it (not from --use), and
	// on a resume without an id: a resource called name is then one the
	// interrupted run created. When it fails after it created or adopted a
	// resource, it returns that resource's id with the error, and the
	// rollback deletes it.
	Provision func(ctx context.Context, useID, name string, owned bool) (Resource, error)
	// Store puts the secrets in phantom; it calls stored(slot) after each one
	// so a rollback knows what to remove.
	Store func(ctx context.Context, res Resource, stored func(slot string) error) error
	// Write writes the project files (.env.local tokens, .stack.toml, .mcp.json).
	Write func(ctx context.Context, res Resource) error
	// Unstore removes one secret from phantom (rollback).
	Unstore func(ctx context.Context, slot string) error
	// Deprovision deletes a resource this add created (rollback).
	Deprovision func(ctx context.Context, res Resource) error
	// Unwrite undoes Write (rollback after a failed Write, or when a later
	// step fails). May be nil when Write is all-or-nothing.
	Unwrite func(ctx context.Context) error
	// After, when set, is called after each phase is saved; tests use it to
	// stop the process at a given phase.
	After func(p Phase)
}

// Request is one add.
type Request struct {
	Service  string
	Provider string
	UseID    string // attach instead of create
	Name     string // name for a new resource (kept from the journal on resume)
	// Options are the provider flags, kept in a new journal (a resume keeps
	// the journal's: see Journal.Options).
	Options map[string]string
}

// Outcome says what Run did.
type Outcome struct {
	Resource Resource
	Resumed  bool // a journal from an interrupted run was picked up
	Created  bool // the resource was created by this add (or by the run it resumed)
}

// RollbackError is returned when a step failed; it lists what the rollback
// undid and anything it could not undo, so the user knows what exists.
type RollbackError struct {
	Phase    Phase // the last phase reached before the failure
	Cause    error
	Undone   []string
	Leftover []string // things the rollback could not remove
	// Kept says why the journal was kept although nothing is known to be
	// left (a resume that could not look for the interrupted run's resource).
	Kept string
}

func (e *RollbackError) Error() string {
	var b strings.Builder
	b.WriteString(e.Cause.Error())
	switch {
	case len(e.Leftover) > 0:
		if len(e.Undone) > 0 {
			fmt.Fprintf(&b, "\nRolled back: %s.", strings.Join(e.Undone, "; "))
		}
		fmt.Fprintf(&b, "\nCould not undo: %s. Remove these by hand, or run stack add again to resume.", strings.Join(e.Leftover, "; "))
	case len(e.Undone) > 0:
		fmt.Fprintf(&b, "\nNothing was added: rolled back %s.", strings.Join(e.Undone, "; "))
	default:
		b.WriteString("\nNothing was added.")
	}
	if e.Kept != "" {
		fmt.Fprintf(&b, "\nNote: %s.", e.Kept)
	}
	return b.String()
}

func (e *RollbackError) Unwrap() error { return e.Cause }

// Run performs one add. A journal left by an interrupted run for the same
// service is resumed. ctx cancellation (Ctrl-C) counts as a failure: what
// this run did is rolled back with a fresh, bounded context.
func Run(ctx context.Context, st Store, steps Steps, req Request, now func() time.Time) (Outcome, error) {
	if now == nil {
		now = time.Now
	}
	j, err := st.Load(req.Service)
	if err != nil {
		return Outcome{}, fmt.Errorf("reading the journal of an earlier stack add %s: %w", req.Service, err)
	}
	out := Outcome{}
	if j != nil {
		if j.Provider != req.Provider {
			return Outcome{}, fmt.Errorf("an interrupted stack add %s for provider %s is pending; finish it (run the same command) or remove it with stack remove %s", req.Service, j.Provider, req.Service)
		}
		if req.UseID != "" && j.ResourceID != "" && req.UseID != j.ResourceID {
			return Outcome{}, fmt.Errorf("an interrupted stack add %s is pending for resource %s, not %s; run it again without --use to resume, or stack remove %s first", req.Service, j.ResourceID, req.UseID, req.Service)
		}
		out.Resumed = true
	} else {
		t := now()
		j = &Journal{Service: req.Service, Provider: req.Provider, Phase: Planned, Name: req.Name, Options: req.Options, Started: t}
	}
	save := func(p Phase) error {
		j.Phase, j.Updated = p, now()
		if err := st.Save(j); err != nil {
			return fmt.Errorf("saving the add journal: %w", err)
		}
		if steps.After != nil {
			steps.After(p)
		}
		return nil
	}
	// written: Write has started, so a rollback must undo it.
	var written bool
	// unsure: a resumed add's Provision failed before it could tell whether
	// the interrupted run created a resource; the journal (its planned
	// name) is then kept for the next run to look it up again.
	var unsure bool
	fail := func(cause error) (Outcome, error) {
		return out, rollback(steps, st, j, written, unsure, cause)
	}
	if !out.Resumed {
		if err := save(Planned); err != nil {
			return Outcome{}, fmt.Errorf("%w\nNothing was changed: stack records each step before it takes it, so it stops when it cannot. Check that the project directory is writable.", err)
		}
	}

	res := Resource{ID: j.ResourceID, Region: j.Region, Meta: j.Meta}
	useID, owned := req.UseID, false
	switch {
	case j.Reached(Created) && j.ResourceID != "":
		useID = j.ResourceID // resume: never create a second resource
		owned = j.CreatedHere
	case out.Resumed && useID == "":
		// The interrupted run may have created a resource called j.Name
		// before its id reached the journal; adopted, it is this add's own.
		owned = true
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	r, err := steps.Provision(ctx, useID, j.Name, owned)
	if err != nil {
		// Provision may fail after it made the resource, or after it found
		// the one the interrupted run made (a resume adopting it by name):
		// it then reports the id with the error. Journal it before rolling
		// back, so the rollback deletes it, and a crash or a failed delete
		// leaves a journal the next run resumes from instead of a second
		// resource. A --use resource is the user's and is never recorded
		// as this add's.
		if r.ID != "" && (useID == "" || owned) && (j.ResourceID == "" || j.ResourceID == r.ID) {
			j.ResourceID, j.Region, j.Meta, j.CreatedHere = r.ID, r.Region, r.Meta, true
			if serr := save(maxPhase(j.Phase, Created)); serr != nil {
				err = fmt.Errorf("%w (and %v)", err, serr)
			}
		}
		unsure = out.Resumed && j.ResourceID == ""
		return fail(err)
	}
	if !j.Reached(Created) {
		j.CreatedHere = useID == ""
	}
	res = r
	j.ResourceID, j.Region, j.Meta = r.ID, r.Region, r.Meta
	out.Resource, out.Created = res, j.CreatedHere
	if err := save(maxPhase(j.Phase, Created)); err != nil {
		return fail(err)
	}

	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	err = steps.Store(ctx, res, func(slot string) error {
		for _, s := range j.StoredSlots {
			if s == slot {
				return nil
			}
		}
		j.StoredSlots = append(j.StoredSlots, slot)
		return save(j.Phase)
	})
	if err != nil {
		return fail(err)
	}
	if err := save(maxPhase(j.Phase, Stored)); err != nil {
		return fail(err)
	}

	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	written = true // Write may have half-run when it fails
	if err := steps.Write(ctx, res); err != nil {
		return fail(err)
	}
	if err := save(Written); err != nil {
		return fail(err)
	}
	if err := st.Delete(req.Service); err != nil {
		// Everything is in place; a stale journal would only make the next
		// add resume (harmlessly). Report it rather than roll back.
		return out, fmt.Errorf("%s is added, but its journal could not be cleared: %w", req.Service, err)
	}
	if steps.After != nil {
		steps.After(Done)
	}
	return out, nil
}

func maxPhase(a, b Phase) Phase {
	if phaseOrder[a] >= phaseOrder[b] {
		return a
	}
	return b
}

// rollbackTimeout bounds the clean-up after a failure or Ctrl-C.
const rollbackTimeout = 2 * time.Minute

func rollback(steps Steps, st Store, j *Journal, written, unsure bool, cause error) error {
	// The caller's context may be the cancelled one (Ctrl-C): clean up with
	// a fresh one so deprovisioning still happens.
	ctx, cancel := context.WithTimeout(context.Background(), rollbackTimeout)
	defer cancel()
	re := &RollbackError{Phase: j.Phase, Cause: cause}
	if errors.Is(cause, context.Canceled) {
		re.Cause = errors.New("interrupted")
	}
	if written && steps.Unwrite != nil {
		if err := steps.Unwrite(ctx); err != nil {
			re.Leftover = append(re.Leftover, "project files: "+err.Error())
		} else {
			re.Undone = append(re.Undone, "project files restored")
		}
	}
	var kept []string
	for _, slot := range j.StoredSlots {
		if err := steps.Unstore(ctx, slot); err != nil {
			kept = append(kept, slot)
			re.Leftover = append(re.Leftover, fmt.Sprintf("%s in phantom's vault (%v)", slot, err))
		}
	}
	if n := len(j.StoredSlots) - len(kept); n > 0 {
		re.Undone = append(re.Undone, fmt.Sprintf("%d secret(s) removed from phantom", n))
	}
	j.StoredSlots = kept
	resourceLeft := false
	if j.CreatedHere && j.ResourceID != "" {
		if err := steps.Deprovision(ctx, Resource{ID: j.ResourceID, Region: j.Region, Meta: j.Meta}); err != nil {
			resourceLeft = true
			re.Leftover = append(re.Leftover, fmt.Sprintf("upstream resource %s (%v)", j.ResourceID, err))
		} else {
			re.Undone = append(re.Undone, "deleted upstream resource "+j.ResourceID)
		}
	}
	if unsure {
		re.Kept = fmt.Sprintf("the journal of the interrupted add is kept (its planned name %q), so the next stack add %s looks for anything that run created under that name instead of creating a second one", j.Name, j.Service)
	}
	if len(kept) == 0 && !resourceLeft && !unsure {
		if err := st.Delete(j.Service); err != nil {
			re.Leftover = append(re.Leftover, "the add journal ("+err.Error()+")")
		}
	} else {
		// Keep the journal so a re-run can finish the clean-up or resume.
		j.Updated = time.Now()
		if err := st.Save(j); err != nil {
			re.Leftover = append(re.Leftover, "the add journal ("+err.Error()+")")
		}
	}
	return re
}
