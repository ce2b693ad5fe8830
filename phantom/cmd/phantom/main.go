// Command phantom keeps real secret values in an encrypted vault and leaves
// worthless phm_ placeholders in .env files. See docs/phantom.md.
package main

import (
	"os"

	"phantomstack.dev/phantom/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args, os.Stdin, os.Stdout, os.Stderr))
}
