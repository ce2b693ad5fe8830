package term

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRunTaskPlain(t *testing.T) {
	s, _, out, errOut := Test()
	err := s.RunTask(context.Background(), Task{Title: "Checking the key"}, func(ctx context.Context, p Progress) error {
		p.Status("status COMING_UP")
		p.Status("status COMING_UP") // repeated: printed once
		p.Status("status ACTIVE_HEALTHY")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 {
		t.Fatalf("task output on stdout: %q", out)
	}
	got := errOut.String()
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != 4 || lines[0] != "Checking the key…" || lines[1] != "  status COMING_UP" ||
		lines[2] != "  status ACTIVE_HEALTHY" || !strings.HasPrefix(lines[3], "✓ Checking the key (") {
		t.Fatalf("plain output:\n%s", got)
	}
}

func TestRunTaskPlainFailure(t *testing.T) {
	s, _, _, errOut := Test()
	boom := errors.New("boom")
	err := s.RunTask(context.Background(), Task{Title: "Creating"}, func(context.Context, Progress) error { return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(errOut.String(), "✗ Creating (") {
		t.Fatalf("no failure line: %q", errOut)
	}
}

// The spinner view: step and elapsed time, the latest status, what is next;
// on completion one summary line replaces it.
func TestTaskModelView(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	m := newTaskModel(Task{Title: "Waiting for the project", Next: "fetch the API keys"}, Theme{}, clock)
	now = now.Add(4200 * time.Millisecond)
	v := m.View().Content
	if !strings.Contains(v, "Waiting for the project 4.2s") || !strings.Contains(v, "next: fetch the API keys") {
		t.Fatalf("view:\n%s", v)
	}
	mm, _ := m.Update(statusMsg("status COMING_UP"))
	m = mm.(taskModel)
	if v := m.View().Content; !strings.Contains(v, "\n  status COMING_UP\n") {
		t.Fatalf("status missing:\n%s", v)
	}
	now = now.Add(2 * time.Minute)
	mm, cmd := m.Update(doneMsg{})
	m = mm.(taskModel)
	if cmd == nil {
		t.Fatal("done did not quit the program")
	}
	if v := m.View().Content; v != "✓ Waiting for the project (2m04s)\n" {
		t.Fatalf("final view %q", v)
	}
}

func TestRoundDur(t *testing.T) {
	for d, want := range map[time.Duration]string{
		340 * time.Millisecond:  "340ms",
		4249 * time.Millisecond: "4.2s",
		125 * time.Second:       "2m05s",
	} {
		if got := roundDur(d); got != want {
			t.Errorf("roundDur(%v) = %q, want %q", d, got, want)
		}
	}
}
