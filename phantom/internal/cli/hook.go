package cli

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"phantomstack.dev/phantom/internal/leakscan"
	"phantomstack.dev/shared/exitcode"
	"phantomstack.dev/shared/fsx"
)

// HookMarker is the line that marks a pre-commit hook phantom wrote; `phantom
// hook install` recognises its own hook by it (and so stays idempotent), and
// `phantom doctor` looks for it.
const HookMarker = "# installed by phantom hook install"

// hookLocal is where an existing pre-commit hook is kept; phantom's hook
// runs it first.
const hookLocal = "pre-commit.local"

func newHookCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "hook",
		Short: "Install the git pre-commit hook that runs phantom check",
		Args:  groupArgs,
		RunE:  helpRun,
	}
	cmd.AddCommand(newHookInstallCmd(f, nil))
	return cmd
}

func newHookInstallCmd(f *Factory, runF func(*Factory) error) *cobra.Command {
	return &cobra.Command{
		Use:   "install",
		Short: "Block commits that add a leaked credential",
		Long: `Write a git pre-commit hook that runs 'phantom check --staged' (this phantom
binary, by absolute path) on what each commit adds, and blocks the commit
when it finds a leak. It goes where git looks for hooks (core.hooksPath, else
.git/hooks). An existing pre-commit hook is kept as pre-commit.local and runs
first. Running it again updates phantom's hook and changes nothing else.

With the pre-commit framework instead, use the hook id phantom-check from
this repository's .pre-commit-hooks.yaml.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f.Command = "phantom hook install"
			if runF != nil {
				return runF(f)
			}
			return hookInstallRun(f)
		},
	}
}

func hookInstallRun(f *Factory) error {
	cwd, err := f.Cwd()
	if err != nil {
		return err
	}
	top := leakscan.GitTopLevel(cwd)
	if top == "" {
		return exitcode.Errorf(exitcode.NotFound, "%s is not inside a git repository, so there is no hook to install\nRun 'git init' first, or run this in your repository.", cwd)
	}
	// --git-path hooks honours core.hooksPath and worktrees; run from the
	// top, where git resolves a relative core.hooksPath when it runs hooks.
	c := exec.Command("git", "rev-parse", "--git-path", "hooks")
	c.Dir = top
	out, err := c.Output()
	if err != nil {
		return exitcode.Errorf(exitcode.Failure, "git rev-parse --git-path hooks failed in %s: %v", top, err)
	}
	dir := strings.TrimSpace(string(out))
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(top, dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return exitcode.Errorf(exitcode.Failure, "cannot create the hooks directory %s: %v", dir, rootCause(err))
	}
	self, err := selfPath()
	if err != nil {
		return exitcode.Errorf(exitcode.Failure, "cannot tell where this phantom binary is (%v), and the hook must call it by its absolute path", err)
	}
	hook := filepath.Join(dir, "pre-commit")
	local := filepath.Join(dir, hookLocal)
	script := hookScript(self)

	old, err := os.ReadFile(hook)
	switch {
	case err == nil && bytes.Contains(old, []byte(HookMarker)):
		if bytes.Equal(old, script) {
			f.IO.Successf("The phantom pre-commit hook is already installed in %s", hook)
			return nil
		}
	case err == nil:
		if _, err := os.Lstat(local); err == nil {
			return exitcode.Errorf(exitcode.Refused, "%s holds a pre-commit hook that phantom did not write, and %s already exists, so there is nowhere to keep it; nothing was changed\nMerge the two into %s, delete %s, then run 'phantom hook install' again.", hook, local, local, hook)
		}
		if err := os.Rename(hook, local); err != nil {
			return exitcode.Errorf(exitcode.Failure, "cannot keep the existing hook as %s: %v; nothing was changed", local, rootCause(err))
		}
		f.IO.Infof("Kept your existing pre-commit hook as %s; phantom's hook runs it first.", local)
	case errors.Is(err, os.ErrNotExist):
	default:
		return exitcode.Errorf(exitcode.Failure, "cannot read %s: %v", hook, rootCause(err))
	}
	if err := fsx.WriteFileAtomic(hook, script, 0o755); err != nil {
		return exitcode.Errorf(exitcode.Failure, "cannot write %s: %v", hook, rootCause(err))
	}
	// The atomic write's temp file is created 0600 under the umask; a hook
	// must be executable.
	if err := os.Chmod(hook, 0o755); err != nil {
		return exitcode.Errorf(exitcode.Failure, "cannot make %s executable: %v", hook, rootCause(err))
	}
	f.IO.Successf("Installed the pre-commit hook %s: every commit is checked with 'phantom check --staged'", hook)
	return nil
}

// hookScript is the pre-commit hook: POSIX sh, calling this binary by
// absolute path (no PATH lookup an agent could redirect, no Node).
func hookScript(self string) []byte {
	q := shellQuoteArg(self)
	return []byte(`#!/bin/sh
` + HookMarker + `
# Blocks a commit that adds a leaked credential: runs 'phantom check --staged'
# on what is staged (docs/phantom.md, "phantom hook install"). A pre-commit
# hook that was here before is kept as ` + hookLocal + ` and runs first.
hookdir=$(dirname "$0")
if [ -x "$hookdir/` + hookLocal + `" ]; then
	"$hookdir/` + hookLocal + `" "$@" || exit $?
fi
if [ ! -x ` + q + ` ]; then
	echo "phantom pre-commit hook: "` + q + `" is gone; reinstall the hook with: phantom hook install" >&2
	exit 1
fi
exec ` + q + ` check --staged
`)
}
