package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"phantomstack.dev/phantom/internal/audit"
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
previous event's MAC, and a signed head records the last one, so editing,
inserting, deleting or truncating entries is detected by 'phantom audit verify'.

PHANTOM_AUDIT=0 turns logging off; audit = "required" in .phantom.toml makes
an operation fail when its event cannot be written.`,
		Args: cobra.NoArgs,
		RunE: helpRun,
	}
	cmd.AddCommand(newAuditVerifyCmd(f), newAuditShowCmd(f))
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
		Use:   "verify [--json]",
		Short: "Check the audit log's chain; exit 1 naming each bad line",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f.Command = "phantom audit verify"
			return auditVerifyRun(opts)
		},
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print JSON")
	return cmd
}

func auditVerifyRun(o *AuditVerifyOptions) error {
	f := o.F
	home, err := f.Home()
	if err != nil {
		return err
	}
	rep, err := audit.Verify(home)
	if err != nil {
		return err
	}
	if o.JSON {
		if err := jsonout.Write(f.IO.Out, rep); err != nil {
			return err
		}
	} else if rep.OK() {
		fmt.Fprintf(f.IO.Out, "ok: %d event(s) verified\n", rep.Verified)
	} else {
		fmt.Fprintf(f.IO.Out, "FAILED: %d event(s) verified, %d problem(s)\n", rep.Verified, len(rep.Problems))
		for _, pr := range rep.Problems {
			fmt.Fprintf(f.IO.Out, "  %s\n", pr.Msg)
		}
	}
	if !rep.OK() {
		return exitcode.Silent{Code: exitcode.Failure}
	}
	return nil
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
		Use:   "show [--last N] [--json]",
		Short: "Print audit events (never values)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f.Command = "phantom audit show"
			return auditShowRun(opts)
		},
	}
	cmd.Flags().IntVarP(&opts.Last, "last", "n", 50, "show the last N events (0 for all)")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print JSON")
	return cmd
}

func auditShowRun(o *AuditShowOptions) error {
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
