package cli

import (
	"github.com/spf13/cobra"

	"phantomstack.dev/shared/jsonout"
	"phantomstack.dev/templates"
)

// TemplateJSON is the --json shape of a template (`stack templates list
// --json` prints an array of them, `stack templates show T --json` one).
type TemplateJSON struct {
	Name        string        `json:"name"`
	Description string        `json:"description"`
	Services    []ServiceJSON `json:"services"`
}

// ServiceJSON is one service of a template.
type ServiceJSON struct {
	Name     string   `json:"name"`
	Provider string   `json:"provider"`
	Slots    []string `json:"slots"`
}

func templateJSON(t templates.Template) TemplateJSON {
	out := TemplateJSON{Name: t.Name, Description: t.Description, Services: []ServiceJSON{}}
	for _, s := range t.Services {
		out.Services = append(out.Services, ServiceJSON{Name: s.Name, Provider: s.Provider, Slots: append([]string{}, s.Slots...)})
	}
	return out
}

// newTemplatesCmd is the `stack templates` group; on its own it lists.
func newTemplatesCmd(f *Factory) *cobra.Command {
	listOpts := &TemplatesListOptions{F: f}
	cmd := &cobra.Command{
		Use:   "templates",
		Short: "List and inspect starter templates",
		Long: `Templates are starter stacks built into stack: a set of services, each with
the provider that runs it and the env var slots it fills. "stack templates"
on its own is "stack templates list".`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return templatesListRun(listOpts)
		},
	}
	jsonout.AddFlag(cmd, &listOpts.JSON, "print JSON")
	cmd.AddCommand(newTemplatesListCmd(f, nil), newTemplatesShowCmd(f, nil))
	return cmd
}
