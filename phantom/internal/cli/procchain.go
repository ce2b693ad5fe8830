package cli

import "phantomstack.dev/phantom/internal/proctree"

// processChain names phantom's parent processes, nearest first, as
// "bash(9) < script(8) < python3(7) < tmux(6)", for the audit events of the
// commands a human must confirm (reveal, unprotect, trust, rekey, adopt,
// exec --no-masking): a confirmation typed through `script`, a Python pty
// or a tmux session an agent drives shows there. It is evidence, not proof:
// a process chooses its own name. "" where there is no /proc.
func processChain() string { return proctree.Parents() }

// withChain appends the process chain to an audit detail.
func withChain(detail string) string {
	c := processChain()
	if c == "" {
		return detail
	}
	if detail == "" {
		return "via " + c
	}
	return detail + "; via " + c
}
