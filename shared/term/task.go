package term

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"
)

// ErrInterrupted is returned by RunTask when the user pressed Ctrl-C while
// the spinner owned the terminal, and by the prompts when Ctrl-C cancelled
// their context. The CLIs' Main maps it to exit status 130.
var ErrInterrupted = errors.New("interrupted")

// Task describes one long step for the user: what is happening and, where it
// helps, what comes after it (a Supabase project takes minutes to come up;
// saying "next: fetch the API keys" tells the user the wait is not the end).
type Task struct {
	Title string
	Next  string
}

// Progress lets a running task report where it is ("status COMING_UP").
type Progress interface {
	Status(detail string)
}

// RunTask runs fn and shows it on stderr: a bubbletea spinner with the
// elapsed time when stderr is a terminal and colour is allowed, plain lines
// otherwise (logs, CI, pipes, NO_COLOR). Nothing ever goes to stdout, so a
// command's --json output stays clean. fn's context is cancelled when the
// user presses Ctrl-C under the spinner; RunTask then waits for fn to return
// and reports ErrInterrupted.
func (s *IOStreams) RunTask(ctx context.Context, t Task, fn func(context.Context, Progress) error) error {
	if s.stderrTTY && s.colorEnabled {
		return s.runSpinner(ctx, t, fn)
	}
	return s.runPlain(ctx, t, fn)
}

// plainProgress prints each new status once, indented under the task line.
type plainProgress struct {
	s    *IOStreams
	mu   sync.Mutex
	last string
}

func (p *plainProgress) Status(detail string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if detail == p.last || detail == "" {
		return
	}
	p.last = detail
	fmt.Fprintf(p.s.ErrOut, "  %s\n", detail)
}

func (s *IOStreams) runPlain(ctx context.Context, t Task, fn func(context.Context, Progress) error) error {
	start := time.Now()
	fmt.Fprintf(s.ErrOut, "%s…\n", t.Title)
	err := fn(ctx, &plainProgress{s: s})
	fmt.Fprintln(s.ErrOut, finishLine(s.Theme(), t, err, time.Since(start)))
	return err
}

func finishLine(th Theme, t Task, err error, d time.Duration) string {
	if err != nil {
		return fmt.Sprintf("%s %s %s", th.Fail("✗"), t.Title, th.Dim("("+roundDur(d)+")"))
	}
	return fmt.Sprintf("%s %s %s", th.OK("✓"), t.Title, th.Dim("("+roundDur(d)+")"))
}

// roundDur keeps durations readable: 340ms, 4.2s, 2m05s.
func roundDur(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	default:
		m := int(d / time.Minute)
		sec := int((d % time.Minute) / time.Second)
		return fmt.Sprintf("%dm%02ds", m, sec)
	}
}

// Messages the task goroutine sends the spinner program.
type (
	statusMsg string
	doneMsg   struct{ err error }
)

// taskModel is the spinner view: one line for the step and its elapsed
// time, one for the latest status, one for what comes next.
type taskModel struct {
	task    Task
	theme   Theme
	spin    spinner.Model
	start   time.Time
	now     func() time.Time
	status  string
	done    bool
	err     error
	elapsed time.Duration
}

func newTaskModel(t Task, th Theme, now func() time.Time) taskModel {
	return taskModel{
		task:  t,
		theme: th,
		spin:  spinner.New(spinner.WithSpinner(spinner.MiniDot)),
		start: now(),
		now:   now,
	}
}

func (m taskModel) Init() tea.Cmd { return m.spin.Tick }

func (m taskModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case statusMsg:
		m.status = string(msg)
		return m, nil
	case doneMsg:
		m.done, m.err, m.elapsed = true, msg.err, m.now().Sub(m.start)
		return m, tea.Quit
	case spinner.TickMsg:
		var cmd tea.Cmd
		m.spin, cmd = m.spin.Update(msg)
		return m, cmd
	}
	return m, nil
}

func (m taskModel) View() tea.View {
	if m.done {
		return tea.NewView(finishLine(m.theme, m.task, m.err, m.elapsed) + "\n")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s", m.theme.Accent(m.spin.View()), m.task.Title, m.theme.Dim(roundDur(m.now().Sub(m.start))))
	if m.status != "" {
		fmt.Fprintf(&b, "\n  %s", m.status)
	}
	if m.task.Next != "" {
		fmt.Fprintf(&b, "\n  %s", m.theme.Dim("next: "+m.task.Next))
	}
	return tea.NewView(b.String())
}

// teaProgress forwards status reports to the program.
type teaProgress struct{ p *tea.Program }

func (t teaProgress) Status(detail string) { t.p.Send(statusMsg(detail)) }

func (s *IOStreams) runSpinner(ctx context.Context, t Task, fn func(context.Context, Progress) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// No input: the spinner reads no keys, so it never puts the terminal in
	// raw mode under a prompt; Ctrl-C arrives as SIGINT, which bubbletea
	// turns into ErrInterrupted.
	p := tea.NewProgram(newTaskModel(t, s.Theme(), time.Now), tea.WithOutput(s.ErrOut), tea.WithInput(nil))
	result := make(chan error, 1)
	go func() {
		err := fn(ctx, teaProgress{p})
		result <- err
		p.Send(doneMsg{err})
	}()
	_, runErr := p.Run()
	if errors.Is(runErr, tea.ErrInterrupted) {
		cancel()
		<-result
		fmt.Fprintf(s.ErrOut, "%s %s: interrupted\n", s.Theme().Fail("✗"), t.Title)
		return ErrInterrupted
	}
	err := <-result
	if runErr != nil && err == nil {
		// The display failed (a closed terminal); the task itself ran.
		return nil
	}
	return err
}

// Pauser is a Progress that owns the terminal and can hand it back for a
// moment: a prompt during a task (Supabase's organization choice) must not
// be drawn over by the spinner.
type Pauser interface {
	Pause() (resume func())
}

// Pause stops the spinner's rendering until resume is called.
func (t teaProgress) Pause() func() {
	t.p.ReleaseTerminal()
	return func() { t.p.RestoreTerminal() }
}

// Pause is a no-op for plain lines: they never redraw.
func (p *plainProgress) Pause() func() { return func() {} }
