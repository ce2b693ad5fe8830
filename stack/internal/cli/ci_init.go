package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"phantomstack.dev/shared/buildinfo"
	"phantomstack.dev/shared/exitcode"
	"phantomstack.dev/shared/fsx"
	"phantomstack.dev/shared/jsonout"
	"phantomstack.dev/stack/internal/config"
)

// ciWorkflowPath is where `stack ci init` writes, relative to the project.
const ciWorkflowPath = ".github/workflows/stack-doctor.yml"

// ciPassphraseSecret makes the runner's vault: CI has no OS keychain, and
// the vault there is a new one that the job fills from repository secrets.
const ciPassphraseSecret = "PHANTOM_VAULT_PASSPHRASE"

// CIInitOptions configures `stack ci init`.
type CIInitOptions struct {
	F       *Factory
	Force   bool
	JSON    bool
	Install string // the shell command that installs phantom and stack on the runner
}

// CIInitResult is `stack ci init --json`.
type CIInitResult struct {
	Path    string   `json:"path"`
	Written bool     `json:"written"`
	Install string   `json:"install"` // "" when the install step still has to be chosen
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
		Use:   "init [--install CMD] [--force] [--json]",
		Short: "Write a GitHub Actions workflow that runs stack doctor",
		Long: `Write ` + ciWorkflowPath + `: on every push, pull request, once a day
and on demand, it installs phantom and stack with your --install command,
fills a new vault on the runner from repository secrets (one step per
service, each value on stdin), and runs 'stack doctor --json'. The job fails
when a declared secret is missing or its provider refuses it; the report
(names and statuses, never a value) is uploaded as an artifact.

A released stack writes an install step that downloads phantom and stack
of its own version from their GitHub release, checks the signature over
checksums.txt with the release key and the archives' checksums, and fails
on any mismatch (docs/install.md). A development build of stack has no
release to pin, so say how the runner gets them, for example:

  --install 'npm install -g phantom-secrets@0.2.0 phantom-stack@0.2.0'
  --install 'git clone --depth 1 https://github.com/you/phantomstack "$RUNNER_TEMP/ps" && make -C "$RUNNER_TEMP/ps" install'

Without either, the install step fails with a message saying to set it.
The workflow holds no secret: it reads them from the repository's secrets.
Needs .stack.toml, not phantom. An existing workflow is kept unless --force.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(o)
			}
			return ciInitRun(o)
		},
	}
	cmd.Flags().BoolVar(&o.Force, "force", false, "replace an existing workflow")
	jsonout.AddFlag(cmd, &o.JSON, `print {"path", "written", "install", "secrets"}`)
	cmd.Flags().StringVar(&o.Install, "install", "", "the shell command that installs phantom and stack on the runner (Go is set up)")
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
	if strings.TrimSpace(o.Install) == "" {
		o.Install = ""
		if ciRelease() {
			o.Install = ciReleaseInstall(buildinfo.Current())
		}
	}
	fill, secrets := ciFillSteps(c)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return exitcode.Errorf(exitcode.Failure, "cannot create %s: %v; nothing was written", filepath.Dir(ciWorkflowPath), err)
	}
	// Committed and readable by everyone who clones: 0644, it holds no secret.
	if err := fsx.WriteFileAtomic(path, []byte(ciWorkflow(o.Install, fill, secrets)), 0o644); err != nil {
		return exitcode.Errorf(exitcode.Failure, "cannot write %s: %v; any previous file is unchanged", ciWorkflowPath, err)
	}
	if o.JSON {
		if err := writeJSON(f, CIInitResult{Path: ciWorkflowPath, Written: true, Install: o.Install, Secrets: secrets}); err != nil {
			return err
		}
	} else {
		f.IO.Successf("Wrote %s", ciWorkflowPath)
	}
	if o.Install == "" {
		f.IO.Warnf("The workflow's install step fails until you choose how the runner gets phantom and stack (this stack is a development build, %s, with no release to pin): stack ci init --force --install '<command>' (stack ci init --help has examples)", buildinfo.Current())
	}
	f.IO.Infof(`Next steps:
  1. Add these repository secrets (Settings → Secrets and variables → Actions):
       %s
     %s is any passphrase: it locks the runner's own, new vault. There is
     no vault sync yet, so each run fills that vault from the other secrets.
  2. Commit %s and push; the first run checks every declared secret.`, strings.Join(secrets, "\n       "), ciPassphraseSecret, ciWorkflowPath)
	return nil
}

// ciFillSteps are the workflow steps that put each declared service's
// values into the runner's vault (docs/stack.md, "CI": per provider), and
// the repository secrets they read, passphrase first.
func ciFillSteps(c *config.Config) (string, []string) {
	secrets := []string{ciPassphraseSecret}
	var b strings.Builder
	for _, n := range c.Names() {
		s := c.Services[n]
		var env []string
		var run []string
		switch {
		case s.Provider == "supabase":
			env = []string{"SUPABASE_ACCESS_TOKEN", "SUPABASE_DB_PASSWORD"}
			run = []string{ciUse(n, s.ResourceID, "")}
		case s.Provider == "vercel":
			env = []string{"VERCEL_TOKEN"}
			run = []string{ciUse(n, s.ResourceID, s.Meta["team_id"])}
		case s.Provider == "aws":
			// The app's own key, not a bootstrap identity: a CI run must not
			// create IAM keys (docs/stack.md, "CI").
			env = []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
			run = []string{
				`printf %s "$AWS_ACCESS_KEY_ID" | phantom add AWS_ACCESS_KEY_ID --stdin --env-file .env.local`,
				`printf %s "$AWS_SECRET_ACCESS_KEY" | phantom add AWS_SECRET_ACCESS_KEY --stdin --env-file .env.local`,
			}
			if s.Region != "" {
				run = append(run, "echo AWS_REGION="+shellWord(s.Region)+" >> .env.local")
			}
			if s.ResourceID != "" {
				run = append(run, "echo S3_BUCKET="+shellWord(s.ResourceID)+" >> .env.local")
			}
		default:
			env = slices.Clone(s.Secrets) // an API key, read from its variable by stack add
			run = []string{"stack add " + n}
		}
		fmt.Fprintf(&b, "\n      - name: Put %s's values into the runner's vault\n        env:\n          %s: ${{ secrets.%s }}\n", n, ciPassphraseSecret, ciPassphraseSecret)
		for _, e := range env {
			fmt.Fprintf(&b, "          %s: ${{ secrets.%s }}\n", e, e)
			if !slices.Contains(secrets, e) {
				secrets = append(secrets, e)
			}
		}
		b.WriteString("        run: |\n")
		for _, l := range run {
			b.WriteString("          " + l + "\n")
		}
	}
	return b.String(), secrets
}

// ciUse is `stack add NAME --use ID`, or a line that fails the job with
// what to do when this checkout does not know the resource yet.
func ciUse(name, id, team string) string {
	if id == "" || !ciSafeID.MatchString(id) {
		return `echo "::error::no resource id for ` + name + ` in .stack.local.toml when the workflow was written: run stack add ` + name + `, then stack ci init --force"; exit 1`
	}
	line := "stack add " + name + " --use " + id
	if team != "" && ciSafeID.MatchString(team) {
		line += " --team " + team
	}
	return line
}

// ciSafeID is what a provider id may look like to be written into YAML and
// shell unquoted.
var ciSafeID = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,128}$`)

// shellWord quotes s for sh.
func shellWord(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// ciRelease reports whether this stack is a release build, whose version
// the workflow can pin; a variable so tests can say yes.
var ciRelease = buildinfo.Release

// ciReleaseRepo is the GitHub repository whose releases hold the archives
// (.goreleaser.yaml's release.github; the Makefile's RELEASE_REPO).
const ciReleaseRepo = "phantomstack/phantomstack"

// ciReleaseSigner is release/allowed_signers: the release key's public half,
// as ssh-keygen -Y verify reads it (docs/install.md). A test checks the two
// are the same.
const ciReleaseSigner = `release@phantomstack.dev namespaces="file" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJFKQ6fpJ6woYcrft0srs/p9lnVOmutmC2gOL9NxBEX/`

// ciReleaseInstall is the install step of a released stack: phantom and
// stack of version (a release version, buildinfo.Release) from the GitHub
// release, the signature over checksums.txt checked before the checksums,
// nothing run that did not pass both (docs/install.md, "Verify a download").
func ciReleaseInstall(version string) string {
	return strings.NewReplacer("@VERSION", version, "@REPO", ciReleaseRepo, "@SIGNER", ciReleaseSigner).Replace(`# phantom and stack @VERSION, the version of the stack that wrote this file,
# verified: the signature over checksums.txt (release key), then each archive.
version=@VERSION
base=https://github.com/@REPO/releases/download/$version
case "$(uname -m)" in
  x86_64) arch=amd64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "::error::no phantom release for $(uname -m)"; exit 1 ;;
esac
dir="$RUNNER_TEMP/phantomstack"
mkdir -p "$dir/bin"
cd "$dir"
curl -fsSL --retry 3 -O "$base/checksums.txt" -O "$base/checksums.txt.sig"
for tool in phantom stack; do
  curl -fsSL --retry 3 -O "$base/${tool}_${version#v}_linux_${arch}.tar.gz"
done
echo '@SIGNER' > allowed_signers
ssh-keygen -Y verify -f allowed_signers -I release@phantomstack.dev -n file -s checksums.txt.sig < checksums.txt
: > sums
for tool in phantom stack; do
  awk -v f="${tool}_${version#v}_linux_${arch}.tar.gz" '$2 == f' checksums.txt >> sums
done
[ "$(wc -l < sums)" -eq 2 ] || { echo "::error::checksums.txt does not list both archives"; exit 1; }
sha256sum --strict -c sums
for tool in phantom stack; do
  tar -xzf "${tool}_${version#v}_linux_${arch}.tar.gz" -C bin "$tool"
done
echo "$dir/bin" >> "$GITHUB_PATH"
`)
}

// ciInstallStep is the install step's script: the user's command, or a
// line that fails with what to do.
func ciInstallStep(install string) string {
	if install == "" {
		install = `echo "::error::stack ci init wrote no install command: run stack ci init --force --install '<command that installs phantom and stack>' (see stack ci init --help)"` + "\nexit 1"
	}
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(install, "\n"), "\n") {
		b.WriteString("          " + l + "\n")
	}
	return b.String()
}

// ciWorkflow is the workflow file.
func ciWorkflow(install, fill string, secrets []string) string {
	wf := strings.ReplaceAll(ciWorkflowTemplate, "@INSTALL\n", ciInstallStep(install))
	wf = strings.ReplaceAll(wf, "@FILL\n", fill)
	var list strings.Builder
	for _, s := range secrets {
		fmt.Fprintf(&list, "#   %s\n", s)
	}
	return strings.ReplaceAll(wf, "@SECRETS\n", list.String())
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
# There is no vault sync yet: each run makes a new vault on the runner and
# fills it from repository secrets, each value on stdin. Secrets it needs
# (Settings → Secrets and variables → Actions); PHANTOM_VAULT_PASSPHRASE is
# any passphrase, it locks the runner's vault (CI has no OS keychain):
@SECRETS
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
      # Set with: stack ci init --force --install '<command>'
      - name: Install phantom and stack
        env:
          CGO_ENABLED: "0"
        run: |
@INSTALL
@FILL

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
