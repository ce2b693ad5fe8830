// Command phantom keeps real secret values in an encrypted vault and leaves
// worthless phm_ placeholders in .env files. See docs/phantom.md.
package main

import (
	"fmt"
	"os"

	"phantomstack.dev/phantom/internal/cli"
	"phantomstack.dev/phantom/internal/harden"
)

func main() {
	// First, before any key or value is in memory: no core dumps, no
	// ptrace or /proc/<pid>/mem by other processes of this user, no
	// GOTRACEBACK above "single" (docs/phantom.md, "Process protection").
	if err := harden.Process(); err != nil {
		fmt.Fprintln(os.Stderr, "phantom:", err)
		os.Exit(1)
	}
	os.Exit(cli.Main(os.Args, os.Stdin, os.Stdout, os.Stderr))
}
