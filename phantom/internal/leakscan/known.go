package leakscan

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"

	"phantomstack.dev/phantom/internal/scrub"
)

// MinKnownLen is the shortest vault value the known-value layer looks for.
// A shorter value ("3000", "admin") turns up in ordinary text so often that
// every hit would be noise; such values are counted in the report's
// known_values.skipped_short and left to the other layers
// (docs/decisions.md, "phantom check: known values").
const MinKnownLen = 8

// KnownValue is one secret from the vault, handed over after unlocking.
// Version changes whenever the value does (the vault's updated_at): the
// fingerprint of a known-value hit is derived from Name and Version, never
// from the value.
type KnownValue struct {
	Name    string
	Value   []byte
	Version string
}

// Known finds vault values, raw and in the encodings a program or a person
// commonly writes them in (base64 std/url, padded or not and embedded in a
// larger blob at each alignment; hex; percent-encoding; JSON escapes), with
// the Aho-Corasick automaton the proxy scrubs responses with
// (internal/scrub). Nothing but this in-memory automaton holds the values:
// no copy, hash or encoding of them is written anywhere.
type Known struct {
	r            *scrub.Replacer
	entries      []knownEntry
	skippedShort int
}

type knownEntry struct {
	name, version string
	length        int
}

// NewKnown compiles the matcher. Values shorter than MinKnownLen are
// skipped and counted.
func NewKnown(vals []KnownValue) *Known {
	k := &Known{}
	sorted := slices.Clone(vals)
	slices.SortFunc(sorted, func(a, b KnownValue) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	pats := map[string]string{}
	for _, v := range sorted {
		if len(v.Value) < MinKnownLen {
			k.skippedShort++
			continue
		}
		id := strconv.Itoa(len(k.entries))
		k.entries = append(k.entries, knownEntry{name: v.Name, version: v.Version, length: len(v.Value)})
		// "raw" marks the value itself, "enc" every encoded form of it.
		for form := range scrub.WithEncodings(map[string]string{string(v.Value): ""}) {
			tag := "enc:" + id
			if form == string(v.Value) {
				tag = "raw:" + id
			}
			if _, taken := pats[form]; !taken {
				pats[form] = tag
			}
		}
	}
	k.r = scrub.New(pats)
	return k
}

// Values is the number of vault values the matcher looks for.
func (k *Known) Values() int { return len(k.entries) }

// SkippedShort is the number of values too short to look for.
func (k *Known) SkippedShort() int { return k.skippedShort }

type knownHit struct {
	start, end int
	entry      knownEntry
	encoded    bool
}

func (k *Known) find(b []byte, fn func(knownHit)) {
	if k == nil {
		return
	}
	k.r.Find(b, func(s, e int, tag []byte) {
		enc := tag[0] == 'e'
		i, _ := strconv.Atoi(string(tag[4:]))
		fn(knownHit{start: s, end: e, entry: k.entries[i], encoded: enc})
	})
}

// knownFingerprintInput derives a known-value finding's fingerprint input
// from the secret's name and version: the value never goes into a
// fingerprint, so no fingerprint can be brute-forced back to it.
func knownFingerprintInput(e knownEntry) string {
	h := sha256.Sum256([]byte(e.name + "\x00" + e.version))
	return "known\x00" + hex.EncodeToString(h[:])
}
