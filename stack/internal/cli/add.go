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
	"phantomstack.dev/shared/term"
	"phantomstack.dev/stack/internal/config"
)

// exitInterrupted is what a shell reports for Ctrl-C (128 + SIGINT).
const exitInterrupted = 130

// AddOptions configures `stack add`.
type AddOptions struct {
	F       *Factory
	Service string
	Use     string
	Yes     bool
	JSON    bool
	NoMCP   bool // do not touch .mcp.json
	Force   bool // replace a .mcp.json entry of the same name that stack did not write
}

// AddResult is `stack add --json`: names only, never values.
type AddResult struct {
	Service  string   `json:"service"`
	Provider string   `json:"provider"`
	Resource string   `json:"resource_id"`
	Secrets  []string `json:"secrets"`
	EnvFile  string   `json:"env_file"`
	MCP      *AddMCP  `json:"mcp,omitempty"`
}

func newAddCmd(f *Factory, runF func(*AddOptions) error) *cobra.Command {
	o := &AddOptions{F: f}
	cmd := &cobra.Command{
		Use:   "add SERVICE [--use ID] [--yes]",
		Short: "Provision a service and hand its keys to phantom",
		Long: `Sign in to SERVICE's provider, create (or with --use, attach) the upstream
resource, and store every key it yields in phantom's vault (values travel to
phantom on stdin only). .stack.toml records the service and its slot names;
.env.local gets the phm_ tokens for them (other lines untouched).

For API-key services (OpenAI, Anthropic, Stripe, Resend, GitHub) the key comes
from its usual environment variable (OPENAI_API_KEY, ...) when set, else from a
masked paste on the terminal, and is checked against the provider's read-only
endpoint before it is stored.

For providers with an official MCP server (Stripe, GitHub) stack also adds it
to the project's .mcp.json as "phantom exec --env-file .env.local -- <server>",
so the server gets its credentials through phantom and the file holds none.
Other servers and keys in .mcp.json are kept; an entry of the same name that
stack did not write is replaced only with --force. --no-mcp skips this.`,
		Args: exactArgs("SERVICE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Service = args[0]
			if runF != nil {
				return runF(o)
			}
			return addRun(o)
		},
	}
	cmd.Flags().StringVar(&o.Use, "use", "", "attach to the existing resource ID instead of creating one")
	cmd.Flags().BoolVarP(&o.Yes, "yes", "y", false, "do not ask for confirmation")
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print the result as JSON")
	cmd.Flags().BoolVar(&o.NoMCP, "no-mcp", false, "do not add the provider's MCP server to .mcp.json")
	cmd.Flags().BoolVar(&o.Force, "force", false, "replace a .mcp.json entry of the same name that stack did not write")
	return cmd
}

func addRun(o *AddOptions) error {
	f := o.F
	ctx := context.Background()
	c, err := f.loadConfig()
	if err != nil {
		return err
	}
	pc, err := f.phantom(ctx)
	if err != nil {
		return err
	}
	p, err := f.Providers.Get(o.Service)
	if err != nil {
		return exitcode.Errorf(exitcode.Failure, "unknown service %q; `stack providers` lists what this build can set up", o.Service)
	}
	info := p.Info()
	if o.NoMCP {
		info.MCP = nil
	}
	// Read .mcp.json before anything is stored: a broken file or a foreign
	// entry stops the add with nothing changed.
	mcp, err := planMCP(c, o.Service, info, o.Force)
	if err != nil {
		return err
	}
	if err := pc.EnsureInit(ctx); err != nil {
		return phantomErr(err)
	}
	env := f.providerEnv()
	cred, err := p.Login(ctx, env, providers.LoginRequest{})
	if err != nil {
		if errors.Is(err, term.ErrInterrupted) {
			// Ctrl-C at the masked prompt: nothing has been stored yet.
			return exitcode.New(exitInterrupted, fmt.Errorf("interrupted; nothing was stored and %s was not changed", config.FileName))
		}
		if errors.Is(err, providers.ErrAuthRequired) {
			return exitcode.New(exitNeedsLogin, err)
		}
		return exitcode.New(exitcode.Failure, err)
	}
	defer cred.Clear()
	res, err := p.Provision(ctx, env, cred, providers.ProvisionRequest{UseID: o.Use})
	if err != nil {
		return exitcode.New(exitcode.Failure, fmt.Errorf("provisioning %s: %w", info.DisplayName, err))
	}
	mat, err := p.Materialize(ctx, env, cred, res)
	if err != nil {
		return exitcode.New(exitcode.Failure, fmt.Errorf("fetching %s's keys: %w", info.DisplayName, err))
	}
	defer mat.Clear()

	// Store every value; on any failure remove what this run stored, so
	// nothing is half-added.
	var stored, secrets []string
	rollback := func(cause error) error {
		for _, n := range stored {
			pc.Remove(ctx, n, envLocal)
		}
		return exitcode.New(exitcode.Failure, fmt.Errorf("%w\nNothing was added: the keys stored so far were removed from phantom again.", cause))
	}
	secretSlot := map[string]bool{}
	for _, sl := range info.Slots {
		secretSlot[sl.Name] = sl.Secret
	}
	for _, v := range mat.Values {
		if !secretSlot[v.Slot] {
			continue
		}
		if err := pc.Add(ctx, v.Slot, v.Value, ""); err != nil {
			return rollback(phantomErr(err))
		}
		stored = append(stored, v.Slot)
		secrets = append(secrets, v.Slot)
	}
	if err := pc.Sync(ctx, envLocal, secrets...); err != nil {
		return rollback(phantomErr(err))
	}
	svc := &config.Service{Name: o.Service, Provider: info.Name, Secrets: secrets,
		ResourceID: res.ID, Region: res.Region, Meta: res.Meta, CreatedAt: time.Now(), CreatedBy: "stack add"}
	if old := c.Services[o.Service]; old != nil && !old.CreatedAt.IsZero() {
		svc.CreatedAt = old.CreatedAt
	}
	if old := c.Services[o.Service]; old != nil {
		svc.MCP = old.MCP // kept with --no-mcp
	}
	var mcpOut *AddMCP
	if mcp != nil {
		if err := mcp.apply(); err != nil {
			return rollback(err)
		}
		svc.MCP = mcp.spec.Name
		mcpOut = &AddMCP{Name: mcp.spec.Name, File: ".mcp.json", Status: mcp.status, NeedsInject: needsInject(ctx, f, mcp.spec, info)}
	}
	c.SetService(svc)
	if err := f.saveConfig(c); err != nil {
		if uerr := mcp.undo(); uerr != nil {
			err = fmt.Errorf("%w\n.mcp.json could not be put back either: %v", err, uerr)
		}
		return rollback(err)
	}
	if o.JSON {
		return writeJSON(f, AddResult{Service: o.Service, Provider: info.Name, Resource: res.ID, Secrets: secrets, EnvFile: envLocal, MCP: mcpOut})
	}
	f.IO.Successf("%s is set up: %s in phantom's vault, tokens in %s.", info.DisplayName, strings.Join(secrets, ", "), envLocal)
	if mcpOut != nil {
		switch mcpOut.Status {
		case mcpWrite:
			f.IO.Infof("MCP server %q added to .mcp.json (runs under phantom exec).", mcpOut.Name)
		case mcpKept:
			f.IO.Infof("MCP server %q: your edited entry in .mcp.json was kept.", mcpOut.Name)
		}
		f.warnNeedsInject(info, mcpOut.NeedsInject)
	}
	f.IO.Infof("Run your app with: stack exec -- <command>")
	return nil
}
