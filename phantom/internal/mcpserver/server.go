// Package mcpserver is `phantom mcp`: a stdio MCP server through which an AI
// agent manages a project's secrets without ever seeing one.
//
// Every tool is a thin adapter over the same phantom binary's --json
// commands (list, status, why, check, doctor, remove, rotate, init): the
// server runs os.Executable() with a fixed subcommand, parses its JSON and
// returns it as structured content. So the tools are exactly as value-blind
// as those commands (docs/security.md, invariants 1 and 2), and no tool can
// reach reveal, unprotect or exec: the subcommands are constants here, names
// from the agent are checked to be environment variable names and passed
// after "--". The child has no terminal, so nothing that needs a person at a
// terminal can happen in it.
//
// Mutating tools need `confirm: true` (the agent asked the user) and, where
// the client supports MCP elicitation, an explicit accept in the client's own
// UI; see gate.go and docs/security.md ("The MCP server").
package mcpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"phantomstack.dev/shared/dotenv"
)

// ConfigFile marks a phantom project (the same name as cli.ConfigFile).
const ConfigFile = ".phantom.toml"

// Options configure the server.
type Options struct {
	// Exe is the phantom binary the tools run (os.Executable()).
	Exe string
	// Dir is the server's working directory: the project when a call names none.
	Dir string
	// Env is the environment of every phantom the tools run.
	Env []string
	// Version is phantom's version, reported to the client.
	Version string
	// Timeout bounds one phantom run (default 2 minutes: init may run
	// Argon2id and reach the keychain).
	Timeout time.Duration
}

// instructions are what the client shows the model about this server.
const instructions = `phantom keeps this project's secret values in an encrypted vault; env files hold phm_ placeholder tokens.
These tools never return a secret value and never accept one. Never ask the user to paste a secret into the chat:
to add or change a secret, call phantom_add_secret_interactive and ask the user to run the command it returns in their own terminal.
Tools that change anything need confirm: true, which you may set only after the user said yes in this conversation;
where your client supports it, phantom also asks the user itself before acting.
If the server's working directory is not the project (a client configured for all projects), pass project_dir: the directory holding .phantom.toml.`

type server struct {
	o Options

	mu      sync.Mutex
	pending map[string]pendingApproval // elicitation id → what it approves
}

// New returns the MCP server with every phantom tool.
func New(o Options) *mcp.Server {
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Minute
	}
	s := &server{o: o, pending: map[string]pendingApproval{}}
	srv := mcp.NewServer(&mcp.Implementation{Name: "phantom", Version: o.Version}, &mcp.ServerOptions{Instructions: instructions})
	s.register(srv)
	return srv
}

// Run serves one MCP session over the given streams until the client
// closes it.
func Run(ctx context.Context, o Options, t mcp.Transport) error {
	return New(o).Run(ctx, t)
}

// --- arguments -------------------------------------------------------------

const projectDirDoc = "the project directory (holding .phantom.toml); default: the server's working directory"
const confirmDoc = "must be true, and only after the user said yes to this change in the conversation; phantom may also ask the user itself"

// ProjectIn is the input of the read-only tools that take nothing else.
type ProjectIn struct {
	ProjectDir string `json:"project_dir,omitempty" jsonschema:"the project directory (holding .phantom.toml); default: the server's working directory"`
}

// WhyIn is phantom_why's input.
type WhyIn struct {
	ProjectDir string `json:"project_dir,omitempty" jsonschema:"the project directory (holding .phantom.toml); default: the server's working directory"`
	Key        string `json:"key" jsonschema:"the environment variable name to explain, e.g. OPENAI_API_KEY"`
}

// CheckIn is phantom_check's input.
type CheckIn struct {
	ProjectDir string `json:"project_dir,omitempty" jsonschema:"the project directory (holding .phantom.toml); default: the server's working directory"`
	Staged     bool   `json:"staged,omitempty" jsonschema:"scan only what is staged for the next git commit"`
}

// DoctorIn is phantom_doctor's input.
type DoctorIn struct {
	ProjectDir string `json:"project_dir,omitempty" jsonschema:"the project directory (holding .phantom.toml); default: the server's working directory"`
	Fix        bool   `json:"fix,omitempty" jsonschema:"apply the safe fixes (e.g. add env files to .gitignore); needs confirm: true"`
	Confirm    bool   `json:"confirm,omitempty" jsonschema:"needed with fix: true, and only after the user said yes"`
}

// NameIn is the input of the tools about one secret name that change nothing.
type NameIn struct {
	ProjectDir string `json:"project_dir,omitempty" jsonschema:"the project directory (holding .phantom.toml); default: the server's working directory"`
	Name       string `json:"name" jsonschema:"the secret's environment variable name, e.g. OPENAI_API_KEY"`
}

// AddIn is phantom_add_secret's input: deliberately no value.
type AddIn struct {
	ProjectDir string `json:"project_dir,omitempty" jsonschema:"the project directory (holding .phantom.toml); default: the server's working directory"`
	Name       string `json:"name" jsonschema:"the secret's environment variable name"`
	Confirm    bool   `json:"confirm,omitempty" jsonschema:"ignored: this tool never stores anything"`
}

// RemoveIn is phantom_remove_secret's input.
type RemoveIn struct {
	ProjectDir string `json:"project_dir,omitempty" jsonschema:"the project directory (holding .phantom.toml); default: the server's working directory"`
	Name       string `json:"name" jsonschema:"the secret to delete from the vault"`
	Confirm    bool   `json:"confirm" jsonschema:"must be true, and only after the user said yes to this change in the conversation; phantom may also ask the user itself"`
}

// RotateIn is phantom_rotate's input.
type RotateIn struct {
	ProjectDir string   `json:"project_dir,omitempty" jsonschema:"the project directory (holding .phantom.toml); default: the server's working directory"`
	Names      []string `json:"names,omitempty" jsonschema:"the secrets whose phm_ tokens to replace; default: all"`
	Confirm    bool     `json:"confirm" jsonschema:"must be true, and only after the user said yes to this change in the conversation; phantom may also ask the user itself"`
}

// InitIn is phantom_init's input.
type InitIn struct {
	ProjectDir string `json:"project_dir,omitempty" jsonschema:"the directory to protect (its .env and .env.local); default: the server's working directory"`
	Confirm    bool   `json:"confirm" jsonschema:"must be true, and only after the user said yes to this change in the conversation; phantom may also ask the user itself"`
}

// ProtectIn is phantom_protect_env's input.
type ProtectIn struct {
	ProjectDir string `json:"project_dir,omitempty" jsonschema:"the project directory (holding .phantom.toml); default: the server's working directory"`
	EnvFile    string `json:"env_file" jsonschema:"the env file to protect, relative to the project directory and inside it"`
	Confirm    bool   `json:"confirm" jsonschema:"must be true, and only after the user said yes to this change in the conversation; phantom may also ask the user itself"`
}

// --- registration ----------------------------------------------------------

// toolSpec is one tool: its input type's schema and a handler that gets the
// raw, already checked arguments.
type toolSpec struct {
	name, title, desc string
	mutating          bool
	schema            *jsonschema.Schema
	handle            func(ctx context.Context, req *mcp.CallToolRequest, args json.RawMessage) *mcp.CallToolResult
}

// typed builds a toolSpec whose handler decodes the arguments into In.
func typed[In any](name, title, desc string, mutating bool, h func(ctx context.Context, req *mcp.CallToolRequest, in In) *mcp.CallToolResult) toolSpec {
	schema, err := jsonschema.For[In](nil)
	if err != nil {
		panic(fmt.Sprintf("mcpserver: schema for %s: %v", name, err))
	}
	return toolSpec{name: name, title: title, desc: desc, mutating: mutating, schema: schema,
		handle: func(ctx context.Context, req *mcp.CallToolRequest, args json.RawMessage) *mcp.CallToolResult {
			var in In
			if err := json.Unmarshal(args, &in); err != nil {
				return refusal("%s: bad arguments: %v. Nothing was done.", name, err)
			}
			return h(ctx, req, in)
		}}
}

const mutatingNote = " This changes the project: before calling it, ask the user in the conversation and call it only after they said yes, with confirm: true."

func (s *server) tools() []toolSpec {
	return []toolSpec{
		typed("phantom_list_secrets", "List secrets (names only)",
			"List the secrets in the project's vault: name, policy and route. Never values.", false, s.listSecrets),
		typed("phantom_status", "Project status",
			"Show the project, its vault (key source, number of secrets), the audit log, each env file's protected and plaintext names, and the proxy. Never values.", false, s.status),
		typed("phantom_check", "Scan for leaked secrets",
			"Run phantom check: find leaked credentials in the project (or, with staged: true, in what is staged for commit). Findings name file, line and rule with a redacted prefix, never a value.", false, s.check),
		typed("phantom_why", "Explain one key",
			"Explain how phantom treats one environment variable name: in the vault or not, its policy, and for each env file whether it is protected, a plaintext secret or configuration, and why.", false, s.why),
		typed("phantom_doctor", "Check the setup",
			"Check the project's setup: config, vault access, plaintext secrets in env files, .gitignore, the pre-commit hook, MCP wiring and the audit log. With fix: true (and confirm: true, after the user said yes) applies only safe fixes such as adding env files to .gitignore.", false, s.doctor),
		typed("phantom_add_secret", "Add a secret (always refuses)",
			"Always refuses: phantom never accepts a secret value through MCP, because a value the model has seen is already exposed. Use phantom_add_secret_interactive, which returns the command for the user to run in their own terminal.", false, s.addSecret),
		typed("phantom_add_secret_interactive", "Command to add a secret",
			"Return the exact command (phantom add NAME) for the user to run in their own terminal, where phantom asks for the value hidden. Changes nothing itself. Never ask the user to paste the value into the chat.", false, s.addInteractive),
		typed("phantom_remove_secret", "Remove a secret",
			"Delete a secret and its value from the vault for good; its phm_ token stops working."+mutatingNote+" Where the client cannot ask the user itself, this refuses and returns the command for the user to run.", true, s.removeSecret),
		typed("phantom_init", "Protect the project's env files",
			"Run phantom init: create .phantom.toml if missing, move every secret value of .env and .env.local into the vault and leave phm_ tokens in their place."+mutatingNote, true, s.initProject),
		typed("phantom_rotate", "Issue new phm_ tokens",
			"Give the named secrets (or all) new phm_ tokens and rewrite the env files; the old tokens stop working and running proxies need a restart. Values do not change."+mutatingNote+" Where the client cannot ask the user itself, this refuses and returns the command for the user to run.", true, s.rotate),
		typed("phantom_protect_env", "Protect one env file",
			"Run phantom init on one env file inside the project: its secret values move into the vault and phm_ tokens take their place."+mutatingNote, true, s.protectEnv),
	}
}

func (s *server) register(srv *mcp.Server) {
	for _, t := range s.tools() {
		t := t
		allowed := map[string]bool{}
		for k := range t.schema.Properties {
			allowed[k] = true
		}
		resolved, err := t.schema.Resolve(nil)
		if err != nil {
			panic(fmt.Sprintf("mcpserver: resolve schema for %s: %v", t.name, err))
		}
		ann := &mcp.ToolAnnotations{Title: t.title, ReadOnlyHint: !t.mutating, OpenWorldHint: ptr(false)}
		if t.mutating {
			ann.DestructiveHint = ptr(t.name == "phantom_remove_secret" || t.name == "phantom_rotate")
		}
		srv.AddTool(&mcp.Tool{Name: t.name, Title: t.title, Description: t.desc, InputSchema: t.schema, Annotations: ann},
			func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				args, res := checkArgs(t, allowed, resolved, req.Params.Arguments)
				if res != nil {
					return res, nil
				}
				return t.handle(ctx, req, args), nil
			})
	}
}

func ptr[T any](v T) *T { return &v }

// checkArgs refuses, with a message the model can act on, arguments that
// are not an object, carry a field the tool does not have (above all a
// secret value), lack confirm on a mutating tool, or fail the schema. The
// SDK's raw AddTool leaves validation to the tool, which lets phantom say
// why instead of only that.
func checkArgs(t toolSpec, allowed map[string]bool, resolved *jsonschema.Resolved, raw json.RawMessage) (json.RawMessage, *mcp.CallToolResult) {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		raw = json.RawMessage("{}")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return nil, refusal("%s: the arguments must be a JSON object. Nothing was done.", t.name)
	}
	var unknown []string
	for k := range fields {
		if !allowed[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	if len(unknown) > 0 {
		names := make([]string, 0, len(allowed))
		for k := range allowed {
			names = append(names, k)
		}
		sort.Strings(names)
		msg := fmt.Sprintf("%s: unknown argument(s) %s; it accepts only %s. Nothing was done.", t.name, strings.Join(unknown, ", "), strings.Join(names, ", "))
		for _, k := range unknown {
			if looksLikeValueField(k) {
				msg = fmt.Sprintf("%s refuses a %q argument: phantom never accepts a secret value through MCP, because a value the model has seen is already exposed (it is in the conversation, and maybe in logs). Nothing was stored. Call phantom_add_secret_interactive with the name and ask the user to run the command it returns in their own terminal, where phantom asks for the value hidden. If the value was pasted into this conversation, tell the user to rotate it at the provider.", t.name, k)
				break
			}
		}
		return nil, refusal("%s", msg)
	}
	if _, ok := fields["confirm"]; t.mutating && !ok {
		return nil, confirmRefusal(t.name)
	}
	var inst map[string]any
	if err := json.Unmarshal(raw, &inst); err != nil {
		return nil, refusal("%s: the arguments must be a JSON object. Nothing was done.", t.name)
	}
	if err := resolved.Validate(inst); err != nil {
		return nil, refusal("%s: invalid arguments: %v. Nothing was done.", t.name, err)
	}
	return raw, nil
}

// looksLikeValueField reports argument names by which a caller tries to pass
// a secret value.
func looksLikeValueField(k string) bool {
	k = strings.ToLower(k)
	for _, w := range []string{"value", "secret", "password", "plaintext", "token", "credential", "api_key", "apikey", "key_value"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

func confirmRefusal(tool string) *mcp.CallToolResult {
	return refusal("%s changes the project and needs confirm: true. Ask the user in the conversation whether to do it; call again with confirm: true only after they said yes. Nothing was done.", tool)
}

// refusal is a tool error result: the model sees it and can correct course
// (MCP puts tool errors in the result, not the protocol).
func refusal(format string, args ...any) *mcp.CallToolResult {
	return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: fmt.Sprintf(format, args...)}}}
}

// structured is a successful result carrying v as structured content and,
// for older clients, as JSON text.
func structured(v any) *mcp.CallToolResult {
	b, err := json.Marshal(v)
	if err != nil {
		return refusal("cannot encode the result: %v", err)
	}
	return &mcp.CallToolResult{StructuredContent: json.RawMessage(b), Content: []mcp.Content{&mcp.TextContent{Text: string(b)}}}
}

// --- the project -----------------------------------------------------------

// projectDir resolves a call's project: project_dir (relative to the
// server's directory) or the server's directory, symlinks resolved. It must
// hold .phantom.toml unless init is creating it; anything else is refused, so
// a tool never acts on a directory that is not a phantom project.
func (s *server) projectDir(arg string, creating bool) (string, error) {
	dir := arg
	if dir == "" {
		dir = s.o.Dir
	} else if !filepath.IsAbs(dir) {
		dir = filepath.Join(s.o.Dir, dir)
	}
	real, err := filepath.EvalSymlinks(filepath.Clean(dir))
	if err != nil {
		return "", fmt.Errorf("project directory %s: %w", dir, errors.Unwrap(err))
	}
	fi, err := os.Stat(real)
	if err != nil || !fi.IsDir() {
		return "", fmt.Errorf("project directory %s is not a directory", dir)
	}
	if creating {
		return real, nil
	}
	cfg, err := os.Lstat(filepath.Join(real, ConfigFile))
	if err != nil || !cfg.Mode().IsRegular() {
		hint := "pass project_dir: the directory that holds .phantom.toml"
		if arg == "" {
			hint = "this server was started in " + s.o.Dir + "; pass project_dir: the directory that holds .phantom.toml"
		}
		return "", fmt.Errorf("%s is not a phantom project (no %s in it); %s. If the project is not set up yet, ask the user whether to protect it (phantom_init). Nothing was done", dir, ConfigFile, hint)
	}
	return real, nil
}

// name checks a secret name from the agent: an environment variable name,
// so it can be neither a flag nor anything a shell would interpret.
func checkName(tool, n string) *mcp.CallToolResult {
	if !dotenv.ValidKey(n) {
		return refusal("%s: %q is not a valid secret name: use letters, digits and _, not starting with a digit (e.g. OPENAI_API_KEY). Nothing was done.", tool, n)
	}
	return nil
}

// --- running phantom -------------------------------------------------------

// result is one phantom run.
type result struct {
	code   int
	stdout []byte
	stderr string
}

// run runs phantom in dir with args, no terminal and no stdin.
func (s *server) run(ctx context.Context, dir string, args ...string) (result, error) {
	ctx, cancel := context.WithTimeout(ctx, s.o.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.o.Exe, args...)
	cmd.Dir = dir
	cmd.Env = append(append([]string{}, s.o.Env...), "NO_COLOR=1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.Bytes(), stderr: strings.TrimSpace(errb.String())}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ctx.Err() == nil:
		r.code = ee.ExitCode()
	case ctx.Err() != nil:
		return r, fmt.Errorf("phantom %s did not finish within %s", args[0], s.o.Timeout)
	default:
		return r, fmt.Errorf("cannot run %s: %w", s.o.Exe, err)
	}
	return r, nil
}

// jsonResult turns a phantom --json run into a tool result. okCodes are the
// exit codes whose JSON is the answer (check exits 1 with findings).
func (s *server) jsonResult(ctx context.Context, dir string, args []string, okCodes ...int) *mcp.CallToolResult {
	r, err := s.run(ctx, dir, args...)
	return s.resultOf(r, err, args, okCodes...)
}

func (s *server) resultOf(r result, err error, args []string, okCodes ...int) *mcp.CallToolResult {
	if err != nil {
		return refusal("%v", err)
	}
	ok := r.code == 0
	for _, c := range okCodes {
		ok = ok || r.code == c
	}
	var v any
	jsonErr := json.Unmarshal(r.stdout, &v)
	if arr, isArr := v.([]any); isArr {
		// structuredContent is an object for clients before protocol
		// 2026-07-28; phantom list --json is an array.
		v = map[string]any{"items": arr}
	}
	if ok && jsonErr == nil {
		res := structured(v)
		if r.code != 0 {
			res.Content = append(res.Content, &mcp.TextContent{Text: fmt.Sprintf("phantom %s exited %d", args[0], r.code)})
		}
		return res
	}
	msg := strings.TrimPrefix(r.stderr, "error: ")
	if msg == "" && jsonErr == nil {
		msg = strings.TrimSpace(string(r.stdout))
	}
	if msg == "" {
		msg = "no output"
	}
	res := refusal("phantom %s failed (exit %d): %s", args[0], r.code, msg)
	if jsonErr == nil {
		b, _ := json.Marshal(v)
		res.StructuredContent = json.RawMessage(b)
	}
	return res
}
