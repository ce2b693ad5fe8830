package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"phantomstack.dev/phantom/internal/audit"
	"phantomstack.dev/phantom/internal/config"
	"phantomstack.dev/phantom/internal/vault"
	"phantomstack.dev/shared/dotenv"
	"phantomstack.dev/shared/exitcode"
	"phantomstack.dev/shared/jsonout"
	"phantomstack.dev/shared/term"
)

// InitOptions configures `phantom init`.
type InitOptions struct {
	F    *Factory
	From []string
	Yes  bool
	JSON bool
}

func newInitCmd(f *Factory, runF func(*InitOptions) error) *cobra.Command {
	opts := &InitOptions{F: f}
	cmd := &cobra.Command{
		Use:   "init [--from FILE]... [--yes]",
		Short: "Protect this project's .env files",
		Long: `Protect the secrets in this project's env files.

init creates .phantom.toml (commit it: it holds no secrets, only the project id
and settings), moves every secret value from .env and .env.local (or the files
given with --from) into the encrypted vault, and rewrites each value in place
as a phm_ placeholder token. Comments, order, quoting and non-secret settings
such as PORT stay exactly as they were. It also adds .env rules to .gitignore.

No plaintext copy is left anywhere: the original text is kept encrypted in the
vault so 'phantom unprotect' can put it back.

On a terminal init shows what it will protect and asks first; --yes skips the
question. Running it again is safe: protected values are left alone.`,
		Example: `  phantom init
  phantom init --from config/.env.production --yes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f.Command = "phantom init"
			if runF != nil {
				return runF(opts)
			}
			return initRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringArrayVar(&opts.From, "from", nil, "env file to protect (repeatable; default: .env and .env.local)")
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "do not ask for confirmation")
	jsonout.AddFlag(cmd, &opts.JSON, "print a JSON summary on stdout")
	addFollowSymlinksFlag(cmd, f)
	return cmd
}

// InitFileReport is one file in init's --json output.
type InitFileReport struct {
	Path      string   `json:"path"`
	Protected []string `json:"protected"`
	Already   []string `json:"already_protected"`
	Public    []string `json:"left_as_config"`
}

// InitReport is init's --json output.
type InitReport struct {
	ProjectID     string           `json:"project_id"`
	Dir           string           `json:"dir"`
	Created       bool             `json:"created"`
	Files         []InitFileReport `json:"files"`
	GitignoreAdds []string         `json:"gitignore_added"`
}

// initItem is one env-file entry whose value moves into the vault.
type initItem struct {
	file  *envFile
	entry int // index in file.File.Entries()
	key   string
	value string
	raw   string
	occ   int // which occurrence of key in the file, from 1 (see originKey)
}

// initPlan is what init will change, computed before anything is written.
type initPlan struct {
	items  []initItem
	final  map[string]string // name → the value the vault will hold
	files  []InitFileReport
	differ []initDiffer
}

// initDiffer is one name with different values in two files.
type initDiffer struct{ key, from, to string }

// planInit decides which entries of files move into the vault. pl is the
// existing vault's payload, nil for a new one.
//
// A name set twice in one file with two different values is refused, naming
// both lines: the app sees only the last one, the vault holds one value per
// name, and one token in both lines would lose the other value for good
// (docs/decisions.md). Lines with the same value share one token and each
// keeps its own original text for 'phantom unprotect'. An empty value is not
// a secret: its line stays as it is.
func planInit(files []*envFile, overrides dotenv.Overrides, pl *vault.Payload) (*initPlan, error) {
	var idx map[string]string
	if pl != nil {
		idx = tokenIndex(pl)
	}
	plan := &initPlan{final: map[string]string{}}
	from := map[string]string{} // name → file its final value came from
	var conflicts []string
	for _, e := range files {
		fr := InitFileReport{Path: e.Rel, Protected: []string{}, Already: []string{}, Public: []string{}}
		type seen struct {
			value string
			line  int
		}
		first := map[string]seen{}
		reported := map[string]bool{}
		occ := map[string]int{}
		listed := map[string]bool{}
		for n, ent := range e.File.Entries() {
			occ[ent.Key]++
			if isToken(ent.Value) {
				fr.Already = append(fr.Already, ent.Key)
				// A token of this very name stands for the vault's value,
				// which a plaintext line of the same name must not replace.
				if idx[ent.Value] == ent.Key {
					val := string(pl.Secrets[ent.Key].Value)
					if s, ok := first[ent.Key]; ok && s.value != val && !reported[ent.Key] {
						conflicts = append(conflicts, fmt.Sprintf("%s: %s on line %d and line %d hold different values", e.Rel, ent.Key, s.line, ent.Line))
						reported[ent.Key] = true
					} else if !ok {
						first[ent.Key] = seen{val, ent.Line}
					}
				}
				continue
			}
			if v := dotenv.Classify(ent.Key, ent.Value, overrides); v.Class != dotenv.Secret || ent.Value == "" {
				fr.Public = append(fr.Public, ent.Key)
				continue
			}
			if s, ok := first[ent.Key]; ok && s.value != ent.Value {
				if !reported[ent.Key] {
					conflicts = append(conflicts, fmt.Sprintf("%s: %s on line %d and line %d hold different values", e.Rel, ent.Key, s.line, ent.Line))
					reported[ent.Key] = true
				}
				continue
			} else if !ok {
				first[ent.Key] = seen{ent.Value, ent.Line}
			}
			plan.items = append(plan.items, initItem{file: e, entry: n, key: ent.Key, value: ent.Value, raw: ent.Raw, occ: occ[ent.Key]})
			if !listed[ent.Key] {
				fr.Protected = append(fr.Protected, ent.Key)
				listed[ent.Key] = true
			}
			// Different values for one name across files: the vault holds
			// one value per name, and the later file wins, as it does when
			// the app loads them.
			if prev, ok := plan.final[ent.Key]; ok && prev != ent.Value && from[ent.Key] != e.Rel {
				plan.differ = append(plan.differ, initDiffer{ent.Key, from[ent.Key], e.Rel})
			}
			plan.final[ent.Key] = ent.Value
			from[ent.Key] = e.Rel
		}
		plan.files = append(plan.files, fr)
	}
	if len(conflicts) > 0 {
		return nil, exitcode.Errorf(exitcode.Refused, "cannot protect a name set twice in one file with different values:\n  %s\nAn app reads only the last line, and the vault holds one value per name, so one of the values would be lost. Delete the line you do not need (or rename it), then run phantom init again. Nothing was changed.", strings.Join(conflicts, "\n  "))
	}
	return plan, nil
}

// applyInit puts the planned values and each line's original text into pl
// and returns the token of every name.
func applyInit(pl *vault.Payload, items []initItem, final map[string]string, now time.Time) map[string]string {
	tokens := map[string]string{}
	for _, it := range items {
		s := pl.Secrets[it.key]
		if s == nil {
			s = &vault.Secret{Token: newToken(), CreatedAt: now}
			pl.Secrets[it.key] = s
		}
		if s.Origins == nil {
			s.Origins = map[string]string{}
		}
		s.Origins[originKey(it.file.Rel, it.occ)] = it.raw
		tokens[it.key] = s.Token
	}
	for name, value := range final {
		s := pl.Secrets[name]
		if string(s.Value) != value {
			s.Value = []byte(value)
			s.UpdatedAt = now
		}
	}
	return tokens
}

// setInitTokens replaces each planned entry's value with its token: one
// batch per file, so a file is parsed once however many secrets it has.
func setInitTokens(items []initItem, tokens map[string]string) {
	batches := map[*envFile]map[int]string{}
	for _, it := range items {
		if batches[it.file] == nil {
			batches[it.file] = map[int]string{}
		}
		batches[it.file][it.entry] = tokens[it.key]
	}
	for e, b := range batches {
		e.File.SetEntries(b)
	}
}

// initRun is phantom init as named steps: find (or start) the project, load
// its env files, plan what moves into the vault, confirm, then write.
func initRun(ctx context.Context, o *InitOptions) error {
	j, err := initFindProject(o)
	if err != nil {
		return err
	}
	defer j.closeVault()
	if err := j.loadFiles(); err != nil {
		return err
	}
	if err := j.plan(ctx); err != nil {
		return err
	}
	if err := j.confirm(ctx); err != nil {
		return err
	}
	// Written in this order, so each step's failure leaves a state the next
	// run of init finishes: 1. the config, 2. the vault, 3. the env files,
	// 4. .gitignore.
	if err := j.writeConfig(); err != nil {
		return err
	}
	if err := j.storeValues(ctx); err != nil {
		return err
	}
	if err := j.rewriteEnvFiles(); err != nil {
		return err
	}
	j.updateGitignore(ctx)
	return j.printResult()
}

// initJob is one phantom init in progress: what each step found, for the
// next one.
type initJob struct {
	f       *Factory
	o       *InitOptions
	cwd     string
	p       *Project
	created bool // no .phantom.toml yet: init makes the project

	// loadFiles
	paths    []string // the env files init looks at, relative to the project
	explicit bool     // named with --from
	files    []*envFile
	// plan
	v      *vault.Vault // the existing vault (or, after storeValues, the new one)
	items  []initItem
	final  map[string]string
	report InitReport
	// confirm
	confirmed bool // by a person at a terminal
	// writeConfig
	addedEnv []string // env files --from added to .phantom.toml
	// storeValues
	tokens map[string]string
	// updateGitignore
	gitignoreAdded []string
}

// initFindProject joins the project we are inside, or starts one in the
// current directory (created).
func initFindProject(o *InitOptions) (*initJob, error) {
	f := o.F
	cwd, err := f.Cwd()
	if err != nil {
		return nil, err
	}
	// A home we cannot write would fail later, after .phantom.toml exists.
	if _, err := f.Home(); err != nil {
		return nil, err
	}
	// Join an existing project when we are inside one; otherwise start here.
	p, err := f.Project()
	created := false
	if exitcode.Code(err) == exitcode.NotFound {
		p = &Project{Dir: cwd, ConfigPath: filepath.Join(cwd, ConfigFile), Config: config.New()}
		created = true
	} else if err != nil {
		return nil, err
	}
	return &initJob{f: f, o: o, cwd: cwd, p: p, created: created}, nil
}

func (j *initJob) closeVault() {
	if j.v != nil {
		j.v.Close()
	}
}

// loadFiles reads the env files: --from's (each inside the project), else
// the project's configured ones; a missing default file is skipped.
func (j *initJob) loadFiles() error {
	f, p := j.f, j.p
	j.paths = p.Config.EnvFiles()
	j.explicit = len(j.o.From) > 0
	if j.explicit {
		j.paths = nil
		for _, fr := range j.o.From {
			abs := fr
			if !filepath.IsAbs(abs) {
				abs = filepath.Join(j.cwd, fr)
			}
			if _, err := os.Stat(abs); err != nil {
				return exitcode.Errorf(exitcode.NotFound, "cannot protect %s: %v", fr, rootCause(err))
			}
			rel := p.Rel(abs)
			if filepath.IsAbs(rel) {
				return usageErrorf("%s is outside the project directory %s; run phantom init from a directory that contains it", fr, p.Dir)
			}
			j.paths = append(j.paths, rel)
		}
	}
	for _, path := range j.paths {
		e, err := f.loadEnvFileToWrite(p, path)
		if err != nil {
			return err
		}
		if !e.Exists {
			continue
		}
		f.warnProblems(e)
		j.files = append(j.files, e)
	}
	return nil
}

// plan decides which values move into the vault (planInit), with the
// [classify] public patterns the existing vault approved, and warns about
// names whose values differ between files.
func (j *initJob) plan(ctx context.Context) error {
	f, p := j.f, j.p
	// An existing vault holds the approved settings: [classify] public
	// patterns nobody approved are not applied (an agent could add one so
	// that the next secret pasted into .env stays in plaintext there).
	if !j.created {
		v, err := f.openVaultIfExists(ctx, p)
		if err != nil {
			return err
		}
		j.v = v
	}
	ov := p.Config.Overrides()
	public := f.approvedPublic(p, j.v, ov.Public)

	// Plan: which values move into the vault.
	var pl *vault.Payload
	if j.v != nil {
		pl = j.v.Payload()
	}
	plan, err := planInit(j.files, dotenv.Overrides{Secret: ov.Secret, Public: public}, pl)
	if err != nil {
		return err
	}
	j.items, j.final = plan.items, plan.final
	j.report = InitReport{ProjectID: p.ID(), Dir: p.Dir, Created: j.created, Files: plan.files}
	for _, d := range plan.differ {
		f.IO.Warnf("%s has different values in %s and %s. The vault holds one value per name and keeps the one from %s (the file loaded later); both files get its token, so the value in %s is not kept, and 'phantom unprotect' writes %s's value into both.", d.key, d.from, d.to, d.to, d.from, d.to)
	}
	return nil
}

// confirm shows the plan and, on a terminal without --yes, asks before
// anything is written.
func (j *initJob) confirm(ctx context.Context) error {
	f, o := j.f, j.o
	if !o.JSON {
		printInitPlan(f, j.report, j.created)
	}
	if len(j.items) > 0 && !o.Yes && f.IO.CanPrompt() {
		ans, err := f.IO.ReadLine(ctx, fmt.Sprintf("Move %d value(s) into the vault and replace them with placeholders? [Y/n] ", len(j.items)))
		if err != nil {
			return exitcode.New(exitcode.Failure, fmt.Errorf("init cancelled; nothing was changed"))
		}
		if a := strings.ToLower(strings.TrimSpace(ans)); a != "" && a != "y" && a != "yes" {
			return exitcode.New(exitcode.Failure, fmt.Errorf("init cancelled; nothing was changed"))
		}
		j.confirmed = true
	}
	return nil
}

// writeConfig is step 1: the config (no secrets in it), so the project id
// is durable first, and the --from files added to it.
func (j *initJob) writeConfig() error {
	p := j.p
	if j.created {
		if err := p.Config.Save(p.ConfigPath); err != nil {
			return fmt.Errorf("could not write %s: %w", ConfigFile, err)
		}
	}
	if !j.explicit {
		return nil
	}
	changed := false
	for _, path := range j.paths {
		if !contains(p.Config.EnvFiles(), path) {
			if err := p.Config.AddEnvFile(path); err != nil {
				return err
			}
			changed = true
			j.addedEnv = append(j.addedEnv, path)
		}
	}
	if changed {
		if err := p.Config.Save(p.ConfigPath); err != nil {
			return fmt.Errorf("could not update %s: %w", ConfigFile, err)
		}
	}
	return nil
}

// storeValues is step 2: the vault (created when missing) gets the values
// and their original text, encrypted; env files added with --from are
// approved when a person confirmed the plan.
func (j *initJob) storeValues(ctx context.Context) error {
	f, p := j.f, j.p
	if j.v == nil {
		v, err := f.OpenVault(ctx, p, true)
		if err != nil {
			return err
		}
		j.v = v
	}
	if j.confirmed && len(j.addedEnv) > 0 {
		// The person who confirmed the plan at a terminal chose these
		// files: exec may read them without a separate phantom trust.
		if err := f.approveEnvFiles(p, j.v, j.addedEnv); err != nil {
			return err
		}
	} else if len(j.addedEnv) > 0 {
		f.IO.Warnf("phantom exec reads %s only after a person approves it on a terminal: phantom trust", strings.Join(j.addedEnv, ", "))
	}
	j.tokens = map[string]string{}
	if len(j.items) > 0 {
		var events []audit.Event
		for _, name := range sortedKeys(j.final) {
			events = append(events, audit.Event{Op: "secret.add", Name: name, Detail: "init"})
		}
		err := j.v.Update(func(pl *vault.Payload) error {
			j.tokens = applyInit(pl, j.items, j.final, f.Now().UTC())
			return nil
		}, f.recorder(p, events...))
		if err != nil {
			return vaultError(err)
		}
	}
	return nil
}

// rewriteEnvFiles is step 3: placeholders replace values, nothing else
// changes.
func (j *initJob) rewriteEnvFiles() error {
	setInitTokens(j.items, j.tokens)
	for _, e := range j.files {
		if err := e.save(); err != nil {
			return fmt.Errorf("%w\nThe values are already in the vault; run 'phantom init' again to finish.", err)
		}
	}
	return nil
}

// updateGitignore is step 4: .gitignore gets the env files; one that git
// already tracks stays committed, so it is named with how to untrack it.
func (j *initJob) updateGitignore(ctx context.Context) {
	f, p := j.f, j.p
	added, err := config.EnsureGitignore(p.Dir, []string{".env", ".env.*", "!.env.example"})
	if err != nil {
		f.IO.Warnf("could not update .gitignore: %v", err)
	}
	j.gitignoreAdded = added
	j.report.GitignoreAdds = append([]string{}, added...)

	// .gitignore does not untrack a file git already tracks.
	var withSecrets []string
	for _, fr := range j.report.Files {
		if len(fr.Protected)+len(fr.Already) > 0 {
			withSecrets = append(withSecrets, fr.Path)
		}
	}
	for _, rel := range trackedByGit(ctx, f, p.Dir, withSecrets) {
		f.IO.Warnf("%s is tracked by git: it is still committed, and the repository's history holds its real values (the placeholders only reach the next commit). Stop tracking it with:\n  git rm --cached %s && git commit -m %s\nthen rotate its keys at each provider: anyone with a copy of the history has the old values.", rel, shellQuoteArg(rel), shellQuoteArg("Stop tracking "+rel))
	}
}

// printResult is the --json report, or what init did and what to commit.
func (j *initJob) printResult() error {
	f := j.f
	if j.o.JSON {
		return jsonout.Write(f.IO.Out, j.report)
	}
	n := len(j.final)
	switch {
	case n > 0:
		f.IO.Successf("Protected %d secret(s); the env files now hold phm_ placeholders", n)
	case len(j.files) == 0:
		f.IO.Infof("No env file found (looked for %s). Add secrets with: phantom add NAME", strings.Join(j.paths, ", "))
	default:
		f.IO.Successf("Nothing new to protect")
	}
	if j.created {
		f.IO.Infof("Created %s — commit it; it holds no secrets.", ConfigFile)
	}
	if len(j.gitignoreAdded) > 0 {
		f.IO.Infof("Added to .gitignore: %s", strings.Join(j.gitignoreAdded, " "))
	}
	return nil
}

func printInitPlan(f *Factory, r InitReport, created bool) {
	t := f.IO.Theme()
	for _, fr := range r.Files {
		f.IO.Infof("%s", t.Accent(fr.Path))
		for _, k := range fr.Protected {
			f.IO.Infof("  %s %s", t.OK("protect"), k)
		}
		for _, k := range fr.Already {
			f.IO.Infof("  %s %s", t.Dim("already"), k)
		}
		for _, k := range fr.Public {
			f.IO.Infof("  %s %s", t.Dim("config "), k)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// errCancelled is returned when the user declines a confirmation.
var errCancelled = errors.New("cancelled; nothing was changed")

// promptErr turns a prompt failure into a clear error.
func promptErr(err error, what string) error {
	switch {
	case errors.Is(err, term.ErrNoTTY):
		return exitcode.Errorf(exitcode.Refused, "%s needs an interactive terminal", what)
	case errors.Is(err, term.ErrCancelled):
		return exitcode.New(exitcode.Failure, errCancelled)
	}
	return err
}

// trackedByGit returns the files among rels (relative to dir) that git
// tracks in dir's repository; none when git is missing or dir is not in a
// repository. git gets a bare environment (no PHANTOM_* variable, so no
// passphrase, reaches it) and core.fsmonitor off, so a repository's config
// cannot make it run a program of the repository's choosing.
func trackedByGit(ctx context.Context, f *Factory, dir string, rels []string) []string {
	if len(rels) == 0 {
		return nil
	}
	git, err := exec.LookPath("git")
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	args := append([]string{"-c", "core.fsmonitor=false", "--literal-pathspecs", "ls-files", "-z", "--cached", "--"}, rels...)
	cmd := exec.CommandContext(ctx, git, args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + f.Env("PATH"), "HOME=" + f.Env("HOME"), "LC_ALL=C", "GIT_TERMINAL_PROMPT=0", "GIT_OPTIONAL_LOCKS=0"}
	out, err := cmd.Output()
	if err != nil {
		return nil
	}
	var tracked []string
	for _, rel := range strings.Split(string(out), "\x00") {
		if rel != "" {
			tracked = append(tracked, filepath.FromSlash(rel))
		}
	}
	return tracked
}
