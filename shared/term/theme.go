package term

import (
	"fmt"

	"charm.land/lipgloss/v2"
)

// Theme styles the human-facing lines both CLIs print on stderr. With colour
// off every style renders its text unchanged.
type Theme struct {
	on                          bool
	ok, warn, fail, dim, accent lipgloss.Style
}

// Theme returns the palette for these streams.
func (s *IOStreams) Theme() Theme {
	return Theme{
		on:     s.colorEnabled,
		ok:     lipgloss.NewStyle().Foreground(lipgloss.Color("2")).Bold(true),
		warn:   lipgloss.NewStyle().Foreground(lipgloss.Color("3")).Bold(true),
		fail:   lipgloss.NewStyle().Foreground(lipgloss.Color("1")).Bold(true),
		dim:    lipgloss.NewStyle().Faint(true),
		accent: lipgloss.NewStyle().Foreground(lipgloss.Color("6")),
	}
}

func (t Theme) render(st lipgloss.Style, s string) string {
	if !t.on {
		return s
	}
	return st.Render(s)
}

// OK marks success ("✓").
func (t Theme) OK(s string) string { return t.render(t.ok, s) }

// Warn marks a warning.
func (t Theme) Warn(s string) string { return t.render(t.warn, s) }

// Fail marks a failure.
func (t Theme) Fail(s string) string { return t.render(t.fail, s) }

// Dim de-emphasises secondary text.
func (t Theme) Dim(s string) string { return t.render(t.dim, s) }

// Accent highlights names and commands.
func (t Theme) Accent(s string) string { return t.render(t.accent, s) }

// Successf writes a "✓ ..." line to stderr.
func (s *IOStreams) Successf(format string, args ...any) {
	fmt.Fprintf(s.ErrOut, "%s %s\n", s.Theme().OK("✓"), fmt.Sprintf(format, args...))
}

// Warnf writes a "! ..." line to stderr.
func (s *IOStreams) Warnf(format string, args ...any) {
	fmt.Fprintf(s.ErrOut, "%s %s\n", s.Theme().Warn("!"), fmt.Sprintf(format, args...))
}

// Infof writes a plain line to stderr.
func (s *IOStreams) Infof(format string, args ...any) {
	fmt.Fprintf(s.ErrOut, format+"\n", args...)
}
