package bodyscope

import (
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"

	"phantomstack.dev/shared/token"
)

var (
	tokA = token.Prefix + strings.Repeat("a1", 32)
	tokB = token.Prefix + strings.Repeat("b2", 32)
	tokC = token.Prefix + strings.Repeat("c3", 32) // refused by resolve
)

const (
	valA = "sk-live-AAA"
	valB = "pw\"with\\quotes\nand\x01ctl é"
)

func resolve(tok string) (string, bool) {
	switch tok {
	case tokA:
		return valA, true
	case tokB:
		return valB, true
	}
	return "", false
}

// sub expands $A, $B, $C into tokens and @A, @B into their JSON-escaped
// values, to keep the tables readable.
func sub(s string) string {
	qb, _ := quoteJSON(valB)
	return strings.NewReplacer("$A", tokA, "$B", tokB, "$C", tokC, "@A", valA, "@B", string(qb)).Replace(s)
}

func TestJSON(t *testing.T) {
	for _, c := range []struct {
		name       string
		fields     []string
		in, want   string
		replaced   int
		unresolved []string
	}{
		{"whole value", []string{"api_key"}, `{"api_key":"$A"}`, `{"api_key":"@A"}`, 1, nil},
		{"prompt untouched, key replaced", []string{"api_key"},
			`{"model":"m","messages":[{"role":"user","content":"say $A"}],"api_key":"$A"}`,
			`{"model":"m","messages":[{"role":"user","content":"say $A"}],"api_key":"@A"}`, 1, nil},
		{"nested, case-insensitive, embedded", []string{"api_key"},
			`{"a":{"b":{"API_Key":"Bearer $A"}}}`, `{"a":{"b":{"API_Key":"Bearer @A"}}}`, 1, nil},
		{"every occurrence in the string", []string{"auth"},
			`{"auth":"$A,$B;$A"}`, `{"auth":"@A,@B;@A"}`, 3, nil},
		{"array of a declared key: direct strings only", []string{"keys"},
			`{"keys":["$A","x $B",{"other":"$A"},["$A"],1,null]}`,
			`{"keys":["@A","x @B",{"other":"$A"},["$A"],1,null]}`, 2, nil},
		{"object under a declared key is not swept", []string{"api_key"},
			`{"api_key":{"inner":"$A","api_key":"$B"}}`, `{"api_key":{"inner":"$A","api_key":"@B"}}`, 1, nil},
		{"escaped key name", []string{"api_key"}, `{"api\u005fkey":"$A"}`, `{"api\u005fkey":"@A"}`, 1, nil},
		{"escaped key with escaped quote", []string{`a"b`}, `{"a\"b":"$A","a\\b":"$A"}`, `{"a\"b":"@A","a\\b":"$A"}`, 1, nil},
		{"duplicate keys: both", []string{"api_key"}, `{"api_key":"$A","api_key":"$B"}`, `{"api_key":"@A","api_key":"@B"}`, 2, nil},
		{"non-strings untouched", []string{"api_key", "n"},
			`{"api_key":123,"n":-1.50e+10,"t":true,"f":false,"z":null,"s":"$A"}`,
			`{"api_key":123,"n":-1.50e+10,"t":true,"f":false,"z":null,"s":"$A"}`, 0, nil},
		{"escapes around the token kept", []string{"v"},
			`{"v":"\"\u0041\/ $A\n\t\u00e9"}`, `{"v":"\"\u0041\/ @A\n\t\u00e9"}`, 1, nil},
		{"token spelled with escapes", []string{"v"},
			`{"v":"x \u0070hm\u005f` + tokA[4:] + ` y"}`, `{"v":"x @A y"}`, 1, nil},
		{"value needing escapes", []string{"v"}, `{"v":"$B"}`, `{"v":"@B"}`, 1, nil},
		{"unicode around", []string{"v"},
			`{"v":"日本 $A 😀","msg":"ünï $A"}`, `{"v":"日本 @A 😀","msg":"ünï $A"}`, 1, nil},
		{"surrogate pair before token", []string{"v"},
			`{"v":"\ud83d\ude00$A"}`, `{"v":"\ud83d\ude00@A"}`, 1, nil},
		{"whitespace kept", []string{"api_key"},
			"{\n  \"api_key\" :\t\"$A\" ,\n  \"b\" : [ 1 , 2.0 ]\r\n}\n",
			"{\n  \"api_key\" :\t\"@A\" ,\n  \"b\" : [ 1 , 2.0 ]\r\n}\n", 1, nil},
		{"refused token stays, reported once", []string{"v"},
			`{"v":"$C","w":{"v":"$C $A"}}`, `{"v":"$C","w":{"v":"$C @A"}}`, 1, []string{tokC}},
		{"token inside a word is not a token", []string{"v"},
			`{"v":"x$A","w":"$Af"}`, `{"v":"x$A","w":"$Af"}`, 0, nil},
		{"key name as a value does not count", []string{"api_key"},
			`{"x":"api_key","y":"$A"}`, `{"x":"api_key","y":"$A"}`, 0, nil},
		{"top-level array", []string{"api_key"}, ` [{"api_key":"$A"}] `, ` [{"api_key":"@A"}] `, 1, nil},
		{"top-level string", []string{"api_key"}, `"$A"`, `"$A"`, 0, nil},
		{"no fields", nil, `{"api_key":"$A"}`, `{"api_key":"$A"}`, 0, nil},
		{"key escapes of every kind", []string{"k\b\f\n\r\t/\\\"é"},
			`{"k\b\f\n\r\t\/\\\"\u00e9":"$A","K\b\f\n\r\t/\\\"é":"$A"}`,
			`{"k\b\f\n\r\t\/\\\"\u00e9":"@A","K\b\f\n\r\t/\\\"é":"@A"}`, 2, nil},
		{"upper-case field name", []string{"API_KEY"}, `{"Api_Key":"$A","api_kez":"$A"}`, `{"Api_Key":"@A","api_kez":"$A"}`, 1, nil},
		{"lone surrogate and invalid UTF-8 in key", []string{"k"}, "{\"\\ud800k\":\"$A\",\"\xffk\":\"$A\"}", "{\"\\ud800k\":\"$A\",\"\xffk\":\"$A\"}", 0, nil},
		{"short and token-free strings", []string{"v"}, `{"v":"short","v":"` + strings.Repeat("x", 80) + `"}`, `{"v":"short","v":"` + strings.Repeat("x", 80) + `"}`, 0, nil},
		{"Kelvin sign does not fold", []string{"api_key"}, `{"api_\u212aey":"$A"}`, `{"api_\u212aey":"$A"}`, 0, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := []byte(sub(c.in))
			res, err := JSON(in, c.fields, resolve)
			if err != nil {
				t.Fatal(err)
			}
			if string(res.Body) != sub(c.want) || res.Replaced != c.replaced || !slices.Equal(res.Unresolved, c.unresolved) {
				t.Fatalf("JSON(%s) =\n  %s, %d, %v\nwant\n  %s, %d, %v", in, res.Body, res.Replaced, res.Unresolved, sub(c.want), c.replaced, c.unresolved)
			}
			if res.Replaced == 0 && &res.Body[0] != &in[0] {
				t.Fatal("unchanged body was copied")
			}
			if !json.Valid(res.Body) {
				t.Fatalf("output is not valid JSON: %s", res.Body)
			}
		})
	}
}

func TestJSONValueRoundTrips(t *testing.T) {
	for _, v := range []string{valB, "\x00\x1f\x7f\r\t\b\f", `\u0041`, "</script>&", "\u2028\u2029", "plain", ""} {
		res, err := JSON([]byte(`{"k":"`+tokA+`"}`), []string{"k"}, func(string) (string, bool) { return v, true })
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]string
		if err := json.Unmarshal(res.Body, &got); err != nil || got["k"] != v {
			t.Fatalf("value %q came out as %q (%v) in %s", v, got["k"], err, res.Body)
		}
	}
}

func TestJSONRefusesInvalidUTF8Value(t *testing.T) {
	in := []byte(`{"k":"` + tokA + `"}`)
	res, err := JSON(in, []string{"k"}, func(string) (string, bool) { return "\xff\xfe", true })
	if err != nil || string(res.Body) != string(in) || res.Replaced != 0 || !slices.Equal(res.Unresolved, []string{tokA}) {
		t.Fatalf("got %s, %d, %v, %v", res.Body, res.Replaced, res.Unresolved, err)
	}
}

func TestJSONInvalid(t *testing.T) {
	for _, in := range []string{``, `{`, `{"a":}`, `{"a":"b"}x`, `{"a":"\x"}`, "{\"a\":\"\x01\"}", `[1,]`, `{"a" "b"}`, `nul`} {
		if _, err := JSON([]byte(in), []string{"a"}, resolve); !errors.Is(err, ErrInvalidJSON) {
			t.Errorf("JSON(%q) error = %v, want ErrInvalidJSON", in, err)
		}
	}
}

func TestJSONDeepNesting(t *testing.T) {
	in := strings.Repeat(`{"a":[`, 4000) + `{"k":"` + tokA + `"}` + strings.Repeat(`]}`, 4000)
	res, err := JSON([]byte(in), []string{"k"}, resolve)
	if err != nil || res.Replaced != 1 {
		t.Fatalf("Replaced %d, %v", res.Replaced, err)
	}
}

func TestForm(t *testing.T) {
	for _, c := range []struct {
		name       string
		fields     []string
		in, want   string
		replaced   int
		unresolved []string
	}{
		{"declared only", []string{"api_key"}, "api_key=$A&prompt=$A", "api_key=sk-live-AAA&prompt=$A", 1, nil},
		{"order and bytes kept", []string{"value"},
			"b=%20x&value=Bearer+$A&c&&d=%zz&value=$A",
			"b=%20x&value=Bearer+sk-live-AAA&c&&d=%zz&value=sk-live-AAA", 2, nil},
		{"query-escaped value", []string{"value"}, "value=$B", "value=" + url.QueryEscape(valB), 1, nil},
		{"percent-encoded token", []string{"value"}, "value=x+%70hm%5F" + tokA[4:] + "+y", "value=x+sk-live-AAA+y", 1, nil},
		{"encoded name", []string{"api_key"}, "api%5Fkey=$A", "api%5Fkey=sk-live-AAA", 1, nil},
		{"lower-case hex escapes", []string{"value"}, "value=%2a%70hm%5f" + tokA[4:], "value=%2ask-live-AAA", 1, nil},
		{"names are case-sensitive", []string{"api_key"}, "API_KEY=$A", "API_KEY=$A", 0, nil},
		{"name only", []string{"api_key"}, "api_key&x=1", "api_key&x=1", 0, nil},
		{"refused", []string{"v"}, "v=$C&v=$C", "v=$C&v=$C", 0, []string{tokC}},
		{"empty body", []string{"v"}, "", "", 0, nil},
		{"token in a word", []string{"v"}, "v=x$A", "v=x$A", 0, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := []byte(sub(c.in))
			res, err := Form(in, c.fields, resolve)
			if err != nil {
				t.Fatal(err)
			}
			if string(res.Body) != sub(c.want) || res.Replaced != c.replaced || !slices.Equal(res.Unresolved, c.unresolved) {
				t.Fatalf("Form(%s) = %s, %d, %v; want %s, %d, %v", in, res.Body, res.Replaced, res.Unresolved, sub(c.want), c.replaced, c.unresolved)
			}
			if _, err := url.ParseQuery(string(res.Body)); err != nil && c.name != "order and bytes kept" {
				t.Fatalf("output does not parse: %v", err)
			}
		})
	}
	// The replacement decodes back to the real value.
	res, _ := Form([]byte("value="+tokB), []string{"value"}, resolve)
	if q, err := url.ParseQuery(string(res.Body)); err != nil || q.Get("value") != valB {
		t.Fatalf("decoded %q, %v", q.Get("value"), err)
	}
}

func TestFormErrors(t *testing.T) {
	for _, in := range []string{"a%zz=1", "v=%4", "v=" + tokA + "%g0", "x=1&%=2"} {
		if _, err := Form([]byte(in), []string{"v"}, resolve); err == nil {
			t.Errorf("Form(%q): no error", in)
		}
	}
	// A bad escape in an undeclared value is not ours to judge.
	if res, err := Form([]byte("w=%zz&v="+tokA), []string{"v"}, resolve); err != nil || res.Replaced != 1 {
		t.Fatalf("Form = %v, %v", res, err)
	}
}

func TestTokens(t *testing.T) {
	s := "a " + tokA + " b\"" + tokB + "\"x" + tokC + " " + tokA + "0 " + tokB
	if got := Tokens(s); !slices.Equal(got, []string{tokA, tokB, tokB}) {
		t.Fatalf("Tokens = %v", got)
	}
	if Tokens("nothing") != nil {
		t.Fatal("Tokens found something in nothing")
	}
}
