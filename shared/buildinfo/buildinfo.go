// Package buildinfo is the version of the phantom and stack binaries: one
// variable, set for both by one linker flag (the Makefile's LDFLAGS), so a
// release never reports two versions.
package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// Version is set at link time:
//
//	-ldflags "-X phantomstack.dev/shared/buildinfo.Version=v1.2.3"
//
// When it is not, the module version recorded by `go install …@vX` is used.
var Version = ""

// devVersion is what an unversioned local build reports.
const devVersion = "0.1.0-dev"

// Current returns the version of this binary.
func Current() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return devVersion
}

// Go returns the Go release the binary was built with.
func Go() string { return runtime.Version() }

// Commit returns the VCS revision the binary was built from, or "" when the
// build did not record one (-buildvcs=false, no git, `go test` binaries).
func Commit() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			return s.Value
		}
	}
	return ""
}
