package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"phantomstack.dev/shared/exitcode"
	"phantomstack.dev/shared/fsx"
	"phantomstack.dev/stack/internal/buildinfo"
)

// ciWorkflowPath is where `stack ci init` writes, relative to the project.
const ciWorkflowPath = ".github/workflows/stack-doctor.yml"

// ciSecrets are the repository secrets the workflow reads, in the order the
// next steps name them.
var ciSecrets = []string{"PHANTOM_CLOUD_TOKEN", "PHANTOM_VAULT_PASSPHRASE"}

// CIInitOptions configures `stack ci init`.
type CIInitOptions struct {
	F     *Factory
	Force bool
	JSON  bool
}

// CIInitResult is `stack ci init --json`.
type CIInitResult struct {
	Path    string   `json:"path"`
	Written bool     `json:"written"`
	Version string   `json:"version"` // what the workflow installs: a release tag or "latest"
	Secrets []string `json:"secrets"` // repository secrets the workflow needs
}

func newCICmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ci",
		Short: "Run stack doctor in CI: ci init writes a GitHub Actions workflow",
		Args:  noArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newCIInitCmd(f, nil))
	return cmd
}

func newCIInitCmd(f *Factory, runF func(*CIInitOptions) error) *cobra.Command {
	o := &CIInitOptions{F: f}
	cmd := &cobra.Command{
		Use:   "init [--force] [--json]",
		Short: "Write a GitHub Actions workflow that runs stack doctor",
		Long: `Write ` + ciWorkflowPath + `: on every push, pull request, once a day
and on demand, it installs phantom and stack, pulls the project's encrypted
vault with 'phantom cloud pull', and runs 'stack doctor --json'. The job fails
when a declared secret is missing or its provider refuses it; the report
(names and statuses, never a value) is uploaded as an artifact.

The workflow holds no secret: it reads PHANTOM_CLOUD_TOKEN and
PHANTOM_VAULT_PASSPHRASE from the repository's secrets. Needs .stack.toml,
not phantom. An existing workflow is kept unless --force.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(o)
			}
			return ciInitRun(o)
		},
	}
	cmd.Flags().BoolVar(&o.Force, "force", false, "replace an existing workflow")
	cmd.Flags().BoolVar(&o.JSON, "json", false, `print {"path", "written", "version", "secrets"}`)
	return cmd
}

func ciInitRun(o *CIInitOptions) error {
	f := o.F
	// The workflow runs stack doctor on .stack.toml: without one (or with a
	// broken one) it could only fail.
	c, err := f.loadConfig()
	if err != nil {
		return err
	}
	path := filepath.Join(c.Dir, filepath.FromSlash(ciWorkflowPath))
	// Any other Stat error (.github is a file, no permission) resurfaces,
	// clearer, from MkdirAll or the write below.
	if _, err := os.Stat(path); err == nil && !o.Force {
		return exitcode.Errorf(exitcode.Failure, "%s already exists; pass --force to replace it (your edits to it are lost)", ciWorkflowPath)
	}
	version := ciInstallVersion(buildinfo.Current())
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return exitcode.Errorf(exitcode.Failure, "cannot create %s: %v; nothing was written", filepath.Dir(ciWorkflowPath), err)
	}
	// Committed and readable by everyone who clones: 0644, it holds no secret.
	if err := fsx.WriteFileAtomic(path, []byte(ciWorkflow(version)), 0o644); err != nil {
		return exitcode.Errorf(exitcode.Failure, "cannot write %s: %v; any previous file is unchanged", ciWorkflowPath, err)
	}
	if o.JSON {
		if err := writeJSON(f, CIInitResult{Path: ciWorkflowPath, Written: true, Version: version, Secrets: ciSecrets}); err != nil {
			return err
		}
	} else {
		f.IO.Successf("Wrote %s (installs phantom and stack @%s)", ciWorkflowPath, version)
	}
	f.IO.Infof(`Next steps:
  1. Push the vault once from your machine: phantom cloud push
  2. Add two repository secrets (Settings → Secrets and variables → Actions):
       PHANTOM_CLOUD_TOKEN       the token phantom cloud push printed
       PHANTOM_VAULT_PASSPHRASE  the passphrase that decrypts the vault
  3. Commit %s and push; the first run checks every declared secret.`, ciWorkflowPath)
	return nil
}

// releaseVersion is a tagged release: vMAJOR.MINOR.PATCH, optionally with a
// prerelease such as -rc.1.
var (
	releaseVersion = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z]+(\.[0-9A-Za-z]+)*)?$`)
	pseudoVersion  = regexp.MustCompile(`[0-9]{14}-[0-9a-f]{12}$`)
)

// ciInstallVersion is the version the workflow installs. A release build pins
// its own tag, so CI runs the same stack (and the phantom released with it:
// the two are tagged together) as the developer. Anything else, a dev build,
// a pseudo-version or `git describe` output, is not installable by that name
// and gets "latest".
func ciInstallVersion(v string) string {
	if releaseVersion.MatchString(v) && !pseudoVersion.MatchString(v) && !strings.Contains(v, "dirty") {
		return v
	}
	return "latest"
}

// ciWorkflow is the workflow file. version is a release tag or "latest",
// checked by ciInstallVersion, so it is safe in YAML and in the shell.
func ciWorkflow(version string) string {
	return strings.ReplaceAll(ciWorkflowTemplate, "@VERSION", "@"+version)
}

// The daily schedule is there because a key revoked upstream breaks the app
// without any push. Secrets are given to the steps that need them only, not
// to the whole job, so no third-party action sees them.
const ciWorkflowTemplate = `# Written by ` + "`stack ci init`" + `; run it again with --force to regenerate.
#
# Checks that every secret declared in .stack.toml is in phantom's vault and
# still accepted by its provider (stack doctor), on every push and pull
# request, once a day (a key revoked upstream breaks the app without any
# push) and on demand. The report holds names and statuses, never a value.
#
# Repository secrets it needs (Settings → Secrets and variables → Actions):
#   PHANTOM_CLOUD_TOKEN       lets phantom cloud pull fetch the encrypted vault
#   PHANTOM_VAULT_PASSPHRASE  decrypts it (CI has no OS keychain)
# Pull requests from forks get no secrets, so the job fails there.
name: stack doctor

on:
  push:
  pull_request:
  schedule:
    - cron: "23 6 * * *"
  workflow_dispatch:

permissions:
  contents: read

concurrency:
  group: stack-doctor-${{ github.ref }}
  cancel-in-progress: true

jobs:
  doctor:
    runs-on: ubuntu-latest
    timeout-minutes: 15
    steps:
      - uses: actions/checkout@v6
        with:
          persist-credentials: false

      - uses: actions/setup-go@v6
        with:
          go-version: "1.26"
          cache: false

      # Static binaries (no cgo): the dynamic loader, and with it
      # LD_PRELOAD, never runs inside a process that holds the vault key.
      - name: Install phantom and stack
        env:
          CGO_ENABLED: "0"
        run: |
          go install phantomstack.dev/phantom/cmd/phantom@VERSION
          go install phantomstack.dev/stack/cmd/stack@VERSION

      - name: Pull the vault
        env:
          PHANTOM_CLOUD_TOKEN: ${{ secrets.PHANTOM_CLOUD_TOKEN }}
          PHANTOM_VAULT_PASSPHRASE: ${{ secrets.PHANTOM_VAULT_PASSPHRASE }}
        run: |
          if [ -z "$PHANTOM_CLOUD_TOKEN" ] || [ -z "$PHANTOM_VAULT_PASSPHRASE" ]; then
            echo "::error::PHANTOM_CLOUD_TOKEN or PHANTOM_VAULT_PASSPHRASE is empty: add both as repository secrets (Settings, Secrets and variables, Actions). Runs from forks get no secrets."
            exit 1
          fi
          phantom cloud pull --force

      # .env.local is gitignored: give doctor's upstream checks the phm tokens
      # (placeholders, not values) they send through phantom's proxy.
      - name: Write phm tokens into .env.local
        env:
          PHANTOM_VAULT_PASSPHRASE: ${{ secrets.PHANTOM_VAULT_PASSPHRASE }}
        run: phantom sync --env-file .env.local

      - name: stack doctor
        env:
          PHANTOM_VAULT_PASSPHRASE: ${{ secrets.PHANTOM_VAULT_PASSPHRASE }}
        run: stack doctor --json > stack-doctor.json

      - name: Upload the doctor report
        if: always()
        uses: actions/upload-artifact@v7
        with:
          name: stack-doctor-report
          path: stack-doctor.json
`
