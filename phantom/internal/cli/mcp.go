package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/spf13/cobra"

	"phantomstack.dev/phantom/internal/mcpserver"
	"phantomstack.dev/shared/buildinfo"
	"phantomstack.dev/shared/exitcode"
)

func newMCPCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "mcp",
		Short: "Run the MCP server for AI agents (stdio; never hands out a value)",
		Long: `Serve phantom's tools to an AI agent over MCP on stdin/stdout. The agent can
list secrets by name, read status, explain a key, run the leak check and the
doctor, and — with your approval — protect env files, rotate tokens and remove
secrets. No tool returns a secret value or accepts one: to add a secret, the
agent hands you a 'phantom add NAME' command to run in your own terminal.

MCP clients start this command themselves; register it with 'phantom setup'.
The project is the server's working directory, or the project_dir a tool call
names (it must hold .phantom.toml).`,
		Example: `  phantom setup --client claude     # registers 'phantom mcp' in .mcp.json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f.Command = "phantom mcp"
			exe, err := os.Executable()
			if err != nil {
				return exitcode.Errorf(exitcode.Unavailable, "cannot find phantom's own binary to run its commands: %v", err)
			}
			dir, err := f.Cwd()
			if err != nil {
				return err
			}
			// SIGINT/SIGTERM (main's context) end the session: exit 0, as
			// when the client closes it.
			ctx := cmd.Context()
			t := &mcp.IOTransport{Reader: io.NopCloser(f.IO.In), Writer: nopWriteCloser{f.IO.Out}}
			err = mcpserver.Run(ctx, mcpserver.Options{Exe: exe, Dir: dir, Env: f.Environ(), Version: buildinfo.Current()}, t)
			if err != nil && ctx.Err() == nil {
				return fmt.Errorf("mcp server: %w", err)
			}
			return nil
		},
	}
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
