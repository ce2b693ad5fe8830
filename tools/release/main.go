// Command release is the part of the release pipeline GoReleaser does not
// do for this project, run by `make release-snapshot` and `make release`
// (docs/install.md, docs/decisions.md "Releases"):
//
//	release sbom ARCHIVE DOCUMENT
//	    an SPDX 2.3 JSON SBOM of the Go binary inside ARCHIVE, from the
//	    module list the Go linker recorded in it (what syft reads from a Go
//	    binary), offline and with the standard library only;
//	release packages -dist DIR
//	    the Homebrew tap (DIR/homebrew/Formula/{phantom,stack}.rb) and the
//	    npm packages (DIR/npm/...) in the esbuild pattern, from the archives
//	    and checksums.txt GoReleaser wrote.
//
// It lives in tools/ (outside go.work) so nothing here joins the build list
// of phantom or stack.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "sbom":
		if len(os.Args) != 4 {
			usage()
		}
		err = writeSBOM(os.Args[2], os.Args[3])
	case "packages":
		err = packagesCmd(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: release sbom ARCHIVE DOCUMENT | release packages -dist DIR [-repo OWNER/NAME]")
	os.Exit(2)
}
