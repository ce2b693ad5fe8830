package cli

import (
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

// The messages of phantom's agent protocol that the CLI sends and reads
// (framing and the peer checks are package agent's; docs/phantom.md,
// "The agent protocol").

// runRequest ('R') asks the agent to run one phantom command line as if the
// client had run it: same arguments, working directory and environment, its
// streams carried by frames.
type runRequest struct {
	Argv  []string `json:"argv"`
	Cwd   string   `json:"cwd"`
	Env   []string `json:"env"`
	TTY   ttyState `json:"tty"`
	Color bool     `json:"color,omitempty"`
}

// ttyState is what the client's streams are. The agent believes it only
// for how it formats output and whether it asks questions: a program can
// make its own pseudo-terminal, so nothing that hands out a value depends
// on it (human-only commands never reach the agent; forwardable).
type ttyState struct {
	In  bool `json:"in"`
	Out bool `json:"out"`
	Err bool `json:"err"`
}

type readRequest struct {
	N int `json:"n"`
}

type promptRequest struct {
	Prompt string `json:"prompt"`
}

type failureMsg struct {
	Error string `json:"error"`
}

type signalMsg struct {
	Signal string `json:"signal"`
}

type quitMsg struct {
	Code int `json:"code"`
}

// execPlan ('X') is what `phantom exec`'s child gets when the agent serves
// the vault: the environment (tokens, the proxy's base URLs and session
// token, inject-policy values) and, to mask the child's output, the
// inject-policy values with their tokens: the only values the child holds.
type execPlan struct {
	Args       []string          `json:"args"`
	Env        []string          `json:"env"`
	Dir        string            `json:"dir"`
	Mask       map[string]string `json:"mask,omitempty"`
	MaskOutput bool              `json:"mask_output"`
}

type childExited struct {
	Code  int    `json:"code"`
	Error string `json:"error,omitempty"`
	// StartFailed: the child could not be started at all (run.StartError).
	StartFailed bool `json:"start_failed,omitempty"`
}

type proveMsg struct {
	Nonce string `json:"nonce"`
}

type proofMsg struct {
	MAC string `json:"mac"`
}

// forwardable are the commands the agent runs for a client: they read or
// change the vault but never show a value. Human-only commands (reveal,
// unprotect, trust, vault, audit adopt, exec --no-masking and
// --body-secret) are never forwarded: they open the vault in their own
// process, which for a hardened vault needs the passphrase typed at that
// moment (docs/security.md, "Hardened mode").
var forwardable = []string{"add", "remove", "list", "rotate", "sync", "init", "status", "check", "why", "env", "exec"}

// forwardCommand reports which command args name when the agent may run it.
func forwardCommand(root *cobra.Command, args []string) (string, bool) {
	cmd, rest, err := root.Find(args)
	if err != nil || cmd == nil || cmd == root || cmd.Parent() != root {
		return "", false
	}
	name := cmd.Name()
	if !slices.Contains(forwardable, name) {
		return "", false
	}
	// Parse the flags as the command itself will: a scan for
	// "--no-masking" that stops at the first "--" misses
	// `exec --env-file -- --no-masking -- cmd`, where "--" is a flag's
	// value (found by internal/redteam's TestHardened). Anything the parser
	// refuses runs here, where it fails the same way.
	cmd.InitDefaultHelpFlag()
	if err := cmd.ParseFlags(rest); err != nil {
		return "", false
	}
	for _, humanOnly := range []string{"help", "no-masking", "body-secret"} {
		if fl := cmd.Flags().Lookup(humanOnly); fl != nil && fl.Changed {
			return "", false
		}
	}
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "--help" || strings.HasPrefix(a, "--no-masking") || strings.HasPrefix(a, "--body-secret") {
			return "", false
		}
	}
	return name, true
}
