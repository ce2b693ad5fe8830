package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// memStore is a Store that survives a simulated crash (it is the disk).
type memStore struct {
	journals map[string]Journal
	failSave bool
}

func (m *memStore) Load(s string) (*Journal, error) {
	j, ok := m.journals[s]
	if !ok {
		return nil, nil
	}
	j.StoredSlots = slices.Clone(j.StoredSlots)
	return &j, nil
}

func (m *memStore) Save(j *Journal) error {
	if m.failSave {
		return errors.New("disk full")
	}
	c := *j
	c.StoredSlots = slices.Clone(j.StoredSlots)
	m.journals[j.Service] = c
	return nil
}

func (m *memStore) Delete(s string) error { delete(m.journals, s); return nil }

// world is the upstream provider, phantom's vault and the project files.
type world struct {
	resources   map[string]string // id → name
	nextID      int
	vault       map[string]bool
	files       bool
	creates     int
	failStoreAt int // fail storing the Nth secret (1-based); 0 = never
	failWrite   bool
	failDeprov  bool
	crashAt     Phase // panic (a crash: no rollback) right after this phase is saved
	crashInProv bool  // crash after the resource exists, before its id is saved
	cancel      context.CancelFunc
	cancelAt    Phase
	stores      int
	owned       []bool // the owned argument of every Provision call with a useID
	ownedByName []bool // … and of every call without one
	// failAfterFind fails Provision after it found (or attached to) its
	// resource, returning the resource with the error (a resumed add whose
	// password reset fails); failLookup fails it before it can tell
	// whether a resource of the planned name exists.
	failAfterFind, failLookup bool
}

type crash struct{}

func newWorld() *world {
	return &world{resources: map[string]string{}, vault: map[string]bool{}}
}

var slots = []string{"SUPABASE_URL", "SUPABASE_ANON_KEY", "SUPABASE_SERVICE_ROLE_KEY", "SUPABASE_DB_PASSWORD", "DATABASE_URL"}

func (w *world) steps() Steps {
	return Steps{
		Provision: func(ctx context.Context, useID, name string, owned bool) (Resource, error) {
			if useID != "" {
				w.owned = append(w.owned, owned)
				if _, ok := w.resources[useID]; !ok {
					return Resource{}, fmt.Errorf("project %s not found (404)", useID)
				}
				if w.failAfterFind {
					return Resource{ID: useID}, errors.New("PATCH password: HTTP 500")
				}
				return Resource{ID: useID}, nil
			}
			w.ownedByName = append(w.ownedByName, owned)
			if w.failLookup {
				return Resource{}, errors.New("listing projects: HTTP 500")
			}
			for id, n := range w.resources {
				if n == name && name != "" {
					if w.failAfterFind {
						return Resource{ID: id}, errors.New("PATCH password: HTTP 500")
					}
					return Resource{ID: id}, nil // adopt what a crashed run made
				}
			}
			w.nextID++
			id := fmt.Sprintf("ref%d", w.nextID)
			w.resources[id] = name
			w.creates++
			if w.crashInProv {
				w.crashInProv = false
				panic(crash{})
			}
			return Resource{ID: id, Region: "us-east-1"}, nil
		},
		Store: func(ctx context.Context, res Resource, stored func(string) error) error {
			for _, s := range slots {
				w.stores++
				if w.failStoreAt == w.stores {
					return errors.New("phantom add failed: vault locked")
				}
				w.vault[s] = true
				if err := stored(s); err != nil {
					return err
				}
			}
			return nil
		},
		Write: func(ctx context.Context, res Resource) error {
			if w.failWrite {
				return errors.New("cannot write .stack.toml: permission denied")
			}
			w.files = true
			return nil
		},
		Unwrite: func(ctx context.Context) error { w.files = false; return nil },
		Unstore: func(ctx context.Context, slot string) error { delete(w.vault, slot); return nil },
		Deprovision: func(ctx context.Context, res Resource) error {
			if w.failDeprov {
				return errors.New("500 from the provider")
			}
			delete(w.resources, res.ID)
			return nil
		},
		After: func(p Phase) {
			if w.cancel != nil && p == w.cancelAt {
				w.cancel()
			}
			if w.crashAt != "" && p == w.crashAt {
				w.crashAt = ""
				panic(crash{})
			}
		},
	}
}

// run runs once and turns a simulated crash into crashed=true.
func run(ctx context.Context, st Store, w *world, req Request) (out Outcome, err error, crashed bool) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(crash); !ok {
				panic(r)
			}
			crashed = true
		}
	}()
	out, err = Run(ctx, st, w.steps(), req, nil)
	return out, err, false
}

var req = Request{Service: "supabase", Provider: "supabase", Name: "app-supabase-x1"}

func (w *world) assertComplete(t *testing.T, st *memStore) {
	t.Helper()
	if len(w.resources) != 1 || len(w.vault) != len(slots) || !w.files {
		t.Fatalf("incomplete: resources=%v vault=%v files=%v", w.resources, w.vault, w.files)
	}
	if len(st.journals) != 0 {
		t.Fatalf("journal left after success: %+v", st.journals)
	}
}

func (w *world) assertClean(t *testing.T, st *memStore) {
	t.Helper()
	if len(w.resources) != 0 || len(w.vault) != 0 || w.files || len(st.journals) != 0 {
		t.Fatalf("not rolled back: resources=%v vault=%v files=%v journals=%v", w.resources, w.vault, w.files, st.journals)
	}
}

func TestRunHappy(t *testing.T) {
	w, st := newWorld(), &memStore{journals: map[string]Journal{}}
	out, err, _ := run(context.Background(), st, w, req)
	if err != nil {
		t.Fatal(err)
	}
	if !out.Created || out.Resumed || out.Resource.ID != "ref1" {
		t.Fatalf("outcome %+v", out)
	}
	w.assertComplete(t, st)
}

// phantom fails while storing the second of five keys: the first is
// removed again and the upstream project deleted.
func TestRunFailStoringSecondKey(t *testing.T) {
	w, st := newWorld(), &memStore{journals: map[string]Journal{}}
	w.failStoreAt = 2
	_, err, _ := run(context.Background(), st, w, req)
	var re *RollbackError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v, want RollbackError", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "vault locked") || !strings.Contains(msg, "Nothing was added: rolled back 1 secret(s) removed") || !strings.Contains(msg, "deleted upstream resource ref1") {
		t.Fatalf("message: %s", msg)
	}
	w.assertClean(t, st)
}

func TestRunFailWriteRollsBackEverything(t *testing.T) {
	w, st := newWorld(), &memStore{journals: map[string]Journal{}}
	w.failWrite = true
	_, err, _ := run(context.Background(), st, w, req)
	if err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("err = %v", err)
	}
	w.assertClean(t, st)
}

// Ctrl-C after any phase: the run stops and rolls back.
func TestRunInterrupted(t *testing.T) {
	for _, p := range []Phase{Planned, Created, Stored} {
		t.Run(string(p), func(t *testing.T) {
			w, st := newWorld(), &memStore{journals: map[string]Journal{}}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			w.cancel, w.cancelAt = cancel, p
			_, err, _ := run(ctx, st, w, req)
			if err == nil || !strings.HasPrefix(err.Error(), "interrupted") {
				t.Fatalf("err = %v", err)
			}
			w.assertClean(t, st)
		})
	}
}

// A crash after every phase, then a re-run: exactly one upstream resource
// and a complete, consistent state.
func TestRunCrashResume(t *testing.T) {
	for _, p := range []Phase{Planned, Created, Stored, Written} {
		t.Run(string(p), func(t *testing.T) {
			w, st := newWorld(), &memStore{journals: map[string]Journal{}}
			w.crashAt = p
			if _, _, crashed := run(context.Background(), st, w, req); !crashed {
				t.Fatal("no crash")
			}
			if _, ok := st.journals["supabase"]; !ok {
				t.Fatal("the crash left no journal")
			}
			out, err, _ := run(context.Background(), st, w, req)
			if err != nil {
				t.Fatal(err)
			}
			if !out.Resumed {
				t.Fatal("re-run did not resume")
			}
			if w.creates != 1 || len(w.resources) != 1 {
				t.Fatalf("creates=%d resources=%v", w.creates, w.resources)
			}
			// Past "created" the re-run attaches to the journal's resource
			// and says it is the add's own (the provider may reset what it
			// cannot read back); before that it adopts by name.
			if p == Planned && len(w.owned) != 0 {
				t.Fatalf("resume from planned attached by id: owned=%v", w.owned)
			}
			// The crash came before Provision; the resume's call by name says
			// owned: a resource of the planned name can only be the
			// interrupted run's.
			if p == Planned && (len(w.ownedByName) != 1 || !w.ownedByName[0]) {
				t.Fatalf("resume from planned: owned by name=%v, want [true]", w.ownedByName)
			}
			if p != Planned && (len(w.owned) != 1 || !w.owned[0]) {
				t.Fatalf("resume from %s: owned=%v, want [true]", p, w.owned)
			}
			w.assertComplete(t, st)
		})
	}
}

// The crash comes after the provider created the project but before its id
// reached the journal: the re-run finds it by the planned name.
func TestRunCrashInsideProvision(t *testing.T) {
	w, st := newWorld(), &memStore{journals: map[string]Journal{}}
	w.crashInProv = true
	if _, _, crashed := run(context.Background(), st, w, req); !crashed {
		t.Fatal("no crash")
	}
	if _, err, _ := run(context.Background(), st, w, req); err != nil {
		t.Fatal(err)
	}
	if w.creates != 1 {
		t.Fatalf("%d projects created, want 1", w.creates)
	}
	if len(w.ownedByName) != 2 || w.ownedByName[0] || !w.ownedByName[1] {
		t.Fatalf("owned by name=%v, want [false true]", w.ownedByName)
	}
	w.assertComplete(t, st)
}

// A crashed run, then a failing re-run: the rollback also removes what the
// crashed run created.
func TestRunResumeThenFailRollsBackEarlierRun(t *testing.T) {
	w, st := newWorld(), &memStore{journals: map[string]Journal{}}
	w.crashAt = Stored
	run(context.Background(), st, w, req)
	w.failWrite = true
	if _, err, _ := run(context.Background(), st, w, req); err == nil {
		t.Fatal("no error")
	}
	w.assertClean(t, st)
}

// --use attaches: a rollback never deletes a resource stack did not create.
func TestRunUseIsNotDeprovisioned(t *testing.T) {
	w, st := newWorld(), &memStore{journals: map[string]Journal{}}
	w.resources["existing"] = "theirs"
	w.failStoreAt = 3
	r := req
	r.UseID = "existing"
	_, err, _ := run(context.Background(), st, w, r)
	if err == nil {
		t.Fatal("no error")
	}
	if _, ok := w.resources["existing"]; !ok {
		t.Fatal("rollback deleted a resource stack only attached to")
	}
	if len(w.owned) != 1 || w.owned[0] {
		t.Fatalf("--use passed owned=%v, want [false]", w.owned)
	}
	if len(w.vault) != 0 || len(st.journals) != 0 {
		t.Fatalf("vault=%v journals=%v", w.vault, st.journals)
	}
}

// When the upstream delete fails, the journal stays so a re-run can finish,
// and the message says what still exists.
func TestRunDeprovisionFailureKeepsJournal(t *testing.T) {
	w, st := newWorld(), &memStore{journals: map[string]Journal{}}
	w.failStoreAt, w.failDeprov = 1, true
	_, err, _ := run(context.Background(), st, w, req)
	if err == nil || !strings.Contains(err.Error(), "Could not undo: upstream resource ref1") {
		t.Fatalf("err = %v", err)
	}
	if j, ok := st.journals["supabase"]; !ok || j.ResourceID != "ref1" {
		t.Fatalf("journal: %+v", st.journals)
	}
	w.failDeprov, w.failStoreAt = false, 0
	if _, err, _ := run(context.Background(), st, w, req); err != nil {
		t.Fatal(err)
	}
	if w.creates != 1 {
		t.Fatalf("%d creates, want 1", w.creates)
	}
	w.assertComplete(t, st)
}

func TestRunPendingJournalForOtherResource(t *testing.T) {
	w, st := newWorld(), &memStore{journals: map[string]Journal{}}
	w.crashAt = Created
	run(context.Background(), st, w, req)
	r := req
	r.UseID = "other"
	_, err, _ := run(context.Background(), st, w, r)
	if err == nil || !strings.Contains(err.Error(), "pending for resource ref1") {
		t.Fatalf("err = %v", err)
	}
}

// The journal keeps the add's provider flags (stack add reuses them on a
// resume) and the resource's Meta: when the resumed Provision fails, the
// rollback still gets the Meta, which says where the resource is.
func TestRunJournalKeepsOptionsAndMeta(t *testing.T) {
	st := &memStore{journals: map[string]Journal{}}
	var deprovisioned []Resource
	steps := func(failProvision bool, crashAt Phase) Steps {
		return Steps{
			Provision: func(ctx context.Context, useID, name string, owned bool) (Resource, error) {
				if failProvision {
					return Resource{}, errors.New("500 from the provider")
				}
				return Resource{ID: "prj1", Meta: map[string]string{"team_id": "t1"}}, nil
			},
			Store:       func(ctx context.Context, res Resource, stored func(string) error) error { return nil },
			Write:       func(ctx context.Context, res Resource) error { return nil },
			Unstore:     func(ctx context.Context, slot string) error { return nil },
			Deprovision: func(ctx context.Context, res Resource) error { deprovisioned = append(deprovisioned, res); return nil },
			After: func(p Phase) {
				if p == crashAt {
					panic(crash{})
				}
			},
		}
	}
	r := Request{Service: "vercel", Provider: "vercel", Name: "app-vercel-x1", Options: map[string]string{"team": "t1"}}
	func() {
		defer func() { recover() }()
		Run(context.Background(), st, steps(false, Created), r, nil)
	}()
	j := st.journals["vercel"]
	if j.Phase != Created || j.Options["team"] != "t1" || j.Meta["team_id"] != "t1" {
		t.Fatalf("journal after the crash: %+v", j)
	}
	if _, err := Run(context.Background(), st, steps(true, ""), r, nil); err == nil {
		t.Fatal("no error")
	}
	if len(deprovisioned) != 1 || deprovisioned[0].ID != "prj1" || deprovisioned[0].Meta["team_id"] != "t1" {
		t.Fatalf("rollback deprovisioned %+v, want prj1 with its journaled Meta", deprovisioned)
	}
	if len(st.journals) != 0 {
		t.Fatalf("journal left: %+v", st.journals)
	}
}

// A resumed add adopts the resource the crashed run made (by name, or by
// the journal's id), then fails: the rollback deletes that resource too,
// and the next add creates one, not a second one next to an orphan.
func TestRunFailedResumeDeletesAdoptedResource(t *testing.T) {
	for _, crashed := range []string{"inside Provision", "after created"} {
		t.Run(crashed, func(t *testing.T) {
			w, st := newWorld(), &memStore{journals: map[string]Journal{}}
			if crashed == "inside Provision" {
				w.crashInProv = true
			} else {
				w.crashAt = Created
			}
			run(context.Background(), st, w, req)
			if len(w.resources) != 1 {
				t.Fatalf("resources after the crash: %v", w.resources)
			}
			w.failAfterFind = true
			_, err, _ := run(context.Background(), st, w, req)
			if err == nil || !strings.Contains(err.Error(), "deleted upstream resource ref1") {
				t.Fatalf("err = %v", err)
			}
			w.assertClean(t, st)
			w.failAfterFind = false
			if _, err, _ := run(context.Background(), st, w, req); err != nil {
				t.Fatal(err)
			}
			if w.creates != 2 {
				t.Fatalf("%d creates, want 2 (the rolled-back one and the new one)", w.creates)
			}
			w.assertComplete(t, st)
		})
	}
}

// ... and when that delete fails, the journal keeps the adopted id, so the
// next run resumes with it instead of creating a second resource.
func TestRunFailedResumeKeepsAdoptedIDWhenDeleteFails(t *testing.T) {
	w, st := newWorld(), &memStore{journals: map[string]Journal{}}
	w.crashInProv = true
	run(context.Background(), st, w, req)
	w.failAfterFind, w.failDeprov = true, true
	_, err, _ := run(context.Background(), st, w, req)
	if err == nil || !strings.Contains(err.Error(), "Could not undo: upstream resource ref1") {
		t.Fatalf("err = %v", err)
	}
	if j, ok := st.journals["supabase"]; !ok || j.ResourceID != "ref1" || !j.CreatedHere {
		t.Fatalf("journal: %+v", st.journals)
	}
	w.failAfterFind, w.failDeprov = false, false
	if _, err, _ := run(context.Background(), st, w, req); err != nil {
		t.Fatal(err)
	}
	if w.creates != 1 {
		t.Fatalf("%d creates, want 1", w.creates)
	}
	w.assertComplete(t, st)
}

// A resumed add that fails before it can look for the interrupted run's
// resource keeps the journal (its planned name): forgetting it would make
// the next add pick a new name and leave the first resource behind.
func TestRunResumeFailingLookupKeepsJournal(t *testing.T) {
	w, st := newWorld(), &memStore{journals: map[string]Journal{}}
	w.crashInProv = true
	run(context.Background(), st, w, req)
	w.failLookup = true
	_, err, _ := run(context.Background(), st, w, req)
	if err == nil || !strings.Contains(err.Error(), `journal of the interrupted add is kept (its planned name "app-supabase-x1")`) {
		t.Fatalf("err = %v", err)
	}
	if j, ok := st.journals["supabase"]; !ok || j.Name != "app-supabase-x1" {
		t.Fatalf("journal: %+v", st.journals)
	}
	w.failLookup = false
	if _, err, _ := run(context.Background(), st, w, req); err != nil {
		t.Fatal(err)
	}
	if w.creates != 1 {
		t.Fatalf("%d creates, want 1", w.creates)
	}
	w.assertComplete(t, st)
}

// A --use resource that Provision reports with its error is the user's:
// never recorded as the add's, never deleted.
func TestRunUseFailingProvisionIsNotDeprovisioned(t *testing.T) {
	w, st := newWorld(), &memStore{journals: map[string]Journal{}}
	w.resources["existing"] = "theirs"
	w.failAfterFind = true
	r := req
	r.UseID = "existing"
	if _, err, _ := run(context.Background(), st, w, r); err == nil {
		t.Fatal("no error")
	}
	if _, ok := w.resources["existing"]; !ok {
		t.Fatal("rollback deleted a resource stack only attached to")
	}
	if len(st.journals) != 0 {
		t.Fatalf("journals=%v", st.journals)
	}
}
