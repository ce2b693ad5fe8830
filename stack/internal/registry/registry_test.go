package registry

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func project(t *testing.T, parent, name string) string {
	t.Helper()
	d := filepath.Join(parent, name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, ".stack.toml"), []byte("[stack]\nversion = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestUpsertNamesAndKeepsNames(t *testing.T) {
	tmp := t.TempDir()
	r := Open(filepath.Join(tmp, "home"))
	a := project(t, filepath.Join(tmp, "one"), "app")
	b := project(t, filepath.Join(tmp, "two"), "app")
	c := project(t, filepath.Join(tmp, "three"), "App")

	pa, err := r.Upsert(Project{Path: a, ProjectID: "stk_a"})
	if err != nil || pa.Name != "app" {
		t.Fatalf("first: %+v %v", pa, err)
	}
	pb, _ := r.Upsert(Project{Path: b, ProjectID: "stk_b"})
	pc, _ := r.Upsert(Project{Path: c, ProjectID: "stk_c"})
	if pb.Name != "app-2" || pc.Name != "App-3" {
		t.Fatalf("disambiguation: %q %q", pb.Name, pc.Name)
	}
	// Re-registering keeps the name and updates the rest, even after the
	// first "app" is gone.
	if _, err := r.Remove("app"); err != nil {
		t.Fatal(err)
	}
	pb2, err := r.Upsert(Project{Path: b, ProjectID: "stk_b", Services: []string{"openai"}})
	if err != nil || pb2.Name != "app-2" {
		t.Fatalf("re-upsert: %+v %v", pb2, err)
	}
	ps, _ := r.List()
	if len(ps) != 2 || ps[0].Name != "App-3" || ps[1].Name != "app-2" || ps[1].Services[0] != "openai" {
		t.Fatalf("list: %+v", ps)
	}
	st, err := os.Stat(r.Path())
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("registry mode: %v %v", st.Mode(), err)
	}
}

func TestLookupExactThenCaseInsensitive(t *testing.T) {
	ps := []Project{{Name: "Web", Path: "/a"}, {Name: "api", Path: "/b"}}
	if p, err := Lookup(ps, "web"); err != nil || p.Path != "/a" {
		t.Fatalf("case-insensitive: %+v %v", p, err)
	}
	if p, err := Lookup(ps, "api"); err != nil || p.Path != "/b" {
		t.Fatalf("exact: %+v %v", p, err)
	}
	if _, err := Lookup(ps, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown: %v", err)
	}
}

func TestRemoveByPath(t *testing.T) {
	tmp := t.TempDir()
	r := Open(filepath.Join(tmp, "home"))
	a := project(t, tmp, "svc")
	if _, err := r.Upsert(Project{Path: a}); err != nil {
		t.Fatal(err)
	}
	// A symlink to the project is the same project.
	link := filepath.Join(tmp, "link")
	if err := os.Symlink(a, link); err != nil {
		t.Fatal(err)
	}
	p, err := r.Remove(link)
	if err != nil || p.Name != "svc" {
		t.Fatalf("remove by path: %+v %v", p, err)
	}
	if _, err := r.Remove(link); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second remove: %v", err)
	}
	if _, err := os.Stat(filepath.Join(a, ".stack.toml")); err != nil {
		t.Fatalf("remove touched the project's files: %v", err)
	}
}

func TestPrune(t *testing.T) {
	tmp := t.TempDir()
	r := Open(filepath.Join(tmp, "home"))
	a, b := project(t, tmp, "keep"), project(t, tmp, "gone")
	r.Upsert(Project{Path: a})
	r.Upsert(Project{Path: b})
	os.Remove(filepath.Join(b, ".stack.toml"))
	kept, pruned, err := r.Prune(".stack.toml")
	if err != nil || len(kept) != 1 || kept[0].Name != "keep" || len(pruned) != 1 || pruned[0].Name != "gone" {
		t.Fatalf("prune: %+v %+v %v", kept, pruned, err)
	}
	ps, _ := r.List()
	if len(ps) != 1 {
		t.Fatalf("pruned entry still stored: %+v", ps)
	}
}

func TestCorruptFileIsNeverOverwritten(t *testing.T) {
	tmp := t.TempDir()
	home := filepath.Join(tmp, "home")
	os.MkdirAll(home, 0o700)
	r := Open(home)
	a := project(t, tmp, "app")
	for _, bad := range []string{
		`{"version":1,"projects":[`,
		`{"version":2,"projects":[]}`,
		`{"version":1,"projects":[],"extra":true}`,
		`{"version":1,"projects":[{"path":"rel","name":"x"}]}`,
		`{"version":1,"projects":[{"path":"/a","name":"x"},{"path":"/b","name":"X"}]}`,
		`[]`,
	} {
		if err := os.WriteFile(r.Path(), []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := r.Upsert(Project{Path: a})
		var ce *CorruptError
		if !errors.As(err, &ce) || ce.Path != r.Path() || !strings.Contains(err.Error(), r.Path()) {
			t.Errorf("%s: upsert error %v, want a CorruptError naming the file", bad, err)
		}
		if _, err := r.List(); !errors.As(err, &ce) {
			t.Errorf("%s: list error %v", bad, err)
		}
		if _, _, err := r.Prune(".stack.toml"); !errors.As(err, &ce) {
			t.Errorf("%s: prune error %v", bad, err)
		}
		if _, err := r.Remove("x"); !errors.As(err, &ce) {
			t.Errorf("%s: remove error %v", bad, err)
		}
		if b, _ := os.ReadFile(r.Path()); string(b) != bad {
			t.Errorf("%s: the file was rewritten to %s", bad, b)
		}
	}
}

func TestConcurrentUpsertsKeepEveryEntry(t *testing.T) {
	tmp := t.TempDir()
	r := Open(filepath.Join(tmp, "home"))
	var wg sync.WaitGroup
	const n = 16
	errs := make(chan error, n)
	for i := range n {
		d := project(t, filepath.Join(tmp, "p", string(rune('a'+i))), "app")
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := Open(r.Dir).Upsert(Project{Path: d})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	ps, err := r.List()
	if err != nil || len(ps) != n {
		t.Fatalf("got %d entries (%v), want %d", len(ps), err, n)
	}
}

func TestHome(t *testing.T) {
	env := map[string]string{"STACK_HOME": "/x/stack"}
	if h, _ := Home(func(k string) string { return env[k] }); h != "/x/stack" {
		t.Fatalf("STACK_HOME: %s", h)
	}
	t.Setenv("HOME", "/home/u")
	if h, _ := Home(func(string) string { return "" }); h != "/home/u/.stack" {
		t.Fatalf("default: %s", h)
	}
}
