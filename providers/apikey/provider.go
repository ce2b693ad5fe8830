package apikey

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"phantomstack.dev/providers"
	"phantomstack.dev/shared/token"
)

// maxPasteAttempts bounds the interactive paste loop.
const maxPasteAttempts = 3

// Provider adapts a Spec to providers.Provider.
//
// An API-key provider creates nothing upstream: Login obtains and verifies
// the key, Provision records which key (there is no resource to create),
// Materialize returns the key as the provider's one slot, Healthcheck
// re-runs the verification, and Deprovision leaves the key alone (stack did
// not mint it, so it does not revoke it).
type Provider struct{ spec Spec }

var _ providers.Provider = (*Provider)(nil)

// New returns the provider for s after checking s.
func New(s Spec) (*Provider, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &Provider{spec: s.clone()}, nil
}

// Register adds every catalog provider to r.
func Register(r *providers.Registry) error {
	for _, s := range catalog {
		p, err := New(s)
		if err != nil {
			return err
		}
		if err := r.Register(p); err != nil {
			return err
		}
	}
	return nil
}

// Spec returns a copy of the provider's catalog entry.
func (p *Provider) Spec() Spec { return p.spec.clone() }

// Info implements providers.Provider.
func (p *Provider) Info() providers.Info {
	return providers.Info{
		Name:        p.spec.Name,
		DisplayName: p.spec.DisplayName,
		Category:    p.spec.Category,
		Auth:        providers.AuthAPIKey,
		DocsURL:     p.spec.DocsURL,
		Slots:       slices.Clone(p.spec.Slots),
		MCP:         p.spec.MCP.Clone(),
	}
}

func (p *Provider) verify(ctx context.Context, env providers.Env, key []byte) providers.Health {
	return Verify(ctx, env.Client(), env.Lookup(p.spec.BaseURLEnv()), p.spec.Verify, key)
}

// Login implements providers.Provider: the cached key if the upstream still
// accepts it, else the slot's environment variable (e.g. OPENAI_API_KEY),
// else a masked paste on the terminal. With providers.OptionNoVerify a
// fresh key is taken without asking the provider (it is unreachable); only
// a phantom placeholder is still refused.
func (p *Provider) Login(ctx context.Context, env providers.Env, req providers.LoginRequest) (*providers.Credential, error) {
	slot := p.spec.Verify.Slot
	name := p.spec.DisplayName
	noVerify := req.Options[providers.OptionNoVerify] == "true"
	if c := req.Cached; c != nil && len(c.Value) > 0 {
		h := p.verify(ctx, env, c.Value)
		switch h.Status {
		case providers.StatusOK:
			return p.credential(c.Value), nil
		case providers.StatusInvalid:
			env.Printf("The stored %s key was rejected (%s); a new one is needed.", name, h.Detail)
		default:
			return nil, fmt.Errorf("%w: could not check the stored %s key: %s", providers.ErrUnreachable, name, h.Detail)
		}
	}

	if v := strings.TrimSpace(env.Lookup(slot)); v != "" {
		key := []byte(v)
		if err := p.accept(ctx, env, key, "the key in $"+slot, noVerify); err != nil {
			clear(key)
			return nil, err
		}
		return &providers.Credential{Slot: slot, Value: key}, nil
	}

	if !env.Interactive() {
		return nil, fmt.Errorf("%w: no %s key; set %s in the environment, or run in a terminal to paste one (create one at %s)",
			providers.ErrAuthRequired, name, slot, p.spec.DocsURL)
	}
	env.Printf("Create %s key at %s", providers.WithArticle(name), p.spec.DocsURL)
	var lastErr error
	for range maxPasteAttempts {
		raw, err := env.Prompt.ReadSecret(fmt.Sprintf("Paste your %s key (%s, input hidden): ", name, slot))
		if err != nil {
			return nil, err
		}
		key := bytes.TrimSpace(raw)
		if len(key) == 0 {
			clear(raw)
			return nil, fmt.Errorf("%w: no %s key entered", providers.ErrAuthRequired, name)
		}
		key = append([]byte(nil), key...)
		clear(raw)
		lastErr = p.accept(ctx, env, key, "that key", noVerify)
		if lastErr == nil {
			return &providers.Credential{Slot: slot, Value: key}, nil
		}
		clear(key)
		if !errors.Is(lastErr, providers.ErrAuthInvalid) {
			return nil, lastErr
		}
		env.Printf("%v", lastErr)
	}
	return nil, lastErr
}

// accept checks a freshly supplied key; noVerify skips the upstream check.
func (p *Provider) accept(ctx context.Context, env providers.Env, key []byte, what string, noVerify bool) error {
	name := p.spec.DisplayName
	if token.Is(string(key)) {
		return fmt.Errorf("%w: %s is a phantom placeholder (phm_…), not a real %s key", providers.ErrAuthInvalid, what, name)
	}
	if noVerify {
		env.Printf("Not checking %s with %s (--no-verify): it is stored as unverified; stack doctor checks it once %s is reachable.", what, name, name)
		return nil
	}
	switch h := p.verify(ctx, env, key); h.Status {
	case providers.StatusOK:
		return nil
	case providers.StatusInvalid, providers.StatusMissing:
		return fmt.Errorf("%w: %s rejected %s (%s)", providers.ErrAuthInvalid, name, what, h.Detail)
	case providers.StatusUnreachable:
		return fmt.Errorf("%w: could not check %s with %s: %s\nTo store it without the check: stack add %s --no-verify (it is recorded as unverified, and stack doctor checks it later)", providers.ErrUnreachable, what, name, h.Detail, p.spec.Name)
	default:
		return fmt.Errorf("could not check %s with %s: %s", what, name, h.Detail)
	}
}

func (p *Provider) credential(v []byte) *providers.Credential {
	return &providers.Credential{Slot: p.spec.Verify.Slot, Value: append([]byte(nil), v...)}
}

// Provision implements providers.Provider. There is nothing to create: the
// resource is the key itself, named by req.UseID or "default".
func (p *Provider) Provision(_ context.Context, _ providers.Env, _ *providers.Credential, req providers.ProvisionRequest) (providers.Resource, error) {
	if req.Region != "" {
		return providers.Resource{}, fmt.Errorf("%s keys have no region; leave the region out", p.spec.DisplayName)
	}
	id := req.UseID
	if id == "" {
		id = "default"
	}
	return providers.Resource{ID: id, DisplayName: p.spec.DisplayName + " API key"}, nil
}

// Materialize implements providers.Provider: the key is the only slot.
func (p *Provider) Materialize(_ context.Context, _ providers.Env, cred *providers.Credential, _ providers.Resource) (*providers.Materialized, error) {
	if cred == nil || len(cred.Value) == 0 {
		return nil, fmt.Errorf("%w: %s has no key to store", providers.ErrAuthRequired, p.spec.DisplayName)
	}
	return &providers.Materialized{
		Values: []providers.Value{{Slot: p.spec.Verify.Slot, Value: append([]byte(nil), cred.Value...)}},
		URLs:   map[string]string{"keys": p.spec.DocsURL},
	}, nil
}

// Healthcheck implements providers.Provider by re-running the verification.
func (p *Provider) Healthcheck(ctx context.Context, env providers.Env, _ providers.Resource, secrets providers.SecretSource) providers.Health {
	slot := p.spec.Verify.Slot
	var v []byte
	var ok bool
	if secrets != nil {
		v, ok = secrets(slot)
	}
	if !ok || len(v) == 0 {
		return providers.Health{Status: providers.StatusMissing, Detail: slot + " is not stored"}
	}
	return p.verify(ctx, env, v)
}

// Deprovision implements providers.Provider. Stack did not create the key,
// so it does not revoke it; it tells the user where they can.
func (p *Provider) Deprovision(_ context.Context, env providers.Env, _ *providers.Credential, _ providers.Resource) error {
	env.Printf("%s keys are yours, not stack's: revoke it at %s if you no longer need it.", p.spec.DisplayName, p.spec.DocsURL)
	return nil
}
