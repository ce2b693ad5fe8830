package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"phantomstack.dev/phantom/internal/audit"
	"phantomstack.dev/phantom/internal/catalog"
	"phantomstack.dev/phantom/internal/vault"
	"phantomstack.dev/shared/exitcode"
	"phantomstack.dev/shared/jsonout"
)

// ListOptions configures `phantom list`.
type ListOptions struct {
	F    *Factory
	JSON bool
}

// ListEntry is one element of `phantom list --json` (contract: never values).
type ListEntry struct {
	Name      string    `json:"name"`
	Policy    string    `json:"policy"`
	Route     string    `json:"route"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func newListCmd(f *Factory, runF func(*ListOptions) error) *cobra.Command {
	opts := &ListOptions{F: f}
	cmd := &cobra.Command{
		Use:         "list [--json]",
		Annotations: readOnlyInterrupted,
		Aliases:     []string{"ls"},
		Short:       "List the secrets in the vault (names only)",
		Long: `List the secrets in this project's vault: name, policy (how 'phantom exec'
hands it to your app) and the built-in route that owns it. Values are never
shown; use 'phantom reveal NAME' on your own terminal for that.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f.Command = "phantom list"
			if runF != nil {
				return runF(opts)
			}
			return listRun(cmd.Context(), opts)
		},
	}
	jsonout.AddFlag(cmd, &opts.JSON, "print JSON")
	return cmd
}

func listEntries(p *Project, pl *vault.Payload) []ListEntry {
	out := []ListEntry{}
	for _, name := range sortedKeys(pl.Secrets) {
		s := pl.Secrets[name]
		policy, _ := p.Policy(name)
		out = append(out, ListEntry{Name: name, Policy: policy, Route: catalog.RouteFor(name), CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt})
	}
	return out
}

func listRun(ctx context.Context, o *ListOptions) error {
	f := o.F
	p, err := f.Project()
	if err != nil {
		return err
	}
	v, err := f.OpenVault(ctx, p, false)
	if exitcode.Code(err) == exitcode.NotFound {
		// A project with no vault yet simply has no secrets.
		v, err = nil, nil
	}
	if err != nil {
		return err
	}
	entries := []ListEntry{}
	if v != nil {
		entries = listEntries(p, v.Payload())
		if err := f.record(p, audit.Event{Op: "secret.list", Detail: fmt.Sprintf("%d names", len(entries))}); err != nil {
			return err
		}
	}
	if o.JSON {
		return jsonout.Write(f.IO.Out, entries)
	}
	if len(entries) == 0 {
		f.IO.Infof("No secrets yet. Add one with: phantom add NAME")
		return nil
	}
	tw := tabwriter.NewWriter(f.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tPOLICY\tROUTE\tUPDATED")
	for _, e := range entries {
		route := e.Route
		if route == "" {
			route = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Name, e.Policy, route, e.UpdatedAt.Local().Format("2006-01-02 15:04"))
	}
	return tw.Flush()
}
