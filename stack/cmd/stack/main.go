// Command stack provisions a project's upstream services (Supabase, Vercel,
// AWS, API-key services) and hands every secret to phantom. See docs/stack.md.
package main

import (
	"context"
	"os"

	"phantomstack.dev/shared/interrupt"
	"phantomstack.dev/stack/internal/cli"
)

func main() {
	// The one context of this run: Ctrl-C or SIGTERM cancels it, and every
	// command stops through cmd.Context() (docs/architecture.md §9).
	ctx, stop := interrupt.NotifyContext(context.Background())
	code := cli.Main(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
