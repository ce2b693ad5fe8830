package cli

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"phantomstack.dev/phantom/internal/audit"
	"phantomstack.dev/phantom/internal/vault"
	"phantomstack.dev/shared/dotenv"
	"phantomstack.dev/shared/exitcode"
	"phantomstack.dev/shared/jsonout"
)

// StatusOptions configures `phantom status`.
type StatusOptions struct {
	F    *Factory
	JSON bool
}

// Status is status's --json output.
type Status struct {
	Initialized bool         `json:"initialized"`
	ProjectDir  string       `json:"project_dir,omitempty"`
	ProjectID   string       `json:"project_id,omitempty"`
	Home        string       `json:"home"`
	Vault       VaultStatus  `json:"vault"`
	Audit       string       `json:"audit"`
	AuditCheck  *AuditCheck  `json:"audit_check,omitempty"`
	EnvFiles    []FileStatus `json:"env_files"`
	Proxy       ProxyStatus  `json:"proxy"`
	Mode        ModeStatus   `json:"mode"`
	// LiveKeys names the vaulted secrets whose values look like production
	// keys (liveKey); doctor recommends hardening for them. Names only.
	LiveKeys []string `json:"live_keys,omitempty"`
}

// ModeStatus says how far the vault resists a program of this user that
// goes after it on purpose (docs/security.md, "Hardened mode").
type ModeStatus struct {
	// Name is keychain, passphrase or hardened (the vault's key source).
	Name    string `json:"name"`
	Meaning string `json:"meaning"`
	// Agent is whether phantom's agent holds the key (phantom unlock).
	Agent    bool `json:"agent_unlocked"`
	AgentPID int  `json:"agent_pid,omitempty"`
}

// modeMeaning is what each mode protects against, for status.
var modeMeaning = map[string]string{
	"keychain":   "protects against programs that read files, environments and output; a program of yours that reads the keychain on purpose can open the vault (phantom vault harden closes that)",
	"passphrase": "opens with the passphrase typed, from PHANTOM_VAULT_PASSPHRASE, or through phantom unlock's agent; a program that can read that variable can open the vault",
	"hardened":   "opens only with the passphrase typed at that moment or through phantom unlock's agent; no program gets a value through phantom, and human-only commands need the passphrase each time",
}

// VaultStatus describes the vault file and its key source.
type VaultStatus struct {
	Path      string `json:"path,omitempty"`
	Exists    bool   `json:"exists"`
	KeySource string `json:"key_source"`
	// KeySourceReason says why that source is (or would be) used.
	KeySourceReason string `json:"key_source_reason,omitempty"`
	Secrets         int    `json:"secrets"`
	Error           string `json:"error,omitempty"`
}

// AuditCheck is `audit verify` with the project's vault, run by status when
// the vault opened and holds an audit mark.
type AuditCheck struct {
	OK       bool     `json:"ok"`
	Mark     string   `json:"vault_mark"` // ok, other-log, ahead
	Problems []string `json:"problems"`
}

// FileStatus describes one env file.
type FileStatus struct {
	Path        string   `json:"path"`
	Exists      bool     `json:"exists"`
	Protected   int      `json:"protected"`
	Unprotected []string `json:"unprotected"`
	Unknown     []string `json:"unknown_tokens"`
	// Stale are the names among Unknown that are still vaulted secrets:
	// their line holds an old token of theirs (an interrupted rotate, or
	// the secret was re-added). phantom rotate NAME... repairs them.
	Stale []string `json:"stale_tokens"`
}

// ProxyStatus is the state of the proxy `phantom start` runs.
type ProxyStatus struct {
	Running   bool       `json:"running"`
	PID       int        `json:"pid,omitempty"`
	Addr      string     `json:"addr,omitempty"`
	Routes    []string   `json:"routes,omitempty"`
	StartedAt *time.Time `json:"started_at,omitempty"`
}

func newStatusCmd(f *Factory, runF func(*StatusOptions) error) *cobra.Command {
	opts := &StatusOptions{F: f}
	cmd := &cobra.Command{
		Use:         "status [--json]",
		Annotations: readOnlyInterrupted,
		Short:       "Show the project, vault, env files and proxy at a glance",
		Long: `Show where this project's vault lives, which key protects it (OS keychain
or passphrase) and why, how many secrets it holds, whether the audit log is
on, and for each env file how many values are protected — and which secrets
are still in plaintext or hold tokens the vault does not know.

status does not unlock the vault when that would need a passphrase prompt.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f.Command = "phantom status"
			if runF != nil {
				return runF(opts)
			}
			return statusRun(cmd.Context(), opts)
		},
	}
	jsonout.AddFlag(cmd, &opts.JSON, "print JSON")
	return cmd
}

func statusRun(ctx context.Context, o *StatusOptions) error {
	f := o.F
	st := Status{EnvFiles: []FileStatus{}}
	home, err := f.Home()
	if err != nil {
		return err
	}
	st.Home = home
	p, err := f.Project()
	if err != nil && exitcode.Code(err) != exitcode.NotFound {
		return err
	}
	if p == nil {
		// The probe needs some project id; no keychain item is read or written.
		src, why := vault.Probe(vault.Options{Home: home, ProjectID: strings.Repeat("0", 32), Env: f.Env, Keyring: f.Keyring})
		st.Vault = VaultStatus{KeySource: src.String(), KeySourceReason: why}
		st.Audit = auditState(f, nil)
		return printStatus(f, o.JSON, st)
	}
	st.Initialized = true
	st.ProjectDir, st.ProjectID = p.Dir, p.ID()
	if ps, err := readProxyState(home, p.ID()); err == nil && ps != nil {
		started := ps.StartedAt
		st.Proxy = ProxyStatus{Running: true, PID: ps.PID, Addr: ps.Addr, Routes: ps.Routes, StartedAt: &started}
	}
	st.Audit = auditState(f, p)
	opts, err := f.vaultOptions(ctx, p)
	if err != nil {
		return err
	}
	st.Vault.Path, _ = vault.Path(opts)
	var tokens map[string]string
	var vaulted map[string]bool
	if _, err := os.Stat(st.Vault.Path); err == nil {
		st.Vault.Exists = true
		// Never prompt from status: a passphrase vault without the env var is
		// reported as locked instead.
		opts.Prompt = nil
		var v *vault.Vault
		if f.served != nil && f.served.serves(opts) {
			v, err = f.served.open(opts)
			st.Mode.Agent, st.Mode.AgentPID = err == nil, os.Getpid()
		} else {
			v, err = vault.Open(opts)
		}
		if err != nil {
			st.Vault.Error = err.Error()
			st.Vault.KeySource = vault.PeekKeySource(st.Vault.Path).String()
		} else {
			st.Vault.KeySource = v.KeySource().String()
			st.Vault.Secrets = len(v.Payload().Secrets)
			tokens = tokenIndex(v.Payload())
			for _, n := range sortedKeys(v.Payload().Secrets) {
				if liveKey(n, v.Payload().Secrets[n].Value) {
					st.LiveKeys = append(st.LiveKeys, n)
				}
			}
			vaulted = map[string]bool{}
			for n := range v.Payload().Secrets {
				vaulted[n] = true
			}
			if m := auditMarkOf(p, v.Payload().Audit); m != nil && f.auditLog(p).Enabled() {
				if rep, err := audit.VerifyWith(home, audit.VerifyOptions{Mark: m}); err == nil {
					ac := &AuditCheck{OK: rep.OK(), Problems: []string{}}
					if rep.Mark != nil {
						ac.Mark = rep.Mark.Result
					}
					for _, pr := range rep.Problems {
						ac.Problems = append(ac.Problems, pr.Msg)
					}
					st.AuditCheck = ac
				}
			}
		}
	} else {
		src, why := vault.Probe(opts)
		st.Vault.KeySource, st.Vault.KeySourceReason = src.String(), why
	}
	if st.Vault.Exists {
		st.Mode.Name = st.Vault.KeySource
		st.Mode.Meaning = modeMeaning[st.Mode.Name]
	}
	ov := p.Config.Overrides()
	for _, path := range p.Config.EnvFiles() {
		e, err := loadEnvFile(p, path)
		if err != nil {
			return err
		}
		fs := FileStatus{Path: e.Rel, Exists: e.Exists, Unprotected: []string{}, Unknown: []string{}, Stale: []string{}}
		for _, ent := range e.File.Entries() {
			switch {
			case isToken(ent.Value):
				if tokens != nil && tokens[ent.Value] == "" {
					fs.Unknown = append(fs.Unknown, ent.Key)
					if vaulted[ent.Key] {
						fs.Stale = append(fs.Stale, ent.Key)
					}
				} else {
					fs.Protected++
				}
			case ent.Value != "" && dotenv.Classify(ent.Key, ent.Value, dotenv.Overrides{Secret: ov.Secret, Public: ov.Public}).Class == dotenv.Secret:
				fs.Unprotected = append(fs.Unprotected, ent.Key)
			}
		}
		st.EnvFiles = append(st.EnvFiles, fs)
	}
	return printStatus(f, o.JSON, st)
}

func auditState(f *Factory, p *Project) string {
	if f.Env("PHANTOM_AUDIT") == "0" {
		return "off (PHANTOM_AUDIT=0)"
	}
	if p == nil {
		return "on"
	}
	return p.AuditMode()
}

func printStatus(f *Factory, asJSON bool, st Status) error {
	if asJSON {
		return jsonout.Write(f.IO.Out, st)
	}
	t := f.IO.Theme()
	w := f.IO.Out
	if !st.Initialized {
		fmt.Fprintf(w, "Project:   %s\n", t.Warn("not a phantom project (run: phantom init)"))
	} else {
		fmt.Fprintf(w, "Project:   %s (id %s)\n", st.ProjectDir, st.ProjectID)
	}
	fmt.Fprintf(w, "Home:      %s\n", st.Home)
	switch {
	case st.Vault.Error != "":
		fmt.Fprintf(w, "Vault:     %s, %s\n           %s\n", st.Vault.KeySource, t.Fail("cannot open"), st.Vault.Error)
	case st.Vault.Exists:
		fmt.Fprintf(w, "Vault:     %d secret(s), key source: %s\n", st.Vault.Secrets, st.Vault.KeySource)
	default:
		fmt.Fprintf(w, "Vault:     none yet; a new one would use key source: %s (%s)\n", st.Vault.KeySource, st.Vault.KeySourceReason)
	}
	if st.Mode.Name != "" {
		fmt.Fprintf(w, "Mode:      %s: %s\n", st.Mode.Name, st.Mode.Meaning)
		if st.Mode.Agent {
			fmt.Fprintf(w, "Agent:     unlocked (pid %d); phantom lock forgets the key\n", st.Mode.AgentPID)
		} else {
			fmt.Fprintf(w, "Agent:     not unlocked (phantom unlock keeps the key in an agent, so commands need no passphrase)\n")
		}
	}
	fmt.Fprintf(w, "Audit log: %s\n", st.Audit)
	if ac := st.AuditCheck; ac != nil && !ac.OK {
		fmt.Fprintf(w, "           %s\n", t.Fail(fmt.Sprintf("%d problem(s) found with this project's vault (run: phantom audit verify)", len(ac.Problems))))
		for _, pr := range ac.Problems {
			fmt.Fprintf(w, "           - %s\n", pr)
		}
	}
	for _, fs := range st.EnvFiles {
		if !fs.Exists {
			fmt.Fprintf(w, "%-10s %s\n", fs.Path+":", t.Dim("not present"))
			continue
		}
		fmt.Fprintf(w, "%-10s %d protected", fs.Path+":", fs.Protected)
		if len(fs.Unprotected) > 0 {
			fmt.Fprintf(w, ", %s", t.Warn(fmt.Sprintf("%d in plaintext %v (run: phantom init)", len(fs.Unprotected), fs.Unprotected)))
		}
		if len(fs.Stale) > 0 {
			fmt.Fprintf(w, ", %s", t.Warn(fmt.Sprintf("%d stale token(s) %v (run: phantom rotate %s)", len(fs.Stale), fs.Stale, strings.Join(fs.Stale, " "))))
		}
		if other := len(fs.Unknown) - len(fs.Stale); other > 0 {
			var names []string
			for _, n := range fs.Unknown {
				if !slices.Contains(fs.Stale, n) {
					names = append(names, n)
				}
			}
			fmt.Fprintf(w, ", %s", t.Warn(fmt.Sprintf("%d unknown token(s) %v", other, names)))
		}
		fmt.Fprintln(w)
	}
	if st.Proxy.Running {
		fmt.Fprintf(w, "Proxy:     running on %s (pid %d) for %s\n", st.Proxy.Addr, st.Proxy.PID, strings.Join(st.Proxy.Routes, ", "))
	} else {
		fmt.Fprintf(w, "Proxy:     not running (phantom exec starts one per command; phantom start runs one for your shell)\n")
	}
	return nil
}

// livePrefixes start provider keys that act on real accounts: Stripe live
// mode, AWS access keys, GitHub, OpenAI, Anthropic, Slack, GitLab, npm.
var livePrefixes = []string{"sk_live_", "rk_live_", "AKIA", "ghp_", "gho_", "ghs_", "ghu_", "github_pat_",
	"sk-proj-", "sk-svcacct-", "sk-admin-", "sk-ant-", "xoxb-", "xoxp-", "glpat-", "npm_"}

// liveKey reports whether a secret looks like a production key: a value
// with a live provider prefix, or a name that says PROD. Test-mode keys
// (sk_test_…) and names that say TEST, DEV or SANDBOX are not.
func liveKey(name string, value []byte) bool {
	up := strings.ToUpper(name)
	for _, w := range []string{"TEST", "DEV", "SANDBOX", "STAGING"} {
		if strings.Contains(up, w) {
			return false
		}
	}
	if strings.Contains(up, "PROD") {
		return true
	}
	v := string(value)
	for _, p := range livePrefixes {
		if strings.HasPrefix(v, p) {
			return true
		}
	}
	return false
}
