package cmdutil

import (
	"testing"

	"github.com/spf13/cobra"
)

func TestUnknownCommand(t *testing.T) {
	root := &cobra.Command{Use: "tool"}
	run := func(*cobra.Command, []string) {}
	root.AddCommand(
		&cobra.Command{Use: "list", Run: run},
		&cobra.Command{Use: "init", Run: run},
		&cobra.Command{Use: "debug", Run: run, Hidden: true},
		&cobra.Command{Use: "remove", Run: run, SuggestFor: []string{"delete"}},
	)
	for _, tc := range []struct{ arg, want string }{
		{"lsit", `unknown command "lsit" for "tool" (did you mean "list"?)`},
		{"delete", `unknown command "delete" for "tool" (did you mean "remove"?)`},
		{"debgu", `unknown command "debgu" for "tool"`}, // "debug" is hidden: never suggested
		{"zzz", `unknown command "zzz" for "tool"`},
	} {
		if got := UnknownCommand(root, tc.arg); got != tc.want {
			t.Errorf("UnknownCommand(%q) = %q, want %q", tc.arg, got, tc.want)
		}
	}
}
