package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/spf13/cobra"

	"phantomstack.dev/phantom/internal/config"
	"phantomstack.dev/shared/exitcode"
	"phantomstack.dev/shared/jsonout"
	"phantomstack.dev/shared/term"
)

// DoctorOptions configures `phantom doctor`.
type DoctorOptions struct {
	F    *Factory
	JSON bool
	Fix  bool
}

// DoctorCheck is one line of doctor's report.
type DoctorCheck struct {
	Name   string `json:"name"`   // config, vault, env-files, gitignore, hook, mcp, audit
	Status string `json:"status"` // ok, warn, fail, skip
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`   // the command or step that fixes it
	Fixed  string `json:"fixed,omitempty"` // what --fix did
}

// DoctorReport is doctor's --json output.
type DoctorReport struct {
	OK         bool          `json:"ok"` // no check failed
	ProjectDir string        `json:"project_dir,omitempty"`
	Checks     []DoctorCheck `json:"checks"`
}

func newDoctorCmd(f *Factory) *cobra.Command {
	opts := &DoctorOptions{F: f}
	cmd := &cobra.Command{
		Use:   "doctor [--json] [--fix]",
		Short: "Check this project's phantom setup and say what to fix",
		Long: `Check the project's phantom setup:

  config     .phantom.toml is found and valid
  vault      the vault opens (without prompting)
  env-files  no secret is left in plaintext in the project's env files
  gitignore  git ignores every env file (and tracks none)
  hook       the pre-commit hook runs phantom check (phantom hook install)
  mcp        an MCP client runs phantom mcp (phantom setup)
  audit      the audit log verifies against the vault

doctor exits 1 when a check fails and 0 otherwise; a missing hook or MCP
registration is a warning. With --fix it makes only safe changes — adding the
env files to .gitignore — and says what it did; everything else it leaves to
the command it names.`,
		Example: `  phantom doctor
  phantom doctor --fix
  phantom doctor --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f.Command = "phantom doctor"
			return doctorRun(cmd.Context(), opts)
		},
	}
	jsonout.AddFlag(cmd, &opts.JSON, "print the report as JSON")
	cmd.Flags().BoolVar(&opts.Fix, "fix", false, "apply the safe fixes (add env files to .gitignore)")
	return cmd
}

func doctorRun(ctx context.Context, o *DoctorOptions) error {
	f := o.F
	rep := DoctorReport{Checks: []DoctorCheck{}}
	add := func(c DoctorCheck) { rep.Checks = append(rep.Checks, c) }

	p, err := f.Project()
	if err != nil {
		fix := "phantom init"
		if exitcode.Code(err) != exitcode.NotFound {
			fix = "correct " + ConfigFile + " as the error says"
		}
		add(DoctorCheck{Name: "config", Status: "fail", Detail: firstLine(err.Error()), Fix: fix})
		for _, n := range []string{"vault", "env-files", "gitignore", "hook", "mcp", "audit", "mode"} {
			add(DoctorCheck{Name: n, Status: "skip", Detail: "needs a phantom project"})
		}
		return doctorFinish(o, rep)
	}
	rep.ProjectDir = p.Dir
	add(DoctorCheck{Name: "config", Status: "ok", Detail: p.ConfigPath})

	st, err := doctorStatus(ctx, f)
	if err != nil {
		add(DoctorCheck{Name: "vault", Status: "fail", Detail: firstLine(err.Error()), Fix: "phantom status shows the same error"})
		for _, n := range []string{"env-files", "gitignore", "hook", "mcp", "audit", "mode"} {
			add(DoctorCheck{Name: n, Status: "skip", Detail: "needs the project's status"})
		}
		return doctorFinish(o, rep)
	}
	add(vaultCheck(st))
	add(envFilesCheck(st))
	add(gitignoreCheck(ctx, f, p, st, o.Fix))
	add(hookCheck(ctx, f, p.Dir))
	add(mcpCheck(ctx, f, p.Dir))
	add(auditCheck(st))
	add(modeCheck(st))
	return doctorFinish(o, rep)
}

// modeCheck recommends hardened mode for a vault that holds production
// keys: in keychain or passphrase mode a program of yours that reads the
// keychain or the passphrase variable on purpose can open it
// (docs/security.md, "Hardened mode").
func modeCheck(st Status) DoctorCheck {
	c := DoctorCheck{Name: "mode", Status: "ok"}
	switch {
	case !st.Vault.Exists || st.Mode.Name == "":
		c.Status, c.Detail = "skip", "no vault yet"
	case st.Mode.Name == "hardened":
		c.Detail = "hardened: values open only with the passphrase typed or through phantom unlock"
	case len(st.LiveKeys) > 0:
		c.Status = "warn"
		c.Detail = fmt.Sprintf("%d secret(s) look like production keys (%s) and the vault is in %s mode: %s", len(st.LiveKeys), strings.Join(st.LiveKeys, ", "), st.Mode.Name, st.Mode.Meaning)
		c.Fix = "phantom vault harden (on your own terminal), then phantom unlock"
	default:
		c.Detail = st.Mode.Name + " mode; no secret looks like a production key"
	}
	return c
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// doctorStatus runs `phantom status --json` in this process and reads its
// report: doctor judges exactly what status shows, and status never prompts.
func doctorStatus(ctx context.Context, f *Factory) (Status, error) {
	var out bytes.Buffer
	g := *f
	g.IO = &term.IOStreams{In: bytes.NewReader(nil), Out: &out, ErrOut: io.Discard}
	var st Status
	if err := statusRun(ctx, &StatusOptions{F: &g, JSON: true}); err != nil {
		return st, err
	}
	if err := json.Unmarshal(out.Bytes(), &st); err != nil {
		return st, fmt.Errorf("reading phantom status: %w", err)
	}
	return st, nil
}

func vaultCheck(st Status) DoctorCheck {
	c := DoctorCheck{Name: "vault"}
	switch {
	case st.Vault.Error != "":
		c.Status, c.Detail = "fail", "cannot open "+st.Vault.Path+": "+firstLine(st.Vault.Error)
		c.Fix = "phantom status (on your terminal) shows why; see docs/phantom.md, 'Key sources'"
	case !st.Vault.Exists:
		c.Status, c.Detail = "warn", "no vault yet: nothing is protected (a new one would use "+st.Vault.KeySource+")"
		c.Fix = "phantom init, or phantom add NAME"
	default:
		c.Status, c.Detail = "ok", fmt.Sprintf("%d secret(s), key source: %s", st.Vault.Secrets, st.Vault.KeySource)
	}
	return c
}

func envFilesCheck(st Status) DoctorCheck {
	c := DoctorCheck{Name: "env-files", Status: "ok"}
	var plain, stale, present []string
	for _, fs := range st.EnvFiles {
		if !fs.Exists {
			continue
		}
		present = append(present, fs.Path)
		if len(fs.Unprotected) > 0 {
			plain = append(plain, fmt.Sprintf("%s: %s", fs.Path, strings.Join(fs.Unprotected, ", ")))
		}
		if len(fs.Unknown) > 0 {
			stale = append(stale, fmt.Sprintf("%s: %s", fs.Path, strings.Join(fs.Unknown, ", ")))
		}
	}
	switch {
	case len(plain) > 0:
		c.Status, c.Detail, c.Fix = "fail", "secrets in plaintext ("+strings.Join(plain, "; ")+")", "phantom init"
	case len(stale) > 0:
		c.Status, c.Detail, c.Fix = "warn", "tokens the vault does not know ("+strings.Join(stale, "; ")+")", "phantom status shows which to rotate or remove"
	case len(present) == 0:
		c.Detail = "no env file present"
	default:
		c.Detail = "no plaintext secret in " + strings.Join(present, ", ")
	}
	return c
}

// doctorGit runs git in dir with a bare environment, like init does.
func doctorGit(ctx context.Context, f *Factory, dir string, args ...string) (string, int, error) {
	git, err := exec.LookPath("git")
	if err != nil {
		return "", -1, err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, git, append([]string{"-c", "core.fsmonitor=false"}, args...)...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + f.Env("PATH"), "HOME=" + f.Env("HOME"), "LC_ALL=C", "GIT_TERMINAL_PROMPT=0", "GIT_OPTIONAL_LOCKS=0"}
	out, err := cmd.Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode(), nil
	}
	if err != nil {
		return "", -1, err
	}
	return string(out), 0, nil
}

func inGitRepo(ctx context.Context, f *Factory, dir string) bool {
	out, code, err := doctorGit(ctx, f, dir, "rev-parse", "--is-inside-work-tree")
	return err == nil && code == 0 && strings.TrimSpace(out) == "true"
}

// gitignoreCheck: every env file that exists must be ignored and untracked.
func gitignoreCheck(ctx context.Context, f *Factory, p *Project, st Status, fix bool) DoctorCheck {
	c := DoctorCheck{Name: "gitignore"}
	if !inGitRepo(ctx, f, p.Dir) {
		c.Status, c.Detail = "skip", "not a git repository"
		return c
	}
	var files []string
	for _, fs := range st.EnvFiles {
		if fs.Exists {
			files = append(files, fs.Path)
		}
	}
	if len(files) == 0 {
		c.Status, c.Detail = "ok", "no env file present"
		return c
	}
	notIgnored := func() []string {
		var miss []string
		for _, rel := range files {
			if _, code, err := doctorGit(ctx, f, p.Dir, "check-ignore", "-q", "--no-index", "--", rel); err == nil && code == 1 {
				miss = append(miss, rel)
			}
		}
		return miss
	}
	miss := notIgnored()
	if len(miss) > 0 && fix {
		patterns := []string{".env", ".env.*", "!.env.example"}
		for _, rel := range miss {
			if pat := "/" + filepath.ToSlash(rel); !strings.HasPrefix(filepath.Base(rel), ".env") {
				patterns = append(patterns, pat)
			}
		}
		added, err := config.EnsureGitignore(p.Dir, patterns)
		if err != nil {
			c.Fixed = "could not update .gitignore: " + err.Error()
		} else if len(added) > 0 {
			c.Fixed = "added to .gitignore: " + strings.Join(added, " ")
		}
		miss = notIgnored()
	}
	tracked := trackedByGit(ctx, f, p.Dir, files)
	switch {
	case len(tracked) > 0:
		c.Status = "fail"
		c.Detail = "tracked by git (ignoring does not untrack; its history holds what it held): " + strings.Join(tracked, ", ")
		c.Fix = "git rm --cached " + strings.Join(shellArgs(tracked), " ") + " && git commit -m " + shellQuoteArg("Stop tracking env files")
	case len(miss) > 0:
		c.Status = "fail"
		c.Detail = "not ignored by git: " + strings.Join(miss, ", ")
		c.Fix = "phantom doctor --fix"
	default:
		c.Status, c.Detail = "ok", "git ignores "+strings.Join(files, ", ")
	}
	return c
}

func shellArgs(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = shellArg(s)
	}
	return out
}

// hookCheck looks for phantom's marker in the pre-commit hook git runs:
// `git rev-parse --git-path hooks` honours core.hooksPath.
func hookCheck(ctx context.Context, f *Factory, dir string) DoctorCheck {
	c := DoctorCheck{Name: "hook"}
	if !inGitRepo(ctx, f, dir) {
		c.Status, c.Detail = "skip", "not a git repository"
		return c
	}
	out, code, err := doctorGit(ctx, f, dir, "rev-parse", "--path-format=absolute", "--git-path", "hooks/pre-commit")
	if err != nil || code != 0 {
		c.Status, c.Detail = "warn", "cannot find the hooks directory"
		return c
	}
	path := strings.TrimSpace(out)
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		c.Status, c.Detail, c.Fix = "warn", "no pre-commit hook ("+path+"): a commit can add a real key", "phantom hook install"
	case err != nil:
		c.Status, c.Detail = "warn", "cannot read "+path+": "+err.Error()
	case !hasLine(b, HookMarker):
		c.Status, c.Detail, c.Fix = "warn", path+" does not run phantom check", "phantom hook install (it keeps the existing hook)"
	default:
		c.Status, c.Detail = "ok", path
	}
	return c
}

func hasLine(b []byte, line string) bool {
	for _, l := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(l) == line {
			return true
		}
	}
	return false
}

// mcpCheck reports the client configurations that run `phantom mcp`.
func mcpCheck(ctx context.Context, f *Factory, dir string) DoctorCheck {
	c := DoctorCheck{Name: "mcp"}
	var found []string
	for _, cl := range mcpClients {
		path, err := f.clientPath(cl, dir)
		if err != nil {
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		if referencesPhantomMCP(cl, b) {
			found = append(found, cl.name+" ("+path+")")
		}
	}
	if len(found) == 0 {
		c.Status = "warn"
		c.Detail = "no MCP client runs phantom mcp: an agent has no value-blind way to manage secrets"
		c.Fix = "phantom setup --client claude (or " + strings.Join(clientNames()[1:], ", ") + ")"
		return c
	}
	c.Status, c.Detail = "ok", strings.Join(found, ", ")
	return c
}

// referencesPhantomMCP reports whether a client file has a server whose
// command is phantom and whose first argument is mcp.
func referencesPhantomMCP(cl mcpClient, b []byte) bool {
	type entry struct {
		Command string   `json:"command" toml:"command"`
		Args    []string `json:"args" toml:"args"`
	}
	var servers map[string]entry
	if cl.key == "" {
		var cfg struct {
			Servers map[string]entry `toml:"mcp_servers"`
		}
		if _, err := toml.Decode(string(b), &cfg); err != nil {
			return false
		}
		servers = cfg.Servers
	} else {
		var top map[string]json.RawMessage
		if json.Unmarshal(b, &top) != nil {
			return false
		}
		if json.Unmarshal(top[cl.key], &servers) != nil {
			return false
		}
	}
	for _, e := range servers {
		base := strings.TrimSuffix(filepath.Base(e.Command), ".exe")
		if base == "phantom" && len(e.Args) > 0 && e.Args[0] == "mcp" {
			return true
		}
	}
	return false
}

func auditCheck(st Status) DoctorCheck {
	c := DoctorCheck{Name: "audit"}
	switch {
	case strings.HasPrefix(st.Audit, "off"):
		c.Status, c.Detail, c.Fix = "warn", "the audit log is "+st.Audit, "unset PHANTOM_AUDIT"
	case st.AuditCheck == nil:
		c.Status, c.Detail = "ok", "audit log "+st.Audit+"; nothing to verify against the vault yet"
	case !st.AuditCheck.OK:
		c.Status = "fail"
		c.Detail = fmt.Sprintf("%d problem(s): %s", len(st.AuditCheck.Problems), strings.Join(st.AuditCheck.Problems, "; "))
		c.Fix = "phantom audit verify"
	default:
		c.Status, c.Detail = "ok", "the chain verifies against the vault"
	}
	return c
}

func doctorFinish(o *DoctorOptions, rep DoctorReport) error {
	f := o.F
	rep.OK = true
	for _, c := range rep.Checks {
		if c.Status == "fail" {
			rep.OK = false
		}
	}
	if o.JSON {
		if err := jsonout.Write(f.IO.Out, rep); err != nil {
			return err
		}
	} else {
		t := f.IO.Theme()
		w := f.IO.Out
		for _, c := range rep.Checks {
			mark := map[string]string{"ok": t.OK("ok  "), "warn": t.Warn("warn"), "fail": t.Fail("FAIL"), "skip": t.Dim("skip")}[c.Status]
			fmt.Fprintf(w, "%s %-10s %s\n", mark, c.Name, c.Detail)
			if c.Fixed != "" {
				fmt.Fprintf(w, "     %-10s fixed: %s\n", "", c.Fixed)
			}
			if c.Fix != "" && c.Status != "ok" {
				fmt.Fprintf(w, "     %-10s fix: %s\n", "", c.Fix)
			}
		}
	}
	if !rep.OK {
		if !o.JSON {
			fmt.Fprintln(f.IO.ErrOut, "phantom doctor: some checks failed (see above)")
		}
		return exitcode.Silent{Code: exitcode.Failure}
	}
	return nil
}
