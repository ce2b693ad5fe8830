package dotenv

import (
	"bytes"
	"strings"
	"testing"
)

// seeds are tricky inputs shared by the fuzz targets.
var seeds = []string{
	"",
	"A=1",
	"A=1\n",
	"\xef\xbb\xbfA=1\r\nB='two' # c\r\n",
	"\xef\xbb\xbf",
	"export A = \"x\\\"y\" # c\n  B=\t'z'\t\n",
	"A=\"multi\nline\"\nB=2\n",
	"K=\"" + strings.ReplaceAll(pem, "\n", "\r\n") + "\"\r\n",
	"BAD=\"oops\nC=3\n\"\n",
	"BAD=\"x\nABC=\n\"\n",
	"K=\"a\nK=1\n\"\n",
	"A=x #c\nB=#x\nC= #c\nD=",
	"A=1\rB=2\r\rC=3",
	"A='x\nB=`y\nC=\"z\" w\n",
	"\x00=\xff\nA=\x00\xfe\n",
	"A=\\\nB=\"\\\n\"\n",
	"A=\"\\",
	"=\n==\nexport\nexport =1\n",
	"A=1\r\n\r",
	"A=\"\r\n\"\r\nB=\"\r\"\rC=\"\n\"",
	"A=`\nB=1`\n",
}

func FuzzParseRender(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p := Parse(b)
		if got := p.Bytes(); !bytes.Equal(got, b) {
			t.Fatalf("Parse(%q).Bytes() = %q", b, got)
		}
		lines := 1 + countBreaks(b)
		for _, e := range p.Entries() {
			if e.ValueStart < 0 || e.ValueStart > e.ValueEnd || e.ValueEnd > len(b) || e.Line < 1 || e.Line > lines {
				t.Fatalf("bad entry %+v in %q", e, b)
			}
			if !ValidKey(e.Key) || strings.Contains(e.Value, "\r") && e.Quote != QuoteDouble {
				t.Fatalf("bad entry %+v in %q", e, b)
			}
		}
		for _, pr := range p.Problems {
			if pr.Line < 1 || pr.Line > lines {
				t.Fatalf("bad problem %v in %q", pr, b)
			}
		}
	})
}

// FuzzSet checks the editing contract: after Set every entry of the key reads
// back as the new value, every byte outside those entries' value spans is
// unchanged, and every other entry is as it was. Append and Remove are
// checked on the same inputs.
func FuzzSet(f *testing.F) {
	for i, s := range seeds {
		f.Add([]byte(s), uint8(i), "phm_"+strings.Repeat("ab", 32))
		f.Add([]byte(s), uint8(i), "a b\n\"c\" $d \\e\r\n#f")
		f.Add([]byte(s), uint8(i), "")
		f.Add([]byte(s), uint8(i), "=")
		f.Add([]byte(s), uint8(i), "QUI=\nB=1")
	}
	f.Fuzz(func(t *testing.T, src []byte, pick uint8, value string) {
		p := Parse(src)
		es := p.Entries()
		if len(es) == 0 {
			if p.Set("NOPE", value) || !bytes.Equal(p.Bytes(), src) {
				t.Fatal("Set of an absent key changed the file")
			}
			checkAppendRemove(t, src, "NEW_KEY", value)
			return
		}
		key := es[int(pick)%len(es)].Key
		var old, others []Entry
		for _, e := range es {
			if e.Key == key {
				old = append(old, e)
			} else {
				others = append(others, e)
			}
		}
		if !p.Set(key, value) {
			t.Fatal("Set returned false for a present key")
		}
		out := p.Bytes()
		// SetEntries on the same entries, in one batch, writes the same bytes.
		batch := Parse(src)
		idx := map[int]string{}
		for n, e := range es {
			if e.Key == key {
				idx[n] = value
			}
		}
		batch.SetEntries(idx)
		if got := batch.Bytes(); !bytes.Equal(got, out) {
			t.Fatalf("SetEntries(%s, %q) = %q, Set gave %q (from %q)", key, value, got, out, src)
		}
		q := Parse(out)
		if len(q.Entries()) != len(es) || len(q.Problems) != len(Parse(src).Problems) {
			t.Fatalf("Set(%s, %q) changed the structure:\n%q\n%q", key, value, src, out)
		}
		var now, rest []Entry
		for _, e := range q.Entries() {
			if e.Key == key {
				now = append(now, e)
			} else {
				rest = append(rest, e)
			}
		}
		if len(now) != len(old) {
			t.Fatalf("Set(%s): %d entries became %d:\n%q\n%q", key, len(old), len(now), src, out)
		}
		// out is src with each old value span replaced by the new raw value.
		// (Comparing span offsets directly would be too strict: an empty
		// unquoted value has no single position within surrounding spaces.)
		var want []byte
		prev := 0
		for i := range old {
			if now[i].Value != value {
				t.Fatalf("Set(%s, %q) reads back %q:\n%q\n%q", key, value, now[i].Value, src, out)
			}
			want = append(want, src[prev:old[i].ValueStart]...)
			want = append(want, out[now[i].ValueStart:now[i].ValueEnd]...)
			prev = old[i].ValueEnd
		}
		want = append(want, src[prev:]...)
		if !bytes.Equal(want, out) {
			t.Fatalf("Set(%s, %q) changed bytes outside the value:\n%q\n%q", key, value, src, out)
		}
		for i := range others {
			a, b := others[i], rest[i]
			if a.Key != b.Key || a.Value != b.Value || a.Quote != b.Quote || a.Export != b.Export {
				t.Fatalf("Set(%s) changed entry %+v to %+v:\n%q\n%q", key, a, b, src, out)
			}
		}
		// The File's own state matches a fresh parse of its bytes.
		if ents := p.Entries(); len(ents) != len(q.Entries()) || ents[len(ents)-1] != q.Entries()[len(ents)-1] {
			t.Fatalf("File state differs from reparse")
		}
		checkAppendRemove(t, src, key, value)
	})
}

func checkAppendRemove(t *testing.T, src []byte, key, value string) {
	p := Parse(src)
	p.Append(key, value)
	out := p.Bytes()
	if !bytes.HasPrefix(out, src) {
		t.Fatalf("Append changed existing bytes:\n%q\n%q", src, out)
	}
	if e := Parse(out).Lookup(key); e == nil || e.Value != value {
		t.Fatalf("Append(%s, %q) reads back %+v:\n%q", key, value, e, out)
	}
	if n := p.Remove(key); n == 0 {
		t.Fatalf("Remove(%s) found nothing after Append:\n%q", key, out)
	}
	if Parse(p.Bytes()).Lookup(key) != nil || p.Lookup(key) != nil {
		t.Fatalf("Remove(%s) left an entry:\n%q", key, p.Bytes())
	}
}
