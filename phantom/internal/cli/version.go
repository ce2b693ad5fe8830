package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"phantomstack.dev/shared/buildinfo"
	"phantomstack.dev/shared/jsonout"
)

// Protocol is the version of the CLI contract in docs/phantom.md ("The
// contract stack relies on"). Bump it only for incompatible changes.
const Protocol = 1

// Capabilities names the contract features this build supports, so a caller
// can test for one instead of comparing versions.
var Capabilities = []string{
	"add-stdin",       // add NAME --stdin [--env-file F]
	"add-policy",      // add NAME --policy proxy|inject|deny
	"remove-env-file", // remove NAME [--env-file F]
	"list-json",       // list --json
	"sync-env-file",   // sync --env-file F [NAME...]
	"init-yes",        // init --yes
	"audit",           // audit verify/show
	"exec",            // exec [--env-file F]... -- cmd: policies, proxy, masking
	"exec-aws",        // exec serves AWS credentials (STS session credentials by default) on the container-credentials endpoint
	"routes-trust",    // [routes.<name>] in .phantom.toml, approved with phantom trust
	"start",           // start [-d] / stop: the proxy for a shell
}

// VersionOptions configures `phantom version`.
type VersionOptions struct {
	F    *Factory
	JSON bool
}

// VersionInfo is the --json shape; stack reads protocol and capabilities.
// commit, date and release are shared/buildinfo's (docs/install.md).
type VersionInfo struct {
	Version      string   `json:"version"`
	Protocol     int      `json:"protocol"`
	Capabilities []string `json:"capabilities"`
	Go           string   `json:"go"`
	Commit       string   `json:"commit"`
	Date         string   `json:"date"`
	Release      bool     `json:"release"`
}

func newVersionCmd(f *Factory, runF func(*VersionOptions) error) *cobra.Command {
	opts := &VersionOptions{F: f}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print phantom's version and CLI protocol",
		Long: `Print phantom's version. With --json, also the CLI protocol number and
capabilities that tools such as stack check before calling phantom.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return versionRun(opts)
		},
	}
	jsonout.AddFlag(cmd, &opts.JSON, "print JSON")
	return cmd
}

func versionRun(o *VersionOptions) error {
	b := buildinfo.Get()
	info := VersionInfo{
		Version:      b.Version,
		Protocol:     Protocol,
		Capabilities: Capabilities,
		Go:           b.Go,
		Commit:       b.Commit,
		Date:         b.Date,
		Release:      b.Release,
	}
	if o.JSON {
		return jsonout.Write(o.F.IO.Out, info)
	}
	dev := ""
	if !info.Release {
		dev = "development build, "
	}
	_, err := fmt.Fprintf(o.F.IO.Out, "phantom %s (%sprotocol %d, %s)\n", info.Version, dev, info.Protocol, info.Go)
	return err
}
