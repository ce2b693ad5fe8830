package cli

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"phantomstack.dev/phantom/internal/buildinfo"
	"phantomstack.dev/shared/jsonout"
)

// VersionOptions configures `phantom version`.
type VersionOptions struct {
	F    *Factory
	JSON bool
}

// VersionInfo is the --json shape; stack reads protocol and capabilities.
type VersionInfo struct {
	Version      string   `json:"version"`
	Protocol     int      `json:"protocol"`
	Capabilities []string `json:"capabilities"`
	Go           string   `json:"go"`
	Commit       string   `json:"commit,omitempty"`
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
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print JSON")
	return cmd
}

func versionRun(o *VersionOptions) error {
	info := VersionInfo{
		Version:      buildinfo.Version,
		Protocol:     buildinfo.Protocol,
		Capabilities: buildinfo.Capabilities,
		Go:           runtime.Version(),
		Commit:       buildinfo.Commit(),
	}
	if o.JSON {
		return jsonout.Write(o.F.IO.Out, info)
	}
	_, err := fmt.Fprintf(o.F.IO.Out, "phantom %s (protocol %d, %s)\n", info.Version, info.Protocol, info.Go)
	return err
}
