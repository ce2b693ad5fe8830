package bodyscope

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"phantomstack.dev/shared/token"
)

// expand turns "$x" (x any byte) into a token whose hex digits repeat x's
// hex code, so the fuzzer can place tokens without finding 64 hex digits.
func expand(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '$' && i+1 < len(s) {
			b.WriteString(token.Prefix + strings.Repeat(fmt.Sprintf("%02x", s[i+1]), 32))
			i++
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// fuzzResolve refuses tokens whose first hex digit is 8-f; the values
// carry characters that need escaping, and "$f…" (0xff…) gets a value that
// is not UTF-8.
func fuzzResolve(tok string) (string, bool) {
	switch {
	case tok[4] >= '8':
		if tok[4:6] == "ff" {
			return "bad\xff" + tok[6:8], true
		}
		return "", false
	case tok[4] == '0':
		return "", true
	}
	return "v\"\\\n\x01é &=+%<" + tok[4:8], true
}

// want applies the substitution to a decoded field value by the rules, not
// by the code under test, and counts what it did.
func want(s string, jsonSafe bool) (string, int, []string) {
	var out strings.Builder
	n, last := 0, 0
	var unres []string
	for _, o := range token.FindAll([]byte(s)) {
		tok := s[o : o+token.Len]
		v, ok := fuzzResolve(tok)
		if ok && jsonSafe && !utf8.ValidString(v) {
			ok = false
		}
		if !ok {
			if !slices.Contains(unres, tok) {
				unres = append(unres, tok)
			}
			continue
		}
		out.WriteString(s[last:o])
		out.WriteString(v)
		last = o + token.Len
		n++
	}
	out.WriteString(s[last:])
	return out.String(), n, unres
}

func splitFields(f string) []string {
	if f == "" {
		return nil
	}
	return strings.Split(f, ",")
}

// FuzzJSONScope: JSON errors exactly on invalid input; otherwise the output
// is valid JSON with the same token stream as the input (keys, numbers,
// literals, structure, duplicate keys) except string values in declared
// positions, which equal the reference substitution. Every other string,
// tokens included, is unchanged, and with nothing replaced the body is
// returned byte for byte.
func FuzzJSONScope(f *testing.F) {
	for _, s := range []struct{ body, fields string }{
		{`{"api_key":"$a","messages":[{"role":"user","content":"$a"}]}`, "api_key"},
		{`{"API_KEY":"Bearer $1 $9","x":{"api_key":["$2",{"api_key":"$3"},["$4"]]}}`, "api_key"},
		{`{"api\u005fkey":"\"\u0041 $5\n","value":"$f"}`, "api_key,value"},
		{`{"v":"x \u0070hm\u005f` + strings.Repeat("ab", 32) + `","v":"$0"}`, "v"},
		{"{\n \"a\" : [ 1 , -2.5e3 , true , null , \"$1\" ] ,\"a\":\"$a\"}", "a"},
		{`{"k":{"k":{"k":"$1"}}, "n": 1e2}`, "K"},
		{`["$1",{"a":"$2"}]`, "a"},
		{`{"\ud83d\ude00":"$1","v":"\ud83d\ude00$2\ud800"}`, "v,\U0001F600"},
		{`{"a":"$1"`, "a"},
	} {
		f.Add(s.body, s.fields)
	}
	f.Fuzz(func(t *testing.T, raw, fieldList string) {
		in := []byte(expand(raw))
		fields := splitFields(fieldList)
		res, err := JSON(in, fields, fuzzResolve)
		if valid := json.Valid(in); !valid {
			if err == nil {
				t.Fatalf("no error for invalid JSON %q", in)
			}
			return
		} else if err != nil {
			t.Fatalf("error %v for valid JSON %q", err, in)
		}
		if !json.Valid(res.Body) {
			t.Fatalf("output is not valid JSON: %q (input %q)", res.Body, in)
		}
		if res.Replaced == 0 && !bytes.Equal(res.Body, in) {
			t.Fatalf("nothing replaced but body changed: %q -> %q", in, res.Body)
		}
		wantN, wantUnres := compareJSON(t, in, res.Body, fields)
		if res.Replaced != wantN {
			t.Fatalf("Replaced = %d, want %d", res.Replaced, wantN)
		}
		if !slices.Equal(res.Unresolved, wantUnres) {
			t.Fatalf("Unresolved = %q, want %q", res.Unresolved, wantUnres)
		}
	})
}

// compareJSON walks both bodies' token streams in step, tracking which
// string values are in declared positions.
func compareJSON(t *testing.T, in, out []byte, fields []string) (int, []string) {
	t.Helper()
	din := json.NewDecoder(bytes.NewReader(in))
	dout := json.NewDecoder(bytes.NewReader(out))
	din.UseNumber()
	dout.UseNumber()
	type frame struct {
		object, wantKey bool
		valueMode       mode // mode of the next value in this frame
	}
	stack := []frame{{}}
	n := 0
	var unres []string
	for {
		a, errA := din.Token()
		b, errB := dout.Token()
		if errA == io.EOF && errB == io.EOF {
			return n, unres
		}
		if errA != nil || errB != nil {
			t.Fatalf("token errors %v / %v", errA, errB)
		}
		top := &stack[len(stack)-1]
		if _, isDelim := a.(json.Delim); top.object && top.wantKey && !isDelim {
			if a != b {
				t.Fatalf("key %q became %q", a, b)
			}
			top.wantKey = false
			top.valueMode = modeNone
			for _, f := range fields {
				if asciiEqualFold(f, []byte(a.(string))) {
					top.valueMode = modeDeclared
				}
			}
			continue
		}
		m := top.valueMode
		if top.object {
			top.wantKey = true
		}
		switch av := a.(type) {
		case json.Delim:
			if a != b {
				t.Fatalf("delimiter %v became %v", a, b)
			}
			switch av {
			case '{':
				stack = append(stack, frame{object: true, wantKey: true})
			case '[':
				em := modeNone
				if m == modeDeclared {
					em = modeElement
				}
				stack = append(stack, frame{valueMode: em})
			default:
				stack = stack[:len(stack)-1]
				if p := &stack[len(stack)-1]; p.object {
					p.wantKey = true
				}
			}
		case string:
			exp := av
			if m != modeNone {
				var k int
				var u []string
				exp, k, u = want(av, true)
				n += k
				for _, tok := range u {
					if !slices.Contains(unres, tok) {
						unres = append(unres, tok)
					}
				}
			}
			if b != exp {
				t.Fatalf("string %q became %q, want %q (mode %d)", av, b, exp, m)
			}
		default:
			if a != b {
				t.Fatalf("value %v became %v", a, b)
			}
		}
	}
}

// FuzzFormScope: Form errors only on a bad escape in a name or a declared
// value; otherwise pairs keep their number and order, undeclared pairs are
// byte-identical, and declared values decode to the reference substitution.
func FuzzFormScope(f *testing.F) {
	for _, s := range []struct{ body, fields string }{
		{"api_key=$a&prompt=$a", "api_key"},
		{"value=Bearer+$1&value=%70hm%5F" + strings.Repeat("cd", 32) + "&x", "value"},
		{"a%5Fb=$2&c=%zz&&d==$3", "a_b,d"},
		{"v=$f+$9+$0", "v"},
		{"v=%4", "v"},
	} {
		f.Add(s.body, s.fields)
	}
	f.Fuzz(func(t *testing.T, raw, fieldList string) {
		in := expand(raw)
		fields := splitFields(fieldList)
		res, err := Form([]byte(in), fields, fuzzResolve)
		pin := strings.Split(in, "&")
		if err != nil {
			for _, p := range pin {
				name, value, hasEq := strings.Cut(p, "=")
				dn, errN := url.QueryUnescape(name)
				if errN != nil {
					return
				}
				if _, errV := url.QueryUnescape(value); hasEq && slices.Contains(fields, dn) && errV != nil {
					return
				}
			}
			t.Fatalf("Form(%q) error %v, but every name and declared value decodes", in, err)
		}
		if res.Replaced == 0 && string(res.Body) != in {
			t.Fatalf("nothing replaced but body changed: %q -> %q", in, res.Body)
		}
		pout := strings.Split(string(res.Body), "&")
		if len(pin) != len(pout) {
			t.Fatalf("%d pairs became %d: %q -> %q", len(pin), len(pout), in, res.Body)
		}
		n := 0
		var unres []string
		for i, p := range pin {
			name, value, hasEq := strings.Cut(p, "=")
			dn, _ := url.QueryUnescape(name)
			if !hasEq || !slices.Contains(fields, dn) {
				if pout[i] != p {
					t.Fatalf("undeclared pair %q became %q", p, pout[i])
				}
				continue
			}
			oname, ovalue, _ := strings.Cut(pout[i], "=")
			if oname != name {
				t.Fatalf("name %q became %q", name, oname)
			}
			dv, _ := url.QueryUnescape(value)
			exp, k, u := want(dv, false)
			n += k
			for _, tok := range u {
				if !slices.Contains(unres, tok) {
					unres = append(unres, tok)
				}
			}
			if got, err := url.QueryUnescape(ovalue); err != nil || got != exp {
				t.Fatalf("value %q became %q (%v), want %q", dv, got, err, exp)
			}
		}
		if res.Replaced != n || !slices.Equal(res.Unresolved, unres) {
			t.Fatalf("Replaced %d, Unresolved %q; want %d, %q", res.Replaced, res.Unresolved, n, unres)
		}
	})
}
