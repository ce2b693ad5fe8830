// Command phantom keeps real secret values in an encrypted vault and leaves
// worthless phm_ placeholders in .env files. See docs/phantom.md.
package main

import (
	"context"
	"fmt"
	"os"

	"phantomstack.dev/phantom/internal/cli"
	"phantomstack.dev/phantom/internal/harden"
	"phantomstack.dev/shared/interrupt"
)

func main() {
	// First, before any key or value is in memory: no core dumps, no
	// ptrace or /proc/<pid>/mem by other processes of this user, no
	// GOTRACEBACK above "single" (docs/phantom.md, "Process protection").
	if err := harden.Process(); err != nil {
		fmt.Fprintln(os.Stderr, "phantom:", err)
		os.Exit(1)
	}
	// The one context of this run: Ctrl-C or SIGTERM cancels it, and every
	// command stops through cmd.Context() (docs/architecture.md §9).
	ctx, stop := interrupt.NotifyContext(context.Background())
	code := cli.Main(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
