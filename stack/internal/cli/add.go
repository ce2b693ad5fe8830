package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"phantomstack.dev/providers"
	"phantomstack.dev/shared/exitcode"
	"phantomstack.dev/shared/interrupt"
	"phantomstack.dev/shared/jsonout"
	"phantomstack.dev/shared/suggest"
	"phantomstack.dev/shared/term"
	"phantomstack.dev/stack/internal/config"
	"phantomstack.dev/stack/internal/phantomctl"
	"phantomstack.dev/stack/internal/pipeline"
)

// AddOptions configures `stack add`.
type AddOptions struct {
	F       *Factory
	Service string
	Use     string
	Yes     bool
	JSON    bool
	NoMCP   bool // do not touch .mcp.json
	// Provider options: --org (Supabase), --team (Vercel), --region,
	// --profile (AWS), --no-browser (OAuth over SSH).
	Org, Team, Region, Profile string
	NoBrowser                  bool
	DryRun                     bool // print the plan; change nothing, call no provider
	Force                      bool // replace a .mcp.json entry of the same name that stack did not write
	NoVerify                   bool // API-key services: store the key without checking it upstream
}

// AddResult is `stack add --json`: names only, never values.
type AddResult struct {
	Service  string   `json:"service"`
	Provider string   `json:"provider"`
	Resource string   `json:"resource_id"`
	Secrets  []string `json:"secrets"`
	EnvFile  string   `json:"env_file"`
	MCP      *AddMCP  `json:"mcp,omitempty"`
	// Unverified are the slots stored without a check (--no-verify).
	Unverified []string `json:"unverified,omitempty"`
}

func newAddCmd(f *Factory, runF func(*AddOptions) error) *cobra.Command {
	o := &AddOptions{F: f}
	cmd := &cobra.Command{
		Use:   "add [SERVICE] [--use ID] [--yes]",
		Short: "Provision a service and hand its keys to phantom",
		Long: `Sign in to SERVICE's provider, create (or with --use, attach) the upstream
resource, and store every key it yields in phantom's vault (values travel to
phantom on stdin only). .stack.toml records the service and its slot names;
.env.local gets the phm_ tokens for them (other lines untouched).

For API-key services (OpenAI, Anthropic, Stripe, Resend, GitHub) the key comes
from its usual environment variable (OPENAI_API_KEY, ...) when set, else from a
masked paste on the terminal, and is checked against the provider's read-only
endpoint before it is stored. When the provider cannot be reached, --no-verify
stores it unchecked: .stack.local.toml records it as unverified and
'stack doctor' checks it later.

For providers with an official MCP server stack also adds it to the project's
.mcp.json: the provider's hosted server where your MCP client signs in with
OAuth (Stripe, Supabase), else the local server run as "phantom exec
--env-file .env.local -- <server>" (GitHub); the file holds no credential.
Other servers and keys in .mcp.json are kept; an entry of the same name that
stack did not write is replaced only with --force. --no-mcp skips this.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageErrorf("%q takes one SERVICE (or none: every declared service not set up yet), got %d", cmd.CommandPath(), len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.Service = args[0]
			}
			if runF != nil {
				return runF(o)
			}
			if o.Service == "" {
				return addAllRun(cmd.Context(), o)
			}
			return addRun(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.Use, "use", "", "attach to the existing resource ID instead of creating one")
	cmd.Flags().BoolVarP(&o.Yes, "yes", "y", false, "do not ask for confirmation")
	jsonout.AddFlag(cmd, &o.JSON, "print the result as JSON")
	cmd.Flags().BoolVar(&o.NoMCP, "no-mcp", false, "do not add the provider's MCP server to .mcp.json")
	cmd.Flags().BoolVar(&o.Force, "force", false, "replace a .mcp.json entry of the same name that stack did not write")
	cmd.Flags().BoolVar(&o.NoVerify, "no-verify", false, "API-key services: store the key without checking it with the provider (recorded as unverified; stack doctor checks it later)")
	cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, "print what stack add would do, and do nothing: no sign-in, no network, no vault write")
	cmd.Flags().StringVar(&o.Org, "org", "", "Supabase: the organization (id or slug) to create the project in")
	cmd.Flags().StringVar(&o.Team, "team", "", "Vercel: the team (id or slug) to create the project in")
	cmd.Flags().StringVar(&o.Region, "region", "", "the region for a new resource (provider default otherwise)")
	cmd.Flags().StringVar(&o.Profile, "profile", "", "AWS: the profile of the bootstrap credentials")
	cmd.Flags().BoolVar(&o.NoBrowser, "no-browser", false, "sign in without opening a browser: open the printed link anywhere, paste the address it lands on (SSH sessions)")
	return cmd
}

func addRun(ctx context.Context, o *AddOptions) error {
	r, err := addOne(ctx, o)
	if err != nil {
		return err
	}
	if r != nil && !o.DryRun {
		o.F.approveAfterAdd(ctx, o.JSON, r.Provider)
	}
	if o.JSON {
		return writeJSON(o.F, r)
	}
	return nil
}

// addAllRun is `stack add` without a SERVICE: every service .stack.toml
// declares (a template's, a teammate's) that is not set up in this checkout,
// one after the other, with one summary at the end. A failure rolls back
// that service only and the next one still runs.
func addAllRun(ctx context.Context, o *AddOptions) error {
	f := o.F
	c, err := f.loadConfig()
	if err != nil {
		return err
	}
	pc, err := f.phantom(ctx)
	if err != nil {
		return err
	}
	inVault := map[string]bool{}
	if es, err := pc.List(ctx); err == nil {
		for _, e := range es {
			inVault[e.Name] = true
		}
	}
	if o.Use != "" {
		return usageErrorf("--use needs a SERVICE: stack add SERVICE --use ID")
	}
	var todo []string
	for _, n := range c.Names() {
		s := c.Services[n]
		missing := false
		for _, slot := range s.Secrets {
			missing = missing || !inVault[slot]
		}
		if missing || len(s.Secrets) == 0 {
			todo = append(todo, n)
		}
	}
	if o.DryRun {
		return addAllPlan(o, c, todo)
	}
	results := []AddResult{}
	var failed []string
	for _, n := range todo {
		one := *o
		one.Service, one.JSON = n, false
		r, err := addOne(ctx, &one)
		if err != nil {
			if ctx.Err() != nil {
				// Ctrl-C stops the whole run, not just this service.
				return err
			}
			f.IO.Warnf("%s: %v", n, err)
			failed = append(failed, n)
			continue
		}
		results = append(results, *r)
	}
	if len(results) > 0 && !o.DryRun {
		var provs []string
		for _, r := range results {
			provs = append(provs, r.Provider)
		}
		f.approveAfterAdd(ctx, o.JSON, provs...)
	}
	if o.JSON {
		if err := writeJSON(f, results); err != nil {
			return err
		}
	}
	switch {
	case len(todo) == 0:
		f.IO.Infof("Every service in %s is set up already.", config.FileName)
	case len(failed) > 0:
		return exitcode.Errorf(exitcode.Failure, "%d of %d service(s) set up; failed: %s (run stack add SERVICE for each to see why)", len(results), len(todo), strings.Join(failed, ", "))
	default:
		f.IO.Successf("%d service(s) set up: %s", len(results), strings.Join(todo, ", "))
	}
	return nil
}

// addOne sets up one service: plan (or resume), sign in, get the project's
// vault ready, then the journaled pipeline (provision, which includes
// waiting for the resource to be ready; hand its keys to phantom; write
// .env.local, .mcp.json and .stack.toml), and the report. ctx is the
// command's: Ctrl-C cancels it, and the pipeline then rolls back what this
// run created. The route approval that follows is addRun's.
func addOne(ctx context.Context, o *AddOptions) (*AddResult, error) {
	a, err := planAdd(ctx, o)
	if a == nil || err != nil {
		return nil, err // a dry run ends here too, with a nil error
	}
	if err := a.signIn(ctx); err != nil {
		return nil, err
	}
	defer a.cred.Clear()
	defer func() { a.mat.Clear() }()
	if err := a.prepareVault(ctx); err != nil {
		return nil, err
	}
	out, err := a.runPipeline(ctx)
	if err != nil {
		return nil, err
	}
	return a.report(out), nil
}

// addJob is one stack add SERVICE in progress: what planAdd found, and what
// each step hands to the next.
type addJob struct {
	f        *Factory
	o        *AddOptions
	c        *config.Config
	pc       *phantomctl.Client
	p        providers.Provider
	info     providers.Info
	journals config.JournalStore
	pending  *pipeline.Journal // an interrupted add of this service, resumed
	mcp      *mcpPlan          // nil: no MCP server to write
	env      providers.Env
	opts     map[string]string // provider flags (the journal's on resume)

	// signIn
	cred *providers.Credential
	// prepareVault: the slots in the vault before this add
	inVault map[string]bool
	// provision
	res providers.Resource
	// storeKeys
	mat        *providers.Materialized
	secrets    []string          // secret slots stored in phantom
	configVals []providers.Value // non-secret values, for .env.local
	loginSlots []string          // stack's own sign-in, stored as deny
	// writeFiles
	envBackup *fileBackup
	mcpOut    *AddMCP
}

// planAdd checks everything that needs no sign-in and no write: the
// service is known, its flags fit, a pending journal is resumed with its
// flags, a set-up service is not provisioned twice, .mcp.json is readable.
// A dry run prints the plan and returns a nil job.
func planAdd(ctx context.Context, o *AddOptions) (*addJob, error) {
	f := o.F
	c, err := f.loadConfig()
	if err != nil {
		return nil, err
	}
	pc, err := f.phantom(ctx)
	if err != nil {
		return nil, err
	}
	p, err := f.Providers.Get(o.Service)
	if err != nil {
		if s := suggest.Nearest(o.Service, f.Providers.Names()); s != "" {
			return nil, exitcode.Errorf(exitcode.Failure, "unknown service %q; did you mean %q? `stack providers` lists what this build can set up", o.Service, s)
		}
		return nil, exitcode.Errorf(exitcode.Failure, "unknown service %q; `stack providers` lists what this build can set up", o.Service)
	}
	info := p.Info()
	if o.NoMCP {
		info.MCP = nil
	}
	if o.NoVerify && info.Auth != providers.AuthAPIKey {
		return nil, usageErrorf("--no-verify is for API-key services (stack providers lists them): %s's keys come from its API, which stack has to reach anyway", info.DisplayName)
	}
	journals := config.JournalStore{C: c}
	pending, err := journals.Load(o.Service)
	if err != nil {
		return nil, exitcode.New(exitcode.Failure, err)
	}
	if o.DryRun {
		return nil, addPlan(o, c, info, pending)
	}
	// A service that already owns an upstream resource is not provisioned a
	// second time by accident: refreshing its keys is an explicit --use.
	if old := c.Services[o.Service]; old != nil && old.ResourceID != "" && pending == nil && o.Use == "" && info.Auth != providers.AuthAPIKey {
		return nil, exitcode.Errorf(exitcode.Failure, "%s is already set up (resource %s).\nTo fetch its keys again: stack add %s --use %s\nTo start over: stack remove %s, then stack add %s",
			o.Service, old.ResourceID, o.Service, old.ResourceID, o.Service, o.Service)
	}
	// Read .mcp.json before anything is stored: a broken file or a foreign
	// entry stops the add with nothing changed.
	mcp, err := planMCP(c, o.Service, info, o.Force)
	if err != nil {
		return nil, err
	}
	opts := o.providerOptions()
	if pending != nil {
		if err := resumeOptions(opts, pending.Options, o.Service); err != nil {
			return nil, err
		}
	}
	return &addJob{f: f, o: o, c: c, pc: pc, p: p, info: info, journals: journals, pending: pending, mcp: mcp,
		env: f.providerEnv(ctx), opts: opts}, nil
}

// signIn gets a credential the provider accepts (env var, OAuth, or a
// masked paste). Nothing has been written yet whatever happens.
func (a *addJob) signIn(ctx context.Context) error {
	cred, err := a.p.Login(ctx, a.env, providers.LoginRequest{Options: a.opts})
	if err != nil {
		if ctx.Err() != nil || errors.Is(err, term.ErrInterrupted) || errors.Is(err, context.Canceled) {
			// Ctrl-C at the masked prompt: nothing has been stored yet.
			return exitcode.Errorf(exitcode.Interrupted, "%s; nothing was stored and %s was not changed", interrupt.By(ctx), config.FileName)
		}
		if errors.Is(err, providers.ErrAuthRequired) {
			return exitcode.New(exitNeedsLogin, err)
		}
		return exitcode.New(exitcode.Failure, err)
	}
	a.cred = cred
	return nil
}

// prepareVault gives the project a phantom vault, only now that the
// provider accepted the credential (a rejected key leaves the directory
// untouched), and notes which slots it held before this add.
func (a *addJob) prepareVault(ctx context.Context) error {
	if err := a.pc.EnsureInit(ctx); err != nil {
		return phantomErr(err)
	}
	a.inVault = map[string]bool{}
	if es, err := a.pc.List(ctx); err == nil {
		for _, e := range es {
			a.inVault[e.Name] = true
		}
	}
	return nil
}

// runPipeline runs the journaled steps (stack/internal/pipeline): a new
// add or the resume of an interrupted one, rolled back on failure.
func (a *addJob) runPipeline(ctx context.Context) (pipeline.Outcome, error) {
	o := a.o
	name := ""
	if a.pending != nil {
		name = a.pending.Name
		a.f.IO.Infof("Resuming an interrupted stack add %s (it got as far as %q).", o.Service, a.pending.Phase)
	} else {
		name = resourceName(a.c, o.Service)
	}
	steps := pipeline.Steps{
		Provision:   a.provision,
		Store:       a.storeKeys,
		Write:       a.writeFiles,
		Unwrite:     a.unwriteFiles,
		Unstore:     func(ctx context.Context, slot string) error { return a.pc.Remove(ctx, slot, envLocal) },
		Deprovision: a.deprovision,
		After:       addTestHook(a.f),
	}
	out, err := pipeline.Run(ctx, a.journals, steps, pipeline.Request{Service: o.Service, Provider: a.info.Name, UseID: o.Use, Name: name, Options: journalOptions(a.opts)}, nil)
	if err != nil {
		if ctx.Err() != nil {
			return out, exitcode.New(exitcode.Interrupted, interruptedAddError(ctx, o.Service, err))
		}
		return out, exitcode.New(exitcode.Failure, err)
	}
	return out, nil
}

// provision creates (or attaches to) the resource and waits until it is
// ready; it does not fetch the keys, so the resource's id reaches the
// journal first and a failure while fetching them still deletes it.
func (a *addJob) provision(ctx context.Context, useID, name string, owned bool) (pipeline.Resource, error) {
	f, info := a.f, a.info
	err := f.IO.RunTask(ctx, term.Task{Title: "Setting up " + info.DisplayName, Next: "fetch its keys and store them in phantom"}, func(ctx context.Context, pr term.Progress) error {
		env := a.env
		env.Progress = statusTestHook(f, pr.Status) // the provider's status changes (Supabase's wait) reach the spinner
		env.Prompt = withPause(env.Prompt, pr)
		var since time.Time
		if a.pending != nil {
			since = a.pending.Started
		}
		r, err := a.p.Provision(ctx, env, a.cred, providers.ProvisionRequest{UseID: useID, Name: name, Region: a.opts["region"], Owned: owned, ResumedSince: since, Options: a.opts})
		a.res = r // on failure too: a resource this add made or adopted comes back for the rollback
		if err != nil {
			return fmt.Errorf("provisioning %s: %w", info.DisplayName, err)
		}
		return nil
	})
	return pipeline.Resource{ID: a.res.ID, Region: a.res.Region, Meta: a.res.Meta}, err
}

// storeKeys fetches the resource's keys and hands each secret to phantom
// (on stdin), then stack's own sign-in as deny-policy slots. stored journals
// each slot this add put in the vault, for the rollback.
func (a *addJob) storeKeys(ctx context.Context, pr pipeline.Resource, stored func(string) error) error {
	if a.res.ID == "" { // resumed past Provision in an earlier run
		a.res.ID, a.res.Region, a.res.Meta = pr.ID, pr.Region, pr.Meta
	}
	if err := a.fetchKeys(ctx); err != nil {
		return err
	}
	secretSlot := map[string]bool{}
	slotPolicy := map[string]string{}
	for _, sl := range a.info.Slots {
		secretSlot[sl.Name] = sl.Secret
		slotPolicy[sl.Name] = sl.Policy
	}
	put := func(slot string, value []byte, policy string) error {
		var err error
		if policy != "" {
			err = a.pc.AddPolicy(ctx, slot, value, policy)
		} else {
			err = a.pc.Add(ctx, slot, value, "")
		}
		if err != nil {
			return phantomErr(err)
		}
		// A slot that was in the vault before this add keeps its new
		// value on rollback: removing it would lose the only copy.
		if !a.inVault[slot] {
			return stored(slot)
		}
		return nil
	}
	for _, v := range a.mat.Values {
		if !secretSlot[v.Slot] {
			a.configVals = append(a.configVals, v)
			continue
		}
		// phantom picks the policy (the user's .phantom.toml, else its
		// default); stack only checks it below and says so when it
		// differs from what the provider asks for.
		if err := put(v.Slot, v.Value, ""); err != nil {
			return err
		}
		a.secrets = append(a.secrets, v.Slot)
	}
	a.f.warnPolicyMismatch(ctx, a.pc, a.secrets, slotPolicy)
	// stack's own sign-in (an OAuth access and refresh token), when it is
	// not one of the service's slots: deny, so no app run under phantom
	// exec ever receives it.
	for _, l := range []struct {
		slot  string
		value []byte
	}{{a.cred.Slot, a.cred.Value}, {a.cred.RefreshSlot, a.cred.RefreshToken}} {
		if l.slot == "" || len(l.value) == 0 {
			continue
		}
		if _, isSlot := secretSlot[l.slot]; isSlot {
			continue
		}
		if err := put(l.slot, l.value, providers.PolicyDeny); err != nil {
			return err
		}
		a.loginSlots = append(a.loginSlots, l.slot)
	}
	return nil
}

// fetchKeys asks the provider for the ready resource's keys (a.mat).
func (a *addJob) fetchKeys(ctx context.Context) error {
	info := a.info
	return a.f.IO.RunTask(ctx, term.Task{Title: "Fetching " + info.DisplayName + "'s keys"}, func(ctx context.Context, tp term.Progress) error {
		env := a.env
		env.Progress = tp.Status
		env.Prompt = withPause(env.Prompt, tp)
		m, err := a.p.Materialize(ctx, env, a.cred, a.res)
		if err != nil {
			return fmt.Errorf("fetching %s's keys: %w", info.DisplayName, err)
		}
		a.mat = m
		return nil
	})
}

// writeFiles writes the project files, keeping .env.local's bytes for the
// rollback: the tokens (phantom sync) and non-secret values into
// .env.local, the MCP server into .mcp.json, the service into .stack.toml.
func (a *addJob) writeFiles(ctx context.Context, _ pipeline.Resource) error {
	o, c, info, res := a.o, a.c, a.info, a.res
	b, err := backupFile(c.Dir, envLocal)
	if err != nil {
		return err
	}
	a.envBackup = b
	if err := a.pc.Sync(ctx, envLocal, a.secrets...); err != nil {
		return phantomErr(err)
	}
	if err := writeConfigValues(c.Dir, envLocal, a.configVals); err != nil {
		return err
	}
	svc := &config.Service{Name: o.Service, Provider: info.Name, Secrets: a.secrets, Config: valueSlots(a.configVals), Login: a.loginSlots,
		ResourceID: res.ID, Region: res.Region, Meta: res.Meta, CreatedAt: time.Now(), CreatedBy: "stack add"}
	if o.NoVerify {
		svc.Unverified = a.secrets
	}
	if old := c.Services[o.Service]; old != nil {
		if !old.CreatedAt.IsZero() {
			svc.CreatedAt = old.CreatedAt
		}
		svc.MCP = old.MCP // kept with --no-mcp
	}
	if mcp := a.mcp; mcp != nil {
		mcp.resolve(res.ID)
		if err := mcp.apply(); err != nil {
			return err
		}
		svc.MCP = mcp.spec.Name
		a.mcpOut = &AddMCP{Name: mcp.spec.Name, File: ".mcp.json", Status: mcp.status, NeedsInject: needsInject(ctx, a.f, mcp.spec, info)}
	}
	c.SetService(svc)
	return a.f.saveConfig(c)
}

// unwriteFiles puts .mcp.json and .env.local back as they were.
func (a *addJob) unwriteFiles(ctx context.Context) error {
	var errs []error
	if a.mcp != nil {
		errs = append(errs, a.mcp.undo())
	}
	if a.envBackup != nil {
		errs = append(errs, a.envBackup.restore())
	}
	return errors.Join(errs...)
}

// deprovision deletes the resource this add created, for the rollback.
func (a *addJob) deprovision(ctx context.Context, r pipeline.Resource) error {
	rr := a.res
	rr.ID, rr.Region = r.ID, r.Region
	if r.Meta != nil {
		// The journal's: right even when this run's Provision failed and
		// res is empty (a resumed add's team scope).
		rr.Meta = r.Meta
	}
	return a.p.Deprovision(ctx, a.env, a.cred, rr)
}

// report is the result, and with no --json what was done and what next.
func (a *addJob) report(out pipeline.Outcome) *AddResult {
	o, f, info := a.o, a.f, a.info
	result := &AddResult{Service: o.Service, Provider: info.Name, Resource: out.Resource.ID, Secrets: a.secrets, EnvFile: envLocal, MCP: a.mcpOut}
	if o.NoVerify {
		result.Unverified = a.secrets
	}
	if o.JSON {
		return result
	}
	f.IO.Successf("%s is set up: %s in phantom's vault, tokens in %s.", info.DisplayName, strings.Join(a.secrets, ", "), envLocal)
	if o.NoVerify {
		f.IO.Warnf("%s was stored without a check (--no-verify). Once %s is reachable, check it with: stack doctor", strings.Join(a.secrets, ", "), info.DisplayName)
	}
	if m := a.mcpOut; m != nil {
		switch m.Status {
		case mcpWrite:
			if info.MCP != nil && info.MCP.URL != "" {
				f.IO.Infof("MCP server %q added to .mcp.json: %s's hosted server for this project; your MCP client asks you to sign in to it.", m.Name, info.DisplayName)
			} else {
				f.IO.Infof("MCP server %q added to .mcp.json (runs under phantom exec).", m.Name)
			}
		case mcpKept:
			f.infoKept(info, a.mcp)
		}
		f.warnNeedsInject(info, m.NeedsInject)
	}
	f.IO.Infof("Run your app with: stack exec -- <command>")
	return result
}

// interruptedAddError is the one line an interrupted add ends with: what
// the rollback undid, or what it left and that the journal lets the same
// command resume (docs/stack.md, "How stack add works").
func interruptedAddError(ctx context.Context, service string, err error) error {
	var re *pipeline.RollbackError
	if !errors.As(err, &re) {
		return fmt.Errorf("%s; %v", interrupt.By(ctx), err)
	}
	var b strings.Builder
	b.WriteString(interrupt.By(ctx))
	if len(re.Undone) > 0 {
		fmt.Fprintf(&b, "; rolled back: %s", strings.Join(re.Undone, ", "))
	}
	switch {
	case len(re.Leftover) > 0:
		fmt.Fprintf(&b, "; left: %s; the journal keeps them: run stack add %s again to resume", strings.Join(re.Leftover, ", "), service)
	case re.Kept != "":
		fmt.Fprintf(&b, "; nothing was added, and the journal is kept (%s): run stack add %s again to resume", re.Kept, service)
	default:
		b.WriteString("; nothing was added")
	}
	return errors.New(b.String())
}

// providerOptions are the provider-specific flags, by name without dashes
// (providers.LoginRequest.Options); unset flags are left out.
func (o *AddOptions) providerOptions() map[string]string {
	m := map[string]string{}
	for k, v := range map[string]string{"org": o.Org, "team": o.Team, "region": o.Region, "profile": o.Profile} {
		if v != "" {
			m[k] = v
		}
	}
	if o.NoBrowser {
		m["no-browser"] = "true"
	}
	if o.NoVerify {
		m[providers.OptionNoVerify] = "true"
	}
	return m
}

// resumeOptions gives a resumed add the provider flags of the interrupted
// one (kept in its journal), so it looks for the resource where that run
// made it: a Vercel team's project is not found from the personal account.
// A flag given again with another value is refused before anything runs.
func resumeOptions(opts, journaled map[string]string, service string) error {
	for k, v := range journaled {
		if cur, ok := opts[k]; ok && cur != v {
			return exitcode.Errorf(exitcode.Failure, "an interrupted stack add %s is pending with --%s %s, not %s; run it again with --%s %s (or without --%s) to resume, or stack remove %s first",
				service, k, v, cur, k, v, k, service)
		}
		opts[k] = v
	}
	return nil
}

// journalOptions are the provider flags a journal keeps: those that say
// where the resource is, not how to sign in (--no-browser, --no-verify).
func journalOptions(opts map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range opts {
		if k != "no-browser" && k != providers.OptionNoVerify {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// warnPolicyMismatch tells the user when phantom's policy for a slot is not
// the one the provider asks for (a DATABASE_URL must be injected: Postgres
// does not go through an HTTP proxy), with the .phantom.toml lines that fix
// it. stack never loosens a policy itself.
func (f *Factory) warnPolicyMismatch(ctx context.Context, pc *phantomctl.Client, slots []string, want map[string]string) {
	es, err := pc.List(ctx)
	if err != nil {
		return
	}
	have := map[string]string{}
	for _, e := range es {
		have[e.Name] = e.Policy
	}
	for _, s := range slots {
		// Only a need is worth a warning: inject (the value must reach the
		// program, e.g. a Postgres URL) or deny. "proxy" is a preference a
		// user may have overridden on purpose (an MCP server that cannot
		// use the proxy).
		if w := want[s]; (w == providers.PolicyInject || w == providers.PolicyDeny) && have[s] != "" && have[s] != w {
			f.IO.Warnf("phantom's policy for %s is %q; this provider needs %q. To change it, put in .phantom.toml:\n  [secrets.%s]\n  policy = %q", s, have[s], w, s, w)
		}
	}
}

// AddPlan is `stack add --dry-run --json`.
type AddPlan struct {
	Service  string     `json:"service"`
	Provider string     `json:"provider"`
	Resume   string     `json:"resume_from,omitempty"` // the journal phase an interrupted add reached
	Steps    []string   `json:"steps"`
	Slots    []PlanSlot `json:"slots"`
	MCP      string     `json:"mcp,omitempty"`
}

// PlanSlot is one slot the add would fill.
type PlanSlot struct {
	Name   string `json:"name"`
	Secret bool   `json:"secret"`
	Policy string `json:"policy,omitempty"`
}

// addPlan prints what an add would do, from the provider's description
// alone: nothing is signed in to, created, stored or written.
func addPlan(o *AddOptions, c *config.Config, info providers.Info, pending *pipeline.Journal) error {
	plan := buildPlan(o, info, pending)
	if o.JSON {
		return writeJSON(o.F, plan)
	}
	printPlan(o.F, plan, info)
	o.F.IO.Infof("Dry run: nothing was signed in to, created, stored or written.")
	return nil
}

// addAllPlan is `stack add --dry-run` without a SERVICE: the plan of each
// service the real run would set up (todo), one after the other; with
// --json, one list.
func addAllPlan(o *AddOptions, c *config.Config, todo []string) error {
	f := o.F
	plans := []AddPlan{}
	var failed []string
	for _, n := range todo {
		p, err := f.Providers.Get(n)
		if err != nil {
			f.IO.Warnf("%s: unknown service; `stack providers` lists what this build can set up", n)
			failed = append(failed, n)
			continue
		}
		info := p.Info()
		if o.NoMCP {
			info.MCP = nil
		}
		pending, err := config.JournalStore{C: c}.Load(n)
		if err != nil {
			f.IO.Warnf("%s: %v", n, err)
			failed = append(failed, n)
			continue
		}
		one := *o
		one.Service = n
		plan := buildPlan(&one, info, pending)
		if o.JSON {
			plans = append(plans, plan)
		} else {
			printPlan(f, plan, info)
		}
	}
	if o.JSON {
		if err := writeJSON(f, plans); err != nil {
			return err
		}
	}
	switch {
	case len(todo) == 0:
		f.IO.Infof("Every service in %s is set up already; stack add would do nothing.", config.FileName)
	case len(failed) > 0:
		return exitcode.Errorf(exitcode.Failure, "dry run: %d of %d service(s) cannot be planned: %s", len(failed), len(todo), strings.Join(failed, ", "))
	default:
		f.IO.Infof("Dry run: nothing was signed in to, created, stored or written.")
	}
	return nil
}

// buildPlan describes an add of o.Service from the provider's description.
func buildPlan(o *AddOptions, info providers.Info, pending *pipeline.Journal) AddPlan {
	plan := AddPlan{Service: o.Service, Provider: info.Name, Slots: []PlanSlot{}}
	if pending != nil {
		plan.Resume = string(pending.Phase)
	}
	signIn := map[providers.AuthKind]string{
		providers.AuthAPIKey:    "read the key from its environment variable, or ask for it with a masked prompt, and check it with the provider",
		providers.AuthToken:     "read the token from its environment variable, or ask for it with a masked prompt",
		providers.AuthOAuthPKCE: "sign in: the provider's token variable, else OAuth in your browser (PKCE, 127.0.0.1 redirect), else a masked paste",
	}[info.Auth]
	if signIn == "" {
		signIn = "sign in with your " + info.DisplayName + " credentials (" + string(info.Auth) + ")"
	}
	if o.NoVerify && info.Auth == providers.AuthAPIKey {
		signIn = "read the key from its environment variable, or ask for it with a masked prompt; do not check it (--no-verify: recorded as unverified)"
	}
	create := "create a new " + info.DisplayName + " resource"
	switch {
	case info.Auth == providers.AuthAPIKey:
		create = "nothing to create upstream (an API key service)"
	case o.Use != "":
		create = "attach to the existing resource " + o.Use
	case pending != nil && pending.ResourceID != "":
		create = "resume: attach to " + pending.ResourceID + ", created by the interrupted add"
	}
	var secrets, plain []string
	for _, sl := range info.Slots {
		plan.Slots = append(plan.Slots, PlanSlot{Name: sl.Name, Secret: sl.Secret, Policy: sl.Policy})
		if sl.Secret {
			secrets = append(secrets, sl.Name)
		} else {
			plain = append(plain, sl.Name)
		}
	}
	plan.Steps = []string{
		signIn,
		create,
		"store " + strings.Join(secrets, ", ") + " in phantom's vault (values on stdin only)",
	}
	write := "write their phm tokens"
	if len(plain) > 0 {
		write += " and " + strings.Join(plain, ", ")
	}
	plan.Steps = append(plan.Steps, write+" into "+envLocal+", and the service into "+config.FileName)
	if info.MCP != nil {
		plan.MCP = info.MCP.Name
		if info.MCP.URL != "" {
			plan.Steps = append(plan.Steps, "add "+info.DisplayName+"'s hosted MCP server for the resource to .mcp.json (your MCP client signs in to it; no credential on this machine)")
		} else {
			plan.Steps = append(plan.Steps, "add the "+info.MCP.Name+" MCP server to .mcp.json, run under phantom exec")
		}
	}
	return plan
}

func printPlan(f *Factory, plan AddPlan, info providers.Info) {
	fmt.Fprintf(f.IO.Out, "stack add %s (%s) would:\n", plan.Service, info.DisplayName)
	for i, st := range plan.Steps {
		fmt.Fprintf(f.IO.Out, "  %d. %s\n", i+1, st)
	}
}
