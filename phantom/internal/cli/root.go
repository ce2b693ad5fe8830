package cli

import (
	"github.com/spf13/cobra"

	"phantomstack.dev/shared/buildinfo"
	"phantomstack.dev/shared/cmdutil"
)

const rootLong = `phantom keeps your real secret values in an encrypted vault and leaves
worthless placeholders (phm_ tokens) in your .env files, so an AI coding agent
that reads your files, environment or logs only ever sees placeholders.

Start in a project directory that has a .env file:

  phantom init          protect .env and .env.local (values move into the vault)
  phantom list          show what is protected (names only, never values)
  phantom add NAME      add or change a secret (prompted, hidden)

Your .env files keep working with phantom's other commands: values are put
back only where they are needed, never into a file.`

// helpRun makes a command group runnable so that an unknown subcommand is a
// usage error (exit 2) instead of silently printing help.
func helpRun(cmd *cobra.Command, args []string) error { return cmd.Help() }

// groupArgs rejects positional arguments on a command with subcommands as an
// unknown subcommand, with the "did you mean" stack gives too
// (cmdutil.UnknownCommand).
func groupArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	return usageErrorf("%s", cmdutil.UnknownCommand(cmd, args[0]))
}

// NewRootCmd builds the command tree.
func NewRootCmd(f *Factory) *cobra.Command {
	root := &cobra.Command{
		Use:           "phantom",
		Short:         "Keep secrets out of .env files, logs and your AI agent's context",
		Long:          rootLong,
		Version:       buildinfo.Current(),
		SilenceErrors: true,
		SilenceUsage:  true,
		// Commands take explicit args; an unknown one is a usage error.
		Args: groupArgs,
		RunE: helpRun,
		CompletionOptions: cobra.CompletionOptions{
			DisableDefaultCmd: true,
		},
	}
	root.SetVersionTemplate("phantom {{.Version}}\n")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageErrorf("%v", err)
	})

	root.AddGroup(
		&cobra.Group{ID: "setup", Title: "Set up a project:"},
		&cobra.Group{ID: "secrets", Title: "Manage secrets:"},
		&cobra.Group{ID: "run", Title: "Run your app:"},
		&cobra.Group{ID: "files", Title: "Env files:"},
		&cobra.Group{ID: "maint", Title: "Vault and audit:"},
	)
	add := func(group string, cmds ...*cobra.Command) {
		for _, c := range cmds {
			c.GroupID = group
			root.AddCommand(c)
		}
	}
	add("setup", newInitCmd(f, nil), newStatusCmd(f, nil), newWhyCmd(f, nil), newCheckCmd(f, nil), newHookCmd(f), newDoctorCmd(f), newSetupCmd(f), newMCPCmd(f))
	add("secrets", newAddCmd(f, nil), newRemoveCmd(f, nil), newListCmd(f, nil), newRevealCmd(f, nil), newRotateCmd(f, nil))
	add("run", newExecCmd(f, nil), newStartCmd(f, nil), newStopCmd(f, nil), newTrustCmd(f, nil))
	add("files", newSyncCmd(f, nil), newEnvCmd(f, nil), newUnprotectCmd(f, nil))
	add("maint", newUnlockCmd(f, nil), newLockCmd(f, nil), newAgentCmd(f), newVaultCmd(f), newAuditCmd(f), newVersionCmd(f, nil), newCompletionCmd(f))
	return root
}
