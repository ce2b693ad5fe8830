// Package buildinfo reports stack's version.
package buildinfo

import "runtime/debug"

// Version is set at link time (-ldflags "-X phantomstack.dev/stack/internal/buildinfo.Version=v1.2.3").
// When it is not, a module version recorded by `go install …@vX` is used.
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
