package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// ---- helpers ----

// clock returns a Now that advances one second per call.
func clock() func() time.Time {
	var n atomic.Int64
	base := time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("X", 3600))
	return func() time.Time { return base.Add(time.Duration(n.Add(1)) * time.Second) }
}

func newLog(t testing.TB) (*Log, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "home")
	return Open(dir, Options{Process: "phantom test", Now: clock()}), dir
}

// anchors holds, per log directory, the mark of the first entry a test
// appended there: what a vault would keep (see VerifyWith).
var anchors sync.Map // dir → *Mark

func appendN(t testing.TB, l *Log, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		pos, err := l.Record(Event{Op: "secret.add", Name: fmt.Sprintf("KEY_%d", i), Detail: "test"})
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		anchors.LoadOrStore(l.Dir(), &Mark{LogID: pos.LogID, AnchorSeq: pos.First, AnchorKey: pos.FirstKey})
	}
}

// anchorOf is the first mark appendN recorded in dir (nil when none).
func anchorOf(dir string) *Mark {
	m, _ := anchors.Load(dir)
	mk, _ := m.(*Mark)
	return mk
}

func readLines(t testing.TB, dir string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, LogFile))
	if err != nil {
		t.Fatal(err)
	}
	return strings.SplitAfter(string(b), "\n")[:strings.Count(string(b), "\n")]
}

func writeLog(t testing.TB, dir string, lines []string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, LogFile), []byte(strings.Join(lines, "")), 0o600); err != nil {
		t.Fatal(err)
	}
}

// verify checks dir with the anchor of its first appendN entry, as
// 'phantom audit verify' does with the project's vault open.
func verify(t testing.TB, dir string) Report {
	t.Helper()
	return verifyMark(t, dir, anchorOf(dir))
}

func verifyMark(t testing.TB, dir string, m *Mark) Report {
	t.Helper()
	rep, err := VerifyWith(dir, VerifyOptions{Mark: m})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return rep
}

type want struct {
	line int
	kind string
}

// expectProblems fails unless rep has exactly the wanted problems, in order.
func expectProblems(t *testing.T, rep Report, ws ...want) {
	t.Helper()
	ok := len(rep.Problems) == len(ws)
	for i := 0; ok && i < len(ws); i++ {
		ok = rep.Problems[i].Line == ws[i].line && rep.Problems[i].Kind == ws[i].kind
	}
	for _, p := range rep.Problems {
		if p.Line > 0 && !strings.Contains(p.Msg, fmt.Sprintf("line %d", p.Line)) {
			t.Errorf("message does not name its line %d: %q", p.Line, p.Msg)
		}
	}
	if !ok {
		var b strings.Builder
		for _, p := range rep.Problems {
			fmt.Fprintf(&b, "\n  %d %s: %s", p.Line, p.Kind, p.Msg)
		}
		t.Fatalf("problems: want %v, got:%s", ws, b.String())
	}
	if len(ws) > 0 && rep.OK() {
		t.Fatal("OK() with problems")
	}
	if len(ws) == 0 && !rep.OK() {
		t.Fatal("not OK() without problems")
	}
}

func eventAt(t testing.TB, line string) Event {
	t.Helper()
	e, err := decodeLine([]byte(strings.TrimSuffix(line, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func testKey(t testing.TB, dir string) keyState {
	t.Helper()
	k, err := readKey(filepath.Join(dir, KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// keyAt derives k[seq] from the anchor appendN recorded in dir.
func keyAt(t testing.TB, dir string, seq uint64) []byte {
	t.Helper()
	m := anchorOf(dir)
	k := newRatchet(m.AnchorSeq, m.AnchorKey, 1<<20).key(seq)
	if k == nil {
		t.Fatalf("no key for seq %d", seq)
	}
	return k
}

// ---- basic behaviour ----

func TestChainVerifies(t *testing.T) {
	t.Parallel()
	l, dir := newLog(t)
	appendN(t, l, 50)
	rep := verify(t, dir)
	expectProblems(t, rep)
	if rep.Verified != 50 || rep.Lines != 50 || rep.Head == nil || rep.Head.Seq != 50 || len(rep.Notes) != 0 {
		t.Fatalf("report %+v", rep)
	}
	lines := readLines(t, dir)
	var prev string
	for i, line := range lines {
		e := eventAt(t, line)
		if e.Seq != uint64(i+1) || e.Prev != prev || len(e.MAC) != 64 {
			t.Fatalf("line %d: seq %d prev %q mac %q", i+1, e.Seq, e.Prev, e.MAC)
		}
		prev = e.MAC
	}
}

func TestFileFormatsAndModes(t *testing.T) {
	l, dir := newLog(t)
	appendN(t, l, 2)
	st, err := os.Stat(dir)
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode: %v %v", st.Mode(), err)
	}
	for _, name := range []string{LogFile, KeyFile, HeadFile} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: mode %v err %v", name, st.Mode(), err)
		}
	}
	ks := testKey(t, dir)
	if ks.legacy || ks.seq != 3 || !isLogID(ks.logID) || !hmacEqual(ks.key, keyAt(t, dir, 3)) {
		t.Fatalf("key file: %+v", ks)
	}
	lines := readLines(t, dir)
	first := strings.TrimSuffix(lines[0], "\n")
	// Fixed key order, UTC time, the process and pid filled in.
	for _, frag := range []string{`{"seq":1,"time":"2026-01-02T02:04:06.000000006Z","op":"secret.add","name":"KEY_1","detail":"test","pid":` + fmt.Sprint(os.Getpid()) + `,"process":"phantom test","prev":"","mac":"`} {
		if !strings.HasPrefix(first, frag) {
			t.Fatalf("line 1 = %s\nwant prefix %s", first, frag)
		}
	}
	// The MAC is HMAC(k[seq], the line with mac ""), k[2] = HMAC(k[1], "next").
	e := eventAt(t, lines[1])
	want, _ := computeMAC(nextKey(anchorOf(dir).AnchorKey), e)
	if e.MAC != want {
		t.Fatal("mac is not HMAC over the canonical form")
	}
	head, _ := os.ReadFile(filepath.Join(dir, HeadFile))
	var h map[string]any
	if err := json.Unmarshal(head, &h); err != nil || h["log"] != ks.logID || h["seq"] != float64(2) || h["mac"] != e.MAC || h["sig"] != headSig(ks.key, ks.logID, 2, e.MAC) {
		t.Fatalf("head %s", head)
	}
	if _, err := os.Stat(filepath.Join(dir, LockFile)); err != nil {
		t.Fatal("no lock file")
	}
}

func TestEventFields(t *testing.T) {
	l, dir := newLog(t)
	long := strings.Repeat("é", MaxDetailLen) // 2 bytes per rune
	if err := l.Append(Event{Op: "env.sync", Detail: long, Seq: 99, Prev: "x", MAC: "y", PID: 1, Process: "phantom sync"}); err != nil {
		t.Fatal(err)
	}
	e := eventAt(t, readLines(t, dir)[0])
	if e.Seq != 1 || e.Prev != "" || e.PID != os.Getpid() || e.Process != "phantom sync" || e.Time.Location() != time.UTC {
		t.Fatalf("event %+v", e)
	}
	if len(e.Detail) > MaxDetailLen || !strings.HasSuffix(e.Detail, "…") || !strings.HasPrefix(e.Detail, "éé") {
		t.Fatalf("detail not cut: %d bytes", len(e.Detail))
	}
	for _, bad := range []Event{{}, {Op: "audit.head-missing"}, {Op: "x", Name: strings.Repeat("N", MaxFieldLen+1)}} {
		err := l.Append(bad)
		if !errors.Is(err, ErrAuditFailed) {
			t.Fatalf("append %+v: %v", bad, err)
		}
	}
	expectProblems(t, verify(t, dir))
}

func TestDisabledWritesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "home")
	l := Open(dir, Options{Disabled: true, Required: true})
	if err := l.Append(Event{Op: "secret.add", Name: "A"}); err != nil {
		t.Fatal(err)
	}
	if l.Enabled() || l.Required() {
		t.Fatal("disabled log claims to be enabled or required")
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("disabled log touched the disk: %v", err)
	}
	var nl *Log
	if err := nl.Append(Event{Op: "x"}); err != nil || nl.Required() {
		t.Fatal("nil log")
	}
	if !Open(dir, Options{Required: true}).Required() {
		t.Fatal("Required() false")
	}
}

func TestVerifyEmptyCreatesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "home")
	rep := verify(t, dir)
	if !rep.OK() || !rep.Empty || rep.Verified != 0 {
		t.Fatalf("%+v", rep)
	}
	os.Mkdir(dir, 0o700)
	rep = verify(t, dir)
	ents, _ := os.ReadDir(dir)
	if !rep.OK() || len(ents) != 0 {
		t.Fatalf("verify of an empty dir: %+v, created %v", rep, ents)
	}
	evs, err := Read(dir, 10)
	if err != nil || len(evs) != 0 {
		t.Fatal(evs, err)
	}
}

func TestAppendErrorsWrap(t *testing.T) {
	l := Open("", Options{})
	if err := l.Append(Event{Op: "x"}); !errors.Is(err, ErrAuditFailed) {
		t.Fatalf("empty dir: %v", err)
	}
	// A file where the directory should be.
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o600)
	err := Open(f, Options{}).Append(Event{Op: "x"})
	var we *WriteError
	if !errors.Is(err, ErrAuditFailed) || !errors.As(err, &we) || !strings.Contains(err.Error(), f) {
		t.Fatalf("dir is a file: %v", err)
	}
}

func TestLockTimeout(t *testing.T) {
	l, dir := newLog(t)
	appendN(t, l, 1)
	hold, err := acquireForTest(filepath.Join(dir, LockFile))
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Release()
	l2 := Open(dir, Options{LockTimeout: 50 * time.Millisecond, Process: "phantom add"})
	err = l2.Append(Event{Op: "x"})
	if !errors.Is(err, ErrAuditFailed) || !strings.Contains(err.Error(), "locked by") {
		t.Fatalf("append under a held lock: %v", err)
	}
}

// ---- tampering ----

func TestTamperDetected(t *testing.T) {
	t.Parallel()
	const n = 10
	cases := []struct {
		name   string
		tamper func(t *testing.T, dir string, lines []string)
		want   []want
	}{
		{"modify a name", func(t *testing.T, dir string, lines []string) {
			lines[3] = strings.Replace(lines[3], `"KEY_4"`, `"KEY_X"`, 1)
			writeLog(t, dir, lines)
		}, []want{{4, KindModified}}},
		{"modify the last entry", func(t *testing.T, dir string, lines []string) {
			lines[9] = strings.Replace(lines[9], `"secret.add"`, `"secret.list"`, 1)
			writeLog(t, dir, lines)
		}, []want{{10, KindModified}}},
		{"insert a forged line", func(t *testing.T, dir string, lines []string) {
			prev := eventAt(t, lines[3])
			forged := Event{Seq: 5, Time: prev.Time, Op: "secret.reveal", Name: "KEY_1", PID: 1, Process: "phantom reveal", Prev: prev.MAC, MAC: strings.Repeat("ab", 32)}
			b, _ := json.Marshal(forged)
			writeLog(t, dir, insert(lines, 4, string(b)+"\n"))
		}, []want{{5, KindInserted}}},
		{"insert a copy of a valid line", func(t *testing.T, dir string, lines []string) {
			writeLog(t, dir, insert(lines, 6, lines[1]))
		}, []want{{7, KindInserted}}},
		{"insert a copy of a later line early", func(t *testing.T, dir string, lines []string) {
			writeLog(t, dir, insert(lines, 2, lines[7]))
		}, []want{{3, KindInserted}}},
		{"delete a middle line", func(t *testing.T, dir string, lines []string) {
			writeLog(t, dir, remove(lines, 4))
		}, []want{{5, KindDeleted}}},
		{"delete the first line", func(t *testing.T, dir string, lines []string) {
			writeLog(t, dir, remove(lines, 0))
		}, []want{{1, KindDeleted}}},
		{"delete the second to last line", func(t *testing.T, dir string, lines []string) {
			writeLog(t, dir, remove(lines, 8))
		}, []want{{9, KindDeleted}}},
		{"delete three middle lines", func(t *testing.T, dir string, lines []string) {
			writeLog(t, dir, append(lines[:3:3], lines[6:]...))
		}, []want{{4, KindDeleted}}},
		{"delete the last line", func(t *testing.T, dir string, lines []string) {
			writeLog(t, dir, lines[:9])
		}, []want{{9, KindHeadMismatch}}},
		{"delete the last three lines", func(t *testing.T, dir string, lines []string) {
			writeLog(t, dir, lines[:7])
		}, []want{{7, KindHeadMismatch}}},
		{"empty the log", func(t *testing.T, dir string, lines []string) {
			writeLog(t, dir, nil)
		}, []want{{0, KindHeadMismatch}}},
		{"truncate inside the last line", func(t *testing.T, dir string, lines []string) {
			lines[9] = lines[9][:40]
			writeLog(t, dir, lines)
		}, []want{{10, KindMalformed}}},
		{"truncate inside a middle line", func(t *testing.T, dir string, lines []string) {
			lines[6] = lines[6][:40]
			writeLog(t, dir, lines[:7])
		}, []want{{6, KindHeadMismatch}, {7, KindMalformed}}},
		{"corrupt a middle line", func(t *testing.T, dir string, lines []string) {
			lines[2] = "this is not json\n"
			writeLog(t, dir, lines)
		}, []want{{3, KindMalformed}}},
		{"blank line", func(t *testing.T, dir string, lines []string) {
			writeLog(t, dir, insert(lines, 5, "\n"))
		}, []want{{6, KindMalformed}}},
		{"swap two lines", func(t *testing.T, dir string, lines []string) {
			lines[3], lines[4] = lines[4], lines[3]
			writeLog(t, dir, lines)
		}, []want{{4, KindInserted}, {6, KindDeleted}}},
		{"corrupt the head signature", func(t *testing.T, dir string, lines []string) {
			rewriteHead(t, dir, func(h *headFile) { h.Sig = strings.Repeat("0", 64) })
		}, []want{{0, KindHeadInvalid}}},
		{"move the head back", func(t *testing.T, dir string, lines []string) {
			rewriteHead(t, dir, func(h *headFile) { h.Seq = 8 })
		}, []want{{0, KindHeadInvalid}}},
		{"head is garbage", func(t *testing.T, dir string, lines []string) {
			os.WriteFile(filepath.Join(dir, HeadFile), []byte("{"), 0o600)
		}, []want{{0, KindHeadInvalid}}},
		{"delete the head", func(t *testing.T, dir string, lines []string) {
			os.Remove(filepath.Join(dir, HeadFile))
		}, []want{{0, KindHeadMissing}}},
		{"delete the key", func(t *testing.T, dir string, lines []string) {
			os.Remove(filepath.Join(dir, KeyFile))
		}, []want{{0, KindKeyMissing}}},
		{"replace the key with a fixed key", func(t *testing.T, dir string, lines []string) {
			os.WriteFile(filepath.Join(dir, KeyFile), []byte(strings.Repeat("11", 32)+"\n"), 0o600)
		}, append([]want{{0, KindHeadInvalid}, {0, KindOtherLog}}, allLines(n, KindModified)...)},
		{"replace the key", func(t *testing.T, dir string, lines []string) {
			ks := testKey(t, dir)
			ks.key = bytes.Repeat([]byte{1}, keyLen)
			os.WriteFile(filepath.Join(dir, KeyFile), encodeKey(ks), 0o600)
		}, []want{{0, KindKeyMismatch}}},
		{"move the key back", func(t *testing.T, dir string, lines []string) {
			ks := testKey(t, dir)
			ks.seq = 5 // the key bytes an attacker read, relabelled for an earlier seq
			os.WriteFile(filepath.Join(dir, KeyFile), encodeKey(ks), 0o600)
		}, []want{{0, KindKeyMismatch}}},
		{"reformat a line", func(t *testing.T, dir string, lines []string) {
			lines[4] = strings.Replace(lines[4], `,"op":`, `, "op":`, 1)
			writeLog(t, dir, lines)
		}, []want{{5, KindModified}}},
		{"duplicate key", func(t *testing.T, dir string, lines []string) {
			lines[4] = strings.Replace(lines[4], `"name":"KEY_5"`, `"name":"KEY_EVIL","name":"KEY_5"`, 1)
			writeLog(t, dir, lines)
		}, []want{{5, KindModified}}},
		{"unknown field", func(t *testing.T, dir string, lines []string) {
			lines[4] = strings.Replace(lines[4], `{"seq"`, `{"value":"sk-live-123","seq"`, 1)
			writeLog(t, dir, lines)
		}, []want{{5, KindMalformed}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			l, dir := newLog(t)
			appendN(t, l, n)
			c.tamper(t, dir, readLines(t, dir))
			expectProblems(t, verify(t, dir), c.want...)
		})
	}
}

func allLines(n int, kind string) []want {
	var ws []want
	for i := 1; i <= n; i++ {
		ws = append(ws, want{i, kind})
	}
	return ws
}

func insert(lines []string, at int, s string) []string {
	out := append([]string{}, lines[:at]...)
	out = append(out, s)
	return append(out, lines[at:]...)
}

func remove(lines []string, at int) []string {
	return append(append([]string{}, lines[:at]...), lines[at+1:]...)
}

func rewriteHead(t *testing.T, dir string, f func(*headFile)) {
	t.Helper()
	p := filepath.Join(dir, HeadFile)
	b, _ := os.ReadFile(p)
	var h headFile
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	f(&h)
	b, _ = json.Marshal(h)
	os.WriteFile(p, b, 0o600)
}

// A writer holding the key can make seq jump while the chain links; Verify
// names that as a sequence gap.
func TestSequenceGap(t *testing.T) {
	l, dir := newLog(t)
	appendN(t, l, 5)
	ks := testKey(t, dir)
	lines := readLines(t, dir)
	var prev string
	for i := range lines {
		e := eventAt(t, lines[i])
		if i >= 3 {
			e.Seq += 2
		}
		e.Prev = prev
		b, err := sign(keyAt(t, dir, e.Seq), &e)
		if err != nil {
			t.Fatal(err)
		}
		lines[i] = string(b) + "\n"
		prev = e.MAC
	}
	writeLog(t, dir, lines)
	os.WriteFile(filepath.Join(dir, HeadFile), encodeHead(keyAt(t, dir, 8), ks.logID, 7, prev), 0o600)
	os.WriteFile(filepath.Join(dir, KeyFile), encodeKey(keyState{logID: ks.logID, seq: 8, key: keyAt(t, dir, 8)}), 0o600)
	expectProblems(t, verify(t, dir), want{4, KindSequenceGap})
}

// Later appends must not erase the evidence of earlier tampering.
func TestAppendKeepsEvidence(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		tamper func(t *testing.T, dir string, lines []string)
		want   []want
	}{
		{"deleted last line", func(t *testing.T, dir string, lines []string) {
			writeLog(t, dir, lines[:9])
		}, []want{{10, KindDeleted}}},
		{"deleted last three lines", func(t *testing.T, dir string, lines []string) {
			writeLog(t, dir, lines[:7])
		}, []want{{8, KindDeleted}}},
		{"deleted log", func(t *testing.T, dir string, lines []string) {
			os.Remove(filepath.Join(dir, LogFile))
		}, []want{{1, KindDeleted}}},
		{"modified last line", func(t *testing.T, dir string, lines []string) {
			lines[9] = strings.Replace(lines[9], `"KEY_10"`, `"KEY_X"`, 1)
			writeLog(t, dir, lines)
		}, []want{{10, KindModified}}},
		{"forged line at the end", func(t *testing.T, dir string, lines []string) {
			writeLog(t, dir, append(lines, strings.Replace(lines[9], `"seq":10`, `"seq":11`, 1)))
		}, []want{{11, KindInserted}}},
		{"copied line at the end", func(t *testing.T, dir string, lines []string) {
			writeLog(t, dir, append(lines, lines[2]))
		}, []want{{11, KindInserted}}},
		{"deleted head", func(t *testing.T, dir string, lines []string) {
			os.Remove(filepath.Join(dir, HeadFile))
		}, []want{{11, KindHeadMissing}}},
		{"deleted head and last lines", func(t *testing.T, dir string, lines []string) {
			os.Remove(filepath.Join(dir, HeadFile))
			writeLog(t, dir, lines[:5])
			// The key kept moving, so the next entry jumps to seq 11.
		}, []want{{6, KindSequenceGap}, {6, KindHeadMissing}}},
		{"corrupted head", func(t *testing.T, dir string, lines []string) {
			rewriteHead(t, dir, func(h *headFile) { h.Seq = 3 })
		}, []want{{11, KindHeadInvalid}}},
		{"truncated inside the last line", func(t *testing.T, dir string, lines []string) {
			lines[9] = lines[9][:30]
			writeLog(t, dir, lines)
		}, []want{{10, KindMalformed}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			l, dir := newLog(t)
			appendN(t, l, 10)
			c.tamper(t, dir, readLines(t, dir))
			if err := l.Append(Event{Op: "secret.reveal", Name: "AFTER"}); err != nil {
				t.Fatal(err)
			}
			if err := l.Append(Event{Op: "secret.reveal", Name: "AFTER2"}); err != nil {
				t.Fatal(err)
			}
			expectProblems(t, verify(t, dir), c.want...)
		})
	}
}

// A crash between appending and updating audit.head leaves the head (and
// audit.key, written after it) one entry behind. That is benign: noted, not
// a problem, and repaired by the next append without an anomaly entry.
func TestHeadLagAfterCrash(t *testing.T) {
	l, dir := newLog(t)
	appendN(t, l, 3)
	old, _ := os.ReadFile(filepath.Join(dir, HeadFile))
	oldKey, _ := os.ReadFile(filepath.Join(dir, KeyFile))
	appendN(t, l, 1)
	os.WriteFile(filepath.Join(dir, HeadFile), old, 0o600)
	os.WriteFile(filepath.Join(dir, KeyFile), oldKey, 0o600)
	rep := verify(t, dir)
	expectProblems(t, rep)
	if !hasNote(rep, "one entry behind") || !hasNote(rep, "audit.key is behind") {
		t.Fatalf("notes %q", rep.Notes)
	}
	appendN(t, l, 1)
	rep = verify(t, dir)
	expectProblems(t, rep)
	if rep.Verified != 5 || len(rep.Notes) != 0 {
		t.Fatalf("%+v", rep)
	}

	// The same for the very first entry: log written, no head yet.
	l, dir = newLog(t)
	pos, err := l.Record(Event{Op: "secret.add", Name: "A"})
	if err != nil {
		t.Fatal(err)
	}
	anchors.Store(dir, &Mark{LogID: pos.LogID, AnchorSeq: pos.First, AnchorKey: pos.FirstKey})
	os.Remove(filepath.Join(dir, HeadFile))
	os.WriteFile(filepath.Join(dir, KeyFile), encodeKey(keyState{logID: pos.LogID, seq: 1, key: pos.FirstKey}), 0o600)
	rep = verify(t, dir)
	expectProblems(t, rep)
	if !hasNote(rep, "before the first checkpoint") {
		t.Fatalf("notes %q", rep.Notes)
	}
	appendN(t, l, 1)
	expectProblems(t, verify(t, dir))
}

// A crash after audit.head was written but before audit.key moved on leaves
// the key behind; the head is signed with a key derived from it.
func TestKeyLagAfterCrash(t *testing.T) {
	l, dir := newLog(t)
	appendN(t, l, 3)
	oldKey, _ := os.ReadFile(filepath.Join(dir, KeyFile))
	appendN(t, l, 2)
	os.WriteFile(filepath.Join(dir, KeyFile), oldKey, 0o600)
	for _, rep := range []Report{verify(t, dir), verifyMark(t, dir, nil)} {
		expectProblems(t, rep)
		if !hasNote(rep, "audit.key is behind") {
			t.Fatalf("notes %q", rep.Notes)
		}
	}
	appendN(t, l, 1)
	rep := verify(t, dir)
	expectProblems(t, rep)
	if rep.Verified != 6 || hasNote(rep, "behind") || testKey(t, dir).seq != 7 {
		t.Fatalf("%+v", rep)
	}
}

func hasNote(rep Report, frag string) bool {
	for _, n := range rep.Notes {
		if strings.Contains(n, frag) {
			return true
		}
	}
	return false
}

// A crash in the middle of a write leaves a torn line. The next append keeps
// it and starts a new line; verify names the torn line and nothing else.
func TestTornLineThenAppend(t *testing.T) {
	l, dir := newLog(t)
	appendN(t, l, 3)
	f, _ := os.OpenFile(filepath.Join(dir, LogFile), os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"seq":4,"time":"2026-01-0`)
	f.Close()
	expectProblems(t, verify(t, dir), want{4, KindMalformed})
	appendN(t, l, 2)
	lines := readLines(t, dir)
	if len(lines) != 6 || !strings.HasPrefix(lines[3], `{"seq":4,"time":"2026-01-0`+"\n") {
		t.Fatalf("torn line not kept on its own line: %q", lines[3])
	}
	rep := verify(t, dir)
	expectProblems(t, rep, want{4, KindMalformed})
	if rep.Verified != 5 || !strings.Contains(rep.Problems[0].Msg, "interrupted") {
		t.Fatalf("%+v", rep)
	}
}

// A huge garbage line at the end must not stop appends (the tail scan skips
// it without holding it) nor blow up verify.
func TestHugeGarbageLine(t *testing.T) {
	t.Parallel()
	l, dir := newLog(t)
	appendN(t, l, 3)
	f, _ := os.OpenFile(filepath.Join(dir, LogFile), os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(strings.Repeat("x", 3*maxLineLen) + "\n")
	f.Close()
	appendN(t, l, 2)
	rep := verify(t, dir)
	expectProblems(t, rep, want{4, KindMalformed})
	if rep.Verified != 5 {
		t.Fatalf("%+v", rep)
	}
}

// Long lines cross the backward reader's chunk boundaries.
func TestEachLineBackward(t *testing.T) {
	var b strings.Builder
	var want []string
	for i := 0; i < 200; i++ {
		s := fmt.Sprintf("%d:%s", i, strings.Repeat("y", i*37%1500))
		want = append(want, s)
		b.WriteString(s + "\n")
	}
	want = append(want, "torn")
	b.WriteString("torn")
	r := strings.NewReader(b.String())
	var got []string
	eachLineBackward(r, r.Size(), func(off int64, line []byte, tooLong bool) bool {
		if !strings.HasPrefix(b.String()[off:], string(line)) {
			t.Fatalf("offset %d wrong for %q", off, line)
		}
		got = append(got, string(line))
		return false
	})
	if len(got) != len(want) {
		t.Fatalf("got %d lines, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[len(want)-1-i] {
			t.Fatalf("line %d: %q", i, got[i])
		}
	}
}

func TestKeyMissingRefusesAppend(t *testing.T) {
	l, dir := newLog(t)
	appendN(t, l, 3)
	os.Remove(filepath.Join(dir, KeyFile))
	err := l.Append(Event{Op: "secret.add", Name: "B"})
	if !errors.Is(err, ErrAuditFailed) || !strings.Contains(err.Error(), "move audit.log and audit.head aside") {
		t.Fatalf("append without key: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, KeyFile)); err == nil {
		t.Fatal("a new key was created next to an old log")
	}
	rep := verify(t, dir)
	expectProblems(t, rep, want{0, KindKeyMissing})
	if rep.Verified != 3 || rep.KeyFound {
		t.Fatalf("%+v", rep)
	}
	rep, _ = Verify(dir)
	expectProblems(t, rep, want{0, KindKeyMissing})
	if rep.Verified != 0 {
		t.Fatalf("%+v", rep)
	}
	// Starting over: move log and head aside (a new log, a new identity).
	os.Rename(filepath.Join(dir, LogFile), filepath.Join(dir, "audit.log.old"))
	os.Rename(filepath.Join(dir, HeadFile), filepath.Join(dir, "audit.head.old"))
	anchors.Delete(dir)
	appendN(t, l, 2)
	expectProblems(t, verify(t, dir))
}

// ---- read ----

func TestRead(t *testing.T) {
	t.Parallel()
	l, dir := newLog(t)
	appendN(t, l, 5)
	l.Append(Event{Op: "secret.reveal", Name: "KEY_2"})
	evs, err := Read(dir, 2)
	if err != nil || len(evs) != 2 || evs[0].Seq != 5 || evs[1].Op != "secret.reveal" {
		t.Fatalf("%v %+v", err, evs)
	}
	evs, err = Read(dir, 0)
	if err != nil || len(evs) != 6 {
		t.Fatal(err, len(evs))
	}
	ents, err := ReadEntries(dir, ReadOptions{Name: "KEY_2"})
	if err != nil || len(ents) != 2 || ents[0].Line != 2 || ents[1].Line != 6 {
		t.Fatalf("%v %+v", err, ents)
	}

	lines := readLines(t, dir)
	lines[2] = "garbage\n"
	writeLog(t, dir, lines)
	evs, err = Read(dir, 0)
	var me *MalformedError
	if !errors.As(err, &me) || me.Count != 1 || me.Lines[0] != 3 || len(evs) != 5 || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("%v %d", err, len(evs))
	}
	ents, err = ReadEntries(dir, ReadOptions{Op: "secret.reveal", Last: 5})
	if err != nil || len(ents) != 2 || ents[0].Problem == "" || ents[0].Raw != "garbage" || ents[1].Event.Name != "KEY_2" {
		t.Fatalf("%v %+v", err, ents)
	}
}

func TestReportJSON(t *testing.T) {
	l, dir := newLog(t)
	appendN(t, l, 2)
	os.Remove(filepath.Join(dir, HeadFile))
	b, err := json.Marshal(verify(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, frag := range []string{`"ok":false`, `"verified":2`, `"kind":"head-missing"`, `"line":0`} {
		if !strings.Contains(s, frag) {
			t.Fatalf("%s lacks %s", s, frag)
		}
	}
}
