package leakscan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
)

// DefaultBaseline is the baseline phantom check reads from the scan root
// when no --baseline is given.
const DefaultBaseline = ".phantom-baseline.json"

// Baseline is a list of accepted findings (`phantom check
// --write-baseline FILE`, read back with --baseline FILE). An entry
// matches a finding with the same file, rule and fingerprint, wherever the
// line moves. It holds no values: fingerprints only.
type Baseline struct {
	Version  int             `json:"version"`
	Findings []BaselineEntry `json:"findings"`
	set      map[BaselineEntry]bool
}

// BaselineEntry is one accepted finding.
type BaselineEntry struct {
	File        string `json:"file"`
	Rule        string `json:"rule"`
	Fingerprint string `json:"fingerprint"`
}

// NewBaseline lists findings, de-duplicated and sorted.
func NewBaseline(fs []Finding) *Baseline {
	b := &Baseline{Version: 1, Findings: []BaselineEntry{}}
	seen := map[BaselineEntry]bool{}
	for _, f := range fs {
		e := BaselineEntry{File: f.File, Rule: f.Rule, Fingerprint: f.Fingerprint}
		if !seen[e] {
			seen[e] = true
			b.Findings = append(b.Findings, e)
		}
	}
	slices.SortFunc(b.Findings, func(x, y BaselineEntry) int {
		return cmpAll(bytes.Compare([]byte(x.File), []byte(y.File)), bytes.Compare([]byte(x.Rule), []byte(y.Rule)),
			bytes.Compare([]byte(x.Fingerprint), []byte(y.Fingerprint)))
	})
	return b
}

// LoadBaseline reads a baseline file strictly.
func LoadBaseline(path string) (*Baseline, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var b Baseline
	if err := dec.Decode(&b); err != nil {
		return nil, fmt.Errorf("%s is not a phantom check baseline: %v", path, err)
	}
	if b.Version != 1 {
		return nil, fmt.Errorf("%s is a baseline of version %d; this phantom reads version 1", path, b.Version)
	}
	b.set = map[BaselineEntry]bool{}
	for _, e := range b.Findings {
		b.set[e] = true
	}
	return &b, nil
}

// Has reports whether f is accepted.
func (b *Baseline) Has(f Finding) bool {
	if b == nil {
		return false
	}
	return b.set[BaselineEntry{File: f.File, Rule: f.Rule, Fingerprint: f.Fingerprint}]
}
