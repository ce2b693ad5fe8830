// Package providers defines what stack needs from an upstream service
// (Supabase, Vercel, AWS, API-key services, …): the Provider interface, the
// slot model, and a Registry that stack builds at start-up.
//
// Provider code talks to its upstream over HTTP and to the user through the
// narrow Env it is given. It never shells out to phantom, never writes files
// and never calls os.Exit: secret values leave a provider only as return
// values, which stack hands to phantom on stdin (docs/architecture.md §6, §7).
package providers

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"time"
)

// Policy is how phantom releases a secret at exec time (docs/architecture.md §5).
type Policy = string

// The phantom policies a Slot may ask for. An empty policy leaves the choice
// to phantom (proxy when a route owns the secret, inject otherwise).
const (
	PolicyDefault Policy = ""
	PolicyProxy   Policy = "proxy"
	PolicyInject  Policy = "inject"
	PolicyDeny    Policy = "deny"
)

// Slot is one environment variable a provider fills. Stack records only slot
// names in .stack.toml; the values of secret slots go to phantom's vault and
// the project's env file receives a phm token in their place.
type Slot struct {
	Name   string // environment variable name, e.g. OPENAI_API_KEY
	Secret bool   // true: stored in phantom; false: plain configuration (a URL, a region)
	Policy Policy // phantom policy for a secret slot; must be empty for non-secret slots
}

// AuthKind says how a provider signs the user in.
type AuthKind string

const (
	AuthAPIKey    AuthKind = "api_key"    // an existing key, pasted or from the environment
	AuthToken     AuthKind = "token"      // a personal access token
	AuthOAuthPKCE AuthKind = "oauth_pkce" // OAuth 2 authorization code + PKCE on a loopback redirect
	// AuthAWSCredentials: the AWS SDK's standard credential chain (env keys,
	// shared config/credentials files and profiles, SSO cache).
	AuthAWSCredentials AuthKind = "aws_credentials"
)

// Info describes a provider for listings and plans; it never changes at run time.
type Info struct {
	Name        string     // registry key, lowercase: "openai"
	DisplayName string     // "OpenAI"
	Category    string     // "ai", "database", "payments", …
	Auth        AuthKind   // how Login works
	DocsURL     string     // where the user gets a key or reads about the API
	Slots       []Slot     // what Materialize returns, in a stable order
	MCP         *MCPServer // the provider's official MCP server; nil when it has none
}

// Prompter asks the user for input on the terminal. (*term.IOStreams).Prompter(ctx)
// from phantomstack.dev/shared/term satisfies it, bound to the command's
// context so Ctrl-C ends a prompt.
type Prompter interface {
	CanPrompt() bool
	// ReadSecret reads one line without echo.
	ReadSecret(prompt string) ([]byte, error)
}

// LinePrompter is a Prompter that can also read a visible line (a choice
// from a list). It is optional so existing Prompters keep compiling; check
// with a type assertion. (*term.IOStreams).Prompter(ctx) satisfies it.
type LinePrompter interface {
	Prompter
	ReadLine(prompt string) (string, error)
}

// Env is everything a provider may use from its host. Stack fills it; tests
// fill it with fakes. A nil field means "not available".
type Env struct {
	// HTTP is the client for upstream calls. Nil means http.DefaultClient.
	HTTP *http.Client
	// Getenv reads the process environment: base-URL overrides
	// (STACK_<NAME>_API_URL) and non-interactive credentials.
	Getenv func(string) string
	// Prompt is the user's terminal, or nil when stack runs non-interactively.
	Prompt Prompter
	// Logf reports progress for humans (stack prints it on stderr).
	Logf func(format string, args ...any)
	// OpenURL opens a web page in the user's browser (OAuth sign-in). Nil,
	// or an error, means the user opens the printed URL by hand.
	OpenURL func(url string) error
	// Progress, when set, receives short status changes of a long step
	// ("COMING_UP", "fetching the keys"); stack feeds them to its spinner.
	// Providers report the same change through Printf too.
	Progress func(status string)
}

// Report sends a status change to Progress when it is set.
func (e Env) Report(status string) {
	if e.Progress != nil {
		e.Progress(status)
	}
}

// Client returns the HTTP client to use.
func (e Env) Client() *http.Client {
	if e.HTTP != nil {
		return e.HTTP
	}
	return http.DefaultClient
}

// Lookup returns the value of the environment variable name, or "" when
// Getenv is unset.
func (e Env) Lookup(name string) string {
	if e.Getenv == nil {
		return ""
	}
	return e.Getenv(name)
}

// Printf reports progress when a logger is set.
func (e Env) Printf(format string, args ...any) {
	if e.Logf != nil {
		e.Logf(format, args...)
	}
}

// Interactive reports whether the user can be asked for input.
func (e Env) Interactive() bool { return e.Prompt != nil && e.Prompt.CanPrompt() }

// Credential is what Login produces: the secret that authorises the
// provider's management calls. The caller owns Value and clears it (Clear)
// when done; stack stores it in phantom under Slot so the next Login can
// reuse it.
//
// An OAuth sign-in also yields a refresh token (RefreshToken, to be stored
// under RefreshSlot). A provider may refresh the credential in place during
// a step (Value, RefreshToken and ExpiresAt change; providers rotate
// refresh tokens), so the caller stores both again after each step.
type Credential struct {
	Slot      string            // vault name to cache it under, e.g. OPENAI_API_KEY or STACK_SUPABASE_ACCESS_TOKEN
	Value     []byte            // the secret itself
	Identity  map[string]string // who it belongs to, as far as the upstream says (no secrets)
	ExpiresAt time.Time         // zero when unknown or non-expiring

	RefreshSlot  string // vault name for RefreshToken, e.g. STACK_SUPABASE_REFRESH_TOKEN; "" when none
	RefreshToken []byte // OAuth refresh token; nil when the sign-in gave none
}

// Clear overwrites the credential's secrets in place.
func (c *Credential) Clear() {
	if c == nil {
		return
	}
	clear(c.Value)
	c.Value = nil
	clear(c.RefreshToken)
	c.RefreshToken = nil
}

// LoginRequest tunes Login.
type LoginRequest struct {
	// Cached is a credential stack already holds for this provider, tried
	// before anything else; nil when there is none.
	Cached *Credential
	// Options are provider-specific flags (--profile, --no-browser, …),
	// by flag name without dashes; see each provider's Flags.
	// OptionNoVerify ("true") asks an API-key provider to take the key
	// without checking it upstream (the provider is unreachable); stack
	// records the key as unverified.
	Options map[string]string
}

// OptionNoVerify is the LoginRequest option of `stack add --no-verify`.
const OptionNoVerify = "no-verify"

// ProvisionRequest says which upstream resource to create or attach to.
type ProvisionRequest struct {
	UseID  string // attach to this existing resource instead of creating one (--use)
	Name   string // name for a new resource; providers pick one when empty
	Region string // provider-specific region; providers pick a default when empty
	// Owned is true when UseID names a resource that an earlier, interrupted
	// stack add of this service created (its journal says so), not one the
	// user brought with --use. A provider may then reset credentials the
	// upstream never shows twice (Supabase's database password, AWS access
	// keys): nothing but that add can depend on them yet. Without UseID it
	// means the add is resuming: a resource called Name, if one exists, is
	// the one the interrupted run created before it could record its id.
	Owned bool
	// ResumedSince is when the interrupted add this one resumes started
	// (zero for a fresh add). On a resource the user brought (--use, not
	// Owned), credentials the upstream dated after it were made by that run,
	// whose secrets died with it; older ones are the user's.
	ResumedSince time.Time
	// Options are provider-specific flags (--org, --team, …), as in LoginRequest.
	Options map[string]string
}

// Resource is an upstream object stack created or attached to. Its ID is
// opaque to stack and recorded in .stack.local.toml.
type Resource struct {
	ID          string
	DisplayName string
	Region      string
	Meta        map[string]string // non-secret instance data (organization id, hostnames)
}

// Value is one filled slot.
type Value struct {
	Slot  string
	Value []byte
}

// Materialized is what Materialize returns: one Value per slot of the
// provider's Info, plus links for the user. The caller clears it.
type Materialized struct {
	Values []Value
	URLs   map[string]string // e.g. "dashboard" → https://…
}

// Clear overwrites every value in place.
func (m *Materialized) Clear() {
	if m == nil {
		return
	}
	for i := range m.Values {
		clear(m.Values[i].Value)
		m.Values[i].Value = nil
	}
}

// SecretSource gives a healthcheck the value it should present for a slot.
// Under `phantom exec` that is a phm token and the request goes through
// phantom's proxy, so a healthcheck never needs the plaintext.
type SecretSource func(slot string) (value []byte, ok bool)

// Status is a healthcheck verdict.
type Status string

const (
	StatusOK          Status = "ok"          // the upstream accepted the credential
	StatusInvalid     Status = "invalid"     // the upstream rejected it (401/403)
	StatusUnreachable Status = "unreachable" // network error, timeout, 429 or 5xx: validity unknown
	StatusUnexpected  Status = "unexpected"  // any other answer (3xx, other 4xx)
	StatusMissing     Status = "missing"     // a slot the check needs has no value
	// StatusUnverifiable: the upstream accepted the credential, but this
	// checkout lacks what the check compares it with (a fresh clone has no
	// .stack.local.toml, so no resource id).
	StatusUnverifiable Status = "unverifiable"
)

// Health is the result of a Healthcheck. Detail never contains a secret.
type Health struct {
	Status  Status
	Detail  string
	Latency time.Duration // time to the upstream's answer; zero when none came
	// Slots is the verdict per secret slot, for a provider whose secret
	// slots are separate credentials (Supabase's anon and service-role keys,
	// its database password). Empty: the verdict above covers every secret
	// slot (one key, or a key pair that is one credential). A secret slot
	// missing from a non-empty Slots was not checked, and `stack doctor`
	// reports it unverifiable, never ok.
	Slots []SlotHealth
}

// SlotHealth is the verdict on one secret slot. Detail never contains a secret.
type SlotHealth struct {
	Slot    string
	Status  Status
	Detail  string
	Latency time.Duration
}

// OK reports whether the check passed.
func (h Health) OK() bool { return h.Status == StatusOK }

// Provider is one upstream service. The steps run in this order for
// `stack add`: Login → Provision → Materialize; Healthcheck backs
// `stack doctor`; Deprovision rolls back or removes what Provision created.
// Every step honours ctx for cancellation (Ctrl-C rolls back).
type Provider interface {
	Info() Info
	// Login returns a credential for the provider's API: the cached one if
	// the upstream still accepts it, else the provider's non-interactive
	// environment variable, else an interactive flow (OAuth or masked paste).
	Login(ctx context.Context, env Env, req LoginRequest) (*Credential, error)
	// Provision creates the upstream resource, or attaches to req.UseID.
	// When it fails after it created a resource, or adopted the one an
	// interrupted add created (req.Owned), and did not delete it itself, it
	// returns that Resource (its ID at least) with the error: stack then
	// journals it and its rollback calls Deprovision.
	Provision(ctx context.Context, env Env, cred *Credential, req ProvisionRequest) (Resource, error)
	// Materialize fetches the values of the provider's slots for res.
	Materialize(ctx context.Context, env Env, cred *Credential, res Resource) (*Materialized, error)
	// Healthcheck checks that the stored values still work upstream.
	Healthcheck(ctx context.Context, env Env, res Resource, secrets SecretSource) Health
	// Deprovision deletes what Provision created. Deleting something that is
	// already gone is not an error.
	Deprovision(ctx context.Context, env Env, cred *Credential, res Resource) error
}

var (
	nameRE   = regexp.MustCompile(`^[a-z][a-z0-9-]*[a-z0-9]$`)
	envVarRE = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`)
)

// ValidName reports whether s is a valid provider name: lowercase letters,
// digits and inner hyphens, starting with a letter.
func ValidName(s string) bool { return nameRE.MatchString(s) }

// ValidEnvName reports whether s is a portable environment variable name
// (POSIX shell identifier, upper case).
func ValidEnvName(s string) bool { return envVarRE.MatchString(s) }

// Validate checks an Info for the invariants the registry relies on.
func (i Info) Validate() error {
	if !ValidName(i.Name) {
		return fmt.Errorf("provider name %q: want lowercase letters, digits and hyphens", i.Name)
	}
	if i.DisplayName == "" {
		return fmt.Errorf("provider %s: empty display name", i.Name)
	}
	if len(i.Slots) == 0 {
		return fmt.Errorf("provider %s: no slots", i.Name)
	}
	seen := map[string]bool{}
	for _, s := range i.Slots {
		if err := s.Validate(); err != nil {
			return fmt.Errorf("provider %s: %w", i.Name, err)
		}
		if seen[s.Name] {
			return fmt.Errorf("provider %s: slot %s listed twice", i.Name, s.Name)
		}
		seen[s.Name] = true
	}
	if i.MCP != nil {
		if err := i.MCP.Validate(i.Slots); err != nil {
			return fmt.Errorf("provider %s: %w", i.Name, err)
		}
	}
	return nil
}

// Validate checks a slot's name and policy.
func (s Slot) Validate() error {
	if !ValidEnvName(s.Name) {
		return fmt.Errorf("slot %q is not a valid environment variable name (A-Z, 0-9, _)", s.Name)
	}
	switch s.Policy {
	case PolicyDefault, PolicyProxy, PolicyInject, PolicyDeny:
	default:
		return fmt.Errorf("slot %s: unknown policy %q (want proxy, inject or deny)", s.Name, s.Policy)
	}
	if !s.Secret && s.Policy != PolicyDefault {
		return fmt.Errorf("slot %s: policy %q on a non-secret slot", s.Name, s.Policy)
	}
	return nil
}
