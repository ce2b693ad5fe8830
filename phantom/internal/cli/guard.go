package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strings"

	"phantomstack.dev/phantom/internal/audit"
	"phantomstack.dev/phantom/internal/catalog"
	"phantomstack.dev/phantom/internal/config"
	"phantomstack.dev/phantom/internal/trust"
	"phantomstack.dev/phantom/internal/vault"
	"phantomstack.dev/shared/exitcode"
)

// The protection guard: .phantom.toml settings that hand out more than a
// human approved take effect only after `phantom trust` (trust.Baseline;
// docs/security.md). Without a stored approval the defaults are what is
// approved, so a committed config that loosens them needs one approval too.

// currentBaseline is what .phantom.toml asks for now: the effective policy
// of every vaulted secret (and of every name with an explicit policy), with
// routes the approved routes (their secrets default to proxy).
func currentBaseline(p *Project, pl *vault.Payload, routes []catalog.Route) trust.Baseline {
	b := trust.Baseline{Audit: p.Config.AuditMode(), Policies: map[string]string{}}
	for _, n := range policyNames(p, pl) {
		pol, explicit := p.Config.Policy(n)
		if !explicit {
			pol = routeDefaultPolicy(routes, n)
		}
		b.Policies[n] = pol
	}
	b.Public = p.Config.Overrides().Public
	for _, e := range p.Config.EnvFiles() {
		if !slices.Contains(config.DefaultEnvFiles(), e) {
			b.EnvFiles = append(b.EnvFiles, e)
		}
	}
	return b
}

// defaultBaseline is what is approved when nobody approved anything.
func defaultBaseline(p *Project, pl *vault.Payload, routes []catalog.Route) trust.Baseline {
	b := trust.Baseline{Audit: config.AuditOn, Policies: map[string]string{}}
	for _, n := range policyNames(p, pl) {
		b.Policies[n] = routeDefaultPolicy(routes, n)
	}
	return b
}

func policyNames(p *Project, pl *vault.Payload) []string {
	names := map[string]bool{}
	if pl != nil {
		for n := range pl.Secrets {
			names[n] = true
		}
	}
	for _, n := range p.Config.PolicyNames() {
		names[n] = true
	}
	return slices.Sorted(maps.Keys(names))
}

// guardState is the approved and the current baseline of a project.
type guardState struct {
	approved, current trust.Baseline
	weaker            []string
	// aws lists the [aws] settings that need an approval they lack (set by
	// pendingApprovals; exec checks them in planAWS).
	aws []string
}

func (f *Factory) guard(p *Project, pl *vault.Payload, routes []catalog.Route) (guardState, error) {
	approved, err := trust.ApprovedBaseline(pl, defaultBaseline(p, pl, routes))
	if err != nil {
		return guardState{}, exitcode.Errorf(exitcode.Refused, "%v", err)
	}
	cur := currentBaseline(p, pl, routes)
	return guardState{approved: approved, current: cur, weaker: trust.Weaker(approved, cur)}, nil
}

// refuseWeaker is exec's refusal while .phantom.toml loosens protection
// without an approval.
func refuseWeaker(g guardState) error {
	if len(g.weaker) == 0 {
		return nil
	}
	return exitcode.Errorf(exitcode.Refused, "%s hands out more than anyone approved on this machine, so nothing was run:\n  %s\nIf you made these changes, approve them on your terminal: phantom trust\nOtherwise undo them in %s.", ConfigFile, strings.Join(g.weaker, "\n  "), ConfigFile)
}

// foldTightening stores, without asking, what .phantom.toml tightened since
// the last approval (so loosening it again needs one), and the defaults of
// a vault that has no approved settings yet. It writes the vault only when
// that changes something.
func (f *Factory) foldTightening(p *Project, v *vault.Vault, routes []catalog.Route) error {
	pl := v.Payload()
	g, err := f.guard(p, pl, routes)
	if err != nil {
		return err
	}
	next := trust.Fold(g.approved, g.current)
	if pl.Approvals[trust.ConfigKey] != nil && next.Equal(g.approved) {
		return nil
	}
	return v.Update(func(pl *vault.Payload) error {
		trust.StoreBaseline(pl, f.Now(), next, "settings recorded (tightened or first seen)")
		return nil
	}, nil)
}

// effectiveAudit is the audit mode phantom applies: the config's, but never
// below the approved one, so lowering it in .phantom.toml cannot hide what
// a command does before someone approves it.
func effectiveAudit(mode string, pl *vault.Payload) string {
	a := pl.Approvals[trust.ConfigKey]
	if a == nil {
		return mode
	}
	approved, err := trust.ApprovedBaseline(pl, trust.Baseline{Audit: config.AuditOn})
	if err != nil {
		return config.AuditRequired
	}
	if trust.Weaker(approved, trust.Baseline{Audit: mode}) != nil {
		return approved.Audit
	}
	return mode
}

// guardEvent describes an approval of settings for the audit log.
func guardEvent(g guardState) audit.Event {
	return audit.Event{Op: "config.trust", Detail: fmt.Sprintf("approved: %s", strings.Join(g.weaker, "; "))}
}

// openVaultIfExists opens the project's vault when there is one (nil
// otherwise), without creating it.
func (f *Factory) openVaultIfExists(ctx context.Context, p *Project) (*vault.Vault, error) {
	opts, err := f.vaultOptions(ctx, p)
	if err != nil {
		return nil, err
	}
	path, err := vault.Path(opts)
	if err != nil {
		return nil, err
	}
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return f.OpenVault(ctx, p, false)
}

// approvedPublic returns the [classify] public patterns init may apply:
// those a person approved (none before anything was approved). It warns
// about the others.
func (f *Factory) approvedPublic(p *Project, v *vault.Vault, public []string) []string {
	var pl *vault.Payload
	if v != nil {
		pl = v.Payload()
	}
	approved, err := trust.ApprovedBaseline(pl, trust.Baseline{Audit: config.AuditOn})
	if err != nil {
		approved = trust.Baseline{}
	}
	var out, ignored []string
	for _, pat := range public {
		if slices.Contains(approved.Public, pat) {
			out = append(out, pat)
		} else {
			ignored = append(ignored, pat)
		}
	}
	if len(ignored) > 0 {
		f.IO.Warnf("[classify] public = %s in %s is not applied until a person approves it on a terminal (phantom trust): values it matches are protected like any other", strings.Join(ignored, ", "), ConfigFile)
	}
	return out
}

// approveEnvFiles records env files a person chose at a terminal as
// approved, with the rest of the approved settings unchanged.
func (f *Factory) approveEnvFiles(p *Project, v *vault.Vault, files []string) error {
	routes, _, err := f.projectRoutes(p, v.Payload())
	if err != nil {
		return err
	}
	g, err := f.guard(p, v.Payload(), routes)
	if err != nil {
		return err
	}
	next := trust.Fold(g.approved, g.current)
	for _, e := range files {
		if !slices.Contains(next.EnvFiles, e) {
			next.EnvFiles = append(next.EnvFiles, e)
		}
	}
	return v.Update(func(pl *vault.Payload) error {
		trust.StoreBaseline(pl, f.Now(), next, "env files chosen at phantom init on a terminal")
		return nil
	}, f.recorder(p, audit.Event{Op: "config.trust", Detail: withChain("env files chosen at phantom init on a terminal: " + strings.Join(files, ", "))}))
}
