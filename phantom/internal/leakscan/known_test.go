package leakscan

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// scanText scans one file's content and returns the report.
func scanText(t *testing.T, opts Options, name, content string) *Report {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ScanReader(name, "", strings.NewReader(content)); err != nil {
		t.Fatal(err)
	}
	return s.Report("worktree")
}

// A vault value with no recognisable shape is found raw, quoted (JSON,
// shell), URL-encoded and base64-encoded (alone or inside a larger blob),
// with the pattern and env layers off so only the vault can find it.
func TestKnownValuesFoundInEveryEncoding(t *testing.T) {
	const v = "maple lamp/42&x+y" // no provider shape, low entropy, spaces and URL metacharacters
	known := NewKnown([]KnownValue{{Name: "DB_PASSWORD", Value: []byte(v), Version: "t1"}})
	jsonQuoted, _ := json.Marshal(v)
	cases := map[string]string{
		"raw":              "password: " + v + "\n",
		"json-quoted":      `{"password": ` + string(jsonQuoted) + "}\n",
		"shell-quoted":     "export DB_PASSWORD='" + v + "'\n",
		"url-query":        "https://x.test/cb?p=" + url.QueryEscape(v) + "\n",
		"url-path":         "https://x.test/" + url.PathEscape(v) + "/y\n",
		"base64":           "data: " + base64.StdEncoding.EncodeToString([]byte(v)) + "\n",
		"base64-raw-url":   "t=" + base64.RawURLEncoding.EncodeToString([]byte(v)) + "\n",
		"base64-in-blob-1": "auth: Basic " + base64.StdEncoding.EncodeToString([]byte("a:"+v)) + "\n",
		"base64-in-blob-2": "x " + base64.StdEncoding.EncodeToString([]byte("ab:"+v+"!")) + "\n",
		"base64-in-blob-3": "x " + base64.StdEncoding.EncodeToString([]byte("abc:"+v+"!!")) + "\n",
		"on-line-3":        "one\ntwo\nsecret=" + v + "\n",
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			rep := scanText(t, Options{Known: known, NoPatterns: true, NoEnv: true}, "f.txt", content)
			if len(rep.Findings) != 1 {
				t.Fatalf("%d findings in %q, want 1: %+v", len(rep.Findings), content, rep.Findings)
			}
			f := rep.Findings[0]
			if f.Layer != LayerKnown || f.Secret != "DB_PASSWORD" || f.Rule != "known-value" {
				t.Fatalf("finding = %+v", f)
			}
			wantLine := 1
			if name == "on-line-3" {
				wantLine = 3
			}
			if f.Line != wantLine {
				t.Fatalf("line %d, want %d", f.Line, wantLine)
			}
			if len([]rune(strings.TrimSuffix(f.Redacted, "…"))) > 4 {
				t.Fatalf("redacted = %q, want at most 4 characters", f.Redacted)
			}
		})
	}
	// Without the vault layer, nothing finds it.
	rep := scanText(t, Options{NoEnv: true}, "f.txt", cases["raw"])
	if len(rep.Findings) != 0 {
		t.Fatalf("pattern layer found a shapeless value: %+v", rep.Findings)
	}
}

// Findings never carry the value, an encoding of it, or more than 4
// leading characters, and a short value has no prefix at all.
func TestFindingsNeverHoldValues(t *testing.T) {
	long := "violet-river/731#abcd-and-more"
	short := "Tr0ub4dor&3"
	known := NewKnown([]KnownValue{{Name: "LONG", Value: []byte(long), Version: "1"}, {Name: "SHORT", Value: []byte(short), Version: "1"}})
	content := long + "\n" + short + "\n" + base64.StdEncoding.EncodeToString([]byte(long)) + "\n"
	rep := scanText(t, Options{Known: known}, "f.txt", content)
	if len(rep.Findings) != 3 {
		t.Fatalf("findings: %+v", rep.Findings)
	}
	out, _ := json.Marshal(rep)
	out = append(out, SARIFBytes(t, rep)...)
	for _, v := range []string{long, short, base64.StdEncoding.EncodeToString([]byte(long)), long[:5], short[:5]} {
		if bytes.Contains(out, []byte(v)) {
			t.Fatalf("report holds %q: %s", v, out)
		}
	}
	for _, f := range rep.Findings {
		switch f.Secret {
		case "SHORT":
			if f.Redacted != "" {
				t.Fatalf("short value redacted as %q", f.Redacted)
			}
		case "LONG":
			if len([]rune(strings.TrimSuffix(f.Redacted, "…"))) > 4 {
				t.Fatalf("prefix %q longer than 4", f.Redacted)
			}
		}
	}
	// The fingerprint does not depend on the value: the same name and
	// version give the same fingerprint whatever the value.
	other := NewKnown([]KnownValue{{Name: "SHORT", Value: []byte("another-value-1"), Version: "1"}})
	rep2 := scanText(t, Options{Known: other}, "f.txt", "another-value-1\n")
	var fp string
	for _, f := range rep.Findings {
		if f.Secret == "SHORT" {
			fp = f.Fingerprint
		}
	}
	if rep2.Findings[0].Fingerprint != fp {
		t.Fatalf("known-value fingerprint depends on the value")
	}
}

func SARIFBytes(t *testing.T, rep *Report) []byte {
	b, err := json.Marshal(SARIF(rep, "test"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Values shorter than MinKnownLen are not looked for, and counted.
func TestKnownShortValuesSkipped(t *testing.T) {
	k := NewKnown([]KnownValue{{Name: "PIN", Value: []byte("1234"), Version: "1"}, {Name: "OK", Value: []byte("long-enough-1"), Version: "1"}})
	if k.Values() != 1 || k.SkippedShort() != 1 {
		t.Fatalf("values %d skipped %d", k.Values(), k.SkippedShort())
	}
	s, _ := New(Options{Known: k})
	if r := s.Report("worktree"); !r.Layers.KnownValues.Ran || r.Layers.KnownValues.SkippedShort != 1 {
		t.Fatalf("layer status %+v", r.Layers.KnownValues)
	}
}

// phantom:allow suppresses pattern and env findings, never a vault value;
// .phantomignore paths keep only the known-value layer; a baseline
// suppresses any finding it lists.
func TestSuppressions(t *testing.T) {
	key := "ghp_" + strings.Repeat("aB3dE5gH7j", 3) + "K9mN0p"
	val := "harbor-stone/123 abcd"
	known := NewKnown([]KnownValue{{Name: "V", Value: []byte(val), Version: "1"}})
	content := "a = \"" + key + "\" // phantom:allow\nb = \"" + val + "\" // phantom:allow\n"
	rep := scanText(t, Options{Known: known}, "x.go", content)
	if len(rep.Findings) != 1 || rep.Findings[0].Layer != LayerKnown || rep.Suppressed.Inline != 1 {
		t.Fatalf("inline: %+v %+v", rep.Findings, rep.Suppressed)
	}
	ig := ParseIgnore([]byte("fixtures/\n*.snap\n!keep.snap\n"))
	for _, tc := range []struct {
		path string
		want bool
	}{{"fixtures/a.go", true}, {"src/fixtures/b/c.txt", true}, {"a.snap", true}, {"keep.snap", false}, {"src/x.go", false}} {
		if got := ig.Match(tc.path, false); got != tc.want {
			t.Fatalf("ignore %s = %v", tc.path, got)
		}
	}
	rep = scanText(t, Options{Known: known, Ignore: ig}, "fixtures/x.go", "a = \""+key+"\"\nb = \""+val+"\"\n")
	if len(rep.Findings) != 1 || rep.Findings[0].Layer != LayerKnown || rep.Suppressed.IgnoredFiles != 1 {
		t.Fatalf("ignored path: %+v %+v", rep.Findings, rep.Suppressed)
	}
	all := scanText(t, Options{Known: known}, "x.go", "a = \""+key+"\"\nb = \""+val+"\"\n")
	if len(all.Findings) != 2 {
		t.Fatalf("want 2 findings: %+v", all.Findings)
	}
	dir := t.TempDir()
	bl := filepath.Join(dir, "b.json")
	data, _ := json.Marshal(NewBaseline(all.Findings))
	os.WriteFile(bl, data, 0o644)
	b, err := LoadBaseline(bl)
	if err != nil {
		t.Fatal(err)
	}
	rep = scanText(t, Options{Known: known, Baseline: b}, "x.go", "\n\nmoved = \""+key+"\"\nb = \""+val+"\"\nnew = \"ghp_"+strings.Repeat("zY9xW8vU7t", 3)+"S6rQ5p\"\n")
	if len(rep.Findings) != 1 || rep.Suppressed.Baseline != 2 || rep.Findings[0].Line != 5 {
		t.Fatalf("baseline: %+v %+v", rep.Findings, rep.Suppressed)
	}
	if bytes.Contains(data, []byte(key)) || bytes.Contains(data, []byte(val)) {
		t.Fatalf("baseline holds a value: %s", data)
	}
}

// The env layer: plaintext secrets in .env files are leaks; tokens, empty
// values, placeholders, config and template files are not.
func TestEnvLayer(t *testing.T) {
	tok := "phm_" + strings.Repeat("ab12", 16)
	env := "OPENAI_API_KEY=" + tok + "\nSESSION_SECRET=q8Xr2Lm9Vt4Kp7Zs1Wd3\nPORT=3000\nEMPTY_TOKEN=\nJWT_SECRET=changeme\nDB_PASSWORD=your-password-here\n" +
		"API_TOKEN=<api token>\nAUTH_SECRET=${AUTH_SECRET}\nSMTP_PASSWORD=********\nADMIN_PASSWORD=pa<ss>word-Your8\n"
	rep := scanText(t, Options{NoPatterns: true}, "app/.env", env)
	if len(rep.Findings) != 2 || rep.Findings[0].Secret != "SESSION_SECRET" || rep.Findings[0].Line != 2 || rep.Findings[1].Secret != "ADMIN_PASSWORD" {
		t.Fatalf(".env: %+v", rep.Findings)
	}
	for _, name := range []string{".env.example", ".env.sample", ".env.template", "config.example.env", "example.env"} {
		rep = scanText(t, Options{NoPatterns: true}, name, env)
		if len(rep.Findings) != 0 {
			t.Fatalf("%s: %+v", name, rep.Findings)
		}
	}
}
