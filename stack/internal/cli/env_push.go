package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"phantomstack.dev/providers"
	"phantomstack.dev/providers/rest"
	"phantomstack.dev/shared/dotenv"
	"phantomstack.dev/shared/exitcode"
	"phantomstack.dev/shared/fsx"
	"phantomstack.dev/shared/jsonout"
	"phantomstack.dev/shared/token"
	"phantomstack.dev/stack/internal/config"
)

// EnvPushSchema is the version of `stack env push --json` (docs/stack.md).
const EnvPushSchema = 1

// vercelRoute is phantom's built-in route for the Vercel API; its declared
// body field "value" is where an env var's value travels.
const vercelRoute = "vercel"

var pushTargets = []string{"production", "preview", "development"}

// EnvPushOptions configures `stack env push`.
type EnvPushOptions struct {
	F       *Factory
	Service string
	Targets []string
	JSON    bool
	Child   bool // running under phantom exec: send the requests
}

// EnvPushResult is `stack env push --json`. It never holds a value.
type EnvPushResult struct {
	Schema    int           `json:"schema"`
	Service   string        `json:"service"`
	ProjectID string        `json:"project_id"`
	Targets   []string      `json:"targets"`
	OK        bool          `json:"ok"`
	Variables []EnvPushItem `json:"variables"`
}

// EnvPushItem is one variable: created, updated, failed or skipped.
type EnvPushItem struct {
	Key     string `json:"key"`
	Service string `json:"service"` // the service that declares the slot
	Type    string `json:"type"`    // Vercel's type: sensitive, encrypted or plain
	Status  string `json:"status"`
	Detail  string `json:"detail,omitempty"`
}

func newEnvPushCmd(f *Factory) *cobra.Command {
	o := &EnvPushOptions{F: f}
	var targets string
	cmd := &cobra.Command{
		Use:   "push vercel [--target production,preview,development] [--json]",
		Short: "Store the project's declared slots as environment variables of its Vercel project",
		Long: `Upsert every slot the project declares (all services' secret slots, and
their config slots as plain variables) as environment variables of the Vercel
project recorded for the vercel service (stack add vercel).

stack never holds a value: it runs itself under 'phantom exec', and each
request carries phm_ tokens that phantom's proxy replaces on the wire — the
Vercel token in the Authorization header, the secret in the body's "value"
field, which the vercel route declares. A route carries only its own secrets,
so stack asks phantom (--body-secret) to let the vercel route carry the
pushed secrets in that field for this one run; phantom allows that only from
a terminal. Secrets with policy deny (AWS keys, stack's sign-in tokens) are
skipped. VERCEL_TOKEN itself is never pushed.

Secret slots become "sensitive" variables (unreadable once stored) unless the
development target is included, which Vercel does not allow for sensitive
ones; then they are "encrypted". Exit 1 when any variable failed.`,
		Args: exactArgs("SERVICE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Service = args[0]
			ts, err := parseTargets(targets)
			if err != nil {
				return err
			}
			o.Targets = ts
			if o.Child {
				return envPushChild(cmd.Context(), o)
			}
			return envPushRun(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&targets, "target", strings.Join(pushTargets, ","), "Vercel environments to store the variables in (comma-separated)")
	jsonout.AddFlag(cmd, &o.JSON, "print the result as JSON (schema in docs/stack.md)")
	cmd.Flags().BoolVar(&o.Child, "child", false, "")
	cmd.Flags().MarkHidden("child")
	return cmd
}

func parseTargets(s string) ([]string, error) {
	var out []string
	for _, t := range strings.Split(s, ",") {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		if !slices.Contains(pushTargets, t) {
			return nil, usageErrorf("unknown --target %q: want production, preview or development (comma-separated)", t)
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return nil, usageErrorf("--target is empty: give production, preview and/or development")
	}
	return out, nil
}

// pushVar is one planned variable.
type pushVar struct {
	EnvPushItem
	secret bool
}

// planPush lists what to push, in .stack.toml order: every service's secret
// slots and config slots, except the vercel service's own (its token and
// ids), unless another service declares them too.
func planPush(c *config.Config, vercelSvc string, targets []string) []pushVar {
	secretType := "sensitive"
	if slices.Contains(targets, "development") {
		secretType = "encrypted" // Vercel refuses sensitive variables for development
	}
	var out []pushVar
	seen := map[string]bool{}
	for _, n := range c.Names() {
		if n == vercelSvc {
			continue
		}
		s := c.Services[n]
		for _, slot := range s.Secrets {
			if !seen[slot] {
				seen[slot] = true
				out = append(out, pushVar{EnvPushItem: EnvPushItem{Key: slot, Service: n, Type: secretType}, secret: true})
			}
		}
		for _, slot := range s.Config {
			if !seen[slot] {
				seen[slot] = true
				out = append(out, pushVar{EnvPushItem: EnvPushItem{Key: slot, Service: n, Type: "plain"}})
			}
		}
	}
	return out
}

// vercelService finds the service the push goes to.
func vercelService(c *config.Config, name string) (*config.Service, error) {
	s := c.Services[name]
	if s == nil {
		for _, n := range c.Names() {
			if c.Services[n].Provider == "vercel" && name == "vercel" {
				s = c.Services[n]
				break
			}
		}
	}
	switch {
	case s == nil:
		return nil, exitcode.Errorf(exitcode.Failure, "%s is not in this project's %s: run stack add vercel first", name, config.FileName)
	case s.Provider != "vercel":
		return nil, exitcode.Errorf(exitcode.Failure, "stack env push supports Vercel only; %s is %s service", name, providers.WithArticle(s.Provider))
	case s.ResourceID == "":
		return nil, exitcode.Errorf(exitcode.Failure, "no Vercel project is recorded for %s in %s: run stack add vercel first", name, config.LocalName)
	}
	return s, nil
}

func readEnvLocal(dir string) (*dotenv.File, error) {
	b, err := os.ReadFile(filepath.Join(dir, envLocal))
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("reading %s: %w", envLocal, err)
	}
	return dotenv.Parse(b), nil
}

func envPushRun(ctx context.Context, o *EnvPushOptions) error {
	f := o.F
	c, err := f.loadConfig()
	if err != nil {
		return err
	}
	pc, err := f.phantom(ctx)
	if err != nil {
		return err
	}
	svc, err := vercelService(c, o.Service)
	if err != nil {
		return err
	}
	f.routeOverrides(pc, c.Providers()...)
	f.approveRoutes(ctx, pc, o.JSON)
	es, err := pc.List(ctx)
	if err != nil {
		return phantomErr(err)
	}
	policy := map[string]string{}
	for _, e := range es {
		policy[e.Name] = e.Policy
	}
	envf, err := readEnvLocal(c.Dir)
	if err != nil {
		return exitcode.New(exitcode.Failure, err)
	}
	tokEntry := envf.Lookup("VERCEL_TOKEN")
	if _, ok := policy["VERCEL_TOKEN"]; !ok || tokEntry == nil || !token.Is(tokEntry.Value) {
		return exitcode.Errorf(exitcode.Failure, "VERCEL_TOKEN is not in phantom's vault with its phm token in %s: run stack add vercel --use %s", envLocal, svc.ResourceID)
	}

	// Decide here what can go; the child sends what is left.
	plan := planPush(c, svc.Name, o.Targets)
	res := EnvPushResult{Schema: EnvPushSchema, Service: svc.Name, ProjectID: svc.ResourceID, Targets: o.Targets, OK: true, Variables: []EnvPushItem{}}
	var grants []string
	pending := 0
	for i := range plan {
		v := &plan[i]
		ent := envf.Lookup(v.Key)
		switch pol, inVault := policy[v.Key]; {
		case v.secret && !inVault:
			v.Status, v.Detail = "failed", v.Key+" is not in phantom's vault"
		case v.secret && pol == providers.PolicyDeny:
			v.Status, v.Detail = "skipped", "policy deny: it never leaves the vault except through its own route"
		case v.secret && (ent == nil || !token.Is(ent.Value)):
			v.Status, v.Detail = "failed", fmt.Sprintf("no phm token for %s in %s (run phantom sync --env-file %s)", v.Key, envLocal, envLocal)
		case !v.secret && ent == nil:
			v.Status, v.Detail = "failed", fmt.Sprintf("%s has no line in %s", v.Key, envLocal)
		default:
			pending++
			if v.secret {
				grants = append(grants, vercelRoute+"="+v.Key)
			}
		}
	}
	results := map[string]EnvPushItem{}
	if pending > 0 {
		if len(grants) > 0 && !f.IO.IsStdinTTY() {
			return exitcode.Errorf(exitcode.Failure, "stack env push needs a terminal: phantom lets the Vercel route carry %d secret(s) that are not its own only when a person runs the command (a script or agent cannot grant that to itself).\nRun it from your own terminal.", len(grants))
		}
		results, err = envPushExec(ctx, o, c, tokEntry.Value, grants)
		if err != nil {
			return err
		}
	}
	for _, v := range plan {
		it := v.EnvPushItem
		if it.Status == "" {
			r, ok := results[it.Key]
			if !ok {
				it.Status, it.Detail = "failed", "no answer from the push (see the errors above)"
			} else {
				it.Status, it.Detail = r.Status, r.Detail
			}
		}
		if it.Status == "failed" {
			res.OK = false
		}
		res.Variables = append(res.Variables, it)
	}
	if o.JSON {
		if err := writeJSON(f, res); err != nil {
			return err
		}
	} else {
		if len(res.Variables) == 0 {
			f.IO.Infof("Nothing to push: the project declares no slots besides Vercel's own.")
		}
		for _, it := range res.Variables {
			line := fmt.Sprintf("%-8s %-32s %-9s %s", it.Status, it.Key, it.Type, it.Service)
			if it.Detail != "" {
				line += ": " + it.Detail
			}
			fmt.Fprintln(f.IO.Out, line)
		}
	}
	if !res.OK {
		return exitcode.Silent{Code: exitcode.Failure}
	}
	if !o.JSON && len(res.Variables) > 0 {
		f.IO.Successf("Vercel project %s has the project's variables for %s.", svc.ResourceID, strings.Join(o.Targets, ", "))
	}
	return nil
}

// envPushExec runs `stack env push --child` under phantom exec with an env
// file that holds only VERCEL_TOKEN's phm token: the child's environment then
// carries no injected value at all, and the proxy mounts the vercel route.
func envPushExec(ctx context.Context, o *EnvPushOptions, c *config.Config, tok string, grants []string) (map[string]EnvPushItem, error) {
	f := o.F
	pc, err := f.phantom(ctx)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "stack-env-push-")
	if err != nil {
		return nil, exitcode.New(exitcode.Failure, err)
	}
	defer os.RemoveAll(dir)
	envFile := filepath.Join(dir, "vercel.env")
	if err := fsx.WriteFileAtomic(envFile, []byte("VERCEL_TOKEN="+tok+"\n"), 0o600); err != nil {
		return nil, exitcode.New(exitcode.Failure, err)
	}
	self, err := selfPath()
	if err != nil {
		return nil, exitcode.New(exitcode.Failure, err)
	}
	args := []string{self, "env", "push", o.Service, "--child", "--target", strings.Join(o.Targets, ",")}
	var out, errb bytes.Buffer
	code, err := pc.ExecBodySecrets(ctx, []string{envFile}, grants, args, f.IO.In, &out, &errb)
	if err != nil || code != 0 {
		return nil, exitcode.Errorf(exitcode.Failure, "pushing through phantom exec failed (exit %d): %v\n%s", code, err, strings.TrimSpace(errb.String()))
	}
	results := map[string]EnvPushItem{}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var it EnvPushItem
		if json.Unmarshal(sc.Bytes(), &it) == nil && it.Key != "" {
			results[it.Key] = it
		}
	}
	return results, nil
}

// envPushChild runs inside phantom exec: VERCEL_TOKEN is a phm token, the
// Vercel API is the proxy's vercel mount, and each secret's value is its
// phm token from .env.local. One JSON line per variable on stdout.
func envPushChild(ctx context.Context, o *EnvPushOptions) error {
	f := o.F
	c, err := f.loadConfig()
	if err != nil {
		return err
	}
	svc, err := vercelService(c, o.Service)
	if err != nil {
		return err
	}
	proxyURL, session, tok := f.Env("PHANTOM_PROXY_URL"), f.Env("PHANTOM_PROXY_TOKEN"), f.Env("VERCEL_TOKEN")
	if proxyURL == "" || session == "" || !token.Is(tok) {
		return exitcode.Errorf(exitcode.Failure, "stack env push --child runs only under phantom exec with VERCEL_TOKEN's phm token")
	}
	envf, err := readEnvLocal(c.Dir)
	if err != nil {
		return exitcode.New(exitcode.Failure, err)
	}
	api := &pushClient{
		api: &rest.Client{
			Service: "Vercel",
			// The mount's path holds the session token; providers/rest
			// never names it in an error.
			Base:            proxyURL + "/_phantom/" + session + "/" + vercelRoute,
			HTTP:            &http.Client{Timeout: 30 * time.Second},
			Token:           func() []byte { return []byte(tok) }, // a phm token: the proxy swaps it
			ForbiddenIsAuth: true,
		},
		team:    svc.Meta["team_id"],
		project: svc.ResourceID,
	}
	existing, listErr := api.existing(ctx)
	enc := json.NewEncoder(f.IO.Out)
	for _, v := range planPush(c, svc.Name, o.Targets) {
		ent := envf.Lookup(v.Key)
		if ent == nil || (v.secret && !token.Is(ent.Value)) {
			continue // the parent reported it
		}
		it := v.EnvPushItem
		if listErr != nil {
			it.Status, it.Detail = "failed", listErr.Error()
		} else if err := api.upsert(ctx, v.Key, ent.Value, v.Type, o.Targets); err != nil {
			it.Status, it.Detail = "failed", err.Error()
		} else if existing[v.Key] {
			it.Status = "updated"
		} else {
			it.Status = "created"
		}
		enc.Encode(it)
	}
	return nil
}

// pushClient speaks the two Vercel calls env push needs, through
// providers/rest (its one retry policy, docs/architecture.md).
type pushClient struct {
	api           *rest.Client
	team, project string
}

// query adds the team scope (Vercel's teamId for an id, slug otherwise).
func (p *pushClient) query(q url.Values) url.Values {
	if p.team != "" {
		if strings.HasPrefix(p.team, "team_") {
			q.Set("teamId", p.team)
		} else {
			q.Set("slug", p.team)
		}
	}
	return q
}

// existing is the set of keys the project already has (to say "updated").
func (p *pushClient) existing(ctx context.Context) (map[string]bool, error) {
	var out struct {
		Envs []struct {
			Key string `json:"key"`
		} `json:"envs"`
	}
	if err := p.api.Do(ctx, rest.Request{Method: http.MethodGet, Path: "/v9/projects/" + url.PathEscape(p.project) + "/env", Query: p.query(url.Values{}), Out: &out}); err != nil {
		return nil, fmt.Errorf("reading the project's variables: %w", err)
	}
	m := map[string]bool{}
	for _, e := range out.Envs {
		m[e.Key] = true
	}
	return m, nil
}

// upsert stores one variable. With ?upsert=true Vercel updates a variable
// that exists instead of refusing it, so sending the same body twice leaves
// the same state: the call is idempotent and gets the retry policy.
func (p *pushClient) upsert(ctx context.Context, key, value, typ string, targets []string) error {
	return p.api.Do(ctx, rest.Request{
		Method:     http.MethodPost,
		Path:       "/v10/projects/" + url.PathEscape(p.project) + "/env",
		Query:      p.query(url.Values{"upsert": {"true"}}),
		Body:       map[string]any{"key": key, "value": value, "type": typ, "target": targets},
		Idempotent: true,
	})
}
