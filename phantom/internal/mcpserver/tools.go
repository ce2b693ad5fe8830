package mcpserver

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func (s *server) listSecrets(ctx context.Context, _ *mcp.CallToolRequest, in ProjectIn) *mcp.CallToolResult {
	dir, err := s.projectDir(in.ProjectDir, false)
	if err != nil {
		return refusal("%v", err)
	}
	return s.jsonResult(ctx, dir, []string{"list", "--json"}) // {"items": [{"name", "policy", "route", ...}]}
}

func (s *server) status(ctx context.Context, _ *mcp.CallToolRequest, in ProjectIn) *mcp.CallToolResult {
	dir, err := s.projectDir(in.ProjectDir, false)
	if err != nil {
		return refusal("%v", err)
	}
	return s.jsonResult(ctx, dir, []string{"status", "--json"})
}

func (s *server) why(ctx context.Context, _ *mcp.CallToolRequest, in WhyIn) *mcp.CallToolResult {
	if r := checkName("phantom_why", in.Key); r != nil {
		return r
	}
	dir, err := s.projectDir(in.ProjectDir, false)
	if err != nil {
		return refusal("%v", err)
	}
	return s.jsonResult(ctx, dir, []string{"why", "--json", "--", in.Key})
}

// check runs `phantom check --json`, which exits 1 when it finds something:
// that is an answer, not a failure.
func (s *server) check(ctx context.Context, _ *mcp.CallToolRequest, in CheckIn) *mcp.CallToolResult {
	dir, err := s.projectDir(in.ProjectDir, false)
	if err != nil {
		return refusal("%v", err)
	}
	args := []string{"check", "--json"}
	if in.Staged {
		args = append(args, "--staged")
	}
	r, err := s.run(ctx, dir, args...)
	// A build without check: cobra stops at the root command ("unknown
	// command", or --json as an unknown root flag, with the root's usage).
	if err == nil && r.code == 2 && (strings.Contains(r.stderr, `unknown command "check"`) || strings.Contains(r.stderr, "Run 'phantom --help'")) {
		return refusal("phantom_check: this phantom build (%s) has no 'check' command yet, so nothing was scanned. Update phantom; until then 'phantom status' lists plaintext secrets in env files.", s.o.Version)
	}
	return s.resultOf(r, err, args, 1)
}

// doctor runs `phantom doctor --json`, which exits 1 when a check fails:
// the report is the answer. --fix changes files, so it takes the gate.
func (s *server) doctor(ctx context.Context, req *mcp.CallToolRequest, in DoctorIn) *mcp.CallToolResult {
	dir, err := s.projectDir(in.ProjectDir, false)
	if err != nil {
		return refusal("%v", err)
	}
	args := []string{"doctor", "--json"}
	if in.Fix {
		g := gateSpec{tool: "phantom_doctor", confirm: in.Confirm, dir: dir,
			message: fmt.Sprintf("Let phantom doctor apply its safe fixes in %q (such as adding env files to .gitignore)?", dir),
			command: "phantom doctor --fix", args: in}
		if res := s.gate(req, g); res != nil {
			return res
		}
		args = append(args, "--fix")
	}
	return s.jsonResult(ctx, dir, args, 1)
}

func (s *server) addSecret(_ context.Context, _ *mcp.CallToolRequest, in AddIn) *mcp.CallToolResult {
	name := in.Name
	if checkName("phantom_add_secret", name) != nil {
		name = "NAME"
	}
	return refusal("phantom_add_secret never stores anything: phantom does not accept secret values through MCP, because a value the model has seen is already exposed. Nothing was stored. Call phantom_add_secret_interactive with name %q and ask the user to run the command it returns in their own terminal (phantom add %s), where the value is typed hidden.", name, name)
}

// addInteractive returns the command a person runs; the name is an
// environment variable name, so the command is safe to paste as it is.
func (s *server) addInteractive(_ context.Context, _ *mcp.CallToolRequest, in NameIn) *mcp.CallToolResult {
	if r := checkName("phantom_add_secret_interactive", in.Name); r != nil {
		return r
	}
	dir, err := s.projectDir(in.ProjectDir, false)
	if err != nil {
		return refusal("%v", err)
	}
	cmd := "phantom add " + in.Name
	return structured(map[string]any{
		"command":         cmd,
		"directory":       dir,
		"run_in_terminal": "cd " + shellQuote(dir) + " && " + cmd,
		"instructions":    "Ask the user to run this command in their own terminal (not through you): phantom asks for the value there without echoing it. Do not ask for the value in the chat. Afterwards, phantom_list_secrets shows the name.",
	})
}

func (s *server) removeSecret(ctx context.Context, req *mcp.CallToolRequest, in RemoveIn) *mcp.CallToolResult {
	if r := checkName("phantom_remove_secret", in.Name); r != nil {
		return r
	}
	dir, err := s.projectDir(in.ProjectDir, false)
	if err != nil {
		return refusal("%v", err)
	}
	g := gateSpec{tool: "phantom_remove_secret", confirm: in.Confirm, dir: dir, needsHuman: true,
		message: fmt.Sprintf("Delete the secret %s from the vault of %q? Its value is gone for good and its phm_ token stops working.", in.Name, dir),
		command: "phantom remove " + in.Name, args: in}
	if res := s.gate(req, g); res != nil {
		return res
	}
	return s.jsonResult(ctx, dir, []string{"remove", "--json", "--", in.Name})
}

func (s *server) rotate(ctx context.Context, req *mcp.CallToolRequest, in RotateIn) *mcp.CallToolResult {
	for _, n := range in.Names {
		if r := checkName("phantom_rotate", n); r != nil {
			return r
		}
	}
	dir, err := s.projectDir(in.ProjectDir, false)
	if err != nil {
		return refusal("%v", err)
	}
	what := "every secret"
	if len(in.Names) > 0 {
		what = strings.Join(in.Names, ", ")
	}
	command := strings.TrimSpace("phantom rotate " + strings.Join(in.Names, " "))
	g := gateSpec{tool: "phantom_rotate", confirm: in.Confirm, dir: dir, needsHuman: true,
		message: fmt.Sprintf("Issue new phm_ tokens for %s in %q? The old tokens stop working and running phantom proxies need a restart.", what, dir),
		command: command, args: in}
	if res := s.gate(req, g); res != nil {
		return res
	}
	return s.jsonResult(ctx, dir, append([]string{"rotate", "--json", "--"}, in.Names...))
}

func (s *server) initProject(ctx context.Context, req *mcp.CallToolRequest, in InitIn) *mcp.CallToolResult {
	dir, err := s.projectDir(in.ProjectDir, true)
	if err != nil {
		return refusal("%v", err)
	}
	// phantom init joins the project a directory is inside: say so rather
	// than ask the user about one directory and protect another.
	if _, err := os.Lstat(filepath.Join(dir, ConfigFile)); err != nil {
		for d := filepath.Dir(dir); d != filepath.Dir(d); d = filepath.Dir(d) {
			if _, err := os.Lstat(filepath.Join(d, ConfigFile)); err == nil {
				return refusal("phantom_init: %s is inside the phantom project %s; call phantom_init (or phantom_protect_env) with project_dir %s. Nothing was done.", dir, d, d)
			}
		}
	}
	g := gateSpec{tool: "phantom_init", confirm: in.Confirm, dir: dir,
		message: fmt.Sprintf("Protect the env files of %q with phantom? Their secret values move into the encrypted vault and phm_ tokens take their place.", dir),
		command: "phantom init", args: in}
	if res := s.gate(req, g); res != nil {
		return res
	}
	return s.jsonResult(ctx, dir, []string{"init", "--yes", "--json"})
}

func (s *server) protectEnv(ctx context.Context, req *mcp.CallToolRequest, in ProtectIn) *mcp.CallToolResult {
	dir, err := s.projectDir(in.ProjectDir, false)
	if err != nil {
		return refusal("%v", err)
	}
	rel, err := inside(dir, in.EnvFile)
	if err != nil {
		return refusal("phantom_protect_env: %v. Nothing was done.", err)
	}
	g := gateSpec{tool: "phantom_protect_env", confirm: in.Confirm, dir: dir,
		message: fmt.Sprintf("Protect %q in %q with phantom? Its secret values move into the encrypted vault and phm_ tokens take their place.", rel, dir),
		command: "phantom init --from " + shellQuote(rel), args: in}
	if res := s.gate(req, g); res != nil {
		return res
	}
	// --from=FILE: the value can never be read as a flag of its own.
	return s.jsonResult(ctx, dir, []string{"init", "--yes", "--json", "--from=" + rel})
}

// inside returns file relative to dir, refusing one that is (or, through a
// symlink, resolves to) outside dir.
func inside(dir, file string) (string, error) {
	if file == "" {
		return "", fmt.Errorf("env_file is empty")
	}
	p := file
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	p = filepath.Clean(p)
	outside := func(q string) bool {
		rel, err := filepath.Rel(dir, q)
		return err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel)
	}
	if outside(p) {
		return "", fmt.Errorf("%s is outside the project %s; phantom only protects env files inside it", file, dir)
	}
	real, err := filepath.EvalSymlinks(p)
	if os.IsNotExist(err) {
		return "", fmt.Errorf("%s does not exist in %s", file, dir)
	}
	if err != nil {
		return "", fmt.Errorf("%s: %v", file, err)
	}
	if outside(real) {
		return "", fmt.Errorf("%s is outside the project %s (it resolves to %s); phantom only protects env files inside it", file, dir, real)
	}
	rel, _ := filepath.Rel(dir, p)
	return rel, nil
}

// shellQuote quotes s for a POSIX shell when it needs it, so a command
// phantom returns works when pasted as it is.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/+=:,@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
