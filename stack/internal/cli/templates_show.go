package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"phantomstack.dev/shared/jsonout"
)

// TemplatesShowOptions configures `stack templates show`.
type TemplatesShowOptions struct {
	F    *Factory
	Name string
	JSON bool
}

func newTemplatesShowCmd(f *Factory, runF func(*TemplatesShowOptions) error) *cobra.Command {
	opts := &TemplatesShowOptions{F: f}
	cmd := &cobra.Command{
		Use:   "show TEMPLATE",
		Short: "Show a template's services and slots",
		Long: `Show one starter template: each service, the provider that runs it and the
env var slots it fills.

--json prints {"name", "description", "services": [{"name", "provider",
"slots": [...]}]}. An unknown template name fails with exit code 1 and the
list of valid names.`,
		Args: exactArgs("TEMPLATE"),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var names []string
			for _, t := range f.Templates.List() {
				names = append(names, t.Name+"\t"+t.Description)
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if runF != nil {
				return runF(opts)
			}
			return templatesShowRun(opts)
		},
	}
	jsonout.AddFlag(cmd, &opts.JSON, "print JSON")
	return cmd
}

func templatesShowRun(o *TemplatesShowOptions) error {
	t, err := o.F.Templates.Get(o.Name)
	if err != nil {
		return err
	}
	if o.JSON {
		return jsonout.Write(o.F.IO.Out, templateJSON(t))
	}
	fmt.Fprintf(o.F.IO.Out, "%s: %s\n\n", t.Name, t.Description)
	tw := tabwriter.NewWriter(o.F.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tPROVIDER\tSLOTS")
	var missing []string
	for _, s := range t.Services {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Name, s.Provider, strings.Join(s.Slots, ", "))
		if _, err := o.F.Providers.Get(s.Provider); err != nil {
			missing = append(missing, s.Provider)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(missing) > 0 {
		o.F.IO.Warnf("this build of stack has no %s provider yet (see 'stack providers')", strings.Join(missing, " or "))
	}
	return nil
}
