package cli

import (
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

// completionShells are the shells cobra generates scripts for.
var completionShells = []string{"bash", "zsh", "fish", "powershell"}

// CompletionOptions configures `stack completion`.
type CompletionOptions struct {
	F     *Factory
	Shell string
}

// newCompletionCmd replaces cobra's default completion command (cobra adds
// its own only when none is named "completion"), so a wrong shell is a usage
// error (exit 2) and the help says how to install each script. The scripts
// call stack's hidden __complete command, so they follow the command tree
// without being regenerated.
func newCompletionCmd(f *Factory) *cobra.Command {
	o := &CompletionOptions{F: f}
	return &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print a shell completion script",
		Long: `Print the completion script for your shell on stdout. To install it:

  bash        needs the bash-completion package; add to ~/.bashrc:
                source <(stack completion bash)
              or once, for every user:
                stack completion bash > /etc/bash_completion.d/stack
  zsh         with compinit enabled (autoload -U compinit; compinit in ~/.zshrc):
                stack completion zsh > "${fpath[1]}/_stack"
              then start a new shell
  fish        stack completion fish > ~/.config/fish/completions/stack.fish
  powershell  add to your $PROFILE:
                stack completion powershell | Out-String | Invoke-Expression`,
		ValidArgs: completionShells,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case len(args) != 1:
				return usageErrorf("name one shell: %s", strings.Join(completionShells, ", "))
			case !slices.Contains(completionShells, args[0]):
				return usageErrorf("unknown shell %q: choose one of %s", args[0], strings.Join(completionShells, ", "))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Shell = args[0]
			return completionRun(o, cmd.Root())
		},
	}
}

func completionRun(o *CompletionOptions, root *cobra.Command) error {
	out := o.F.IO.Out
	switch o.Shell {
	case "bash":
		return root.GenBashCompletionV2(out, true)
	case "zsh":
		return root.GenZshCompletion(out)
	case "fish":
		return root.GenFishCompletion(out, true)
	default:
		return root.GenPowerShellCompletionWithDesc(out)
	}
}
