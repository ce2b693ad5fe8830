package leakscan

import (
	"strings"
	"sync"

	"github.com/rs/zerolog"
	"github.com/zricethezav/gitleaks/v8/detect"
	"github.com/zricethezav/gitleaks/v8/logging"
)

// The pattern layer is gitleaks v8's detect package with its default rule
// set (MIT; ~200 provider formats with keywords, entropy thresholds and
// allowlists): maintained upstream instead of hand-written regexes
// (docs/decisions.md, "phantom check: patterns from gitleaks").
var (
	patternsOnce sync.Once
	patternsDet  *detect.Detector
	patternsErr  error
)

func patternDetector() (*detect.Detector, error) {
	patternsOnce.Do(func() {
		// gitleaks logs through a global zerolog logger; phantom's
		// stderr is for phantom's own messages.
		logging.Logger = zerolog.Nop()
		patternsDet, patternsErr = detect.NewDetectorDefaultConfig()
	})
	return patternsDet, patternsErr
}

// Warm starts compiling the rule set in the background (tens of
// milliseconds), so it overlaps with opening the vault and running git;
// New waits for it.
func Warm() { go patternDetector() }

type patternHit struct {
	line   int
	rule   string
	desc   string
	secret string
	text   string
}

// scanPatterns runs the rule set over one block of text whose first line is
// file line firstLine. rel lets gitleaks apply its path allowlist (lock
// files, go.sum, images).
func scanPatterns(d *detect.Detector, rel string, firstLine int, block string) []patternHit {
	fs := d.Detect(detect.Fragment{Raw: block, FilePath: rel})
	hits := make([]patternHit, 0, len(fs))
	for _, f := range fs {
		hits = append(hits, patternHit{
			// gitleaks counts lines from 0 within the fragment.
			line:   firstLine + f.StartLine,
			rule:   f.RuleID,
			desc:   f.Description,
			secret: f.Secret,
			text:   strings.Trim(f.Line, "\r\n"),
		})
	}
	return hits
}
