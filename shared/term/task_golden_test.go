package term

import (
	"bytes"
	"sync/atomic"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest/v2"
)

// The Supabase wait as the user sees it, run as a real bubbletea program by
// teatest: the step with its elapsed time, each status the provider reports,
// what comes next, and the one-line summary that replaces it all. The clock
// is fixed so the golden files are stable (go test -update rewrites them).
func TestTaskViewGolden(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var offset atomic.Int64 // the program reads the clock from its own goroutine
	clock := func() time.Time { return start.Add(time.Duration(offset.Load())) }
	task := Task{Title: "Waiting for Supabase project abcdefghijklmnopqrst", Next: "fetch the API keys"}
	m := newTaskModel(task, Theme{}, clock)
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(100, 10))

	offset.Store(int64(42 * time.Second))
	tm.Send(statusMsg("status COMING_UP"))
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool {
		return bytes.Contains(b, []byte("status COMING_UP")) && bytes.Contains(b, []byte("next: fetch the API keys"))
	}, teatest.WithDuration(5*time.Second))

	// The live view at 42 s (spinner frame normalised: it moves with time).
	live := m
	live.status = "status COMING_UP"
	golden.RequireEqual(t, []byte(live.View().Content))

	offset.Store(int64(2*time.Minute + 5*time.Second))
	tm.Send(doneMsg{})
	final := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(taskModel)
	t.Run("done", func(t *testing.T) {
		golden.RequireEqual(t, []byte(final.View().Content))
	})
}
