package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"phantomstack.dev/phantom/internal/audit"
	"phantomstack.dev/phantom/internal/vault"
	"phantomstack.dev/shared/exitcode"
	"phantomstack.dev/shared/term"
)

// passphrasePlaceholder is what masking prints instead of the vault
// passphrase: it has no token, and a placeholder that says what it hides
// tells the user where it came from.
const passphrasePlaceholder = "[phantom: vault passphrase]"

// childBaseEnv is phantom's environment without any PHANTOM_* variable:
// they steer phantom (its home, the vault passphrase, audit and proxy
// settings), and a child holding them could open the vault or drive
// phantom itself. The proxy's own PHANTOM_PROXY_URL and PHANTOM_PROXY_TOKEN
// are added back by exec for the child. docs/phantom.md, "Environment".
func childBaseEnv(env []string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		return strings.HasPrefix(kv, "PHANTOM_")
	})
}

// passphraseMask maps the vault passphrase the environment gives (directly
// or through PHANTOM_VAULT_PASSPHRASE_FILE) to its placeholder, so a child
// that finds it anyway (a file, a parent's memory) cannot print it through
// phantom's output.
func passphraseMask(f *Factory) map[string]string {
	m := map[string]string{}
	if p := f.Env(vault.EnvPassphrase); p != "" {
		m[p] = passphrasePlaceholder
	}
	if pw, _, err := vault.PassphraseFromEnv(f.Env); err == nil && pw != nil {
		m[string(pw)] = passphrasePlaceholder
		clear(pw)
	}
	return m
}

// confirmNoMasking lets --no-masking through only after a person typed
// "no-masking" on the terminal (stdin and stderr), and records the attempt,
// with the processes that started phantom, either way. A pseudo-terminal a
// program made can type too: the audit entry names that program
// (docs/security.md).
func confirmNoMasking(ctx context.Context, f *Factory, p *Project) error {
	record := func(outcome string) {
		f.record(p, audit.Event{Op: "exec.no-masking", Detail: withChain(outcome)})
	}
	if !f.IO.CanPrompt() {
		record("refused: no terminal")
		// Without masking, `phantom exec --no-masking -- printenv X` would
		// be a non-interactive way to print a value.
		return exitcode.Errorf(exitcode.Refused, "--no-masking needs an interactive terminal (stdin and stderr) and a typed confirmation: without them, unmasked output would let a script or agent read injected secret values\nRun it from your own terminal, or leave masking on.")
	}
	err := f.IO.ConfirmTyped(ctx, "--no-masking shows the real values of injected secrets in this command's output.", "no-masking")
	if err != nil {
		record("refused: not confirmed")
		if errors.Is(err, term.ErrCancelled) || errors.Is(err, term.ErrNoTTY) {
			return exitcode.Errorf(exitcode.Refused, "--no-masking was not confirmed; nothing was run")
		}
		return fmt.Errorf("--no-masking: %w", err)
	}
	record("confirmed on the terminal")
	return nil
}
