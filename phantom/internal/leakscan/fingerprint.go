package leakscan

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
)

// FingerprintKeyFor derives the fingerprint key from the project's id (in
// .phantom.toml, committed), so a baseline works on every clone and in CI,
// and fingerprints of one project say nothing about another's.
//
// The key is not secret. So a fingerprint is only ever computed over
// something that cannot be guessed by trying values: a pattern or env
// value of at least 16 characters (the rules demand entropy), otherwise
// the rule and the file (and the env key's name); for a vault value, the
// secret's name and the time it last changed, never the value, which can
// be short and guessable (docs/decisions.md, "phantom check:
// fingerprints").
func FingerprintKeyFor(projectID string) []byte {
	h := sha256.Sum256([]byte("phantom check fingerprint v1\x00" + projectID))
	return h[:]
}

// fingerprint is HMAC-SHA256(key, rule NUL input), 16 hex digits.
func (s *Scanner) fingerprint(rule, input string) string {
	key := s.opts.FingerprintKey
	if key == nil {
		key = FingerprintKeyFor("")
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(rule + "\x00" + input))
	return hex.EncodeToString(m.Sum(nil)[:8])
}
