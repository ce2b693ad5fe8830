package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"phantomstack.dev/shared/jsonout"
)

// ProvidersOptions configures `stack providers`.
type ProvidersOptions struct {
	F    *Factory
	JSON bool
}

// ProviderJSON is one element of `stack providers --json`.
type ProviderJSON struct {
	Name        string     `json:"name"`
	DisplayName string     `json:"display_name"`
	Category    string     `json:"category"`
	Auth        string     `json:"auth"`
	DocsURL     string     `json:"docs_url"`
	Slots       []SlotJSON `json:"slots"`
}

// SlotJSON describes one slot. Policy is empty when phantom picks the default.
type SlotJSON struct {
	Name   string `json:"name"`
	Secret bool   `json:"secret"`
	Policy string `json:"policy,omitempty"`
}

func newProvidersCmd(f *Factory, runF func(*ProvidersOptions) error) *cobra.Command {
	opts := &ProvidersOptions{F: f}
	cmd := &cobra.Command{
		Use:   "providers",
		Short: "List the providers this build of stack knows",
		Long: `List the providers this build of stack can provision, with the env var
slots each one fills. Secret slots go to phantom's vault; the project's env
file only ever gets a phm_ placeholder for them.

--json prints an array of
  {"name", "display_name", "category", "auth", "docs_url",
   "slots": [{"name", "secret", "policy"}]}
sorted by name. "policy" is the phantom policy (proxy, inject, deny) and is
absent when phantom chooses.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return providersRun(opts)
		},
	}
	jsonout.AddFlag(cmd, &opts.JSON, "print JSON")
	return cmd
}

func providersRun(o *ProvidersOptions) error {
	all := o.F.Providers.All()
	out := make([]ProviderJSON, 0, len(all))
	for _, p := range all {
		info := p.Info()
		pj := ProviderJSON{
			Name: info.Name, DisplayName: info.DisplayName, Category: info.Category,
			Auth: string(info.Auth), DocsURL: info.DocsURL, Slots: []SlotJSON{},
		}
		for _, s := range info.Slots {
			pj.Slots = append(pj.Slots, SlotJSON{Name: s.Name, Secret: s.Secret, Policy: s.Policy})
		}
		out = append(out, pj)
	}
	if o.JSON {
		return jsonout.Write(o.F.IO.Out, out)
	}
	if len(out) == 0 {
		o.F.IO.Infof("No providers in this build.")
		return nil
	}
	tw := tabwriter.NewWriter(o.F.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tDISPLAY\tCATEGORY\tAUTH\tSLOTS")
	for _, p := range out {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.Name, p.DisplayName, p.Category, p.Auth, slotList(p.Slots))
	}
	return tw.Flush()
}

// slotList renders slots as "A, B (config)"; secret is the normal case.
func slotList(slots []SlotJSON) string {
	parts := make([]string, len(slots))
	for i, s := range slots {
		parts[i] = s.Name
		if !s.Secret {
			parts[i] += " (config)"
		}
	}
	return strings.Join(parts, ", ")
}
