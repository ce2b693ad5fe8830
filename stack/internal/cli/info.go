package cli

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"phantomstack.dev/shared/exitcode"
	"phantomstack.dev/shared/jsonout"
	"phantomstack.dev/stack/internal/config"
	"phantomstack.dev/stack/internal/phantomctl"
)

// InfoReport is `stack info SERVICE --json`. It never holds a value.
type InfoReport struct {
	Service     string            `json:"service"`
	Provider    string            `json:"provider"`
	DisplayName string            `json:"display_name"`
	Category    string            `json:"category"`
	Auth        string            `json:"auth"`
	DocsURL     string            `json:"docs_url"`
	ResourceID  string            `json:"resource_id"`
	Region      string            `json:"region"`
	CreatedAt   *time.Time        `json:"created_at"` // null when unknown (no .stack.local.toml entry)
	CreatedBy   string            `json:"created_by"`
	MCP         string            `json:"mcp"`
	Meta        map[string]string `json:"meta,omitempty"`
	Slots       []InfoSlot        `json:"slots"`
}

// InfoSlot is one declared slot of the service.
type InfoSlot struct {
	Name    string `json:"name"`
	Secret  bool   `json:"secret"`   // a secret slot (in phantom) or a config slot (.env.local)
	InVault bool   `json:"in_vault"` // phantom list --json has the name
	// Unverified: stored without a check with the provider (stack add
	// --no-verify); stack doctor checks it.
	Unverified bool `json:"unverified,omitempty"`
}

// InfoOptions configures `stack info`.
type InfoOptions struct {
	F       *Factory
	Service string
	JSON    bool
}

func newInfoCmd(f *Factory) *cobra.Command {
	o := &InfoOptions{F: f}
	cmd := &cobra.Command{
		Use:         "info SERVICE [--json]",
		Annotations: readOnlyInterrupted,
		Short:       "Show one service: provider, resource, and which of its slots phantom holds",
		Long: `Show what stack knows about SERVICE: the provider (name, category, how it
signs in, docs), the upstream resource recorded in .stack.local.toml (id,
region, when and by whom it was created), its MCP server, and each declared
slot with whether phantom's vault holds it. Names only, never values.

info does not contact the provider: 'stack doctor' checks that the keys still
work upstream. --json schema: docs/stack.md.`,
		Args: exactArgs("SERVICE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Service = args[0]
			return infoRun(cmd.Context(), o)
		},
	}
	jsonout.AddFlag(cmd, &o.JSON, "print JSON (schema in docs/stack.md)")
	return cmd
}

func infoRun(ctx context.Context, o *InfoOptions) error {
	f := o.F
	c, err := f.loadConfig()
	if err != nil {
		return err
	}
	pc, err := f.phantom(ctx)
	if err != nil {
		return err
	}
	s := c.Services[o.Service]
	if s == nil {
		return exitcode.Errorf(exitcode.Failure, "%s is not in this project's %s; `stack list` shows what is", o.Service, config.FileName)
	}
	p, err := f.Providers.Get(s.Provider)
	if err != nil {
		return exitcode.New(exitcode.Failure, err)
	}
	vault, _, err := vaultNames(ctx, pc)
	if err != nil {
		return phantomErr(err)
	}
	info := p.Info()
	rep := InfoReport{
		Service: o.Service, Provider: s.Provider, DisplayName: info.DisplayName, Category: info.Category,
		Auth: string(info.Auth), DocsURL: info.DocsURL, ResourceID: s.ResourceID, Region: s.Region,
		CreatedBy: s.CreatedBy, MCP: s.MCP, Meta: s.Meta, Slots: []InfoSlot{},
	}
	if !s.CreatedAt.IsZero() {
		t := s.CreatedAt.UTC()
		rep.CreatedAt = &t
	}
	for _, slot := range s.Secrets {
		rep.Slots = append(rep.Slots, InfoSlot{Name: slot, Secret: true, InVault: slices.Contains(vault, slot), Unverified: slices.Contains(s.Unverified, slot)})
	}
	for _, slot := range s.Config {
		rep.Slots = append(rep.Slots, InfoSlot{Name: slot, InVault: slices.Contains(vault, slot)})
	}
	if o.JSON {
		return writeJSON(f, rep)
	}
	printInfo(f, &rep)
	return nil
}

// vaultNames lists the names in the project's vault. A directory phantom
// has no project for yet (no .phantom.toml: `stack add` creates it) has an
// empty vault, reported as noProject rather than an error.
func vaultNames(ctx context.Context, pc *phantomctl.Client) (names []string, noProject bool, err error) {
	if !pc.HasProject() {
		return []string{}, true, nil
	}
	quiet := *pc
	quiet.Stderr = nil // a failure's message is in the error; "not in a project" is no failure here
	es, err := quiet.List(ctx)
	var ce *phantomctl.CallError
	if errors.As(err, &ce) && ce.Code == exitcode.NotFound {
		return []string{}, true, nil // list's only exit 4 is "not in a project"
	}
	if err != nil {
		return nil, false, err
	}
	names = make([]string, len(es))
	for i, e := range es {
		names[i] = e.Name
	}
	return names, false, nil
}

func printInfo(f *Factory, r *InfoReport) {
	w, t := f.IO.Out, f.IO.Theme()
	row := func(k, v string) { fmt.Fprintf(w, "%-10s %s\n", k, v) }
	row("service", r.Service)
	row("provider", fmt.Sprintf("%s (%s, %s)", r.DisplayName, r.Provider, r.Category))
	row("auth", r.Auth)
	row("docs", orDash(r.DocsURL))
	row("resource", orDash(r.ResourceID))
	if r.Region != "" {
		row("region", r.Region)
	}
	if r.CreatedAt != nil {
		created := r.CreatedAt.Format(time.RFC3339)
		if r.CreatedBy != "" {
			created += " by " + r.CreatedBy
		}
		row("created", created)
	}
	if r.MCP != "" {
		row("mcp", r.MCP)
	}
	for _, k := range slices.Sorted(maps.Keys(r.Meta)) {
		row("meta", k+" = "+r.Meta[k])
	}
	fmt.Fprintln(w, "slots")
	for _, s := range r.Slots {
		kind := "secret"
		if !s.Secret {
			kind = "config"
		}
		state := t.OK("● in vault")
		switch {
		case !s.Secret && !s.InVault:
			state = t.Dim("○ in .env.local, not the vault")
		case !s.InVault:
			state = t.Fail("○ missing from the vault") + " (stack add " + r.Service + " stores it)"
		case s.Unverified:
			state += t.Warn(" (unverified: stored with --no-verify; stack doctor checks it)")
		}
		fmt.Fprintf(w, "  %-28s %-6s %s\n", s.Name, kind, state)
	}
}
