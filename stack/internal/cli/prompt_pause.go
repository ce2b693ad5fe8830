package cli

import (
	"errors"

	"phantomstack.dev/providers"
	"phantomstack.dev/shared/term"
)

// pausingPrompt is the provider's terminal while a spinner runs: each prompt
// pauses the spinner first, so the question is not drawn over.
type pausingPrompt struct {
	inner providers.Prompter
	pr    term.Progress
}

func withPause(p providers.Prompter, pr term.Progress) providers.Prompter {
	if p == nil {
		return nil
	}
	return pausingPrompt{inner: p, pr: pr}
}

func (p pausingPrompt) pause() func() {
	if ps, ok := p.pr.(term.Pauser); ok {
		return ps.Pause()
	}
	return func() {}
}

func (p pausingPrompt) CanPrompt() bool { return p.inner.CanPrompt() }

func (p pausingPrompt) ReadSecret(prompt string) ([]byte, error) {
	defer p.pause()()
	return p.inner.ReadSecret(prompt)
}

// ReadLine keeps the optional providers.LinePrompter working through the
// wrapper.
func (p pausingPrompt) ReadLine(prompt string) (string, error) {
	lp, ok := p.inner.(providers.LinePrompter)
	if !ok {
		return "", errors.New("this terminal cannot read a line")
	}
	defer p.pause()()
	return lp.ReadLine(prompt)
}
