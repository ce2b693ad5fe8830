package cli

import (
	"os"

	"phantomstack.dev/providers"
	"phantomstack.dev/providers/apikey"
	awsprovider "phantomstack.dev/providers/aws"
	"phantomstack.dev/providers/supabase"
	"phantomstack.dev/providers/vercel"
	"phantomstack.dev/shared/term"
	"phantomstack.dev/stack/internal/phantomctl"
	"phantomstack.dev/templates"
)

// Factory holds what commands need from the outside world. Every field can
// be replaced in tests.
type Factory struct {
	IO        *term.IOStreams
	Env       func(string) string
	Providers *providers.Registry
	Templates TemplateSource

	pc *phantomctl.Client // checked phantom, once per command
}

// TemplateSource is where templates come from; the embedded set by default.
type TemplateSource interface {
	List() []templates.Template
	Get(name string) (templates.Template, error)
}

type embeddedTemplates struct{}

func (embeddedTemplates) List() []templates.Template                  { return templates.List() }
func (embeddedTemplates) Get(name string) (templates.Template, error) { return templates.Get(name) }

// NewFactory returns the production factory.
func NewFactory(io *term.IOStreams) (*Factory, error) {
	reg, err := DefaultRegistry()
	if err != nil {
		return nil, err
	}
	return &Factory{IO: io, Env: os.Getenv, Providers: reg, Templates: embeddedTemplates{}}, nil
}

// DefaultRegistry returns every provider built into stack.
func DefaultRegistry() (*providers.Registry, error) {
	reg := &providers.Registry{}
	if err := apikey.Register(reg); err != nil {
		return nil, err
	}
	if err := awsprovider.Register(reg); err != nil {
		return nil, err
	}
	if err := vercel.Register(reg); err != nil {
		return nil, err
	}
	if err := supabase.Register(reg); err != nil {
		return nil, err
	}
	return reg, nil
}
