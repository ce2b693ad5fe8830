package cli

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"phantomstack.dev/phantom/internal/audit"
	"phantomstack.dev/phantom/internal/vault"
	"phantomstack.dev/shared/exitcode"
	"phantomstack.dev/shared/jsonout"
)

func newAuditCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Show or verify the tamper-evident audit log",
		Long: `Every vault operation (add, remove, reveal, rotate, sync, init, ...) appends
an event to $PHANTOM_HOME/audit.log: time, operation, secret name, process —
never a value. Each event carries an HMAC-SHA256 over its content and the
previous event's MAC, and a signed head records the last one. The MAC key
changes with every entry and used keys are erased, so whoever reads
audit.key later cannot re-sign earlier entries; each vault keeps the key of
its first entry and the position of its last write, so 'phantom audit
verify' in a project re-checks the chain from there and notices a vault
used under another PHANTOM_HOME or a log rolled back.

PHANTOM_AUDIT=0 turns logging off; audit = "required" in .phantom.toml makes
an operation fail when its event cannot be written.`,
		Args: groupArgs,
		RunE: helpRun,
	}
	cmd.AddCommand(newAuditVerifyCmd(f), newAuditShowCmd(f), newAuditAdoptCmd(f))
	return cmd
}

// AuditVerifyOptions configures `phantom audit verify`.
type AuditVerifyOptions struct {
	F    *Factory
	JSON bool
}

func newAuditVerifyCmd(f *Factory) *cobra.Command {
	opts := &AuditVerifyOptions{F: f}
	cmd := &cobra.Command{
		Use:         "verify [--json]",
		Annotations: readOnlyInterrupted,
		Short:       "Check the audit log's chain; exit 1 naming each bad line",
		Args:        cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f.Command = "phantom audit verify"
			return auditVerifyRun(cmd.Context(), opts)
		},
	}
	jsonout.AddFlag(cmd, &opts.JSON, "print JSON")
	return cmd
}

func auditVerifyRun(ctx context.Context, o *AuditVerifyOptions) error {
	f := o.F
	home, err := f.Home()
	if err != nil {
		return err
	}
	mark, scope := f.projectAuditMark(ctx)
	rep, err := audit.VerifyWith(home, audit.VerifyOptions{Mark: mark})
	if err != nil {
		return err
	}
	if o.JSON {
		if err := jsonout.Write(f.IO.Out, rep); err != nil {
			return err
		}
	} else {
		if rep.OK() {
			fmt.Fprintf(f.IO.Out, "ok: %d event(s) verified\n", rep.Verified)
		} else {
			fmt.Fprintf(f.IO.Out, "FAILED: %d event(s) verified, %d problem(s)\n", rep.Verified, len(rep.Problems))
			for _, pr := range rep.Problems {
				fmt.Fprintf(f.IO.Out, "  %s\n", pr.Msg)
			}
		}
		if !rep.Empty {
			f.IO.Infof("%s", verifyScope(rep, scope))
		}
		for _, n := range rep.Notes {
			f.IO.Infof("note: %s", n)
		}
	}
	if !rep.OK() {
		return exitcode.Silent{Code: exitcode.Failure}
	}
	return nil
}

// projectAuditMark opens the project's vault, when there is one and it can
// be opened (keychain, PHANTOM_VAULT_PASSPHRASE, or a prompt on a terminal),
// for its audit mark. scope says what happened, for the output.
func (f *Factory) projectAuditMark(ctx context.Context) (*audit.Mark, string) {
	p, err := f.Project()
	if err != nil {
		return nil, "not in a project: no vault to check the MACs against"
	}
	opts, err := f.vaultOptions(ctx, p)
	if err != nil {
		return nil, err.Error()
	}
	if path, _ := vault.Path(opts); !fileExists(path) {
		return nil, "this project has no vault yet"
	}
	v, err := vault.Open(opts)
	if err != nil {
		return nil, "the project's vault could not be opened (" + rootCause(err).Error() + ")"
	}
	defer v.Close()
	m := v.Payload().Audit
	if m == nil {
		return nil, "the project's vault holds no audit mark yet (its next write records one)"
	}
	return auditMarkOf(p, m), ""
}

// verifyScope says how far the MACs could be checked.
func verifyScope(rep audit.Report, why string) string {
	switch {
	case rep.Mark != nil && rep.Mark.Result == "ok" && rep.MACsFrom > 0:
		return fmt.Sprintf("Checked with this project's vault: MACs from seq %d (the vault's first entry in this log) to the end, the head and audit.key; the vault's last write (seq %d) is in the log.", rep.MACsFrom, rep.Mark.Seq)
	case rep.Mark != nil:
		return "Checked against this project's vault: see the problems above."
	case rep.MACsFrom == 1:
		return "Checked with the fixed key of a log written before the key ratchet."
	}
	if why == "" {
		why = "no vault"
	}
	return "Order and head checked; past MACs not (" + why + "). Their keys are erased, so only a vault's anchor can check them: run this in a project whose vault you can open."
}

// AuditShowOptions configures `phantom audit show`.
type AuditShowOptions struct {
	F    *Factory
	Last int
	JSON bool
}

func newAuditShowCmd(f *Factory) *cobra.Command {
	opts := &AuditShowOptions{F: f}
	cmd := &cobra.Command{
		Use:         "show [--last N] [--json]",
		Annotations: readOnlyInterrupted,
		Short:       "Print audit events (never values)",
		Args:        cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f.Command = "phantom audit show"
			return auditShowRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().IntVarP(&opts.Last, "last", "n", 50, "show the last N events (0 for all)")
	jsonout.AddFlag(cmd, &opts.JSON, "print JSON")
	return cmd
}

func auditShowRun(ctx context.Context, o *AuditShowOptions) error {
	f := o.F
	home, err := f.Home()
	if err != nil {
		return err
	}
	events, err := audit.Read(home, o.Last)
	if err != nil {
		return err
	}
	if o.JSON {
		if events == nil {
			events = []audit.Event{}
		}
		return jsonout.Write(f.IO.Out, events)
	}
	if len(events) == 0 {
		f.IO.Infof("The audit log is empty.")
		return nil
	}
	tw := tabwriter.NewWriter(f.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tOP\tNAME\tPROCESS\tDETAIL")
	for _, e := range events {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.Time.Local().Format("2006-01-02 15:04:05"), e.Op, dash(e.Name), e.Process, e.Detail)
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// AuditAdoptOptions configures `phantom audit adopt`.
type AuditAdoptOptions struct {
	F *Factory
}

func newAuditAdoptCmd(f *Factory) *cobra.Command {
	opts := &AuditAdoptOptions{F: f}
	cmd := &cobra.Command{
		Use:   "adopt",
		Short: "Accept this home's audit log as the project vault's log (interactive only)",
		Long: `Every vault write records where this home's audit log stood. When the
project's vault names another log (it was copied to or from another
PHANTOM_HOME) or a position the log no longer has (the log was truncated or
rolled back), phantom reports it; with audit = "required" the vault is not
used until you adopt it here.

adopt shows what the vault recorded and what this home's log holds, asks you
to type "adopt" on your terminal, records audit.adopt and rewrites the
vault's mark to this log. Earlier audit.vault-moved entries of the project
stop counting as problems. Run 'phantom audit verify' first: adopting accepts
whatever happened to the log before.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f.Command = "phantom audit adopt"
			return auditAdoptRun(cmd.Context(), opts)
		},
	}
	return cmd
}

func auditAdoptRun(ctx context.Context, o *AuditAdoptOptions) error {
	f := o.F
	if !f.IO.CanPrompt() {
		return exitcode.Errorf(exitcode.Refused, "adopting needs you at a terminal: a script or agent could otherwise hide that the vault was used under another PHANTOM_HOME or that the log was rolled back\nRun `phantom audit adopt` on your own terminal.")
	}
	p, err := f.Project()
	if err != nil {
		return err
	}
	home, err := f.Home()
	if err != nil {
		return err
	}
	if !f.auditLog(p).Enabled() {
		return exitcode.Errorf(exitcode.Refused, "the audit log is off for this command (audit = \"off\" or PHANTOM_AUDIT=0), so there is nothing to adopt into")
	}
	opts, err := f.vaultOptions(ctx, p)
	if err != nil {
		return err
	}
	v, err := vault.Open(opts)
	if err != nil {
		return vaultError(err)
	}
	defer v.Close()
	id, next, err := audit.Identity(home)
	if err != nil {
		return err
	}
	old := v.Payload().Audit
	before := "no audit mark"
	if old != nil {
		before = fmt.Sprintf("log %s at seq %d", old.LogID, old.Seq)
	}
	here := "no audit log yet"
	if id != "" {
		here = fmt.Sprintf("log %s, next seq %d", id, next)
	}
	_, problem := markProblem(old, home, id, next)
	if problem == "" {
		problem = "the vault's mark agrees with this home's log"
	}
	if err := f.IO.ConfirmTyped(ctx, fmt.Sprintf("The vault recorded %s; this home (%s) has %s: %s.\nAdopting makes this home's log the vault's log from now on and accepts what happened before.", before, home, here, problem), "adopt"); err != nil {
		return promptErr(err, "phantom audit adopt")
	}
	f.marks.adopting = true
	ev := audit.Event{Op: audit.OpAdopt, Detail: withChain("the vault had recorded " + before)}
	err = v.Update(func(*vault.Payload) error { return nil }, f.recorder(p, ev))
	if err != nil {
		return vaultError(err)
	}
	if m := v.Payload().Audit; m == nil || m.LogID == "" {
		return exitcode.Errorf(exitcode.Failure, "the audit event could not be written, so the vault's mark was not changed; check with `phantom audit verify`")
	}
	f.IO.Successf("The vault now records this home's audit log (from seq %d).", v.Payload().Audit.AnchorSeq)
	return nil
}
