package cli

import (
	"github.com/spf13/cobra"

	"phantomstack.dev/shared/buildinfo"
)

const rootLong = `stack sets up the services a project runs on (Supabase, Vercel, AWS and
API-key services such as OpenAI or Stripe) from the command line: it signs you
in to each provider, creates or attaches the upstream resource, and hands every
key it receives straight to phantom, the local secrets vault. stack records
only slot names (OPENAI_API_KEY, ...) in .stack.toml and phm_ placeholder
tokens in .env.local; it never writes a plaintext secret anywhere, which is why
every command that handles secrets needs phantom installed.

Browse what this build can set up:

  stack providers          providers and the env var slots they fill
  stack templates          starter stacks
  stack templates show T   the services and slots of template T`

// NewRootCmd builds the command tree.
func NewRootCmd(f *Factory) *cobra.Command {
	root := &cobra.Command{
		Use:           "stack",
		Short:         "Provision a project's services and keep their secrets in phantom",
		Long:          rootLong,
		Version:       buildinfo.Current(),
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
	root.SetVersionTemplate("stack {{.Version}}\n")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageErrorf("%v", err)
	})

	root.AddGroup(&cobra.Group{ID: "catalog", Title: "Catalog (no phantom needed):"})
	for _, c := range []*cobra.Command{newProvidersCmd(f, nil), newTemplatesCmd(f)} {
		c.GroupID = "catalog"
		root.AddCommand(c)
	}
	root.AddGroup(&cobra.Group{ID: "project", Title: "Your project (needs phantom, except init, ci init and env export):"})
	for _, c := range []*cobra.Command{newInitCmd(f, nil), newAddCmd(f, nil), newRemoveCmd(f), newListCmd(f), newImportCmd(f), newEnvCmd(f), newExecCmd(f), newDoctorCmd(f), newCICmd(f)} {
		c.GroupID = "project"
		root.AddCommand(c)
	}
	info := newInfoCmd(f)
	info.GroupID = "project"
	root.AddCommand(info)
	root.AddGroup(&cobra.Group{ID: "overview", Title: "Where am I (no phantom needed):"})
	for _, c := range []*cobra.Command{newStatusCmd(f), newProjectsCmd(f)} {
		c.GroupID = "overview"
		root.AddCommand(c)
	}
	root.AddCommand(newVersionCmd(f, nil), newCompletionCmd(f))
	return root
}
