package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"phantomstack.dev/phantom/internal/audit"
	"phantomstack.dev/phantom/internal/catalog"
	"phantomstack.dev/phantom/internal/vault"
	"phantomstack.dev/shared/exitcode"
	"phantomstack.dev/shared/fsx"
	"phantomstack.dev/shared/interrupt"
)

// StartOptions configures `phantom start`.
type StartOptions struct {
	F      *Factory
	Detach bool
	// daemonChild is set in the background copy that -d starts; it reports
	// readiness on file descriptor 3.
	daemonChild bool
}

// ProxyState is $PHANTOM_HOME/proxy/<project_id>.json (mode 0600): what
// `phantom stop` and `phantom status` need, and what a second `phantom start`
// prints again. It holds the session token, never a secret value.
type ProxyState struct {
	PID       int       `json:"pid"`
	Addr      string    `json:"addr"`
	Routes    []string  `json:"routes"`
	Env       []string  `json:"env"`
	StartedAt time.Time `json:"started_at"`
}

func newStartCmd(f *Factory, runF func(*StartOptions) error) *cobra.Command {
	opts := &StartOptions{F: f}
	cmd := &cobra.Command{
		Use:   "start [-d]",
		Short: "Run the proxy for this project in the background of your shell",
		Long: `Start the same proxy 'phantom exec' runs, without a command, and print
export lines for your shell, so programs you start yourself reach their APIs
through it:

  eval "$(phantom start -d)"     # -d: detach; the proxy keeps running
  npm run dev                    # its SDKs read OPENAI_BASE_URL etc.
  phantom stop

Only the proxy policy works this way (your app reads phm tokens from its env
files and the proxy swaps them on the wire); values with the inject policy
need 'phantom exec'. The proxy reads the vault when it starts: restart it
after 'phantom add' or 'phantom rotate'. Its state file is
$PHANTOM_HOME/proxy/<project_id>.json (mode 0600).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f.Command = "phantom start"
			if runF != nil {
				return runF(opts)
			}
			return startRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Detach, "detach", "d", false, "run in the background and return once the proxy is ready")
	cmd.Flags().BoolVar(&opts.daemonChild, "daemon-child", false, "")
	cmd.Flags().MarkHidden("daemon-child")
	return cmd
}

func stateDir(home string) string { return filepath.Join(home, "proxy") }

func statePath(home, projectID string) string {
	return filepath.Join(stateDir(home), projectID+".json")
}

// readProxyState returns the running proxy's state, or nil when none runs
// (a state file left by a dead process is removed).
func readProxyState(home, projectID string) (*ProxyState, error) {
	b, err := os.ReadFile(statePath(home, projectID))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var st ProxyState
	if err := json.Unmarshal(b, &st); err != nil || st.PID <= 0 {
		os.Remove(statePath(home, projectID))
		return nil, nil
	}
	if !processAlive(st.PID) {
		os.Remove(statePath(home, projectID))
		return nil, nil
	}
	return &st, nil
}

func startRun(ctx context.Context, o *StartOptions) error {
	f := o.F
	p, err := f.Project()
	if err != nil {
		return err
	}
	home, err := f.Home()
	if err != nil {
		return err
	}
	if st, err := readProxyState(home, p.ID()); err != nil {
		return err
	} else if st != nil && !o.daemonChild {
		f.IO.Infof("The proxy for this project is already running (pid %d on %s); stop it with: phantom stop", st.PID, st.Addr)
		printExports(f, st.Env)
		return nil
	}
	if o.Detach && !o.daemonChild {
		return startDetached(f, p, home)
	}

	v, err := f.OpenVault(ctx, p, false)
	if err != nil {
		return err
	}
	// Close wipes the payload's values: everything below copies what it
	// needs before that.
	defer v.Close()
	routes, _, err := f.projectRoutes(p, v.Payload())
	if err != nil {
		return err
	}
	plan, err := planChild(f, p, proxyOnlyPayload(v.Payload(), routes), p.Config.EnvFiles(), false, nil)
	if err != nil {
		return err
	}
	// This process may run for days: from here on it holds only what its
	// routes put on the wire (plan.secrets), never the vault key, an inject
	// value or the payload.
	v.Close()
	plan.env = nil
	if len(plan.routes) == 0 && plan.aws == nil {
		return exitcode.Errorf(exitcode.NotFound, "nothing to proxy: no secret in this project's env files has the proxy policy or a route (see `phantom list`)")
	}
	rec := newAuditQueue(f, p)
	defer rec.close()
	srv, err := f.startProxy(p, plan, rec, nil, restartStart)
	if err != nil {
		return err
	}
	env := srv.Env()
	sort.Strings(env)
	st := ProxyState{PID: os.Getpid(), Addr: srv.Addr(), Routes: strings.Split(routeNames(plan.routes), ", "), Env: env, StartedAt: f.Now().UTC().Round(time.Second)}
	b, _ := json.MarshalIndent(st, "", "  ")
	if err := fsx.MkdirPrivate(stateDir(home)); err != nil {
		return err
	}
	if err := fsx.WriteFileAtomic(statePath(home, p.ID()), append(b, '\n'), 0o600); err != nil {
		return exitcode.Errorf(exitcode.Failure, "could not write the proxy state file: %v", err)
	}
	defer os.Remove(statePath(home, p.ID()))
	rec.add(audit.Event{Op: "proxy.start", Detail: fmt.Sprintf("%s; routes: %s", srv.Addr(), routeNames(plan.routes))})

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	if o.daemonChild {
		ready := os.NewFile(3, "ready")
		fmt.Fprintln(ready, "ok")
		ready.Close()
	} else {
		printExports(f, env)
		f.IO.Infof("Proxy running on %s for %s. Press Ctrl-C to stop it.", srv.Addr(), routeNames(plan.routes))
	}
	// The command's context ends at the same signals; it also covers one
	// that came before sigs was registered (while the vault was opened).
	select {
	case <-sigs:
	case <-ctx.Done():
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
	rec.add(audit.Event{Op: "proxy.stop", Detail: srv.Addr()})
	return nil
}

// startDetached starts `phantom start --daemon-child` in its own session and
// waits until it reports that it listens.
func startDetached(f *Factory, p *Project, home string) error {
	if err := detachSupported(); err != nil {
		return err
	}
	// The background copy has no terminal: if the vault needs a typed
	// passphrase it fails at once, and its message is shown below.
	self, err := selfPath()
	if err != nil {
		return err
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	defer pr.Close()
	// The passphrase goes to the background copy through a pipe it reads
	// once (PHANTOM_VAULT_PASSPHRASE_FILE=/dev/fd/4), never through its
	// environment, which it would hold for its whole life.
	pass, _, err := vault.PassphraseFromEnv(f.Env)
	if err != nil {
		pw.Close()
		return vaultError(err)
	}
	env := slices.DeleteFunc(f.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, vault.EnvPassphrase+"=") || strings.HasPrefix(kv, vault.EnvPassphraseFile+"=")
	})
	extra := []*os.File{pw}
	if pass != nil {
		passR, passW, err := os.Pipe()
		if err != nil {
			clear(pass)
			pw.Close()
			return err
		}
		defer passR.Close()
		go func() {
			passW.Write(pass)
			passW.Close()
			clear(pass)
		}()
		extra = append(extra, passR)
		env = append(env, vault.EnvPassphraseFile+"=/dev/fd/4")
	}
	cwd, _ := f.Cwd()
	cmd := exec.Command(self, "start", "--daemon-child")
	cmd.Dir = cwd
	cmd.Env = env
	cmd.ExtraFiles = extra
	cmd.SysProcAttr = detachedAttr()
	errFile := filepath.Join(stateDir(home), p.ID()+".log")
	if err := fsx.MkdirPrivate(stateDir(home)); err != nil {
		return err
	}
	logf, err := os.OpenFile(errFile, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		pw.Close()
		return exitcode.Errorf(exitcode.Failure, "could not start the proxy in the background: %v", err)
	}
	pw.Close()
	lines := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(pr).ReadString('\n')
		lines <- l
	}()
	select {
	case l := <-lines:
		if strings.TrimSpace(l) != "ok" {
			cmd.Wait()
			msg, _ := os.ReadFile(errFile)
			return exitcode.Errorf(exitcode.Failure, "the background proxy did not start:\n%s", strings.TrimSpace(string(msg)))
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		return exitcode.Errorf(exitcode.Failure, "the background proxy did not report ready within 30s; see %s", errFile)
	}
	cmd.Process.Release()
	st, err := readProxyState(home, p.ID())
	if err != nil || st == nil {
		return exitcode.Errorf(exitcode.Failure, "the background proxy started but wrote no state file")
	}
	printExports(f, st.Env)
	f.IO.Infof("Proxy running in the background (pid %d on %s). Stop it with: phantom stop", st.PID, st.Addr)
	return nil
}

// proxyOnlyPayload is pl with only the values a proxy without a child
// needs: the secrets its routes may carry, vaulted upstream URLs (a route's
// UpstreamEnv) and AWS credentials. Every other secret keeps its token, so
// the env files still resolve, but not its value, and no secret keeps the
// raw env-file text (Origins). The values are shared with pl, not copied:
// planChild copies what it uses before pl is closed.
//
// The proxy scrubs responses of the values it holds, so a value this
// process does not hold is not scrubbed from what an upstream sends back
// (docs/decisions.md, "The background proxy holds only its routes' values").
func proxyOnlyPayload(pl *vault.Payload, routes []catalog.Route) *vault.Payload {
	keep := map[string]bool{}
	for _, r := range routes {
		for _, n := range r.Secrets {
			keep[n] = true
		}
		if r.UpstreamEnv != "" {
			keep[r.UpstreamEnv] = true
		}
	}
	out := *pl
	out.Secrets = make(map[string]*vault.Secret, len(pl.Secrets))
	for name, sec := range pl.Secrets {
		c := *sec
		c.Origins = nil
		if !keep[name] && !catalog.IsAWSCredential(name) {
			c.Value = nil
		}
		out.Secrets[name] = &c
	}
	return &out
}

// selfPath is how to run this phantom again: argv[0] as invoked (so a
// link keeps its name), else the executable.
func selfPath() (string, error) {
	if a := os.Args[0]; strings.Contains(a, "/") {
		return filepath.Abs(a)
	} else if p, err := exec.LookPath(a); err == nil {
		return filepath.Abs(p)
	}
	return os.Executable()
}

// printExports writes one shell export line per variable on stdout.
func printExports(f *Factory, env []string) {
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		fmt.Fprintf(f.IO.Out, "export %s='%s'\n", k, strings.ReplaceAll(v, "'", `'\''`))
	}
}

// StopOptions configures `phantom stop`.
type StopOptions struct{ F *Factory }

func newStopCmd(f *Factory, runF func(*StopOptions) error) *cobra.Command {
	opts := &StopOptions{F: f}
	return &cobra.Command{
		Use:   "stop",
		Short: "Stop the proxy 'phantom start' runs for this project",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f.Command = "phantom stop"
			if runF != nil {
				return runF(opts)
			}
			return stopRun(cmd.Context(), opts)
		},
	}
}

func stopRun(ctx context.Context, o *StopOptions) error {
	f := o.F
	p, err := f.Project()
	if err != nil {
		return err
	}
	home, err := f.Home()
	if err != nil {
		return err
	}
	st, err := readProxyState(home, p.ID())
	if err != nil {
		return err
	}
	if st == nil {
		f.IO.Infof("No proxy is running for this project.")
		return nil
	}
	if err := terminate(st.PID); err != nil {
		return exitcode.Errorf(exitcode.Failure, "could not stop the proxy (pid %d): %v", st.PID, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if !processAlive(st.PID) {
			os.Remove(statePath(home, p.ID()))
			f.IO.Successf("Stopped the proxy (pid %d).", st.PID)
			return nil
		}
		select {
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
			return exitcode.Errorf(exitcode.Interrupted, "%s while waiting for the proxy (pid %d) to stop; it was sent SIGTERM. Check with: phantom status", interrupt.By(ctx), st.PID)
		}
	}
	return exitcode.Errorf(exitcode.Failure, "the proxy (pid %d) did not stop within 10s; kill it with: %s", st.PID, killCommand(st.PID))
}
