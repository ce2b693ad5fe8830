package cli

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"phantomstack.dev/shared/exitcode"
	"phantomstack.dev/shared/jsonout"
	"phantomstack.dev/stack/internal/config"
	"phantomstack.dev/stack/internal/registry"
)

// registry opens the per-user project registry ($STACK_HOME, else ~/.stack).
func (f *Factory) registry() (*registry.Registry, error) {
	home, err := registry.Home(f.Env)
	if err != nil {
		return nil, err
	}
	return registry.Open(home), nil
}

// saveConfig writes the project's stack files, then records the project in
// the registry. The registry is a convenience: when it cannot be updated
// the command still succeeds, with a warning.
func (f *Factory) saveConfig(c *config.Config) error {
	if err := c.Save(f.known); err != nil {
		return err
	}
	if _, err := f.registerConfig(c); err != nil {
		f.IO.Warnf("the project registry was not updated: %v\n(%s was written; `stack projects register` retries)", err, config.FileName)
	}
	return nil
}

func (f *Factory) registerConfig(c *config.Config) (registry.Project, error) {
	r, err := f.registry()
	if err != nil {
		return registry.Project{}, err
	}
	return r.Upsert(registry.Project{Path: c.Dir, ProjectID: c.ProjectID, Template: c.Template, Services: c.Names()})
}

// registeredProjects lists the registry after dropping the projects whose
// .stack.toml is gone, and says which on stderr.
func (f *Factory) registeredProjects() ([]registry.Project, error) {
	r, err := f.registry()
	if err != nil {
		return nil, exitcode.New(exitcode.Failure, err)
	}
	kept, pruned, err := r.Prune(config.FileName)
	if err != nil {
		return nil, exitcode.New(exitcode.Failure, err)
	}
	for _, p := range pruned {
		f.IO.Warnf("forgot project %s (%s): its %s is gone", p.Name, p.Path, config.FileName)
	}
	return kept, nil
}

func newProjectsCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "projects",
		Short: "List, register, forget and find the stack projects on this machine",
		Long: `stack remembers every project it writes a .stack.toml for in a per-user
registry, $STACK_HOME/projects.json (STACK_HOME defaults to ~/.stack). The
registry holds paths, names, project ids and service names, never a secret.
A project is named after its directory; a second project with the same
directory name gets name-2, then name-3. Projects whose .stack.toml is gone
are dropped when the registry is listed.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newProjectsListCmd(f), newProjectsRegisterCmd(f), newProjectsRemoveCmd(f), newProjectsWhereCmd(f))
	return cmd
}

// ProjectsListOptions configures `stack projects list`.
type ProjectsListOptions struct {
	F    *Factory
	JSON bool
}

func newProjectsListCmd(f *Factory) *cobra.Command {
	o := &ProjectsListOptions{F: f}
	cmd := &cobra.Command{
		Use:   "list [--json]",
		Short: "List the registered projects",
		Long: `List the registered projects, sorted by name. --json prints an array of
  {"path", "name", "project_id", "template", "services", "last_seen"}.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return projectsListRun(o) },
	}
	jsonout.AddFlag(cmd, &o.JSON, "print JSON")
	return cmd
}

func projectsListRun(o *ProjectsListOptions) error {
	f := o.F
	ps, err := f.registeredProjects()
	if err != nil {
		return err
	}
	if o.JSON {
		return writeJSON(f, ps)
	}
	if len(ps) == 0 {
		f.IO.Infof("No projects registered yet. `stack init` registers the project it creates; `stack projects register` adds an existing one.")
		return nil
	}
	w := tabwriter.NewWriter(f.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tPROJECT\tSERVICES\tPATH")
	for _, p := range ps {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", p.Name, orDash(p.ProjectID), orDash(strings.Join(p.Services, ", ")), p.Path)
	}
	return w.Flush()
}

// ProjectsRegisterOptions configures `stack projects register`.
type ProjectsRegisterOptions struct {
	F    *Factory
	JSON bool
}

func newProjectsRegisterCmd(f *Factory) *cobra.Command {
	o := &ProjectsRegisterOptions{F: f}
	cmd := &cobra.Command{
		Use:   "register [--json]",
		Short: "Register the project in the current directory",
		Long: `Record the current directory's project (it needs a .stack.toml) in the
registry. init, add, import and remove do this on their own; register is for
a project cloned or moved here. --json prints the stored entry.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return projectsRegisterRun(o) },
	}
	jsonout.AddFlag(cmd, &o.JSON, "print the entry as JSON")
	return cmd
}

func projectsRegisterRun(o *ProjectsRegisterOptions) error {
	f := o.F
	c, err := f.loadConfig()
	if err != nil {
		if errors.Is(err, config.ErrNotFound) {
			return exitcode.Errorf(exitcode.Failure, "%v; only a stack project can be registered", err)
		}
		return exitcode.New(exitcode.Failure, err)
	}
	p, err := f.registerConfig(c)
	if err != nil {
		return exitcode.New(exitcode.Failure, err)
	}
	if o.JSON {
		return writeJSON(f, p)
	}
	f.IO.Successf("Registered %s (%s) at %s", p.Name, p.ProjectID, p.Path)
	return nil
}

// ProjectsRemoveOptions configures `stack projects remove`.
type ProjectsRemoveOptions struct {
	F      *Factory
	Target string
	JSON   bool
}

func newProjectsRemoveCmd(f *Factory) *cobra.Command {
	o := &ProjectsRemoveOptions{F: f}
	cmd := &cobra.Command{
		Use:   "remove NAME|PATH [--json]",
		Short: "Forget a project (its files are not touched)",
		Long: `Drop a project from the registry. NAME is matched exactly, then
case-insensitively; otherwise the argument is taken as the project's path.
Nothing in the project, and nothing in phantom, is changed. --json prints the
removed entry.`,
		Args: exactArgs("NAME|PATH"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Target = args[0]
			return projectsRemoveRun(o)
		},
	}
	jsonout.AddFlag(cmd, &o.JSON, "print the removed entry as JSON")
	return cmd
}

func projectsRemoveRun(o *ProjectsRemoveOptions) error {
	f := o.F
	r, err := f.registry()
	if err != nil {
		return exitcode.New(exitcode.Failure, err)
	}
	p, err := r.Remove(o.Target)
	if errors.Is(err, registry.ErrNotFound) {
		return exitcode.Errorf(exitcode.Failure, "%v; `stack projects list` shows the registered projects", err)
	}
	if err != nil {
		return exitcode.New(exitcode.Failure, err)
	}
	if o.JSON {
		return writeJSON(f, p)
	}
	f.IO.Successf("Forgot %s (%s); its files are untouched.", p.Name, p.Path)
	return nil
}

func newProjectsWhereCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "where NAME",
		Short: "Print a registered project's path (for scripts: cd \"$(stack projects where app)\")",
		Long: `Print the path of the project called NAME (exact, then case-insensitive
match) and nothing else on stdout. An unknown name prints nothing on stdout
and exits 1.`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ps, err := f.registeredProjects()
			if err != nil {
				return err
			}
			p, err := registry.Lookup(ps, args[0])
			if err != nil {
				return exitcode.Errorf(exitcode.Failure, "%v; `stack projects list` shows the registered projects", err)
			}
			fmt.Fprintln(f.IO.Out, p.Path)
			return nil
		},
	}
}
