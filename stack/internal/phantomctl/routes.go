package phantomctl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/BurntSushi/toml"

	"phantomstack.dev/shared/fsx"
)

// Pending is `phantom trust --json`: what waits for a person's approval
// before phantom exec will run (docs/phantom.md, "Custom routes and
// phantom trust"). Names and upstreams only.
type Pending struct {
	Routes []PendingRoute `json:"routes"`
	// Settings are .phantom.toml settings that hand out more than approved.
	Settings []string `json:"settings"`
}

// PendingRoute is one route (or "[aws]") waiting for approval.
type PendingRoute struct {
	Route    string `json:"route"`
	Upstream string `json:"upstream"`
	FromEnv  string `json:"from_env,omitempty"`
}

// Empty reports whether nothing waits for approval.
func (p Pending) Empty() bool { return len(p.Routes) == 0 && len(p.Settings) == 0 }

// Pending asks phantom what waits for approval. It approves nothing.
func (c *Client) Pending(ctx context.Context) (Pending, error) {
	out, err := c.run(ctx, nil, "trust", "--json")
	if err != nil {
		return Pending{}, err
	}
	var p Pending
	if err := json.Unmarshal(out, &p); err != nil {
		return Pending{}, fmt.Errorf("phantom trust --json printed something that is not its report: %v", err)
	}
	return p, nil
}

// TrustOnTerminal runs `phantom trust` attached to the user's terminal:
// phantom shows what is pending and asks the person to type "trust". stack
// only starts it; the decision and the approval stay phantom's (in the
// vault), and nothing passes through stack.
func (c *Client) TrustOnTerminal(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := exec.CommandContext(ctx, c.Bin, "trust")
	interruptOnCancel(cmd, stopGrace)
	cmd.Dir, cmd.Env = c.Dir, c.Env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return &CallError{Args: []string{"trust"}, Code: ee.ExitCode()}
	}
	return err
}

// ConfigPath is the project's .phantom.toml as phantom finds it (c.Dir or
// the nearest parent), or "" when there is none.
func (c *Client) ConfigPath() string {
	dir := c.Dir
	for dir != "" {
		p := filepath.Join(dir, ".phantom.toml")
		if _, err := os.Stat(p); err == nil {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return ""
}

// RouteUpstream reads [routes.NAME] upstream from .phantom.toml: the value,
// and whether the table exists at all.
func (c *Client) RouteUpstream(name string) (upstream string, exists bool, err error) {
	path := c.ConfigPath()
	if path == "" {
		return "", false, nil
	}
	var cfg struct {
		Routes map[string]map[string]any `toml:"routes"`
	}
	if _, err := toml.DecodeFile(path, &cfg); err != nil {
		return "", false, fmt.Errorf("reading %s: %w", path, err)
	}
	t, ok := cfg.Routes[name]
	if !ok {
		return "", false, nil
	}
	s, _ := t["upstream"].(string)
	return s, true, nil
}

// AddRouteUpstream appends `[routes.NAME] upstream = "URL"` to .phantom.toml
// (atomically, the rest of the file untouched). The caller checks first that
// the table does not exist. phantom then refuses to run the route until a
// person approves it with `phantom trust`: writing the file grants nothing.
// envVar names the stack variable that asked for it, for the comment.
func (c *Client) AddRouteUpstream(name, upstream, envVar string) error {
	path := c.ConfigPath()
	if path == "" {
		return fmt.Errorf("no .phantom.toml in %s or above", c.Dir)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	var add bytes.Buffer
	fmt.Fprintf(&add, "\n[routes.%s]\n# written by stack because %s is set (docs/stack.md, \"API overrides\")\nupstream = %q\n", name, envVar, upstream)
	b = append(bytes.TrimRight(b, "\n"), '\n')
	b = append(b, add.Bytes()...)
	// Parse before writing, so a bad edit never reaches the disk.
	var probe map[string]any
	if _, err := toml.Decode(string(b), &probe); err != nil {
		return fmt.Errorf("internal error: %s would not parse after adding [routes.%s] (%v); nothing was written", path, name, err)
	}
	perm := st.Mode().Perm()
	if err := fsx.WriteFileAtomic(path, b, perm); err != nil {
		return fmt.Errorf("could not write %s: %w", path, err)
	}
	return nil
}
