package cli

import (
	"testing"

	"phantomstack.dev/shared/jsonout"
)

// noJSON are phantom's runnable commands that print no data, and why; every
// other command must declare --json through jsonout.AddFlag, so that a
// failure still leaves a JSON document on stdout (jsonout.WriteFailure).
var noJSON = map[string]string{
	"phantom":              "prints help",
	"phantom audit":        "prints help",
	"phantom vault":        "prints help",
	"phantom audit adopt":  "a decision on a terminal",
	"phantom completion":   "prints a shell script",
	"phantom exec":         "the child's output is stdout",
	"phantom start":        "runs the proxy for a shell",
	"phantom stop":         "stops it; nothing to report",
	"phantom reveal":       "a value, to a terminal only",
	"phantom unprotect":    "writes values back into files, on a terminal",
	"phantom hook":         "prints help",
	"phantom agent":        "prints help",
	"phantom agent serve":  "the agent process; unlock starts it",
	"phantom hook install": "writes a git hook; its messages are the result",
	"phantom mcp":          "stdout is the MCP session",
}

// TestEveryDataCommandHasJSONFlag walks phantom's command tree: each
// runnable command either is in noJSON or has a --json registered with
// jsonout.AddFlag (a hand-made one would miss the failure document).
func TestEveryDataCommandHasJSONFlag(t *testing.T) {
	for _, p := range jsonout.CheckTree(NewRootCmd(NewFactory(nil)), noJSON) {
		t.Error(p)
	}
}
