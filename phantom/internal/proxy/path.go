package proxy

import (
	"fmt"
	"net/url"
	"strings"
)

// maxDecode bounds how many rounds of percent-decoding cleanPath looks
// through for a hidden dot segment.
const maxDecode = 4

// cleanPath resolves the "." and ".." segments of p, the escaped path after
// the route name, and returns it with a leading slash. The upstream URL's
// own path (https://api.openai.com/v1) is joined in front of the result, so
// a path that climbs out of the route ("../admin", "%2e%2e/admin") would
// reach a part of the API the route was never approved for, with the key
// attached: it is refused, as is every segment that hides a dot segment
// behind an encoded slash or backslash ("..%2fadmin", "..%5cadmin") or a
// second round of encoding ("%252e%252e"), which some servers decode again
// (docs/decisions.md, "proxy path traversal"). An encoded slash in an
// ordinary segment ("group%2Fproject") passes unchanged.
func cleanPath(p string) (string, error) {
	segs := strings.Split(p, "/")
	out := make([]string, 0, len(segs))
	changed := false
	for i, seg := range segs {
		dot, err := dotSegment(seg)
		if err != nil {
			return "", err
		}
		switch dot {
		case ".":
			changed = true
		case "..":
			changed = true
			if len(out) == 0 {
				return "", fmt.Errorf("the request path %q climbs above the route's base path", "/"+p)
			}
			out = out[:len(out)-1]
		default:
			out = append(out, seg)
			continue
		}
		if i == len(segs)-1 {
			out = append(out, "") // "/a/b/.." is "/a/", as in RFC 3986 §5.2.4
		}
	}
	if !changed {
		return "/" + p, nil
	}
	return "/" + strings.Join(out, "/"), nil
}

// dotSegment returns "." or ".." when the escaped segment seg is one, "" for
// an ordinary segment, and an error for a segment that hides one.
func dotSegment(seg string) (string, error) {
	if !strings.ContainsAny(seg, ".%\\") {
		return "", nil
	}
	cur := seg
	for round := 0; round < maxDecode; round++ {
		dec, err := url.PathUnescape(cur)
		if err != nil {
			if round == 0 {
				return "", fmt.Errorf("the request path segment %q is not valid percent-encoding", seg)
			}
			break // a literal % after the first round is just a character
		}
		if round == 0 && (dec == "." || dec == "..") {
			return dec, nil
		}
		for _, piece := range strings.FieldsFunc(dec, func(r rune) bool { return r == '/' || r == '\\' }) {
			if piece == "." || piece == ".." {
				return "", fmt.Errorf("the request path segment %q hides a %q segment (encoded slash, backslash or double encoding)", seg, piece)
			}
		}
		if dec == cur {
			break
		}
		cur = dec
	}
	// The raw segment itself, before any decoding, split on backslash.
	for _, piece := range strings.Split(seg, "\\") {
		if piece == "." || piece == ".." {
			return "", fmt.Errorf("the request path segment %q hides a %q segment (backslash)", seg, piece)
		}
	}
	return "", nil
}
