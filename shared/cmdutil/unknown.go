// Package cmdutil holds the cobra glue phantom and stack share, so both
// command lines answer a mistake in the same words.
package cmdutil

import (
	"fmt"
	"slices"

	"github.com/spf13/cobra"

	"phantomstack.dev/shared/suggest"
)

// UnknownCommand words an unknown subcommand arg of cmd, with a "did you
// mean" when a subcommand lists arg in its SuggestFor or is near it
// (suggest.Nearest: "lsit" means "list"). Both binaries' Args functions
// return it as a usage error: cobra suggests only for commands whose Args
// is nil, and theirs is set so that an unknown subcommand exits 2.
func UnknownCommand(cmd *cobra.Command, arg string) string {
	msg := fmt.Sprintf("unknown command %q for %q", arg, cmd.CommandPath())
	if s := SuggestCommand(cmd, arg); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return msg
}

// SuggestCommand returns the name of cmd's available subcommand that arg
// most likely meant, or "".
func SuggestCommand(cmd *cobra.Command, arg string) string {
	var names []string
	for _, c := range cmd.Commands() {
		if !c.IsAvailableCommand() {
			continue
		}
		if slices.Contains(c.SuggestFor, arg) {
			return c.Name()
		}
		names = append(names, c.Name())
	}
	return suggest.Nearest(arg, names)
}
