package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"phantomstack.dev/providers"
	"phantomstack.dev/shared/exitcode"
	"phantomstack.dev/stack/internal/config"
	"phantomstack.dev/stack/internal/phantomctl"
)

// Exit codes stack adds to the shared ones (docs/stack.md).
const (
	exitNeedsLogin     = 3
	exitPhantomMissing = 4
	exitDrift          = 6
)

// envLocal is where stack keeps the project's phm tokens.
const envLocal = ".env.local"

// projectDir is the working directory (stack works on the project it is
// run in).
func (f *Factory) projectDir() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("cannot read the current directory: %w", err)
	}
	return d, nil
}

func (f *Factory) known(p string) bool {
	_, err := f.Providers.Get(p)
	return err == nil
}

// loadConfig reads the project's stack files.
func (f *Factory) loadConfig() (*config.Config, error) {
	dir, err := f.projectDir()
	if err != nil {
		return nil, err
	}
	c, err := config.Load(dir, f.known)
	if errors.Is(err, config.ErrNotFound) {
		return nil, exitcode.New(exitcode.Failure, err)
	}
	return c, err
}

// phantom finds and checks phantom before a command does anything. A
// missing or incompatible phantom stops the command with exit 4.
func (f *Factory) phantom(ctx context.Context) (*phantomctl.Client, error) {
	if f.pc != nil {
		return f.pc, nil
	}
	bin, err := phantomctl.Find(f.Env)
	if err != nil {
		return nil, exitcode.New(exitPhantomMissing, err)
	}
	dir, err := f.projectDir()
	if err != nil {
		return nil, err
	}
	c := &phantomctl.Client{Bin: bin, Dir: dir, Stderr: f.IO.ErrOut}
	if _, err := c.Check(ctx); err != nil {
		var ni *phantomctl.NotInstalledError
		if errors.As(err, &ni) {
			return nil, exitcode.New(exitPhantomMissing, err)
		}
		return nil, exitcode.New(exitPhantomMissing, err)
	}
	f.pc = c
	return c, nil
}

// providerEnv is what providers get from stack: the HTTP client, the
// environment and the terminal (for masked paste).
//
// ctx is the command's: the providers' prompts end at Ctrl-C with it.
func (f *Factory) providerEnv(ctx context.Context) providers.Env {
	return providers.Env{
		HTTP:    &http.Client{Timeout: 30 * time.Second},
		Getenv:  f.Env,
		Prompt:  f.IO.Prompter(ctx),
		Logf:    func(format string, args ...any) { f.IO.Infof(format, args...) },
		OpenURL: func(url string) error { return openURL(f.Env, url) },
	}
}

// phantomErr turns a phantom call failure into stack's exit codes.
func phantomErr(err error) error {
	if err == nil {
		return nil
	}
	var ni *phantomctl.NotInstalledError
	if errors.As(err, &ni) {
		return exitcode.New(exitPhantomMissing, err)
	}
	return exitcode.New(exitcode.Failure, err)
}
