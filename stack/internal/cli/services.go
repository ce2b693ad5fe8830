package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"phantomstack.dev/providers"
	"phantomstack.dev/shared/dotenv"
	"phantomstack.dev/shared/exitcode"
	"phantomstack.dev/shared/fsx"
	"phantomstack.dev/shared/jsonout"
	"phantomstack.dev/shared/token"
)

func writeJSON(f *Factory, v any) error { return jsonout.Write(f.IO.Out, v) }

// RemoveOptions configures `stack remove`.
type RemoveOptions struct {
	F          *Factory
	Service    string
	KeepRemote bool
}

func newRemoveCmd(f *Factory) *cobra.Command {
	o := &RemoveOptions{F: f}
	cmd := &cobra.Command{
		Use:   "remove SERVICE [--keep-remote]",
		Short: "Remove a service: its slots from phantom and .env.local, its entry from .stack.toml",
		Args:  exactArgs("SERVICE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Service = args[0]
			return removeRun(cmd.Context(), o)
		},
	}
	cmd.Flags().BoolVar(&o.KeepRemote, "keep-remote", false, "leave the upstream resource in place (API-key services never delete anything upstream)")
	return cmd
}

func removeRun(ctx context.Context, o *RemoveOptions) error {
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
		return exitcode.Errorf(exitcode.Failure, "%s is not in this project's %s; `stack list` shows what is", o.Service, ".stack.toml")
	}
	// A broken .mcp.json stops the remove before anything is deleted.
	mcpFile, err := removeMCP(c, s)
	if err != nil {
		return err
	}
	// What phantom holds decides what there is to delete: a slot already
	// gone from the vault (removed by hand with phantom remove) counts as
	// removed, and asking phantom to remove it would only print its "not in
	// the vault" error. Read before anything upstream is deleted, so a
	// locked vault stops the remove with nothing changed.
	es, err := pc.List(ctx)
	if err != nil {
		return phantomErr(fmt.Errorf("%w\nNothing was removed.", err))
	}
	inVault := map[string]bool{}
	for _, e := range es {
		inVault[e.Name] = true
	}
	// Upstream first: if the provider refuses, nothing local is lost and
	// the user can retry (or keep the resource with --keep-remote).
	deletedUpstream := ""
	if s.ResourceID != "" && !o.KeepRemote {
		if p, err := f.Providers.Get(s.Provider); err == nil && p.Info().Auth != providers.AuthAPIKey {
			if err := deprovision(ctx, f, p, s); err != nil {
				return err
			}
			deletedUpstream = s.ResourceID
		}
	}
	slots := append(append([]string{}, s.Secrets...), s.Login...)
	var deleted, gone []string
	for i, slot := range slots {
		if !inVault[slot] {
			gone = append(gone, slot)
			continue
		}
		if err := pc.Remove(ctx, slot, envLocal); err != nil {
			return phantomErr(fmt.Errorf("%w\n%s", err, removeLeft(o.Service, deletedUpstream, deleted, slots[i:], inVault)))
		}
		deleted = append(deleted, slot)
	}
	// phantom remove --env-file took the lines of what it deleted; a slot
	// that was already gone still has its token line, which no longer
	// resolves. (All slots are checked: one removed by someone else between
	// the List and its Remove is reported by phantom as not found, and its
	// line stays too.)
	cleaned, kept, err := removeStaleTokens(c.Dir, envLocal, slots)
	if err != nil {
		return exitcode.New(exitcode.Failure, fmt.Errorf("%w\n%s's secrets are no longer in phantom's vault; run stack remove %s again to finish", err, o.Service, o.Service))
	}
	if err := removeConfigValues(c.Dir, envLocal, s.Config); err != nil {
		return exitcode.New(exitcode.Failure, fmt.Errorf("%w\n%s's secrets were deleted from phantom; run stack remove %s again to finish", err, o.Service, o.Service))
	}
	if mcpFile != nil {
		if err := mcpFile.Save(); err != nil {
			return exitcode.New(exitcode.Failure, fmt.Errorf("%w\n%s's secrets were deleted from phantom; its entry is still in .stack.toml. Fix the problem and run stack remove %s again", err, o.Service, o.Service))
		}
	}
	c.RemoveService(o.Service)
	if err := f.saveConfig(c); err != nil {
		if mcpFile != nil {
			mcpFile.Restore()
		}
		return exitcode.New(exitcode.Failure, fmt.Errorf("%w\n%s's secrets are no longer in phantom's vault, but it is still in .stack.toml; fix the problem and run stack remove %s again", err, o.Service, o.Service))
	}
	f.IO.Successf("Removed %s: %s.", o.Service, removeSummary(deleted, gone, cleaned))
	for _, k := range kept {
		f.IO.Warnf("%s still has %s with a value that is not a phantom token; stack left it, as it may be the only copy. Delete the line if you do not need it.", envLocal, k)
	}
	if mcpFile != nil {
		f.IO.Infof("MCP server %q removed from .mcp.json.", s.MCP)
	}
	return nil
}

// removeSummary says what stack remove did with the service's slots, names
// included so the count can be checked: deleted from the vault, already
// gone from it, and which of those gone had a token line removed.
func removeSummary(deleted, gone, cleaned []string) string {
	var parts []string
	if len(deleted) > 0 {
		parts = append(parts, fmt.Sprintf("%d secret(s) deleted from phantom's vault (%s)", len(deleted), strings.Join(deleted, ", ")))
	}
	if len(gone) > 0 {
		verb := "was"
		if len(gone) > 1 {
			verb = "were"
		}
		msg := fmt.Sprintf("%s %s already gone from phantom's vault", strings.Join(gone, ", "), verb)
		if len(cleaned) > 0 {
			msg += fmt.Sprintf(" (%s: removed the stale token line of %s)", envLocal, strings.Join(cleaned, ", "))
		}
		parts = append(parts, msg)
	}
	if len(parts) == 0 {
		return "it had no secrets in phantom's vault"
	}
	return strings.Join(parts, "; ")
}

// removeLeft is the second half of a failed stack remove's error: what was
// already done and what is left, so the user knows the state before they
// run it again.
func removeLeft(service, deletedUpstream string, deleted, rest []string, inVault map[string]bool) string {
	var b strings.Builder
	if deletedUpstream != "" {
		fmt.Fprintf(&b, "The upstream resource %s was deleted. ", deletedUpstream)
	}
	if len(deleted) > 0 {
		fmt.Fprintf(&b, "Deleted from phantom's vault: %s. ", strings.Join(deleted, ", "))
	}
	var left []string
	for _, r := range rest {
		if inVault[r] {
			left = append(left, r)
		}
	}
	fmt.Fprintf(&b, "Still in phantom's vault: %s. %s is still in %s and %s. Fix the problem and run stack remove %s again.",
		strings.Join(left, ", "), service, ".stack.toml", envLocal, service)
	return b.String()
}

// removeStaleTokens drops the env file's lines for slots whose secret is
// already gone from the vault, when the value is a phm_ token (which no
// longer resolves). A line holding anything else is kept and reported: it
// may be the only copy of a real value.
func removeStaleTokens(dir, name string, slots []string) (removed, kept []string, err error) {
	if len(slots) == 0 {
		return nil, nil, nil
	}
	p := filepath.Join(dir, name)
	src, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading %s: %w", name, err)
	}
	ef := dotenv.Parse(src)
	for _, slot := range slots {
		n, tokens := 0, 0
		for _, e := range ef.Entries() {
			if e.Key == slot {
				n++
				if token.Is(e.Value) {
					tokens++
				}
			}
		}
		switch {
		case n == 0:
		case tokens == n:
			ef.Remove(slot)
			removed = append(removed, slot)
		default:
			kept = append(kept, slot)
		}
	}
	if len(removed) == 0 {
		return nil, kept, nil
	}
	if err := fsx.WriteFileAtomic(p, ef.Bytes(), 0o600); err != nil {
		return nil, nil, fmt.Errorf("writing %s: %w", name, err)
	}
	return removed, kept, nil
}

// ListEntry is one element of `stack list --json`.
type ListEntry struct {
	Name       string   `json:"name"`
	Provider   string   `json:"provider"`
	ResourceID string   `json:"resource_id"`
	Secrets    []string `json:"secrets"`
}

func newListCmd(f *Factory) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:         "list [--json]",
		Annotations: readOnlyInterrupted,
		Short:       "List the project's services and their slots",
		Args:        noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.loadConfig()
			if err != nil {
				return err
			}
			if _, err := f.phantom(cmd.Context()); err != nil {
				return err
			}
			out := []ListEntry{}
			for _, n := range c.Names() {
				s := c.Services[n]
				out = append(out, ListEntry{Name: n, Provider: s.Provider, ResourceID: s.ResourceID, Secrets: append([]string{}, s.Secrets...)})
			}
			if asJSON {
				return writeJSON(f, out)
			}
			if len(out) == 0 {
				f.IO.Infof("No services yet. Add one with: stack add openai")
				return nil
			}
			w := tabwriter.NewWriter(f.IO.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "SERVICE\tPROVIDER\tRESOURCE\tSECRETS")
			for _, e := range out {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", e.Name, e.Provider, orDash(e.ResourceID), strings.Join(e.Secrets, ", "))
			}
			return w.Flush()
		},
	}
	jsonout.AddFlag(cmd, &asJSON, "print JSON")
	return cmd
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// EnvReport is `stack env show|diff --json`.
type EnvReport struct {
	Declared []EnvSlot `json:"declared"`
	Orphans  []string  `json:"orphans"` // in the vault, declared by no service
	Missing  []string  `json:"missing"` // declared, not in the vault
}

// EnvSlot is one declared secret slot.
type EnvSlot struct {
	Service string `json:"service"`
	Slot    string `json:"slot"`
	InVault bool   `json:"in_vault"`
}

func newEnvCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "env",
		Short: "Compare the declared slots with phantom's vault (names only)",
		Args:  noArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	for _, diff := range []bool{false, true} {
		diff := diff
		var asJSON bool
		use, short := "show [--json]", "Show every declared slot and whether phantom holds it"
		if diff {
			use, short = "diff [--json]", "Exit 6 when declared slots and the vault differ"
		}
		sub := &cobra.Command{
			Use: use, Short: short, Args: noArgs, Annotations: readOnlyInterrupted,
			RunE: func(cmd *cobra.Command, args []string) error {
				rep, err := envReport(cmd.Context(), f)
				if err != nil {
					return err
				}
				if asJSON {
					if err := writeJSON(f, rep); err != nil {
						return err
					}
				} else {
					for _, d := range rep.Declared {
						mark := "present"
						if !d.InVault {
							mark = "MISSING"
						}
						fmt.Fprintf(f.IO.Out, "%-10s %-32s %s\n", d.Service, d.Slot, mark)
					}
					for _, o := range rep.Orphans {
						fmt.Fprintf(f.IO.Out, "%-10s %-32s %s\n", "-", o, "in the vault, declared by no service")
					}
				}
				if diff && (len(rep.Missing) > 0 || len(rep.Orphans) > 0) {
					if !asJSON {
						f.IO.Warnf("%d declared slot(s) missing from phantom, %d vault key(s) no service declares", len(rep.Missing), len(rep.Orphans))
					}
					return exitcode.Silent{Code: exitDrift}
				}
				return nil
			},
		}
		jsonout.AddFlag(sub, &asJSON, "print JSON")
		cmd.AddCommand(sub)
	}
	cmd.AddCommand(newEnvExportCmd(f, nil))
	cmd.AddCommand(newEnvPushCmd(f))
	return cmd
}

func envReport(ctx context.Context, f *Factory) (*EnvReport, error) {
	c, err := f.loadConfig()
	if err != nil {
		return nil, err
	}
	pc, err := f.phantom(ctx)
	if err != nil {
		return nil, err
	}
	es, err := pc.List(ctx)
	if err != nil {
		return nil, phantomErr(err)
	}
	inVault := map[string]bool{}
	for _, e := range es {
		inVault[e.Name] = true
	}
	rep := &EnvReport{Declared: []EnvSlot{}, Orphans: []string{}, Missing: []string{}}
	declared := map[string]bool{}
	for _, n := range c.Names() {
		for _, slot := range c.Services[n].Secrets {
			declared[slot] = true
			rep.Declared = append(rep.Declared, EnvSlot{Service: n, Slot: slot, InVault: inVault[slot]})
			if !inVault[slot] {
				rep.Missing = append(rep.Missing, slot)
			}
		}
	}
	for _, slot := range c.Env {
		declared[slot] = true
		rep.Declared = append(rep.Declared, EnvSlot{Service: "[env]", Slot: slot, InVault: inVault[slot]})
		if !inVault[slot] {
			rep.Missing = append(rep.Missing, slot)
		}
	}
	for _, n := range c.Names() {
		for _, l := range c.Services[n].Login {
			declared[l] = true // stack's own sign-in for that service
		}
	}
	for _, e := range es {
		if !declared[e.Name] {
			rep.Orphans = append(rep.Orphans, e.Name)
		}
	}
	slices.Sort(rep.Orphans)
	return rep, nil
}

func newExecCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "exec -- COMMAND [ARG...]",
		Short: "Run a command under phantom exec with the project's env files",
		Long: `Run COMMAND through 'phantom exec' (the app sees phm_ tokens, the proxy puts
real keys on the wire). stack is replaced by phantom, so signals and the exit
status are the command's.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErrorf("no command to run: stack exec -- COMMAND [ARG...]")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := f.loadConfig(); err != nil {
				return err
			}
			ctx := cmd.Context()
			pc, err := f.phantom(ctx)
			if err != nil {
				return err
			}
			// Become phantom (exec_unix.go, exec_windows.go).
			return execPhantom(pc.Bin, append([]string{"phantom", "exec", "--"}, args...))
		},
	}
	cmd.Flags().SetInterspersed(false)
	return cmd
}
