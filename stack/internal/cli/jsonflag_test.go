package cli

import (
	"testing"

	"phantomstack.dev/shared/jsonout"
)

// noJSON are stack's runnable commands that print no data, and why; every
// other command must declare --json through jsonout.AddFlag, so that a
// failure still leaves a JSON document on stdout (jsonout.WriteFailure).
var noJSON = map[string]string{
	"stack":                "prints help",
	"stack ci":             "prints help",
	"stack env":            "prints help",
	"stack projects":       "prints help",
	"stack completion":     "prints a shell script",
	"stack exec":           "the child's output is stdout",
	"stack init":           "writes .stack.toml and says so on stderr",
	"stack remove":         "reports what it deleted on stderr",
	"stack projects where": "prints one path for $(...), nothing on failure",
}

// TestEveryDataCommandHasJSONFlag walks stack's command tree: each runnable
// command either is in noJSON or has a --json registered with
// jsonout.AddFlag (a hand-made one would miss the failure document).
func TestEveryDataCommandHasJSONFlag(t *testing.T) {
	f := newTestFactory(t)
	for _, p := range jsonout.CheckTree(NewRootCmd(f), noJSON) {
		t.Error(p)
	}
}
