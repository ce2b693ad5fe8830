package cli

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"phantomstack.dev/shared/buildinfo"
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
// unknown subcommand, with cobra's typo suggestion (Levenshtein distance 2,
// or a SuggestFor alias): cobra itself suggests only for commands whose Args
// is nil, and ours set Args so that an unknown subcommand exits 2. stack's
// noArgs (stack/internal/cli/main.go) words it the same way.
func groupArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra's own default, applied only in Find
	}
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		// Plain Levenshtein counts a swap of two letters as 2, so "lsit" is
		// as close to "init" as to "list": name every candidate, swaps first.
		sort.SliceStable(s, func(i, j int) bool { return sameLetters(s[i], args[0]) && !sameLetters(s[j], args[0]) })
		q := make([]string, len(s))
		for i, c := range s {
			q[i] = strconv.Quote(c)
		}
		msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(q, " or "))
	}
	return usageErrorf("%s", msg)
}

// sameLetters reports whether a and b are anagrams: a typo that swapped letters.
func sameLetters(a, b string) bool {
	x, y := []byte(strings.ToLower(a)), []byte(strings.ToLower(b))
	slices.Sort(x)
	slices.Sort(y)
	return string(x) == string(y)
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
	add("setup", newInitCmd(f, nil), newStatusCmd(f, nil), newWhyCmd(f, nil))
	add("secrets", newAddCmd(f, nil), newRemoveCmd(f, nil), newListCmd(f, nil), newRevealCmd(f, nil), newRotateCmd(f, nil))
	add("run", newExecCmd(f, nil), newStartCmd(f, nil), newStopCmd(f, nil), newTrustCmd(f, nil))
	add("files", newSyncCmd(f, nil), newEnvCmd(f, nil), newUnprotectCmd(f, nil))
	add("maint", newVaultCmd(f), newAuditCmd(f), newVersionCmd(f, nil), newCompletionCmd(f))
	return root
}
