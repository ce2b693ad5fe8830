// Package jsonout writes the --json output of both CLIs: one indented JSON
// document, newline-terminated, with no decoration mixed in.
package jsonout

import (
	"encoding/json"
	"io"
)

// Write encodes v to w as indented JSON. HTML escaping is off so URLs and
// "<" stay readable.
func Write(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
