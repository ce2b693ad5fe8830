package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"phantomstack.dev/phantom/internal/audit"
	"phantomstack.dev/phantom/internal/catalog"
	"phantomstack.dev/phantom/internal/config"
	"phantomstack.dev/phantom/internal/vault"
	"phantomstack.dev/shared/exitcode"
	"phantomstack.dev/shared/fsx"
	"phantomstack.dev/shared/term"
)

// ConfigFile is the per-project file that marks a phantom project.
const ConfigFile = ".phantom.toml"

// Factory holds what commands need from the outside world. Every field can
// be replaced in tests.
type Factory struct {
	IO  *term.IOStreams
	Env func(string) string
	// Environ is the whole environment, the base of a child's (exec).
	Environ func() []string
	Getwd   func() (string, error)
	Keyring vault.Keyring
	Now     func() time.Time
	// KDF overrides the vault's Argon2id parameters for new vaults. Only the
	// test binary sets it; the shipped binary always uses the defaults.
	KDF vault.KDFParams
	// Command is "phantom <verb>", recorded in audit events and lock files.
	Command string

	home  string     // Home's result, checked once per command
	marks auditMarks // where this process's audit events landed (auditmark.go)
	// served is set when this factory runs a command inside the agent
	// (agentserve.go): the vault opens with the agent's key.
	served *servedVault
	// FollowSymlinks is --follow-symlinks on the commands that write env
	// files (loadEnvFileToWrite).
	FollowSymlinks bool
}

// NewFactory returns the production factory.
func NewFactory(io *term.IOStreams) *Factory {
	return &Factory{
		IO:      io,
		Env:     getenv,
		Environ: os.Environ,
		Getwd:   os.Getwd,
		Keyring: vault.SystemKeyring(),
		Now:     time.Now,
		KDF:     testKDF,
	}
}

// testKDF is set by the test binary (export_test.go / the testscript main)
// so end-to-end suites do not pay 64 MiB of Argon2id per command.
var testKDF vault.KDFParams

// Home returns PHANTOM_HOME (default ~/.phantom), created with mode 0700
// and checked to be writable, once per command.
func (f *Factory) Home() (string, error) {
	if f.home != "" {
		return f.home, nil
	}
	home, err := f.homePath()
	if err != nil {
		return "", err
	}
	if err := fsx.MkdirPrivate(home); err != nil {
		return "", exitcode.Errorf(exitcode.Unavailable, "PHANTOM_HOME %s is not usable: %v\nSet PHANTOM_HOME to a directory you can write, or fix its permissions.", home, rootCause(err))
	}
	probe, err := fsx.CreateTemp(home, "probe", 0o600)
	if err != nil {
		return "", exitcode.Errorf(exitcode.Unavailable, "PHANTOM_HOME %s is not writable: %v\nSet PHANTOM_HOME to a directory you can write, or fix its permissions.", home, rootCause(err))
	}
	probe.Close()
	os.Remove(probe.Name())
	f.home = home
	return home, nil
}

// homePath is where PHANTOM_HOME is, without creating or checking it: what
// the agent's socket is named after (forward.go).
func (f *Factory) homePath() (string, error) {
	home := f.Env("PHANTOM_HOME")
	if home == "" {
		h, err := os.UserHomeDir()
		if err != nil || h == "" {
			return "", exitcode.Errorf(exitcode.Unavailable, "cannot find your home directory; set PHANTOM_HOME to a private directory")
		}
		home = filepath.Join(h, ".phantom")
	} else if !filepath.IsAbs(home) {
		// A relative path would name another directory, and so another
		// vault, in every directory phantom runs from (docs/decisions.md).
		abs, _ := filepath.Abs(home)
		return "", exitcode.Errorf(exitcode.Unavailable, "PHANTOM_HOME must be an absolute path; got %q, which would point somewhere else in every directory you run phantom from.\nSet it to an absolute path (here: export PHANTOM_HOME=%s), or unset it to use ~/.phantom.", home, shellQuoteArg(abs))
	}
	return filepath.Clean(home), nil
}

// Project is a directory with a .phantom.toml.
type Project struct {
	Dir        string
	ConfigPath string
	Config     *config.Config
	// auditMode is the audit mode in force once the vault is open: never
	// below the approved one (effectiveAudit). "": the config's.
	auditMode string
}

// AuditMode is the audit mode phantom applies to this project.
func (p *Project) AuditMode() string {
	if p.auditMode != "" {
		return p.auditMode
	}
	return p.Config.AuditMode()
}

// Policy is how `phantom exec` hands a secret to the child: set in
// .phantom.toml, else the built-in default (proxy when a route owns it).
func (p *Project) Policy(name string) (policy string, explicit bool) {
	if pol, ok := p.Config.Policy(name); ok {
		return pol, true
	}
	return catalog.DefaultPolicy(name), false
}

// ID is the project's vault identity.
func (p *Project) ID() string { return p.Config.ProjectID() }

// Rel returns path relative to the project directory when it is inside it.
func (p *Project) Rel(path string) string {
	if r, err := filepath.Rel(p.Dir, path); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}

// Abs resolves a path given on the command line (relative to cwd) or from
// the config (relative to the project dir).
func (p *Project) Abs(path string) string {
	if filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(p.Dir, path)
}

// Cwd returns the working directory.
func (f *Factory) Cwd() (string, error) {
	d, err := f.Getwd()
	if err != nil {
		return "", fmt.Errorf("cannot read the current directory: %w", err)
	}
	return d, nil
}

// Project finds and loads the project that contains the working directory.
func (f *Factory) Project() (*Project, error) {
	cwd, err := f.Cwd()
	if err != nil {
		return nil, err
	}
	dir, err := config.Find(cwd)
	if err != nil {
		if errors.Is(err, config.ErrNotFound) {
			return nil, exitcode.Errorf(exitcode.NotFound, "%s is not inside a phantom project (no %s here or in any parent)\nRun 'phantom init' in your project directory first.", cwd, ConfigFile)
		}
		return nil, err
	}
	path := filepath.Join(dir, ConfigFile)
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	return &Project{Dir: dir, ConfigPath: path, Config: cfg}, nil
}

// vaultOptions are the options to open p's vault. ctx is the command's: a
// passphrase prompt ends at Ctrl-C.
func (f *Factory) vaultOptions(ctx context.Context, p *Project) (vault.Options, error) {
	home, err := f.Home()
	if err != nil {
		return vault.Options{}, err
	}
	lockWait := vault.DefaultLockTimeout
	if s := f.Env("PHANTOM_LOCK_TIMEOUT"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 || d > time.Hour {
			return vault.Options{}, usageErrorf("PHANTOM_LOCK_TIMEOUT=%q is not a duration between 0s and 1h (e.g. 30s)", s)
		}
		lockWait = d
	}
	return vault.Options{
		Home:      home,
		ProjectID: p.ID(),
		Env:       f.Env,
		Keyring:   f.Keyring,
		Prompt: func(confirm bool) ([]byte, error) {
			if f.served != nil {
				// Inside the agent no passphrase is ever asked for: the
				// client must never send one (hiddenPromptAllowed).
				return nil, vault.ErrNoTTY
			}
			return f.passphrasePrompt(ctx, confirm)
		},
		WrongPassphrase: func(left int) {
			f.record(p, audit.Event{Op: "vault.open", Detail: withChain("wrong passphrase typed")})
			f.wrongPassphrase(left)
		},
		KDF:         f.KDF,
		Owner:       f.Command,
		LockTimeout: lockWait,
		Mark:        f.nextMark,
	}, nil
}

// OpenVault opens the project's vault; with create it makes one when missing.
func (f *Factory) OpenVault(ctx context.Context, p *Project, create bool) (*vault.Vault, error) {
	opts, err := f.vaultOptions(ctx, p)
	if err != nil {
		return nil, err
	}
	var v *vault.Vault
	if f.served != nil && f.served.serves(opts) {
		v, err = f.served.open(opts)
	} else if create {
		var created bool
		v, created, err = vault.OpenOrCreate(opts)
		if err == nil && created {
			f.IO.Successf("Created the vault for this project (key held by the %s)", describeSource(v.KeySource()))
			f.record(p, audit.Event{Op: "vault.create", Detail: v.KeySource().String()})
		}
	} else {
		v, err = vault.Open(opts)
	}
	if err != nil {
		// A hardened vault refused a passphrase from the environment, or
		// typed passphrases were wrong: both are someone trying to get in.
		if errors.Is(err, vault.ErrHardened) || errors.Is(err, vault.ErrWrongPassphrase) {
			f.recordHardenedRefusal(p, err)
		}
		return nil, vaultError(err)
	}
	p.auditMode = effectiveAudit(p.Config.AuditMode(), v.Payload())
	if err := f.checkVaultMark(p, v); err != nil {
		v.Close()
		return nil, err
	}
	return v, nil
}

// passphrasePrompt asks for the vault passphrase on the terminal. A new
// passphrase (confirm) must be at least vault.MinPassphraseLen characters and
// typed the same twice; a mistake says what was wrong and asks again, up to
// newPassphraseTries times, instead of ending the command.
func (f *Factory) passphrasePrompt(ctx context.Context, confirm bool) ([]byte, error) {
	if !f.IO.CanPrompt() {
		return nil, vault.ErrNoTTY
	}
	if !confirm {
		return f.IO.ReadSecret(ctx, "Vault passphrase: ")
	}
	f.IO.Infof("No OS keychain is reachable, so this vault will be protected by a passphrase.\nChoose one you will remember (at least %d characters): it cannot be recovered.", vault.MinPassphraseLen)
	for try := 1; ; try++ {
		left := newPassphraseTries - try
		p, err := f.IO.ReadSecret(ctx, "Vault passphrase: ")
		if err != nil {
			return nil, err
		}
		if len(p) < vault.MinPassphraseLen {
			wipe(p)
			if left == 0 {
				return nil, usageErrorf("the passphrase is shorter than %d characters, %d times; nothing was changed", vault.MinPassphraseLen, newPassphraseTries)
			}
			f.IO.Warnf("That passphrase is shorter than %d characters; choose a longer one (%s left).", vault.MinPassphraseLen, triesLeft(left))
			continue
		}
		again, err := f.IO.ReadSecret(ctx, "Repeat passphrase: ")
		if err != nil {
			wipe(p)
			return nil, err
		}
		same := string(p) == string(again)
		wipe(again)
		if same {
			return p, nil
		}
		wipe(p)
		if left == 0 {
			return nil, exitcode.Errorf(exitcode.Failure, "the passphrases did not match, %d times; nothing was changed", newPassphraseTries)
		}
		f.IO.Warnf("The passphrases do not match; choose one and type it twice again (%s left).", triesLeft(left))
	}
}

// newPassphraseTries bounds how often a new passphrase is asked for.
const newPassphraseTries = 3

// wrongPassphrase tells the person at the terminal that the passphrase they
// typed did not unlock the vault, before the vault asks again.
func (f *Factory) wrongPassphrase(left int) {
	f.IO.Warnf("Wrong passphrase, try again (%s left).", triesLeft(left))
}

func triesLeft(n int) string {
	if n == 1 {
		return "1 try"
	}
	return fmt.Sprintf("%d tries", n)
}

// auditLog returns the audit log for this process.
func (f *Factory) auditLog(p *Project) *audit.Log {
	home, err := f.Home()
	if err != nil {
		home = ""
	}
	mode := "on"
	if p != nil {
		mode = p.AuditMode()
	}
	required := mode == "required"
	// PHANTOM_AUDIT=0 cannot switch off an audit the project requires: an
	// agent could set it. record refuses the operation instead.
	off := !required && (f.Env("PHANTOM_AUDIT") == "0" || mode == "off") || home == ""
	return audit.Open(home, audit.Options{
		Disabled: off,
		Required: required,
		Process:  f.Command,
		Now:      f.Now,
	})
}

// record appends an audit event. In "required" mode a failure is returned
// (and must fail the operation); otherwise it is a warning on stderr.
func (f *Factory) record(p *Project, e audit.Event) error {
	return f.recordBatch(p, []audit.Event{e})
}

// recordBatch records events in order under one lock and one fsync: init
// protecting 1,000 names writes 1,000 events, and one fsync each made it
// take seconds (issue 13 item 12).
func (f *Factory) recordBatch(p *Project, events []audit.Event) error {
	if len(events) == 0 {
		return nil
	}
	events = append([]audit.Event(nil), events...)
	for i := range events {
		if p != nil && events[i].Project == "" {
			events[i].Project = p.ID()
		}
	}
	log := f.auditLog(p)
	if log.Required() && f.Env("PHANTOM_AUDIT") == "0" {
		return exitcode.Errorf(exitcode.Refused, "%s sets audit = \"required\", so PHANTOM_AUDIT=0 cannot turn the audit log off; nothing was changed", ConfigFile)
	}
	pos, err := log.Record(events...)
	f.marks.note(pos)
	if err != nil {
		if log.Required() {
			return exitcode.Errorf(exitcode.Failure, "audit log write failed and .phantom.toml says audit = \"required\", so nothing was changed: %v", err)
		}
		f.IO.Warnf("could not write the audit log: %v", err)
	}
	return nil
}

// recorder returns a beforeCommit hook for vault.Update that records events.
func (f *Factory) recorder(p *Project, events ...audit.Event) func() error {
	return func() error { return f.recordBatch(p, events) }
}

func rootCause(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}

// shellQuoteArg quotes s for a POSIX shell, so a suggested command works
// when pasted whatever the path holds.
func shellQuoteArg(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./+:@%,=") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
