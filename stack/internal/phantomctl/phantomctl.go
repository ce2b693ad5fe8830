// Package phantomctl is the only code in stack that talks to phantom, and it
// does so only through the phantom CLI (docs/architecture.md §6): it finds the
// binary, checks its protocol and capabilities, sends secret values on stdin
// (never in argv), reads --json output only, lets phantom's own messages
// through on stderr, and turns phantom's exit codes into errors that say what
// to do. It never reads a secret value back: there is no call for that.
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
	"slices"
	"strings"
	"time"

	"phantomstack.dev/shared/exitcode"
)

// Protocol is the phantom CLI contract version this stack speaks.
const Protocol = 1

// Required are the capabilities stack needs from any phantom it uses.
var Required = []string{"add-stdin", "add-policy", "remove-env-file", "list-json", "sync-env-file", "init-yes", "exec"}

// InstallHint is printed when phantom is missing: the install routes of
// docs/install.md (README, "Install"), each a command that works as printed.
const InstallHint = `Phantom is not installed. Install it first:

    brew install phantomstack/tap/phantom      # macOS, Linux
    npm install -g phantom-secrets             # any platform with Node.js
    make install                               # from a clone of this repository

or download a signed release and verify it (docs/install.md), or point stack
at a phantom binary:

    export PHANTOM_BIN=/path/to/phantom`

// ErrNotInstalled is wrapped by the error Find returns when there is no
// phantom to run.
var ErrNotInstalled = errors.New("phantom is not installed")

// NotInstalledError says phantom could not be found, and how to install it.
type NotInstalledError struct{ Detail string }

func (e *NotInstalledError) Error() string {
	if e.Detail != "" {
		return InstallHint + "\n(" + e.Detail + ")"
	}
	return InstallHint
}
func (e *NotInstalledError) Unwrap() error { return ErrNotInstalled }

// Find returns the phantom binary: $PHANTOM_BIN when set, else phantom on
// PATH.
func Find(getenv func(string) string) (string, error) {
	if b := getenv("PHANTOM_BIN"); b != "" {
		st, err := os.Stat(b)
		if err != nil || !executable(st) {
			return "", &NotInstalledError{Detail: "PHANTOM_BIN=" + b + " is not an executable file"}
		}
		return b, nil
	}
	p, err := exec.LookPath("phantom")
	if err != nil {
		return "", &NotInstalledError{}
	}
	return p, nil
}

// Version is `phantom version --json`.
type Version struct {
	Version      string   `json:"version"`
	Protocol     int      `json:"protocol"`
	Capabilities []string `json:"capabilities"`
}

// Entry is one element of `phantom list --json`: names and metadata only.
type Entry struct {
	Name      string    `json:"name"`
	Policy    string    `json:"policy"`
	Route     string    `json:"route"`
	CreatedAt time.Time `json:"created_at"`
}

// Client runs phantom in one project directory.
type Client struct {
	Bin string
	Dir string
	// Env is phantom's environment; nil inherits stack's.
	Env []string
	// Stderr receives phantom's own messages (warnings, prompts).
	Stderr io.Writer
	// Timeout bounds every call but Exec (default 2 minutes: a vault may
	// wait for another writer's lock).
	Timeout time.Duration
}

// CallError is a phantom call that failed. Args never hold a value.
type CallError struct {
	Args   []string
	Code   int
	Stderr string
}

func (e *CallError) Error() string {
	what := map[int]string{
		exitcode.Usage:       "phantom rejected the call (usage); this is a stack bug, please report it",
		exitcode.Unavailable: "phantom could not open the vault (locked, or no keychain and no passphrase); set PHANTOM_VAULT_PASSPHRASE_FILE (or PHANTOM_VAULT_PASSPHRASE) or unlock your keychain, then retry",
		exitcode.NotFound:    "phantom did not find what was asked for",
		exitcode.Refused:     "phantom refused for safety",
	}[e.Code]
	if what == "" {
		what = fmt.Sprintf("phantom failed (exit %d)", e.Code)
	}
	msg := fmt.Sprintf("phantom %s: %s", strings.Join(e.Args, " "), what)
	if s := strings.TrimSpace(e.Stderr); s != "" {
		msg += ":\n" + s
	}
	return msg
}

// ExitCode returns phantom's code, so callers can map it.
func (e *CallError) ExitCode() int { return e.Code }

func (c *Client) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return 2 * time.Minute
}

// run calls phantom with args, stdin, and returns stdout. phantom's stderr
// is copied to c.Stderr and kept for the error.
func (c *Client) run(ctx context.Context, stdin []byte, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	cmd := exec.CommandContext(ctx, c.Bin, args...)
	interruptOnCancel(cmd, stopGrace)
	cmd.Dir = c.Dir
	cmd.Env = c.Env
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &errb
	if c.Stderr != nil {
		cmd.Stderr = io.MultiWriter(&errb, c.Stderr)
	}
	err := cmd.Run()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return out.Bytes(), &CallError{Args: args, Code: ee.ExitCode(), Stderr: errb.String()}
		}
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			return nil, &NotInstalledError{Detail: err.Error()}
		}
		return nil, fmt.Errorf("running phantom %s: %w", strings.Join(args, " "), err)
	}
	return out.Bytes(), nil
}

// stopGrace is how long phantom has, after stack passes on a Ctrl-C, to
// stop by itself (it finishes or drops its atomic write and exits 130)
// before it is killed.
const stopGrace = 10 * time.Second

// interruptOnCancel makes the end of cmd's context (Ctrl-C, a timeout) send
// phantom SIGINT, the signal a terminal would have sent it, instead of
// SIGKILL: phantom then stops cleanly, and its writes are atomic either way.
// After wait (0: never) it is killed. On a terminal phantom gets the same
// Ctrl-C from the terminal too; it counts both as one (shared/interrupt).
func interruptOnCancel(cmd *exec.Cmd, wait time.Duration) {
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = wait
}

// Check reads `phantom version --json` and refuses a phantom that speaks
// another protocol or lacks a capability stack needs.
func (c *Client) Check(ctx context.Context) (Version, error) {
	out, err := c.run(ctx, nil, "version", "--json")
	if err != nil {
		return Version{}, err
	}
	var v Version
	if err := json.Unmarshal(out, &v); err != nil {
		return Version{}, fmt.Errorf("%s does not look like phantom (version --json printed no JSON); set PHANTOM_BIN to the phantom binary", c.Bin)
	}
	if v.Protocol != Protocol {
		return v, fmt.Errorf("phantom %s speaks protocol %d, this stack needs protocol %d; install matching versions of phantom and stack (make install)", v.Version, v.Protocol, Protocol)
	}
	var missing []string
	for _, cap := range Required {
		if !slices.Contains(v.Capabilities, cap) {
			missing = append(missing, cap)
		}
	}
	if len(missing) > 0 {
		return v, fmt.Errorf("phantom %s is too old for this stack: it lacks %s; upgrade phantom (make install)", v.Version, strings.Join(missing, ", "))
	}
	return v, nil
}

// EnsureInit runs `phantom init --yes` when the project has no
// .phantom.toml yet.
func (c *Client) EnsureInit(ctx context.Context) error {
	if _, err := os.Stat(filepath.Join(c.Dir, ".phantom.toml")); err == nil {
		return nil
	}
	_, err := c.run(ctx, nil, "init", "--yes")
	return err
}

// Add stores value as name, on stdin. envFile, when set, receives name's
// token.
func (c *Client) Add(ctx context.Context, name string, value []byte, envFile string) error {
	if len(value) == 0 {
		return fmt.Errorf("no value for %s", name)
	}
	args := []string{"add", name, "--stdin"}
	if envFile != "" {
		args = append(args, "--env-file", envFile)
	}
	_, err := c.run(ctx, value, args...)
	return err
}

// Store is Add for callers that report the result themselves: phantom's
// own "Added"/"Updated" lines stay off the terminal (add --json), and
// created tells whether the vault had no entry of that name before.
func (c *Client) Store(ctx context.Context, name string, value []byte, envFile string) (created bool, err error) {
	if len(value) == 0 {
		return false, fmt.Errorf("no value for %s", name)
	}
	args := []string{"add", name, "--stdin", "--json"}
	if envFile != "" {
		args = append(args, "--env-file", envFile)
	}
	out, err := c.run(ctx, value, args...)
	if err != nil {
		return false, err
	}
	var res struct {
		Created bool `json:"created"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return false, fmt.Errorf("phantom add --json printed no JSON: %v", err)
	}
	return res.Created, nil
}

// AddPolicy stores value as name, on stdin, and sets name's exec policy in
// .phantom.toml first (phantom add --policy; capability add-policy). stack
// stores its own sign-in tokens with "deny", so no app receives them.
func (c *Client) AddPolicy(ctx context.Context, name string, value []byte, policy string) error {
	if len(value) == 0 {
		return fmt.Errorf("no value for %s", name)
	}
	_, err := c.run(ctx, value, "add", name, "--stdin", "--policy", policy)
	return err
}

// Remove deletes name from the vault (and its line from envFile). A name
// that is not there is not an error: the goal state holds.
func (c *Client) Remove(ctx context.Context, name, envFile string) error {
	args := []string{"remove", name}
	if envFile != "" {
		args = append(args, "--env-file", envFile)
	}
	_, err := c.run(ctx, nil, args...)
	var ce *CallError
	if errors.As(err, &ce) && ce.Code == exitcode.NotFound {
		return nil
	}
	return err
}

// List returns the vault's names. A project without a vault lists nothing.
func (c *Client) List(ctx context.Context) ([]Entry, error) {
	if !c.HasProject() {
		// No .phantom.toml here or above: phantom would refuse (exit 4);
		// for stack that is an empty vault (a fresh clone before add).
		return []Entry{}, nil
	}
	out, err := c.run(ctx, nil, "list", "--json")
	if err != nil {
		return nil, err
	}
	var es []Entry
	if err := json.Unmarshal(out, &es); err != nil {
		return nil, fmt.Errorf("phantom list --json printed something that is not a list: %v", err)
	}
	return es, nil
}

// Sync writes the tokens of names (all when none) into envFile, keeping
// its other lines.
func (c *Client) Sync(ctx context.Context, envFile string, names ...string) error {
	_, err := c.run(ctx, nil, append([]string{"sync", "--env-file", envFile}, names...)...)
	return err
}

// Exec runs `phantom exec [--env-file F]... -- args` with the given streams
// and returns its exit status (the command's).
func (c *Client) Exec(ctx context.Context, envFiles []string, args []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	return c.ExecBodySecrets(ctx, envFiles, nil, args, stdin, stdout, stderr)
}

// ExecBodySecrets is Exec with `--body-secret ROUTE=NAME` grants: for this
// run, ROUTE may carry secret NAME in its declared body fields (stack env
// push). phantom accepts them only when stdin is a terminal.
func (c *Client) ExecBodySecrets(ctx context.Context, envFiles, bodySecrets []string, args []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	argv := []string{"exec"}
	for _, f := range envFiles {
		argv = append(argv, "--env-file", f)
	}
	for _, g := range bodySecrets {
		argv = append(argv, "--body-secret", g)
	}
	argv = append(append(argv, "--"), args...)
	cmd := exec.CommandContext(ctx, c.Bin, argv...)
	// Ctrl-C reaches phantom exec as SIGINT, which hands it to the command
	// (docs/phantom.md, "phantom exec"); stack then waits for the
	// command's own exit, as phantom exec does.
	interruptOnCancel(cmd, 0)
	cmd.Dir, cmd.Env = c.Dir, c.Env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	if err != nil {
		return 1, fmt.Errorf("running phantom exec: %w", err)
	}
	return 0, nil
}

// HasProject reports whether c.Dir or a parent holds .phantom.toml, the
// file phantom looks for the same way.
func (c *Client) HasProject() bool {
	dir := c.Dir
	if dir == "" {
		return true // let phantom decide
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, ".phantom.toml")); err == nil {
			return true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return false
		}
		dir = parent
	}
}
