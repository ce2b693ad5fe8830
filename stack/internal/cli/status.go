package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/spf13/cobra"

	"phantomstack.dev/shared/exitcode"
	"phantomstack.dev/shared/jsonout"
	"phantomstack.dev/stack/internal/config"
	"phantomstack.dev/stack/internal/phantomctl"
	"phantomstack.dev/stack/internal/registry"
)

// StatusSchema is the version of `stack status --json` (docs/stack.md).
const StatusSchema = 1

// StatusReport is `stack status --json`. It never holds a value.
type StatusReport struct {
	Schema  int           `json:"schema"`
	Dir     string        `json:"dir"`
	Project StatusProject `json:"project"`
	Phantom StatusPhantom `json:"phantom"`
	Drift   *StatusDrift  `json:"drift"` // null when it could not be computed
}

// StatusProject is the project in the current directory.
type StatusProject struct {
	Found      bool            `json:"found"`
	Error      string          `json:"error,omitempty"`  // .stack.toml exists but cannot be read
	Parent     string          `json:"parent,omitempty"` // nearest ancestor with a .stack.toml, when this dir has none
	ProjectID  string          `json:"project_id,omitempty"`
	Template   string          `json:"template,omitempty"`
	Registered string          `json:"registered_as,omitempty"` // the project's name in the registry
	Services   []StatusService `json:"services"`
}

// StatusService is one declared service.
type StatusService struct {
	Name       string   `json:"name"`
	Provider   string   `json:"provider"`
	ResourceID string   `json:"resource_id"`
	Secrets    []string `json:"secrets"`
}

// StatusPhantom is what stack found of phantom.
type StatusPhantom struct {
	Found    bool   `json:"found"`
	Path     string `json:"path,omitempty"`
	Version  string `json:"version,omitempty"`
	Protocol int    `json:"protocol,omitempty"`
	Error    string `json:"error,omitempty"`   // missing, incompatible, or the vault could not be listed
	Secrets  *int   `json:"secrets,omitempty"` // names in the vault; only with a project
	Note     string `json:"note,omitempty"`
}

// StatusDrift compares the declared secret slots with the vault.
type StatusDrift struct {
	Declared int `json:"declared"`
	Missing  int `json:"missing"` // declared, not in the vault
	Orphans  int `json:"orphans"` // in the vault, declared by no service
}

// StatusOptions configures `stack status`.
type StatusOptions struct {
	F    *Factory
	JSON bool
}

func newStatusCmd(f *Factory) *cobra.Command {
	o := &StatusOptions{F: f}
	cmd := &cobra.Command{
		Use:         "status [--json]",
		Annotations: readOnlyInterrupted,
		Short:       "Where am I: this directory's project, phantom, and drift",
		Long: `Report what stack sees from here: the project in this directory (its id and
services), the phantom it would use (version, and how many secrets its vault
holds for this project), and how the declared secret slots and the vault
differ. It works without a .stack.toml and without phantom: what is missing is
reported, not an error. Exit 1 only when .stack.toml exists but cannot be read.
No upstream checks (that is stack doctor). --json schema: docs/stack.md.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return statusRun(cmd.Context(), o) },
	}
	jsonout.AddFlag(cmd, &o.JSON, "print the report as JSON (schema in docs/stack.md)")
	return cmd
}

func statusRun(ctx context.Context, o *StatusOptions) error {
	f := o.F
	dir, err := f.projectDir()
	if err != nil {
		return exitcode.New(exitcode.Failure, err)
	}
	rep := StatusReport{Schema: StatusSchema, Dir: dir, Project: StatusProject{Services: []StatusService{}}}
	c, cerr := config.Load(dir, f.known)
	switch {
	case cerr == nil:
		rep.Project.Found = true
		rep.Project.ProjectID, rep.Project.Template = c.ProjectID, c.Template
		for _, n := range c.Names() {
			s := c.Services[n]
			rep.Project.Services = append(rep.Project.Services, StatusService{Name: n, Provider: s.Provider, ResourceID: s.ResourceID, Secrets: append([]string{}, s.Secrets...)})
		}
		rep.Project.Registered = registeredName(f, dir)
	case errors.Is(cerr, config.ErrNotFound):
		rep.Project.Parent = nearestProject(dir)
	default:
		rep.Project.Found, rep.Project.Error = true, cerr.Error()
	}

	// phantom: found and compatible? Its messages stay out of the report.
	if bin, err := phantomctl.Find(f.Env); err != nil {
		rep.Phantom.Error = err.Error()
	} else {
		rep.Phantom.Found, rep.Phantom.Path = true, bin
		pc := &phantomctl.Client{Bin: bin, Dir: dir}
		v, err := pc.Check(ctx)
		rep.Phantom.Version, rep.Phantom.Protocol = v.Version, v.Protocol
		if err != nil {
			rep.Phantom.Error = err.Error()
		} else if c != nil {
			if names, none, err := vaultNames(ctx, pc); err != nil {
				rep.Phantom.Error = err.Error()
			} else {
				n := len(names)
				rep.Phantom.Secrets = &n
				if none {
					rep.Phantom.Note = "no phantom project here yet; `stack add` creates it"
				}
				rep.Drift = drift(c, names)
			}
		}
	}

	if o.JSON {
		if err := writeJSON(f, rep); err != nil {
			return err
		}
	} else {
		printStatus(f, &rep)
	}
	if rep.Project.Error != "" {
		return exitcode.Silent{Code: exitcode.Failure}
	}
	return nil
}

func drift(c *config.Config, names []string) *StatusDrift {
	d := &StatusDrift{}
	declared := append(c.SecretSlots(), c.Env...)
	for _, s := range declared {
		d.Declared++
		if !slices.Contains(names, s) {
			d.Missing++
		}
	}
	for _, n := range names {
		if !slices.Contains(declared, n) {
			d.Orphans++
		}
	}
	return d
}

// registeredName is the project's registry name, "" when it is not
// registered or the registry cannot be read (status reports, it does not fix).
func registeredName(f *Factory, dir string) string {
	r, err := f.registry()
	if err != nil {
		return ""
	}
	ps, err := r.List()
	if err != nil {
		return ""
	}
	path, err := registry.Canonical(dir)
	if err != nil {
		return ""
	}
	for _, p := range ps {
		if p.Path == path {
			return p.Name
		}
	}
	return ""
}

// nearestProject is the closest ancestor of dir holding a .stack.toml.
func nearestProject(dir string) string {
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, config.FileName)); err == nil {
			return d
		}
		if d == filepath.Dir(d) {
			return ""
		}
	}
}

func printStatus(f *Factory, rep *StatusReport) {
	t := f.IO.Theme()
	w := f.IO.Out
	p := rep.Project
	switch {
	case p.Error != "":
		fmt.Fprintf(w, "%-10s %s %s is invalid: %s\n", "project", t.Fail("●"), config.FileName, p.Error)
	case !p.Found:
		hint := "run `stack init` to start a project here"
		if p.Parent != "" {
			hint = "the project is " + p.Parent + "; run stack from there"
		}
		fmt.Fprintf(w, "%-10s %s no %s in %s (%s)\n", "project", t.Warn("○"), config.FileName, rep.Dir, hint)
	default:
		name := ""
		if p.Registered != "" {
			name = " (registered as " + p.Registered + ")"
		}
		fmt.Fprintf(w, "%-10s %s %s%s, %d service(s)\n", "project", t.OK("●"), p.ProjectID, name, len(p.Services))
		for _, s := range p.Services {
			fmt.Fprintf(w, "%-10s   %-12s %-12s resource %s\n", "", s.Name, s.Provider, orDash(s.ResourceID))
		}
	}
	ph := rep.Phantom
	switch {
	case !ph.Found:
		fmt.Fprintf(w, "%-10s %s not installed (every command but init, status, projects and the catalog needs it; `make install`)\n", "phantom", t.Fail("○"))
	case ph.Error != "":
		fmt.Fprintf(w, "%-10s %s %s %s: %s\n", "phantom", t.Warn("●"), ph.Path, ph.Version, ph.Error)
	default:
		line := fmt.Sprintf("%-10s %s %s (protocol %d)", "phantom", t.OK("●"), ph.Version, ph.Protocol)
		if ph.Secrets != nil {
			line += fmt.Sprintf(", %d secret(s) in the vault", *ph.Secrets)
		}
		if ph.Note != "" {
			line += " (" + ph.Note + ")"
		}
		fmt.Fprintln(w, line)
	}
	if d := rep.Drift; d != nil {
		mark := t.OK("●")
		if d.Missing > 0 || d.Orphans > 0 {
			mark = t.Warn("●")
		}
		fmt.Fprintf(w, "%-10s %s %d declared, %d missing from the vault, %d in the vault but undeclared", "drift", mark, d.Declared, d.Missing, d.Orphans)
		if d.Missing > 0 || d.Orphans > 0 {
			fmt.Fprint(w, " (stack env diff shows which)")
		}
		fmt.Fprintln(w)
	}
}
