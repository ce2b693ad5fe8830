package buildinfo

import "testing"

func TestCurrent(t *testing.T) {
	if got := Current(); got == "" || got == "(devel)" {
		t.Errorf("Current() = %q", got)
	}
	old := Version
	t.Cleanup(func() { Version = old })
	Version = "v1.2.3"
	if got := Current(); got != "v1.2.3" {
		t.Errorf("with -X Version: Current() = %q", got)
	}
}

// TestRelease: only a tag's version stamped at link time is a release; an
// unstamped build, `git describe` between tags, a dirty tree, a bare hash
// and a snapshot all say they are development builds.
func TestRelease(t *testing.T) {
	old := Version
	t.Cleanup(func() { Version = old })
	for v, want := range map[string]bool{
		"":                        false, // go build, go test
		"v1.2.3":                  true,
		"v0.4.0":                  true,
		"v1.2.3-rc.1":             true,
		"v2.0.0-beta.3":           true,
		"1.2.3":                   false, // not a tag name
		"v1.2.3-4-gabcdef0":       false, // git describe past a tag
		"v1.2.3-dirty":            false,
		"648526c":                 false, // git describe without tags
		"648526c-dirty":           false,
		"v0.0.1-snapshot.648526c": false,
		"v01.2.3":                 false,
		"v1.2.3\n":                false,
	} {
		Version = v
		if got := Release(); got != want {
			t.Errorf("Version %q: Release() = %v, want %v", v, got, want)
		}
		if info := Get(); info.Release != want || info.Version != Current() || info.Go == "" {
			t.Errorf("Version %q: Get() = %+v", v, info)
		}
	}
}

// TestStampedCommitAndDate: the -X values win over Go's VCS stamp (absent
// under -buildvcs=false, as in CI).
func TestStampedCommitAndDate(t *testing.T) {
	oc, od := commit, date
	t.Cleanup(func() { commit, date = oc, od })
	commit, date = "0123456789abcdef0123456789abcdef01234567", "2026-12-07T03:00:00Z"
	if got := Get(); got.Commit != commit || got.Date != date {
		t.Errorf("Get() = %+v", got)
	}
}
