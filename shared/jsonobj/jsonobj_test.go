package jsonobj

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// TestParseSetIndentKeepsOrder: keys stay in file order through
// Parse → Set/Delete → Indent, a replaced key keeps its place, a new key is
// appended, and the values not touched keep their content (nested objects
// keep their own key order, which a map would sort).
func TestParseSetIndentKeepsOrder(t *testing.T) {
	in := `{"zeta": 1, "alpha": {"z": [1, {"y": 2, "b": 3}], "a": "x\u00e9"}, "mid": null, "gone": true}`
	o, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	o.Set("zeta", json.RawMessage(`"replaced"`))
	o.Set("new", json.RawMessage(`{"k": []}`))
	if !o.Delete("gone") {
		t.Error(`Delete("gone") = false, want true`)
	}
	if o.Delete("gone") {
		t.Error(`second Delete("gone") = true, want false`)
	}
	got, err := o.Indent("")
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "zeta": "replaced",
  "alpha": {
    "z": [
      1,
      {
        "y": 2,
        "b": 3
      }
    ],
    "a": "x\u00e9"
  },
  "mid": null,
  "new": {
    "k": []
  }
}`
	if string(got) != want {
		t.Errorf("Indent:\n%s\nwant:\n%s", got, want)
	}
}

// TestRawValuesUntouched: Get returns a nested value byte for byte as it
// was in the input (escapes, number spelling and spacing included).
func TestRawValuesUntouched(t *testing.T) {
	o, err := Parse([]byte(`{"a": {"n": 1.50e+2,  "s": "\u0041\/"}, "b": 0}`))
	if err != nil {
		t.Fatal(err)
	}
	raw, ok := o.Get("a")
	if !ok {
		t.Fatal(`Get("a") not found`)
	}
	if want := `{"n": 1.50e+2,  "s": "\u0041\/"}`; string(raw) != want {
		t.Errorf("Get(a) = %s, want %s", raw, want)
	}
	if _, ok := o.Get("missing"); ok {
		t.Error(`Get("missing") found a value`)
	}
}

// TestIndentNested: an object rendered as a member of an outer one (the
// way both callers render their server list) lines up with it.
func TestIndentNested(t *testing.T) {
	var inner Object
	inner.Set("phantom", json.RawMessage(`{"command":"phantom","args":["mcp"]}`))
	ib, err := inner.Indent("  ")
	if err != nil {
		t.Fatal(err)
	}
	var top Object
	top.Set("servers", ib)
	got, err := top.Indent("")
	if err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"servers\": {\n    \"phantom\": {\n      \"command\": \"phantom\",\n      \"args\": [\n        \"mcp\"\n      ]\n    }\n  }\n}"
	if string(got) != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if b, _ := Object(nil).Indent("    "); string(b) != "{}" {
		t.Errorf("empty object = %q, want {}", b)
	}
}

// TestDuplicateKeys: a repeated key is not refused (neither caller refused
// it before the move); it keeps its first place and its last value, as
// JSON.parse does, so the file means what the clients reading it see.
func TestDuplicateKeys(t *testing.T) {
	o, err := Parse([]byte(`{"a": 1, "b": 2, "a": 3}`))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := o.Indent("")
	if want := "{\n  \"a\": 3,\n  \"b\": 2\n}"; string(got) != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestParseRefuses(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want error // nil: any error
	}{
		{`[1, 2]`, ErrNotObject},
		{`"s"`, ErrNotObject},
		{`null`, ErrNotObject},
		{`1`, ErrNotObject},
		{`{} {}`, ErrTrailingData},
		{`{"a": 1} []`, ErrTrailingData},
		{`{"a": 1} x`, ErrTrailingData},
		{`{"a": 1}}`, ErrTrailingData},
		{``, nil},
		{`   `, nil},
		{`{`, nil},
		{`{"a": 1,}`, nil},
		{`{"a": 1 // comment
}`, nil},
		{`{"a" 1}`, nil},
		{`{"a": tru}`, nil},
	} {
		o, err := Parse([]byte(tc.in))
		if err == nil {
			t.Errorf("Parse(%q) = %v, want an error", tc.in, o)
			continue
		}
		if tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("Parse(%q) error = %v, want %v", tc.in, err, tc.want)
		}
		if tc.want == nil && (errors.Is(err, ErrNotObject) || errors.Is(err, ErrTrailingData)) {
			t.Errorf("Parse(%q) error = %v, want a syntax error", tc.in, err)
		}
	}
}

// TestParseAllowsSpace: white space around the object is not trailing data.
func TestParseAllowsSpace(t *testing.T) {
	o, err := Parse([]byte("\n\t {\"a\": 1}\r\n\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(o) != 1 || o[0].Key != "a" {
		t.Errorf("got %v", o)
	}
}

// TestIndentInvalidValue: a raw value that is not JSON fails Indent and
// the error names its key, instead of writing a broken file.
func TestIndentInvalidValue(t *testing.T) {
	o := Object{{Key: "bad", Value: json.RawMessage(`{nope`)}}
	_, err := o.Indent("")
	if err == nil || !strings.HasPrefix(err.Error(), "bad: ") {
		t.Errorf("Indent error = %v, want one starting with %q", err, "bad: ")
	}
}
