package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"phantomstack.dev/shared/jsonout"
)

// TemplatesListOptions configures `stack templates list`.
type TemplatesListOptions struct {
	F    *Factory
	JSON bool
}

func newTemplatesListCmd(f *Factory, runF func(*TemplatesListOptions) error) *cobra.Command {
	opts := &TemplatesListOptions{F: f}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the starter templates",
		Long: `List the starter templates built into stack, sorted by name.

--json prints an array of {"name", "description", "services": [{"name",
"provider", "slots": [...]}]}.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return templatesListRun(opts)
		},
	}
	jsonout.AddFlag(cmd, &opts.JSON, "print JSON")
	return cmd
}

func templatesListRun(o *TemplatesListOptions) error {
	all := o.F.Templates.List()
	if o.JSON {
		out := make([]TemplateJSON, 0, len(all))
		for _, t := range all {
			out = append(out, templateJSON(t))
		}
		return jsonout.Write(o.F.IO.Out, out)
	}
	if len(all) == 0 {
		o.F.IO.Infof("No templates in this build.")
		return nil
	}
	tw := tabwriter.NewWriter(o.F.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tDESCRIPTION")
	for _, t := range all {
		fmt.Fprintf(tw, "%s\t%s\n", t.Name, t.Description)
	}
	return tw.Flush()
}
