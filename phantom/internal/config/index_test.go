package config

import (
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

func TestIndexLines(t *testing.T) {
	src := "\xef\xbb\xbf# comment\r\n" + // 1
		"top = \"\"\"\n" + // 2
		"[not.a.table]\n" + // 3
		"x = 1 \\\"\"\"\n" + // 4
		"  \"\"\"\"\"  # two quotes end the string\n" + // 5
		"lit = '''\n" + // 6
		"y = ''' # c\n" + // 7
		"[ a . \"b.c\" ]  # header\n" + // 8
		"'k' = [ 1,\n" + // 9
		"  # comment ]\n" + // 10
		"  { in = \"s]\" },\n" + // 11
		"  1979-05-27 07:32:00Z ]\n" + // 12
		"\"q\\u0041\".r = { s = 1,\n" + // 13
		"  t = [2] }\n" + // 14
		"[[arr]]\n" + // 15
		"z = 0x1F\n" + // 16
		"[[arr]]\n" + // 17
		"z = -inf"
	var m map[string]any
	md, err := toml.Decode(src, &m)
	if err != nil {
		t.Fatal(err)
	}
	ix := buildIndex([]byte(src))
	if !ix.complete {
		t.Fatal("scanner did not understand the document")
	}
	for _, k := range md.Keys() {
		if ix.find(k) == nil {
			t.Errorf("key %v not indexed", k)
		}
	}
	for _, tc := range []struct {
		path []string
		line int
	}{
		{[]string{"top"}, 2},
		{[]string{"lit"}, 6},
		{[]string{"a", "b.c"}, 8},
		{[]string{"a", "b.c", "k"}, 9},
		{[]string{"a", "b.c", "k", "in"}, 11},
		{[]string{"a", "b.c", "qA", "r"}, 13},
		{[]string{"a", "b.c", "qA", "r", "t"}, 14},
		{[]string{"a", "b.c", "qA"}, 13},     // implicit: first statement inside
		{[]string{"a", "b.c", "nope"}, 8},    // missing: nearest ancestor
		{[]string{"arr", "z"}, 16},           // first occurrence
		{[]string{"not", "a", "table"}, 1},   // inside a string: not a table
		{[]string{"a", "b.c", "k", "x"}, 9},  // missing under k
		{[]string{"missing", "entirely"}, 1}, // nothing: line 1
	} {
		if got := ix.lineOf(tc.path); got != tc.line {
			t.Errorf("lineOf(%q) = %d, want %d", tc.path, got, tc.line)
		}
	}
	if got := ix.elemLine([]string{"a", "b.c", "k"}, 2); got != 12 {
		t.Errorf("elemLine = %d, want 12", got)
	}
	if st := ix.find([]string{"top"}); !strings.HasSuffix(src[st.val.start:st.val.end], `"""""`) {
		t.Errorf("multi-line string span %q", src[st.val.start:st.val.end])
	}
}

func TestDecodeBasicMatchesTheParser(t *testing.T) {
	for _, key := range []string{`"\u0041\U00000042\x43"`, `"a\"b\\c\td\e"`, `"plain"`, `""`, `"ü\u00fc"`} {
		src := head + "[secrets]\n" + key + " = {}\n"
		var m map[string]any
		if _, err := toml.Decode(src, &m); err != nil {
			t.Fatal(err)
		}
		var want string
		for k := range m["secrets"].(map[string]any) {
			want = k
		}
		ix := buildIndex([]byte(src))
		if ix.find([]string{"secrets", want}) == nil {
			t.Errorf("key %s decoded as %q by the parser, not found in the index", key, want)
		}
	}
}

func TestTOMLStringRoundTrip(t *testing.T) {
	for _, s := range []string{`a"b\c`, "tab\there", "ctl\x01\x7f", "ünï €", ""} {
		var m map[string]any
		if _, err := toml.Decode("k = "+tomlString(s), &m); err != nil || m["k"] != s {
			t.Errorf("tomlString(%q) = %s decodes to %q, %v", s, tomlString(s), m["k"], err)
		}
	}
}
