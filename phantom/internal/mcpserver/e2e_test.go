package mcpserver_test

// These tests drive the built `phantom mcp` over stdio with the official Go
// SDK's client, the way an MCP client (Claude Code, Cursor...) does, against
// a project whose vault holds known values. Every response — text and
// structured content, refusals included — is searched for every value.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

func phantomBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "phantom-mcp-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "phantom")
		cmd := exec.Command("go", "build", "-o", builtBin, "phantomstack.dev/phantom/cmd/phantom")
		cmd.Stderr = os.Stderr
		buildErr = cmd.Run()
	})
	if buildErr != nil {
		t.Fatalf("building phantom: %v", buildErr)
	}
	return builtBin
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// project is a phantom project with a vault holding values.
type project struct {
	t      *testing.T
	bin    string
	dir    string
	env    []string
	values []string // every value in the vault
}

func newProject(t *testing.T) *project {
	t.Helper()
	root := t.TempDir()
	p := &project{t: t, bin: phantomBinary(t), dir: filepath.Join(root, "app")}
	os.MkdirAll(p.dir, 0o755)
	p.env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + filepath.Join(root, "home"),
		"PHANTOM_HOME=" + filepath.Join(root, "phantom-home"),
		"PHANTOM_VAULT_PASSPHRASE=mcp-test-passphrase",
		"NO_COLOR=1",
	}
	openai := "sk-proj-" + randHex(24)
	dbURL := "postgres://app:" + randHex(12) + "@db.internal:5432/app?sslmode=require&x=1"
	odd := "zq" + randHex(10) + "/+=~" // no recognisable shape
	p.values = []string{openai, dbURL, odd}
	env := "OPENAI_API_KEY=" + openai + "\nDATABASE_URL=\"" + dbURL + "\"\nSESSION_SECRET=" + odd + "\nPORT=3000\n"
	if err := os.WriteFile(filepath.Join(p.dir, ".env"), []byte(env), 0o600); err != nil {
		t.Fatal(err)
	}
	p.phantom("", "init", "--yes")
	gh := "ghp_" + randHex(18)
	p.values = append(p.values, gh)
	p.phantom(gh+"\n", "add", "GITHUB_TOKEN", "--stdin")
	// A second env file, protected later through phantom_protect_env.
	extra := "ANTHROPIC_API_KEY=sk-ant-api03-" + randHex(20) + "\n"
	p.values = append(p.values, strings.TrimSpace(strings.TrimPrefix(extra, "ANTHROPIC_API_KEY=")))
	if err := os.WriteFile(filepath.Join(p.dir, "extra.env"), []byte(extra), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *project) phantom(stdin string, args ...string) string {
	p.t.Helper()
	cmd := exec.Command(p.bin, args...)
	cmd.Dir, cmd.Env, cmd.Stdin = p.dir, p.env, strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		p.t.Fatalf("phantom %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// names lists the vault's secret names through the CLI.
func (p *project) names() []string {
	p.t.Helper()
	var list []struct{ Name string }
	if err := json.Unmarshal([]byte(p.phantom("", "list", "--json")), &list); err != nil {
		p.t.Fatal(err)
	}
	var n []string
	for _, e := range list {
		n = append(n, e.Name)
	}
	return n
}

// recorder keeps every response a client received.
type recorder struct {
	mu   sync.Mutex
	seen []string
}

func (r *recorder) add(v any) {
	b, _ := json.Marshal(v)
	r.mu.Lock()
	r.seen = append(r.seen, string(b))
	r.mu.Unlock()
}

// assertNoValue fails if any response holds any vault value, raw or in a
// common encoding.
func (p *project) assertNoValue(r *recorder) {
	p.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.seen) == 0 {
		p.t.Fatal("no responses recorded")
	}
	for _, v := range p.values {
		forms := []string{v, base64.StdEncoding.EncodeToString([]byte(v)), base64.RawURLEncoding.EncodeToString([]byte(v)), hex.EncodeToString([]byte(v)), url.QueryEscape(v)}
		jv, _ := json.Marshal(v)
		forms = append(forms, strings.Trim(string(jv), `"`))
		for _, resp := range r.seen {
			for _, f := range forms {
				// JSON-decoded text too, in case escaping hid it.
				if strings.Contains(resp, f) || strings.Contains(unescape(resp), f) {
					p.t.Fatalf("a response holds a vault value (form %q):\n%s", f, resp)
				}
			}
		}
	}
}

func unescape(s string) string {
	var v any
	if json.Unmarshal([]byte(s), &v) != nil {
		return s
	}
	var b strings.Builder
	var walk func(any)
	walk = func(x any) {
		switch x := x.(type) {
		case string:
			b.WriteString(x)
			b.WriteByte('\n')
			var inner any
			if json.Unmarshal([]byte(x), &inner) == nil {
				walk(inner)
			}
		case map[string]any:
			for k, v := range x {
				b.WriteString(k)
				walk(v)
			}
		case []any:
			for _, v := range x {
				walk(v)
			}
		}
	}
	walk(v)
	return b.String()
}

type clientOpts struct {
	protocol string
	elicit   func(*mcp.ElicitRequest) (*mcp.ElicitResult, error)
	dir      string // the server's working directory (default: the project)
}

// connect starts `phantom mcp` and connects the SDK's client to it.
func (p *project) connect(rec *recorder, o clientOpts) *mcp.ClientSession {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	p.t.Cleanup(cancel)
	cmd := exec.Command(p.bin, "mcp")
	cmd.Dir, cmd.Env = p.dir, p.env
	if o.dir != "" {
		cmd.Dir = o.dir
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	copts := &mcp.ClientOptions{}
	if o.elicit != nil {
		copts.ElicitationHandler = func(_ context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			rec.add(req.Params)
			return o.elicit(req)
		}
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "phantom-test", Version: "1"}, copts)
	cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd}, &mcp.ClientSessionOptions{ProtocolVersion: o.protocol})
	if err != nil {
		p.t.Fatalf("connect: %v\n%s", err, stderr.String())
	}
	p.t.Cleanup(func() {
		cs.Close()
		rec.add(stderr.String())
		p.assertNoValue(rec)
	})
	return cs
}

func call(t *testing.T, cs *mcp.ClientSession, rec *recorder, name string, args any) *mcp.CallToolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	rec.add(res)
	return res
}

func text(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

func wantError(t *testing.T, res *mcp.CallToolResult, subs ...string) {
	t.Helper()
	if !res.IsError {
		t.Fatalf("want a refusal, got success: %s", text(res))
	}
	for _, s := range subs {
		if !strings.Contains(text(res), s) {
			t.Fatalf("refusal lacks %q:\n%s", s, text(res))
		}
	}
}

func wantOK(t *testing.T, res *mcp.CallToolResult) map[string]any {
	t.Helper()
	if res.IsError {
		t.Fatalf("want success, got: %s", text(res))
	}
	var m map[string]any
	b, _ := json.Marshal(res.StructuredContent)
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("structured content is not a JSON object: %s", b)
	}
	return m
}

var allTools = []string{
	"phantom_add_secret", "phantom_add_secret_interactive", "phantom_check", "phantom_doctor", "phantom_init",
	"phantom_list_secrets", "phantom_protect_env", "phantom_remove_secret", "phantom_rotate", "phantom_status", "phantom_why",
}

var mutating = []string{"phantom_init", "phantom_protect_env", "phantom_remove_secret", "phantom_rotate"}

func TestMCPListToolsSchemas(t *testing.T) {
	p := newProject(t)
	rec := &recorder{}
	cs := p.connect(rec, clientOpts{})
	ctx := context.Background()
	lt, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec.add(lt)
	var names []string
	for _, tool := range lt.Tools {
		names = append(names, tool.Name)
		b, _ := json.Marshal(tool.InputSchema)
		var s struct {
			Type                 string                     `json:"type"`
			Properties           map[string]json.RawMessage `json:"properties"`
			Required             []string                   `json:"required"`
			AdditionalProperties *bool                      `json:"additionalProperties"`
		}
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatal(err)
		}
		if s.Type != "object" || s.AdditionalProperties == nil || *s.AdditionalProperties {
			t.Errorf("%s: schema must be a closed object (additionalProperties false): %s", tool.Name, b)
		}
		for k := range s.Properties {
			if strings.Contains(k, "value") || strings.Contains(k, "secret") {
				t.Errorf("%s: schema has a value-like field %q", tool.Name, k)
			}
		}
		if slices.Contains(mutating, tool.Name) {
			if !slices.Contains(s.Required, "confirm") {
				t.Errorf("%s: confirm must be required: %s", tool.Name, b)
			}
			if !strings.Contains(tool.Description, "ask the user") {
				t.Errorf("%s: description must tell the agent to ask the user first: %s", tool.Name, tool.Description)
			}
			if tool.Annotations == nil || tool.Annotations.ReadOnlyHint {
				t.Errorf("%s: must not be marked read-only", tool.Name)
			}
		} else if tool.Annotations == nil || !tool.Annotations.ReadOnlyHint {
			t.Errorf("%s: should be marked read-only", tool.Name)
		}
	}
	slices.Sort(names)
	if !slices.Equal(names, allTools) {
		t.Fatalf("tools = %v, want %v", names, allTools)
	}
}

// TestMCPReadTools calls each read-only tool and checks it answers from the
// CLI's JSON, names only.
func TestMCPReadTools(t *testing.T) {
	p := newProject(t)
	// A secret left in plaintext: status, why and doctor report its name only.
	late := "lt_" + randHex(16)
	p.values = append(p.values, late)
	if err := os.WriteFile(filepath.Join(p.dir, ".env.local"), []byte("LATE_SECRET_TOKEN="+late+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	cs := p.connect(rec, clientOpts{})

	list := wantOK(t, call(t, cs, rec, "phantom_list_secrets", map[string]any{}))
	var got []string
	for _, e := range list["items"].([]any) {
		got = append(got, e.(map[string]any)["name"].(string))
	}
	slices.Sort(got)
	if want := []string{"DATABASE_URL", "GITHUB_TOKEN", "OPENAI_API_KEY", "SESSION_SECRET"}; !slices.Equal(got, want) {
		t.Fatalf("list = %v, want %v", got, want)
	}
	st := wantOK(t, call(t, cs, rec, "phantom_status", map[string]any{"project_dir": p.dir}))
	if st["initialized"] != true {
		t.Fatalf("status: %v", st)
	}
	if !strings.Contains(text(call(t, cs, rec, "phantom_status", map[string]any{})), `"unprotected":["LATE_SECRET_TOKEN"]`) {
		t.Fatal("status does not name the plaintext secret")
	}
	why := wantOK(t, call(t, cs, rec, "phantom_why", map[string]any{"key": "OPENAI_API_KEY"}))
	if why["in_vault"] != true {
		t.Fatalf("why: %v", why)
	}
	if !strings.Contains(text(call(t, cs, rec, "phantom_why", map[string]any{"key": "LATE_SECRET_TOKEN"})), "plaintext-secret") {
		t.Fatal("why does not call the plaintext secret one")
	}
	// doctor exits 1 here (a plaintext secret): its report is the answer.
	doc := call(t, cs, rec, "phantom_doctor", map[string]any{})
	if doc.IsError || !strings.Contains(text(doc), `"status":"fail"`) || !strings.Contains(text(doc), "LATE_SECRET_TOKEN") {
		t.Fatalf("doctor: %s", text(doc))
	}
	add := call(t, cs, rec, "phantom_add_secret_interactive", map[string]any{"name": "STRIPE_SECRET_KEY"})
	m := wantOK(t, add)
	if m["command"] != "phantom add STRIPE_SECRET_KEY" || !strings.HasSuffix(m["run_in_terminal"].(string), "&& phantom add STRIPE_SECRET_KEY") {
		t.Fatalf("add_secret_interactive: %v", m)
	}
	wantError(t, call(t, cs, rec, "phantom_add_secret", map[string]any{"name": "STRIPE_SECRET_KEY"}), "phantom_add_secret_interactive", "Nothing was stored")
	// Relative project_dir, from the server's directory.
	wantOK(t, call(t, cs, rec, "phantom_status", map[string]any{"project_dir": "."}))
}

// TestMCPCheck: phantom_check runs `phantom check --json` and returns its
// report: a vault value leaked in an encoded form is found and named by its
// secret, and (as every call here) no response holds any value.
func TestMCPCheck(t *testing.T) {
	p := newProject(t)
	// SESSION_SECRET's value has no provider shape; only the vault knows it.
	leak := "token = \"" + url.QueryEscape(p.values[2]) + "\"\n"
	if err := os.WriteFile(filepath.Join(p.dir, "settings.txt"), []byte(leak), 0o600); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	cs := p.connect(rec, clientOpts{})
	res := call(t, cs, rec, "phantom_check", map[string]any{})
	if res.IsError {
		t.Fatalf("phantom_check: %s", text(res))
	}
	rep, ok := res.StructuredContent.(map[string]any)
	if !ok {
		t.Fatalf("phantom_check returned no structured report: %s", text(res))
	}
	if rep["clean"] != false {
		t.Fatalf("phantom_check: want findings, got %v", rep)
	}
	found := false
	for _, f := range rep["findings"].([]any) {
		m := f.(map[string]any)
		if m["file"] == "settings.txt" && m["layer"] == "known-value" && m["secret"] == "SESSION_SECRET" {
			found = true
		}
	}
	if !found {
		t.Fatalf("phantom_check did not report the encoded SESSION_SECRET in settings.txt: %v", rep["findings"])
	}
	if out, err := exec.Command("git", "-C", p.dir, "init", "-q").CombinedOutput(); err != nil {
		t.Fatalf("git init: %v\n%s", err, out)
	}
	if res := call(t, cs, rec, "phantom_check", map[string]any{"staged": true}); res.IsError || res.StructuredContent == nil {
		t.Fatalf("phantom_check staged: %s", text(res))
	}
}

func TestMCPRefusals(t *testing.T) {
	p := newProject(t)
	rec := &recorder{}
	cs := p.connect(rec, clientOpts{})
	before := p.names()

	// A value argument, on the add tool and on any other.
	wantError(t, call(t, cs, rec, "phantom_add_secret", map[string]any{"name": "NEW_KEY", "value": "sk-live-should-never-arrive"}),
		`"value"`, "never accepts a secret value", "phantom_add_secret_interactive")
	wantError(t, call(t, cs, rec, "phantom_remove_secret", map[string]any{"name": "OPENAI_API_KEY", "confirm": true, "value": "x"}),
		"never accepts a secret value")
	// Unknown arguments.
	wantError(t, call(t, cs, rec, "phantom_list_secrets", map[string]any{"format": "table"}), "unknown argument(s) format", "project_dir")
	wantError(t, call(t, cs, rec, "phantom_list_secrets", map[string]any{"show_values": true}), "never accepts a secret value")
	wantError(t, call(t, cs, rec, "phantom_status", map[string]any{"verbose": 1}), "unknown argument(s) verbose")
	// Wrong types and missing required fields.
	wantError(t, call(t, cs, rec, "phantom_why", map[string]any{}), "invalid arguments")
	wantError(t, call(t, cs, rec, "phantom_why", map[string]any{"key": 3}), "invalid arguments")
	// confirm missing or false, on every mutating tool.
	for _, tool := range mutating {
		args := map[string]any{"name": "OPENAI_API_KEY", "env_file": "extra.env"}
		if tool != "phantom_remove_secret" {
			delete(args, "name")
		}
		if tool != "phantom_protect_env" {
			delete(args, "env_file")
		}
		wantError(t, call(t, cs, rec, tool, args), "confirm: true", "Ask the user")
		args["confirm"] = false
		wantError(t, call(t, cs, rec, tool, args), "confirm: true", "Ask the user")
	}
	wantError(t, call(t, cs, rec, "phantom_doctor", map[string]any{"fix": true}), "confirm: true")
	// project_dir outside any project, or not there at all.
	outside := t.TempDir()
	for _, tool := range []string{"phantom_list_secrets", "phantom_status", "phantom_doctor"} {
		wantError(t, call(t, cs, rec, tool, map[string]any{"project_dir": outside}), "not a phantom project")
	}
	wantError(t, call(t, cs, rec, "phantom_remove_secret", map[string]any{"project_dir": outside, "name": "OPENAI_API_KEY", "confirm": true}), "not a phantom project")
	wantError(t, call(t, cs, rec, "phantom_status", map[string]any{"project_dir": filepath.Join(outside, "nope")}), "project directory")
	// A server started outside any project refuses without project_dir.
	rec2 := &recorder{}
	cs2 := p.connect(rec2, clientOpts{dir: outside})
	wantError(t, call(t, cs2, rec2, "phantom_list_secrets", map[string]any{}), "not a phantom project", "pass project_dir")
	wantOK(t, call(t, cs2, rec2, "phantom_list_secrets", map[string]any{"project_dir": p.dir}))
	// An env file outside the project, directly or through a symlink.
	os.WriteFile(filepath.Join(outside, "x.env"), []byte("A_SECRET_KEY=zz"+randHex(8)+"\n"), 0o600)
	os.Symlink(filepath.Join(outside, "x.env"), filepath.Join(p.dir, "link.env"))
	relOut, _ := filepath.Rel(p.dir, filepath.Join(outside, "x.env"))
	for _, f := range []string{relOut, filepath.Join(outside, "x.env"), "link.env", "../app/../../x.env"} {
		wantError(t, call(t, cs, rec, "phantom_protect_env", map[string]any{"env_file": f, "confirm": true}), "outside the project")
	}
	// Names that are not environment variable names never reach a command.
	for _, n := range []string{"--help", "A;rm -rf ~", "A B", "$(id)"} {
		wantError(t, call(t, cs, rec, "phantom_add_secret_interactive", map[string]any{"name": n}), "not a valid secret name")
		wantError(t, call(t, cs, rec, "phantom_why", map[string]any{"key": n}), "not a valid secret name")
	}
	if after := p.names(); !slices.Equal(before, after) {
		t.Fatalf("refused calls changed the vault: %v → %v", before, after)
	}
}

// TestMCPConfirmGateWithoutElicitation: a client that cannot ask the user
// gets the CLI command for remove and rotate; init and protect_env act on
// confirm (docs/decisions.md).
func TestMCPConfirmGateWithoutElicitation(t *testing.T) {
	p := newProject(t)
	rec := &recorder{}
	cs := p.connect(rec, clientOpts{})
	envBefore, _ := os.ReadFile(filepath.Join(p.dir, ".env"))
	wantError(t, call(t, cs, rec, "phantom_remove_secret", map[string]any{"name": "OPENAI_API_KEY", "confirm": true}),
		"does not support elicitation", "&& phantom remove OPENAI_API_KEY")
	wantError(t, call(t, cs, rec, "phantom_rotate", map[string]any{"names": []string{"OPENAI_API_KEY"}, "confirm": true}),
		"&& phantom rotate OPENAI_API_KEY")
	if !slices.Contains(p.names(), "OPENAI_API_KEY") {
		t.Fatal("remove acted without the user's approval")
	}
	if envAfter, _ := os.ReadFile(filepath.Join(p.dir, ".env")); !bytes.Equal(envBefore, envAfter) {
		t.Fatal("rotate acted without the user's approval")
	}
	res := wantOK(t, call(t, cs, rec, "phantom_protect_env", map[string]any{"env_file": "extra.env", "confirm": true}))
	if !slices.Contains(p.names(), "ANTHROPIC_API_KEY") {
		t.Fatalf("protect_env did not protect extra.env: %v", res)
	}
	wantOK(t, call(t, cs, rec, "phantom_init", map[string]any{"confirm": true}))
	// A subdirectory of the project is not a new project.
	os.MkdirAll(filepath.Join(p.dir, "sub"), 0o755)
	wantError(t, call(t, cs, rec, "phantom_init", map[string]any{"project_dir": "sub", "confirm": true}), "is inside the phantom project")
	if _, err := os.Stat(filepath.Join(p.dir, "sub", ".phantom.toml")); err == nil {
		t.Fatal("init created a nested project")
	}
	// A new directory becomes a project.
	fresh := filepath.Join(t.TempDir(), "fresh")
	os.MkdirAll(fresh, 0o755)
	freshValue := "fk_" + randHex(12)
	p.values = append(p.values, freshValue)
	os.WriteFile(filepath.Join(fresh, ".env"), []byte("FRESH_API_KEY="+freshValue+"\n"), 0o600)
	wantOK(t, call(t, cs, rec, "phantom_init", map[string]any{"project_dir": fresh, "confirm": true}))
	if _, err := os.Stat(filepath.Join(fresh, ".phantom.toml")); err != nil {
		t.Fatal("init did not create the project")
	}
	if b, _ := os.ReadFile(filepath.Join(fresh, ".env")); !strings.Contains(string(b), "phm_") {
		t.Fatalf("init left .env unprotected: %s", b)
	}
}

func TestMCPElicitation(t *testing.T) {
	for _, proto := range []string{"", "2025-06-18"} {
		name := proto
		if name == "" {
			name = "latest"
		}
		t.Run(name, func(t *testing.T) {
			p := newProject(t)
			rec := &recorder{}
			var mu sync.Mutex
			answer := &mcp.ElicitResult{Action: "decline"}
			asked := 0
			cs := p.connect(rec, clientOpts{protocol: proto, elicit: func(req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
				mu.Lock()
				defer mu.Unlock()
				asked++
				if !strings.Contains(req.Params.Message, "Only you can approve") {
					t.Errorf("question: %q", req.Params.Message)
				}
				return answer, nil
			}})
			setAnswer := func(r *mcp.ElicitResult) { mu.Lock(); answer = r; mu.Unlock() }

			// Declined, cancelled, accepted without the box: nothing happens.
			for _, r := range []*mcp.ElicitResult{{Action: "decline"}, {Action: "cancel"}, {Action: "accept", Content: map[string]any{"approve": false}}} {
				setAnswer(r)
				wantError(t, call(t, cs, rec, "phantom_remove_secret", map[string]any{"name": "OPENAI_API_KEY", "confirm": true}), "did not approve", "Nothing was done")
			}
			if !slices.Contains(p.names(), "OPENAI_API_KEY") {
				t.Fatal("removed without approval")
			}
			// confirm false never reaches the user.
			n := asked
			wantError(t, call(t, cs, rec, "phantom_remove_secret", map[string]any{"name": "OPENAI_API_KEY", "confirm": false}), "confirm: true")
			if asked != n {
				t.Fatal("asked the user although confirm was false")
			}
			// Accepted: it acts.
			setAnswer(&mcp.ElicitResult{Action: "accept", Content: map[string]any{"approve": true}})
			wantOK(t, call(t, cs, rec, "phantom_remove_secret", map[string]any{"name": "OPENAI_API_KEY", "confirm": true}))
			if slices.Contains(p.names(), "OPENAI_API_KEY") {
				t.Fatal("accepted remove did not remove")
			}
			envBefore, _ := os.ReadFile(filepath.Join(p.dir, ".env"))
			wantOK(t, call(t, cs, rec, "phantom_rotate", map[string]any{"confirm": true}))
			if envAfter, _ := os.ReadFile(filepath.Join(p.dir, ".env")); bytes.Equal(envBefore, envAfter) {
				t.Fatal("accepted rotate did not rewrite .env")
			}
			// With elicitation, init and protect_env ask too.
			setAnswer(&mcp.ElicitResult{Action: "decline"})
			wantError(t, call(t, cs, rec, "phantom_protect_env", map[string]any{"env_file": "extra.env", "confirm": true}), "did not approve")
			if slices.Contains(p.names(), "ANTHROPIC_API_KEY") {
				t.Fatal("protect_env acted although the user declined")
			}
			if asked != 6 {
				t.Fatalf("asked %d times, want 6", asked)
			}
		})
	}
}

// TestMCPForgedApproval: an answer phantom never asked for (a client
// pre-answering, or replaying) is refused.
func TestMCPForgedApproval(t *testing.T) {
	p := newProject(t)
	rec := &recorder{}
	cs := p.connect(rec, clientOpts{elicit: func(*mcp.ElicitRequest) (*mcp.ElicitResult, error) {
		return &mcp.ElicitResult{Action: "decline"}, nil
	}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{
		Name:           "phantom_remove_secret",
		Arguments:      map[string]any{"name": "OPENAI_API_KEY", "confirm": true},
		InputResponses: mcp.InputResponseMap{"phantom-approval-00": &mcp.ElicitResult{Action: "accept", Content: map[string]any{"approve": true}}},
		RequestState:   "phantom-approval-00",
	})
	if err != nil {
		t.Fatal(err)
	}
	rec.add(res)
	wantError(t, res, "does not match a question phantom asked")
	if !slices.Contains(p.names(), "OPENAI_API_KEY") {
		t.Fatal("a forged approval removed a secret")
	}
}
