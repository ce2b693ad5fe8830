package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"phantomstack.dev/phantom/internal/leakscan"
	"phantomstack.dev/shared/buildinfo"
	"phantomstack.dev/shared/dotenv"
	"phantomstack.dev/shared/exitcode"
	"phantomstack.dev/shared/fsx"
	"phantomstack.dev/shared/jsonout"
)

// CheckOptions configures `phantom check`.
type CheckOptions struct {
	F             *Factory
	Paths         []string
	Staged        bool
	History       bool
	JSON          bool
	SARIF         bool
	Baseline      string
	WriteBaseline string
}

// Exit codes of phantom check (docs/phantom.md): findings are 1 and any
// failure is 2, as pre-commit frameworks and CI expect of a scanner.
const (
	checkExitFindings = 1
	checkExitError    = 2
)

func newCheckCmd(f *Factory, runF func(*CheckOptions) error) *cobra.Command {
	opts := &CheckOptions{F: f}
	cmd := &cobra.Command{
		Use:   "check [PATH...]",
		Short: "Find leaked credentials in files, staged changes or git history",
		Long: `Look for leaked credentials with three layers:

  known values  this project's vault values, raw, quoted, URL-encoded,
                hex or base64 — certain hits, whatever a value looks like
                (needs the vault: keychain, PHANTOM_VAULT_PASSPHRASE or a
                terminal; otherwise this layer is skipped and says so)
  patterns      provider key formats (gitleaks' maintained rule set)
  env files     .env* entries holding a plaintext secret instead of a
                phm_ token (.env.example and other templates are skipped)

Findings never show a value: file, line, rule, at most 4 leading characters
and a fingerprint. Without PATH the working directory is scanned; --staged
scans what the next commit adds (the git index), --history every commit of
HEAD. Suppress a finding with "phantom:allow" on its line, a path in
.phantomignore (gitignore syntax), or a baseline file; a vault value is
suppressed by a baseline only.

Exit status: 0 nothing found, 1 findings, 2 error.`,
		Example: `  phantom check
  phantom check --staged
  phantom check --history --json
  phantom check --write-baseline .phantom-baseline.json
  phantom check --baseline .phantom-baseline.json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			f.Command = "phantom check"
			opts.Paths = args
			if runF != nil {
				return runF(opts)
			}
			return checkRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&opts.Staged, "staged", false, "scan what is staged for the next commit (the index), added lines only; env files whole")
	fl.BoolVar(&opts.History, "history", false, "scan the lines every commit of HEAD added")
	jsonout.AddFlag(cmd, &opts.JSON, "print the report as JSON")
	fl.BoolVar(&opts.SARIF, "sarif", false, "print the report as SARIF 2.1.0")
	fl.StringVar(&opts.Baseline, "baseline", "", "accept the findings listed in `FILE`")
	fl.StringVar(&opts.WriteBaseline, "write-baseline", "", "write today's findings to `FILE` and exit 0")
	cmd.MarkFlagsMutuallyExclusive("staged", "history")
	cmd.MarkFlagsMutuallyExclusive("json", "sarif")
	return cmd
}

// checkFail ends check with exit 2, keeping stdout a JSON document under
// --json: {"version":1,"error":"..."}.
func checkFail(o *CheckOptions, err error) error {
	f := o.F
	if o.JSON {
		jsonout.Write(f.IO.Out, map[string]any{"version": leakscan.ReportVersion, "error": err.Error()})
	}
	fmt.Fprintf(f.IO.ErrOut, "%s %s\n", f.IO.Theme().Fail("error:"), err)
	return exitcode.Silent{Code: checkExitError}
}

func checkRun(ctx context.Context, o *CheckOptions) error {
	f := o.F
	leakscan.Warm()
	cwd, err := f.Cwd()
	if err != nil {
		return checkFail(o, err)
	}
	top := leakscan.GitTopLevel(cwd)
	if (o.Staged || o.History) && top == "" {
		return checkFail(o, fmt.Errorf("%s is not inside a git repository, so there is nothing staged and no history; run 'phantom check' to scan the files here", cwd))
	}
	root := top
	if root == "" {
		root = cwd
	}
	opts := leakscan.Options{Root: root}

	// Known values: open this project's vault, without writing anything.
	p, perr := f.Project()
	switch {
	case perr != nil && exitcode.Code(perr) == exitcode.NotFound:
		opts.KnownReason = "not inside a phantom project (no " + ConfigFile + ")"
	case perr != nil:
		opts.KnownReason = "cannot read " + ConfigFile + ": " + perr.Error()
	default:
		opts.FingerprintKey = leakscan.FingerprintKeyFor(p.ID())
		// Only [classify] secret patterns count here: they can only add
		// findings. Public patterns are ignored, as init ignores
		// unapproved ones (docs/security.md, path 5).
		opts.Overrides = dotenv.Overrides{Secret: p.Config.Overrides().Secret}
		if f.served != nil && f.served.hardened() {
			// A match confirms a guess: with a file of candidates a program
			// could find a short password in the vault. A hardened vault's
			// values are compared only after the passphrase is typed.
			opts.KnownReason = "the vault is hardened, and phantom's agent does not compare files with its values (a program could confirm guesses of a value); run 'PHANTOM_AGENT=off phantom check' on your terminal and type the passphrase"
			break
		}
		v, err := f.OpenVault(ctx, p, false)
		if err != nil {
			opts.KnownReason = knownSkipReason(err)
			break
		}
		vals := make([]leakscan.KnownValue, 0, len(v.Payload().Secrets))
		for name, s := range v.Payload().Secrets {
			vals = append(vals, leakscan.KnownValue{Name: name, Value: s.Value, Version: s.UpdatedAt.UTC().Format(time.RFC3339Nano)})
		}
		opts.Known = leakscan.NewKnown(vals)
		v.Close()
	}
	ig, err := leakscan.LoadIgnore(filepath.Join(root, leakscan.IgnoreFile))
	if err != nil {
		return checkFail(o, fmt.Errorf("cannot read %s: %v", leakscan.IgnoreFile, err))
	}
	opts.Ignore = ig
	// Without --baseline, the project's .phantom-baseline.json applies when
	// it exists, so the pre-commit hook honours it with no flag.
	if o.Baseline == "" && o.WriteBaseline == "" {
		if def := filepath.Join(root, leakscan.DefaultBaseline); fileExists(def) {
			o.Baseline = def
		}
	}
	if o.Baseline != "" && o.WriteBaseline == "" {
		b, err := leakscan.LoadBaseline(o.Baseline)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				err = fmt.Errorf("baseline %s does not exist; create it with: phantom check --write-baseline %s", o.Baseline, shellQuoteArg(o.Baseline))
			}
			return checkFail(o, err)
		}
		opts.Baseline = b
	}
	sc, err := leakscan.New(opts)
	if err != nil {
		return checkFail(o, err)
	}
	mode := "worktree"
	switch {
	case o.Staged:
		mode = "staged"
		err = sc.ScanStaged(ctx, top, gitPathspec(cwd, top, o.Paths))
	case o.History:
		mode = "history"
		err = sc.ScanHistory(ctx, top, gitPathspec(cwd, top, o.Paths))
	default:
		paths := o.Paths
		if len(paths) == 0 {
			paths = []string{cwd}
		}
		err = sc.ScanPaths(paths)
	}
	if err != nil {
		return checkFail(o, err)
	}
	rep := sc.Report(mode)

	if o.WriteBaseline != "" {
		b := leakscan.NewBaseline(rep.Findings)
		data, err := jsonMarshalIndent(b)
		if err != nil {
			return checkFail(o, err)
		}
		if err := fsx.WriteFileAtomic(o.WriteBaseline, data, 0o644); err != nil {
			return checkFail(o, fmt.Errorf("cannot write the baseline: %v", err))
		}
		if o.JSON {
			jsonout.Write(f.IO.Out, rep)
		}
		f.IO.Successf("Wrote %d finding%s to %s; use it with: phantom check --baseline %s", len(b.Findings), plural(len(b.Findings)), o.WriteBaseline, shellQuoteArg(o.WriteBaseline))
		return nil
	}

	switch {
	case o.JSON:
		if err := jsonout.Write(f.IO.Out, rep); err != nil {
			return err
		}
	case o.SARIF:
		if err := jsonout.Write(f.IO.Out, leakscan.SARIF(rep, buildinfo.Current())); err != nil {
			return err
		}
	default:
		printCheckHuman(f, rep)
	}
	if !rep.Clean {
		return exitcode.Silent{Code: checkExitFindings}
	}
	return nil
}

// knownSkipReason says why the vault could not be opened without a person.
func knownSkipReason(err error) string {
	switch exitcode.Code(err) {
	case exitcode.NotFound:
		return "this project has no vault yet"
	case exitcode.Unavailable:
		return "the vault is locked (no keychain, no PHANTOM_VAULT_PASSPHRASE and no terminal to ask on): " + firstLine(err.Error())
	}
	return "cannot open the vault: " + firstLine(err.Error())
}

// gitPathspec makes PATH arguments (relative to cwd) pathspecs relative to
// the top level, where git runs.
func gitPathspec(cwd, top string, paths []string) []string {
	var out []string
	for _, p := range paths {
		abs := p
		if !filepath.IsAbs(p) {
			abs = filepath.Join(cwd, p)
		}
		if r, err := filepath.Rel(top, abs); err == nil && !strings.HasPrefix(r, "..") {
			out = append(out, ":(literal)"+filepath.ToSlash(r))
		}
	}
	return out
}

func printCheckHuman(f *Factory, rep *leakscan.Report) {
	th := f.IO.Theme()
	for _, fd := range rep.Findings {
		loc := fmt.Sprintf("%s:%d", fd.File, fd.Line)
		if fd.Commit != "" {
			loc = fd.Commit[:min(12, len(fd.Commit))] + " " + loc
		}
		what := fd.Rule
		if fd.Secret != "" {
			what += " " + fd.Secret
		}
		if fd.Encoded {
			what += " (encoded)"
		}
		red := fd.Redacted
		if red == "" {
			red = "-"
		}
		fmt.Fprintf(f.IO.Out, "%s\t%s\t%s\t%s\n", loc, what, red, fd.Fingerprint)
	}
	l := rep.Layers
	if !l.KnownValues.Ran {
		f.IO.Warnf("Vault values were not looked for: %s.", l.KnownValues.Reason)
	}
	for _, s := range rep.Scanned.Skipped {
		if s.Reason != "binary" {
			f.IO.Warnf("Skipped %s: %s", s.File, s.Reason)
		}
	}
	sup := ""
	if n := rep.Suppressed.Inline + rep.Suppressed.Baseline; n > 0 {
		sup = fmt.Sprintf("; %d suppressed (%d by phantom:allow, %d by the baseline)", n, rep.Suppressed.Inline, rep.Suppressed.Baseline)
	}
	scanned := fmt.Sprintf("%d file%s", rep.Scanned.Files, plural(rep.Scanned.Files))
	if rep.Mode == "history" {
		scanned = fmt.Sprintf("%d commit%s", rep.Scanned.Commits, plural(rep.Scanned.Commits))
	}
	if rep.Clean {
		f.IO.Successf("No leaks found (%s scanned%s).", scanned, sup)
		return
	}
	known := 0
	for _, fd := range rep.Findings {
		if fd.Layer == leakscan.LayerKnown {
			known++
		}
	}
	fmt.Fprintf(f.IO.ErrOut, "%s %d leak%s found (%s scanned%s).\n", th.Fail("✗"), len(rep.Findings), plural(len(rep.Findings)), scanned, sup)
	if known > 0 {
		fmt.Fprintf(f.IO.ErrOut, "  %d %s a real value from this vault: remove it, and if it was ever committed or pushed, rotate it at its provider.\n", known, pluralVerb(known, "is", "are"))
	}
	fmt.Fprintf(f.IO.ErrOut, "  Move a secret into the vault with: phantom add NAME   (or phantom init for an env file)\n")
	fmt.Fprintf(f.IO.ErrOut, "  Not a secret? Put phantom:allow on its line, list the path in %s, or accept today's findings with: phantom check --write-baseline "+leakscan.DefaultBaseline+"\n", leakscan.IgnoreFile)
}

func jsonMarshalIndent(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	return append(b, '\n'), err
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func pluralVerb(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
