package apikey

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"phantomstack.dev/providers"
)

// Validate checks that s is well-formed: a valid provider Info, exactly one
// secret slot which is the one Verify presents, an https endpoint, and a
// header format that carries the key exactly once.
func (s Spec) Validate() error {
	info := providers.Info{Name: s.Name, DisplayName: s.DisplayName, Category: s.Category, Auth: providers.AuthAPIKey, DocsURL: s.DocsURL, Slots: s.Slots, MCP: s.MCP}
	if err := info.Validate(); err != nil {
		return err
	}
	if s.Category == "" {
		return fmt.Errorf("%s: empty category", s.Name)
	}
	if err := httpsURL(s.DocsURL); err != nil {
		return fmt.Errorf("%s: docs URL: %w", s.Name, err)
	}
	if len(s.Slots) != 1 || !s.Slots[0].Secret || s.Slots[0].Name != s.Verify.Slot {
		return fmt.Errorf("%s: an API-key provider has exactly one secret slot, the key that Verify presents (%q)", s.Name, s.Verify.Slot)
	}
	r := s.Verify
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	default:
		return fmt.Errorf("%s: verify method %q: only GET or HEAD, a check must not change anything upstream", s.Name, r.Method)
	}
	if err := httpsURL(r.URL); err != nil {
		return fmt.Errorf("%s: verify URL: %w", s.Name, err)
	}
	if !validHeaderName(r.Header) {
		return fmt.Errorf("%s: verify header %q is not a valid header name", s.Name, r.Header)
	}
	if strings.Count(r.Format, SecretPlaceholder) != 1 {
		return fmt.Errorf("%s: verify format %q must contain %s exactly once", s.Name, r.Format, SecretPlaceholder)
	}
	for _, h := range r.Extra {
		if !validHeaderName(h.Name) || h.Value == "" || strings.ContainsAny(h.Value, "\r\n") {
			return fmt.Errorf("%s: bad extra header %q", s.Name, h.Name)
		}
		if http.CanonicalHeaderKey(h.Name) == http.CanonicalHeaderKey(r.Header) {
			return fmt.Errorf("%s: extra header %q would replace the key header", s.Name, h.Name)
		}
	}
	return nil
}

func httpsURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if u.Scheme != "https" || u.Host == "" || u.User != nil {
		return fmt.Errorf("%q: want https://host/path", raw)
	}
	return nil
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.ContainsRune("!#$%&'*+-.^_`|~", c):
		default:
			return false
		}
	}
	return true
}
