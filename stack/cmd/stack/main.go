// Command stack provisions a project's upstream services (Supabase, Vercel,
// AWS, API-key services) and hands every secret to phantom. See docs/stack.md.
package main

import (
	"os"

	"phantomstack.dev/stack/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args, os.Stdin, os.Stdout, os.Stderr))
}
