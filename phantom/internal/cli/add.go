package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"phantomstack.dev/phantom/internal/audit"
	"phantomstack.dev/phantom/internal/vault"
	"phantomstack.dev/shared/dotenv"
	"phantomstack.dev/shared/exitcode"
	"phantomstack.dev/shared/interrupt"
	"phantomstack.dev/shared/jsonout"
	"phantomstack.dev/shared/term"
)

// maxValueSize bounds a secret value read from stdin.
const maxValueSize = 1 << 20

// AddOptions configures `phantom add`.
type AddOptions struct {
	F       *Factory
	Name    string
	Stdin   bool
	EnvFile string
	Policy  string // set [secrets.NAME] policy in .phantom.toml too
	JSON    bool
}

func newAddCmd(f *Factory, runF func(*AddOptions) error) *cobra.Command {
	opts := &AddOptions{F: f}
	cmd := &cobra.Command{
		Use:   "add NAME [--stdin] [--env-file F]",
		Short: "Add a secret to the vault, or change its value",
		Long: `Store a secret value in the vault under NAME (an environment variable name).

The value is read from a hidden prompt on your terminal, or with --stdin from
standard input (one value; a single trailing newline is dropped, multi-line
values such as PEM keys are kept). It is never taken from the command line:
arguments are visible to every process on the machine and end up in shell
history and agent transcripts.

If NAME already exists its value is replaced and its placeholder token stays
the same, so env files keep working. With --env-file, NAME's token is also
written into that file (other lines are left untouched).

--policy sets how phantom exec hands NAME to programs (proxy, inject or deny)
in .phantom.toml, as [secrets.NAME] policy = "...". Tools that store their own
credentials in phantom (stack's sign-in tokens) use deny, so no app run under
phantom exec ever receives them.`,
		Example: `  phantom add OPENAI_API_KEY
  pbpaste | phantom add STRIPE_SECRET_KEY --stdin --env-file .env.local`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErrorf("add needs the secret's NAME, e.g. phantom add OPENAI_API_KEY")
			}
			if len(args) > 1 {
				return exitcode.Errorf(exitcode.Refused, "refusing to take a secret value from the command line: arguments are visible to every local process (ps, /proc) and are saved in shell history and agent logs.\nType it at the prompt (phantom add %s) or pipe it: ... | phantom add %s --stdin", args[0], args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			f.Command = "phantom add"
			opts.Name = args[0]
			if runF != nil {
				return runF(opts)
			}
			return addRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Stdin, "stdin", false, "read the value from standard input")
	cmd.Flags().StringVar(&opts.EnvFile, "env-file", "", "also write NAME's token into this env file")
	cmd.Flags().StringVar(&opts.Policy, "policy", "", "also set NAME's exec policy in .phantom.toml: proxy, inject or deny")
	jsonout.AddFlag(cmd, &opts.JSON, "print a JSON result on stdout")
	addFollowSymlinksFlag(cmd, f)
	return cmd
}

// AddResult is add's --json output. The token is a placeholder, not a secret.
type AddResult struct {
	Name    string `json:"name"`
	Token   string `json:"token"`
	Created bool   `json:"created"`
	EnvFile string `json:"env_file,omitempty"`
}

func addRun(ctx context.Context, o *AddOptions) error {
	f := o.F
	if !dotenv.ValidKey(o.Name) {
		return usageErrorf("%q is not a valid environment variable name: use letters, digits and _, not starting with a digit (e.g. OPENAI_API_KEY)", o.Name)
	}
	p, err := f.Project()
	if err != nil {
		return err
	}
	if o.Policy != "" {
		// Before the value is stored: a secret must never exist, even for a
		// moment, under a looser policy than the caller asked for.
		if err := p.Config.SetSecretPolicy(o.Name, o.Policy); err != nil {
			return usageErrorf("%v", err)
		}
		if err := p.Config.Save(p.ConfigPath); err != nil {
			return fmt.Errorf("%w\nNothing was stored", err)
		}
	}
	value, err := readValue(ctx, f, o.Name, o.Stdin)
	if err != nil {
		return err
	}
	defer wipe(value)
	if isToken(string(value)) {
		return usageErrorf("that value is a phm_ placeholder, not a secret; paste the real value")
	}

	var env *envFile
	if o.EnvFile != "" {
		env, err = f.loadEnvFileToWrite(p, absFromCwd(f, o.EnvFile))
		if err != nil {
			return err
		}
	}

	v, err := f.OpenVault(ctx, p, true)
	if err != nil {
		return err
	}
	res := AddResult{Name: o.Name}
	err = v.Update(func(pl *vault.Payload) error {
		now := f.Now().UTC()
		s := pl.Secrets[o.Name]
		if s == nil {
			s = &vault.Secret{Token: newToken(), CreatedAt: now}
			pl.Secrets[o.Name] = s
			res.Created = true
		}
		s.Value = append([]byte(nil), value...)
		s.UpdatedAt = now
		res.Token = s.Token
		return nil
	}, func() error {
		op := "secret.update"
		if res.Created {
			op = "secret.add"
		}
		return f.record(p, audit.Event{Op: op, Name: o.Name})
	})
	if err != nil {
		return vaultError(err)
	}

	if env != nil {
		setToken(env, o.Name, res.Token)
		if err := env.save(); err != nil {
			return fmt.Errorf("%w\n%s is stored in the vault; write its token with: phantom sync --env-file %s %s", err, o.Name, shellArg(o.EnvFile), o.Name)
		}
		res.EnvFile = env.Rel
	}

	if o.JSON {
		return jsonout.Write(f.IO.Out, res)
	}
	verb := "Updated"
	if res.Created {
		verb = "Added"
	}
	f.IO.Successf("%s %s %s", verb, o.Name, f.IO.Theme().Dim("("+res.Token[:12]+"…)"))
	if env != nil {
		f.IO.Infof("Wrote its placeholder to %s", env.Rel)
	}
	// Next steps are for a person reading stderr on a terminal: programs
	// that call add (stack writes its own env file; its sign-in tokens use
	// --policy deny and belong in no env file) get today's output.
	if !f.IO.IsStderrTTY() || o.Policy == "deny" {
		return nil
	}
	if env == nil {
		if err := offerEnvFile(ctx, f, p, o.Name, res.Token); err != nil {
			return err
		}
	}
	f.IO.Infof("Run your app with `phantom exec -- <your command>`: it sees the placeholder, and the proxy puts the real value on the wire.")
	return nil
}

// offerEnvFile finishes a quick start: a value in the vault does nothing
// until an env file holds its placeholder (phantom exec reads env files). When
// no project env file has NAME's token yet, a person at a terminal is asked to
// add it to the first project env file (the first that exists, else the
// first listed); when stdin is no terminal (--stdin) the exact command that
// does it is printed (it works as printed, from the current directory).
func offerEnvFile(ctx context.Context, f *Factory, p *Project, name, tok string) error {
	var target *envFile
	for _, path := range p.Config.EnvFiles() {
		e, err := loadEnvFile(p, path)
		if err != nil {
			continue // reported by the commands that read env files
		}
		if ent := e.File.Lookup(name); ent != nil && ent.Value == tok {
			return nil // already there
		}
		if target == nil && e.Exists {
			target = e
		}
	}
	if target == nil {
		paths := p.Config.EnvFiles()
		if len(paths) == 0 {
			return nil
		}
		e, err := loadEnvFile(p, paths[0])
		if err != nil {
			return nil
		}
		target = e
	}
	if !f.IO.CanPrompt() {
		f.IO.Infof("No env file holds its placeholder yet, so your app does not see %s. Add it with: phantom sync --env-file %s %s", name, shellArg(relFromCwd(f, target.Path)), name)
		return nil
	}
	ans, err := f.IO.ReadLine(ctx, fmt.Sprintf("Add %s=%s to %s? [Y/n] ", name, tok, target.Rel))
	if err != nil {
		return promptErr(err, "phantom add")
	}
	switch strings.ToLower(strings.TrimSpace(ans)) {
	case "", "y", "yes":
	default:
		f.IO.Infof("Left %s alone. Add the placeholder later with: phantom sync --env-file %s %s", target.Rel, shellArg(relFromCwd(f, target.Path)), name)
		return nil
	}
	setToken(target, name, tok)
	if err := target.save(); err != nil {
		return fmt.Errorf("%w\n%s is stored in the vault; write its token with: phantom sync --env-file %s %s", err, name, shellArg(relFromCwd(f, target.Path)), name)
	}
	f.IO.Infof("Wrote its placeholder to %s", target.Rel)
	return nil
}

// relFromCwd shows an absolute path relative to the working directory, the
// way a command typed there must name it.
func relFromCwd(f *Factory, abs string) string {
	if cwd, err := f.Cwd(); err == nil {
		if r, err := filepath.Rel(cwd, abs); err == nil {
			return r
		}
	}
	return abs
}

// readValue gets the secret from stdin or a hidden prompt.
func readValue(ctx context.Context, f *Factory, name string, stdin bool) ([]byte, error) {
	var b []byte
	if stdin {
		r := io.LimitReader(f.IO.In, maxValueSize+1)
		var err error
		b, err = term.ReadAll(ctx, r) // a pipe that is never closed must not make Ctrl-C hang
		if errors.Is(err, term.ErrInterrupted) {
			return nil, exitcode.Errorf(exitcode.Interrupted, "%s while reading the value of %s from stdin; nothing was stored", interrupt.By(ctx), name)
		}
		if err != nil {
			return nil, fmt.Errorf("reading the value from stdin: %w", err)
		}
		if len(b) > maxValueSize {
			return nil, usageErrorf("the value on stdin is larger than %d bytes", maxValueSize)
		}
		b = bytes.TrimSuffix(b, []byte("\n"))
		b = bytes.TrimSuffix(b, []byte("\r"))
	} else {
		if !f.IO.IsStdinTTY() {
			return nil, usageErrorf("no terminal to prompt on; pipe the value in with --stdin, e.g.: ... | phantom add %s --stdin", name)
		}
		var err error
		b, err = f.IO.ReadSecret(ctx, fmt.Sprintf("Value for %s (hidden): ", name))
		if err != nil {
			return nil, promptErr(err, "phantom add")
		}
	}
	if len(b) == 0 {
		return nil, usageErrorf("refusing to store an empty value for %s; to delete it use: phantom remove %s", name, name)
	}
	return b, nil
}

// absFromCwd resolves a path given on the command line.
func absFromCwd(f *Factory, path string) string {
	if cwd, err := f.Cwd(); err == nil && !isAbs(path) {
		return joinPath(cwd, path)
	}
	return path
}

// wipe clears a buffer that held a secret.
func wipe(b []byte) {
	for i := range b {
		b[i] = 0
	}
}
