package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"phantomstack.dev/shared/buildinfo"
	"phantomstack.dev/shared/jsonout"
)

// VersionOptions configures `stack version`.
type VersionOptions struct {
	F    *Factory
	JSON bool
}

// VersionInfo is the --json shape of `stack version`.
type VersionInfo struct {
	Version string `json:"version"`
	Go      string `json:"go"`
}

func newVersionCmd(f *Factory, runF func(*VersionOptions) error) *cobra.Command {
	opts := &VersionOptions{F: f}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print stack's version",
		Long: `Print stack's version and the Go release it was built with.

--json prints {"version": "...", "go": "..."}.`,
		Args: noArgs,
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
	info := VersionInfo{Version: buildinfo.Current(), Go: buildinfo.Go()}
	if o.JSON {
		return jsonout.Write(o.F.IO.Out, info)
	}
	_, err := fmt.Fprintf(o.F.IO.Out, "stack %s (%s)\n", info.Version, info.Go)
	return err
}
