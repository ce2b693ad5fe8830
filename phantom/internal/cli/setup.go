package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/spf13/cobra"

	"phantomstack.dev/shared/exitcode"
	"phantomstack.dev/shared/fsx"
	"phantomstack.dev/shared/jsonobj"
	"phantomstack.dev/shared/jsonout"
)

// SetupOptions configures `phantom setup`.
type SetupOptions struct {
	F      *Factory
	Client string
	Print  bool
	JSON   bool
}

// mcpClient is where one MCP client reads its server list. Paths were
// checked against each client's documentation (docs/phantom.md, "phantom
// setup"): Claude Code reads the project's .mcp.json, VS Code the
// workspace's .vscode/mcp.json ("servers", with "type"), Cursor
// ~/.cursor/mcp.json, Windsurf ~/.codeium/windsurf/mcp_config.json, Codex
// $CODEX_HOME/config.toml (default ~/.codex) under [mcp_servers.NAME].
type mcpClient struct {
	name    string
	project bool   // the file is in the project (committed, shared)
	rel     string // relative to the project or the home directory
	key     string // JSON: the object holding the servers; "" for Codex's TOML
	typed   bool   // the entry carries "type": "stdio" (VS Code)
}

var mcpClients = []mcpClient{
	{name: "claude", project: true, rel: ".mcp.json", key: "mcpServers"},
	{name: "vscode", project: true, rel: filepath.Join(".vscode", "mcp.json"), key: "servers", typed: true},
	{name: "cursor", rel: filepath.Join(".cursor", "mcp.json"), key: "mcpServers"},
	{name: "windsurf", rel: filepath.Join(".codeium", "windsurf", "mcp_config.json"), key: "mcpServers"},
	{name: "codex", rel: filepath.Join(".codex", "config.toml")},
}

func clientNames() []string {
	var n []string
	for _, c := range mcpClients {
		n = append(n, c.name)
	}
	return n
}

// mcpServerName is the key phantom's entry has in every client's list.
const mcpServerName = "phantom"

// SetupResult is setup's --json output.
type SetupResult struct {
	Client  string `json:"client"`
	Path    string `json:"path"`
	Changed bool   `json:"changed"` // false: the entry was already there, or --print
	Written bool   `json:"written"`
	Content string `json:"content"` // the file as written (or as --print would write it)
}

func newSetupCmd(f *Factory) *cobra.Command {
	opts := &SetupOptions{F: f}
	cmd := &cobra.Command{
		Use:   "setup --client claude|cursor|windsurf|codex|vscode [--print]",
		Short: "Register phantom's MCP server with your AI coding tool",
		Long: `Add 'phantom mcp' to the MCP server list of an AI coding client, where that
client reads it:

  claude    .mcp.json in the project (commit it to share it)
  vscode    .vscode/mcp.json in the project
  cursor    ~/.cursor/mcp.json (every project)
  windsurf  ~/.codeium/windsurf/mcp_config.json (every project)
  codex     ~/.codex/config.toml, or $CODEX_HOME/config.toml

The file is merged, never replaced: other servers and settings stay as they
are (a JSON file is re-indented), an existing "phantom" entry is updated, and
the write is atomic. A file phantom cannot parse is left alone, with the entry
to add by hand. --print shows the file as it would be and writes nothing.

Project files name the command 'phantom' (it must be on the PATH of everyone
who uses the repository); user files name this binary's full path, because
editors started from a desktop often do not see your shell's PATH. For the
user-wide clients the server's working directory may not be your project:
the agent then passes project_dir to each tool.`,
		Example: `  phantom setup --client claude
  phantom setup --client codex --print`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f.Command = "phantom setup"
			return setupRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Client, "client", "", "the MCP client: "+strings.Join(clientNames(), ", "))
	cmd.Flags().BoolVar(&opts.Print, "print", false, "print the resulting file instead of writing it")
	jsonout.AddFlag(cmd, &opts.JSON, "print a JSON result on stdout")
	return cmd
}

func findClient(name string) (mcpClient, bool) {
	for _, c := range mcpClients {
		if c.name == name {
			return c, true
		}
	}
	return mcpClient{}, false
}

// userHome is the home directory the user-wide clients read from.
func (f *Factory) userHome() (string, error) {
	if h := f.Env("HOME"); h != "" {
		return h, nil
	}
	h, err := os.UserHomeDir()
	if err != nil || h == "" {
		return "", exitcode.Errorf(exitcode.Unavailable, "cannot find your home directory; set HOME")
	}
	return h, nil
}

// clientPath is where client c's configuration lives; dir is the project
// ("" when there is none).
func (f *Factory) clientPath(c mcpClient, dir string) (string, error) {
	if c.project {
		if dir == "" {
			return "", exitcode.Errorf(exitcode.NotFound, "")
		}
		return filepath.Join(dir, c.rel), nil
	}
	if c.name == "codex" {
		if ch := f.Env("CODEX_HOME"); ch != "" && filepath.IsAbs(ch) {
			return filepath.Join(ch, "config.toml"), nil
		}
	}
	h, err := f.userHome()
	if err != nil {
		return "", err
	}
	return filepath.Join(h, c.rel), nil
}

// setupRun is setup; with --json a failure is JSON on stdout too (the
// message also goes to stderr, as for every command).
func setupRun(o *SetupOptions) error {
	err := setupDo(o)
	if err != nil && o.JSON {
		var silent exitcode.Silent
		if !errors.As(err, &silent) {
			_ = jsonout.Write(o.F.IO.Out, map[string]any{"client": o.Client, "error": err.Error(), "exit_code": exitcode.Code(err)})
		}
	}
	return err
}

func setupDo(o *SetupOptions) error {
	f := o.F
	if o.Client == "" {
		return usageErrorf("--client is required: one of %s (e.g. phantom setup --client claude)", strings.Join(clientNames(), ", "))
	}
	c, ok := findClient(strings.ToLower(o.Client))
	if !ok {
		return usageErrorf("unknown client %q: use one of %s", o.Client, strings.Join(clientNames(), ", "))
	}
	dir := ""
	command := "phantom"
	if c.project {
		p, err := f.Project()
		if err != nil {
			return err
		}
		dir = p.Dir
	} else {
		exe, err := mcpCommandPath()
		if err != nil {
			return exitcode.Errorf(exitcode.Unavailable, "cannot find phantom's own path for %s's configuration: %v", c.name, err)
		}
		command = exe
	}
	path, err := f.clientPath(c, dir)
	if err != nil {
		return err
	}
	// Write through a symlink (dotfiles kept in a repository) to its target,
	// instead of replacing the link with a file.
	target := path
	if r, err := filepath.EvalSymlinks(path); err == nil {
		target = r
	}
	old, err := os.ReadFile(target)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("cannot read %s: %w", path, err)
	}
	var out []byte
	if c.key == "" {
		out, err = mergeCodexTOML(old, command)
	} else {
		out, err = mergeMCPJSON(old, c.key, mcpJSONEntry(c, command))
	}
	if err != nil {
		return exitcode.Errorf(exitcode.Failure, "%s: %v\nphantom left it unchanged. Add this entry yourself:\n%s", path, err, entrySnippet(c, command))
	}
	res := SetupResult{Client: c.name, Path: path, Content: string(out), Changed: !exists || !bytes.Equal(old, out)}
	if o.Print {
		res.Changed = false
		if o.JSON {
			return jsonout.Write(f.IO.Out, res)
		}
		fmt.Fprintf(f.IO.ErrOut, "# %s (not written: --print)\n", path)
		_, err := f.IO.Out.Write(out)
		return err
	}
	if res.Changed {
		perm := os.FileMode(0o644)
		if !c.project {
			perm = 0o600 // user files may hold other servers' tokens
		}
		if exists {
			perm = 0 // keep the file's mode
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
			return fmt.Errorf("cannot create %s: %w", filepath.Dir(target), err)
		}
		if err := fsx.WriteFileAtomic(target, out, perm); err != nil {
			return fmt.Errorf("cannot write %s: %w; it is unchanged", path, err)
		}
		res.Written = true
	}
	if o.JSON {
		return jsonout.Write(f.IO.Out, res)
	}
	if !res.Changed {
		f.IO.Successf("%s already runs phantom mcp (%s)", c.name, path)
	} else {
		f.IO.Successf("Registered phantom mcp for %s in %s", c.name, path)
	}
	if c.project {
		f.IO.Infof("Restart %s or reload its MCP servers; commit %s to share it.", c.name, filepath.ToSlash(c.rel))
	} else {
		f.IO.Infof("Restart %s. It starts phantom mcp for every project: its agent passes project_dir when the working directory is not the project.", c.name)
	}
	return nil
}

// mcpEntry is phantom's server entry, fields in the order the clients'
// documentation shows them.
type mcpEntry struct {
	Type    string   `json:"type,omitempty"` // VS Code: "stdio"
	Command string   `json:"command"`
	Args    []string `json:"args"`
}

// mcpCommandPath is the path this phantom was started by: the PATH entry when run
// by name, not resolved through symlinks, so a package manager's link keeps
// working after an upgrade; else the running binary.
func mcpCommandPath() (string, error) {
	a := os.Args[0]
	if !strings.ContainsRune(a, filepath.Separator) {
		if p, err := exec.LookPath(a); err == nil {
			return filepath.Abs(p)
		}
	} else if abs, err := filepath.Abs(a); err == nil {
		if fi, err := os.Stat(abs); err == nil && fi.Mode().IsRegular() {
			return abs, nil
		}
	}
	return os.Executable()
}

func mcpJSONEntry(c mcpClient, command string) mcpEntry {
	e := mcpEntry{Command: command, Args: []string{"mcp"}}
	if c.typed {
		e.Type = "stdio"
	}
	return e
}

func entrySnippet(c mcpClient, command string) string {
	if c.key == "" {
		return fmt.Sprintf("[mcp_servers.%s]\ncommand = %s\nargs = [\"mcp\"]", mcpServerName, tomlString(command))
	}
	b, _ := json.MarshalIndent(map[string]any{c.key: map[string]any{mcpServerName: mcpJSONEntry(c, command)}}, "", "  ")
	return string(b)
}

// --- JSON, keeping the order and content of everything else ---------------

// parseJSONObject is jsonobj.Parse with this command's messages: a syntax
// error located by line, since the user has to fix the file by hand.
func parseJSONObject(b []byte) (jsonobj.Object, error) {
	o, err := jsonobj.Parse(b)
	switch {
	case err == nil:
		return o, nil
	case errors.Is(err, jsonobj.ErrNotObject):
		return nil, errors.New("the top level is not a JSON object")
	case errors.Is(err, jsonobj.ErrTrailingData):
		return nil, errors.New("more than one JSON value in the file")
	}
	return nil, jsonErr(b, err)
}

// jsonErr says where the JSON is broken (comments, as VS Code allows, are
// the usual cause).
func jsonErr(b []byte, err error) error {
	var v any
	if uerr := json.Unmarshal(b, &v); uerr != nil {
		err = uerr
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		pre := b[:min(int(se.Offset), len(b))]
		line := bytes.Count(pre, []byte("\n")) + 1
		return fmt.Errorf("not valid JSON at line %d: %v (comments and trailing commas are not JSON)", line, err)
	}
	return fmt.Errorf("not valid JSON: %v", err)
}

// mergeMCPJSON returns old with the phantom entry set under key. An entry
// already equal to it leaves the bytes as they were.
func mergeMCPJSON(old []byte, key string, entry mcpEntry) ([]byte, error) {
	var top jsonobj.Object
	if len(bytes.TrimSpace(old)) > 0 {
		var err error
		if top, err = parseJSONObject(old); err != nil {
			return nil, err
		}
	}
	var servers jsonobj.Object
	if raw, ok := top.Get(key); ok && string(bytes.TrimSpace(raw)) != "null" {
		var err error
		if servers, err = jsonobj.Parse(raw); err != nil {
			return nil, fmt.Errorf("%q is not an object of servers", key)
		}
	}
	want, _ := json.Marshal(entry)
	if cur, ok := servers.Get(mcpServerName); ok && sameJSON(cur, want) {
		return old, nil
	}
	servers.Set(mcpServerName, want)
	sb, err := servers.Indent("  ")
	if err != nil {
		return nil, err
	}
	top.Set(key, sb)
	out, err := top.Indent("")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

func sameJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// --- Codex's config.toml, edited as text -----------------------------------

// phantomTable matches the header of [mcp_servers.phantom] and its
// subtables ([mcp_servers.phantom.env]).
var phantomTable = regexp.MustCompile(`^\s*\[\s*mcp_servers\s*\.\s*("phantom"|'phantom'|phantom)\s*(\]|\.)`)

var tomlHeader = regexp.MustCompile(`^\s*\[`)

// mergeCodexTOML sets [mcp_servers.phantom] in a Codex config.toml. The file
// is edited as text so comments and layout survive: phantom's own table
// (and its subtables) is replaced in place, or appended. The result must
// parse and differ from the original only in mcp_servers.phantom.
func mergeCodexTOML(old []byte, command string) ([]byte, error) {
	var before map[string]any
	if err := toml.Unmarshal(old, &before); err != nil {
		return nil, fmt.Errorf("not valid TOML: %v", err)
	}
	if entryMatches(before, command) {
		return old, nil
	}
	block := fmt.Sprintf("[mcp_servers.%s]\ncommand = %s\nargs = [\"mcp\"]\n", mcpServerName, tomlString(command))
	lines := strings.SplitAfter(string(old), "\n")
	var out strings.Builder
	in, placed := false, false
	for _, l := range lines {
		if tomlHeader.MatchString(l) {
			if phantomTable.MatchString(l) {
				if !placed {
					out.WriteString(block)
					placed = true
				}
				in = true
				continue
			}
			if in {
				out.WriteString("\n")
			}
			in = false
		}
		if !in {
			out.WriteString(l)
		}
	}
	s := out.String()
	if !placed {
		if s != "" && !strings.HasSuffix(s, "\n") {
			s += "\n"
		}
		if s != "" {
			s += "\n"
		}
		s += block
	}
	var after map[string]any
	if err := toml.Unmarshal([]byte(s), &after); err != nil {
		return nil, fmt.Errorf("phantom's table is defined in a way phantom cannot edit (%v)", err)
	}
	if !entryMatches(after, command) || !reflect.DeepEqual(withoutPhantom(before), withoutPhantom(after)) {
		return nil, errors.New("phantom's table is defined in a way phantom cannot edit (inline or dotted keys)")
	}
	return []byte(s), nil
}

func entryMatches(cfg map[string]any, command string) bool {
	svrs, _ := cfg["mcp_servers"].(map[string]any)
	e, _ := svrs[mcpServerName].(map[string]any)
	if e == nil || e["command"] != command {
		return false
	}
	args, _ := e["args"].([]any)
	return len(args) == 1 && args[0] == "mcp" && len(e) == 2
}

func withoutPhantom(cfg map[string]any) map[string]any {
	c := map[string]any{}
	for k, v := range cfg {
		c[k] = v
	}
	if svrs, ok := cfg["mcp_servers"].(map[string]any); ok {
		s := map[string]any{}
		for k, v := range svrs {
			if k != mcpServerName {
				s[k] = v
			}
		}
		if len(s) > 0 {
			c["mcp_servers"] = s
		} else {
			delete(c, "mcp_servers")
		}
	}
	return c
}

// tomlString is a TOML basic string: every escape encoding/json writes
// (\", \\, \n, \t, \uXXXX...) is also a TOML escape.
func tomlString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
