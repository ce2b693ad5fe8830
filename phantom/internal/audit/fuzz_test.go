package audit

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzVerify feeds arbitrary log and head contents to Verify (with a real key
// file, and with a vault mark)
// and to the tail scan Append uses. Neither may panic and every problem must
// name a line that exists.
func FuzzVerify(f *testing.F) {
	dir := filepath.Join(f.TempDir(), "seed")
	l := Open(dir, Options{Process: "seed", Now: clock()})
	var mark *Mark
	for i := 0; i < 4; i++ {
		pos, _ := l.Record(Event{Op: "secret.add", Name: "K", Detail: strings.Repeat("d", i)})
		if mark == nil {
			mark = &Mark{LogID: pos.LogID, AnchorSeq: pos.First, AnchorKey: pos.FirstKey, Seq: 2, MAC: "x"}
		}
	}
	logb, _ := os.ReadFile(filepath.Join(dir, LogFile))
	head, _ := os.ReadFile(filepath.Join(dir, HeadFile))
	key, _ := os.ReadFile(filepath.Join(dir, KeyFile))
	f.Add(logb, head)
	f.Add(logb[:len(logb)/2], head)
	f.Add([]byte("{}\n\n{\"seq\":1}\n"), []byte("{}"))
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, logb, head []byte) {
		d := t.TempDir()
		os.WriteFile(filepath.Join(d, KeyFile), key, 0o600)
		os.WriteFile(filepath.Join(d, LogFile), logb, 0o600)
		if len(head) > 0 {
			os.WriteFile(filepath.Join(d, HeadFile), head, 0o600)
		}
		rep, err := Verify(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range rep.Problems {
			if p.Line < 0 || p.Line > rep.Lines || p.Msg == "" || p.Kind == "" {
				t.Fatalf("bad problem %+v (lines %d)", p, rep.Lines)
			}
		}
		if rep.Verified > rep.Lines {
			t.Fatalf("verified %d of %d lines", rep.Verified, rep.Lines)
		}
		if _, err := VerifyWith(d, VerifyOptions{Mark: mark}); err != nil {
			t.Fatal(err)
		}
		ks, _ := readKey(filepath.Join(d, KeyFile))
		r := newRatchet(ks.seq, ks.key, ks.seq+maxRatchetAhead)
		accept := func(e Event) bool { k := r.key(e.Seq); return k != nil && macValid(k, e) }
		if _, err := readTail(mustOpen(t, filepath.Join(d, LogFile)), int64(len(logb)), accept, ks.seq); err != nil {
			t.Fatal(err)
		}
	})
}

func mustOpen(t *testing.T, p string) *os.File {
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestRandomTampering applies random line-level edits to a valid log (and its
// head) and checks two properties: Verify reports every edit that changes the
// recorded history, and a later Append never turns a failing log into a
// passing one.
func TestRandomTampering(t *testing.T) {
	t.Parallel()
	iters := 150
	if testing.Short() {
		iters = 30
	}
	l, src := newLog(t)
	appendN(t, l, 8)
	origLog, _ := os.ReadFile(filepath.Join(src, LogFile))
	origHead, _ := os.ReadFile(filepath.Join(src, HeadFile))
	key, _ := os.ReadFile(filepath.Join(src, KeyFile))
	lines := readLines(t, src)
	rng := rand.New(rand.NewPCG(1, 2))
	for it := 0; it < iters; it++ {
		ls := append([]string{}, lines...)
		head := append([]byte{}, origHead...)
		var ops []string
		for k := 1 + rng.IntN(3); k > 0; k-- {
			i := rng.IntN(len(ls) + 1)
			if len(ls) > 0 {
				i %= len(ls)
			}
			switch op := rng.IntN(8); {
			case op == 0 && len(ls) > 0:
				ops = append(ops, fmt.Sprintf("delete %d", i))
				ls = remove(ls, i)
			case op == 1 && len(ls) > 0:
				j := rng.IntN(len(ls) + 1)
				ops = append(ops, fmt.Sprintf("copy %d to %d", i, j))
				ls = insert(ls, j, ls[i])
			case op == 2 && len(ls) > 1:
				j := rng.IntN(len(ls))
				ops = append(ops, fmt.Sprintf("swap %d %d", i, j))
				ls[i], ls[j] = ls[j], ls[i]
			case op == 3 && len(ls) > 0:
				b := []byte(ls[i])
				p := rng.IntN(len(b) - 1)
				b[p] = byte(' ' + rng.IntN(95))
				ops = append(ops, fmt.Sprintf("set byte %d of %d", p, i))
				ls[i] = string(b)
			case op == 4:
				all := strings.Join(ls, "")
				n := rng.IntN(len(all) + 1)
				ops = append(ops, fmt.Sprintf("truncate at %d", n))
				ls = strings.SplitAfter(all[:n], "\n")
			case op == 5:
				ops = append(ops, "delete head")
				head = nil
			case op == 6 && len(head) > 1:
				p := rng.IntN(len(head) - 1)
				head[p] = byte(' ' + rng.IntN(95))
				ops = append(ops, fmt.Sprintf("set head byte %d", p))
			case op == 7:
				ops = append(ops, fmt.Sprintf("insert garbage at %d", i))
				ls = insert(ls, min(i, len(ls)), "{\"seq\":3}\n")
			}
		}
		d := filepath.Join(t.TempDir(), fmt.Sprint(it))
		os.MkdirAll(d, 0o700)
		newLog := []byte(strings.Join(ls, ""))
		os.WriteFile(filepath.Join(d, KeyFile), key, 0o600)
		os.WriteFile(filepath.Join(d, LogFile), newLog, 0o600)
		if head != nil {
			os.WriteFile(filepath.Join(d, HeadFile), head, 0o600)
		}
		rep := verifyMark(t, d, anchorOf(src))
		// Unchanged history: the same bytes, or only the final newline lost.
		same := bytes.Equal(bytes.TrimSuffix(origLog, []byte("\n")), bytes.TrimSuffix(newLog, []byte("\n"))) && bytes.Equal(head, origHead)
		if same != rep.OK() {
			t.Fatalf("%v: unchanged=%v but OK()=%v: %+v", ops, same, rep.OK(), rep.Problems)
		}
		if err := Open(d, Options{Process: "after"}).Append(Event{Op: "secret.list"}); err != nil {
			t.Fatalf("%v: append: %v", ops, err)
		}
		after := verifyMark(t, d, anchorOf(src))
		if after.OK() != rep.OK() {
			t.Fatalf("%v: OK() went from %v to %v after an append: before %+v after %+v", ops, rep.OK(), after.OK(), rep.Problems, after.Problems)
		}
	}
}
