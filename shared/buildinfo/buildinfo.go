// Package buildinfo is the version of the phantom and stack binaries: one
// package, set for both by one LDFLAGS (the Makefile's, and the same -X
// flags in .goreleaser.yaml), so a release never reports two versions.
package buildinfo

import (
	"regexp"
	"runtime"
	"runtime/debug"
)

// Version, commit and date are set at link time (docs/install.md):
//
//	-ldflags "-X phantomstack.dev/shared/buildinfo.Version=v1.2.3
//	          -X phantomstack.dev/shared/buildinfo.commit=<full sha>
//	          -X phantomstack.dev/shared/buildinfo.date=<commit date, RFC 3339>"
//
// When Version is not, the module version recorded by `go install …@vX` is
// used; when commit and date are not, the VCS stamp Go records (absent
// under -buildvcs=false, which CI sets).
var (
	Version = ""
	commit  = ""
	date    = ""
)

// devVersion is what an unversioned local build reports.
const devVersion = "0.1.0-dev"

// releaseVersion is what the release pipeline stamps from a tag: vX.Y.Z, or
// a pre-release vX.Y.Z-rc.N (also alpha/beta). `git describe` between tags
// (v1.2.3-4-gabcdef0), -dirty, a bare hash and a snapshot do not match.
var releaseVersion = regexp.MustCompile(`^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-(alpha|beta|rc)\.(0|[1-9][0-9]*))?$`)

// Info is what `phantom version --json` and `stack version --json` share.
type Info struct {
	Version string `json:"version"`
	Commit  string `json:"commit"`  // full revision, "" when unknown
	Date    string `json:"date"`    // the commit's date (RFC 3339), "" when unknown
	Go      string `json:"go"`      // the Go release that built the binary
	Release bool   `json:"release"` // built by the release pipeline from a tag
}

// Get returns this binary's build information.
func Get() Info {
	return Info{Version: Current(), Commit: Commit(), Date: Date(), Go: Go(), Release: Release()}
}

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

// Release reports whether this is a release build: a release version
// (vX.Y.Z or vX.Y.Z-rc.N) stamped at link time from a clean tree. Everything
// else (make build, go build, go test, a snapshot) is a development build.
func Release() bool {
	return Version != "" && releaseVersion.MatchString(Version) && vcs("vcs.modified") != "true"
}

// Go returns the Go release the binary was built with.
func Go() string { return runtime.Version() }

// Commit returns the VCS revision the binary was built from, or "" when the
// build recorded none (no -X, and -buildvcs=false, no git, or `go test`).
func Commit() string {
	if commit != "" {
		return commit
	}
	return vcs("vcs.revision")
}

// Date returns the date of the commit the binary was built from (RFC 3339),
// or "" when unknown. The commit's date, not the wall clock at build time,
// so that two builds of one tag are byte-identical (docs/decisions.md).
func Date() string {
	if date != "" {
		return date
	}
	return vcs("vcs.time")
}

func vcs(key string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, s := range bi.Settings {
		if s.Key == key {
			return s.Value
		}
	}
	return ""
}
