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

// VersionInfo is the --json shape of `stack version`: shared/buildinfo's,
// the same fields `phantom version --json` has (docs/install.md).
type VersionInfo = buildinfo.Info

func newVersionCmd(f *Factory, runF func(*VersionOptions) error) *cobra.Command {
	opts := &VersionOptions{F: f}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print stack's version",
		Long: `Print stack's version and the Go release it was built with; a build that
is not a release from a tag says "development build".

--json prints {"version", "commit", "date", "go", "release"}.`,
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
	info := buildinfo.Get()
	if o.JSON {
		return jsonout.Write(o.F.IO.Out, info)
	}
	dev := ""
	if !info.Release {
		dev = "development build, "
	}
	_, err := fmt.Fprintf(o.F.IO.Out, "stack %s (%s%s)\n", info.Version, dev, info.Go)
	return err
}
