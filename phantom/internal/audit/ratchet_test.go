package audit

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// After every append audit.key holds only the key for the next entry: none
// of the keys that signed an existing entry can be read from the directory.
func TestKeyErasedAfterAppend(t *testing.T) {
	l, dir := newLog(t)
	appendN(t, l, 5)
	ks := testKey(t, dir)
	if ks.seq != 6 || !hmacEqual(ks.key, keyAt(t, dir, 6)) {
		t.Fatalf("key file at seq %d", ks.seq)
	}
	ents, _ := os.ReadDir(dir)
	var all []byte
	for _, e := range ents {
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		all = append(all, b...)
	}
	for seq := uint64(1); seq <= 5; seq++ {
		if strings.Contains(string(all), hex.EncodeToString(keyAt(t, dir, seq))) {
			t.Fatalf("the key of seq %d is still on disk", seq)
		}
	}
}

// rechain is the attack of issue 12 path 10: whoever reads audit.key removes
// entry drop (1-based line) and re-signs everything after it, the head and
// (with relabel) the key file, using the only key it has.
func rechain(t *testing.T, dir string, drop int, relabel bool) {
	t.Helper()
	ks := testKey(t, dir) // what the attacker read
	lines := remove(readLines(t, dir), drop-1)
	prev := ""
	if drop > 1 {
		prev = eventAt(t, lines[drop-2]).MAC
	}
	for i := drop - 1; i < len(lines); i++ {
		e := eventAt(t, lines[i])
		e.Seq--
		e.Prev = prev
		b, err := sign(ks.key, &e)
		if err != nil {
			t.Fatal(err)
		}
		lines[i] = string(b) + "\n"
		prev = e.MAC
	}
	writeLog(t, dir, lines)
	last := uint64(len(lines))
	os.WriteFile(filepath.Join(dir, HeadFile), encodeHead(ks.key, ks.logID, last, prev), 0o600)
	if relabel {
		ks.seq = last + 1
		os.WriteFile(filepath.Join(dir, KeyFile), encodeKey(ks), 0o600)
	}
}

func TestRechainWithReadKeyDetected(t *testing.T) {
	t.Parallel()
	for _, relabel := range []bool{false, true} {
		l, dir := newLog(t)
		appendN(t, l, 10)
		rechain(t, dir, 4, relabel)
		// With the vault's anchor: every re-signed entry fails, and the key
		// file is not where the chain leads.
		rep := verify(t, dir)
		if rep.OK() {
			t.Fatalf("relabel=%v: re-chained log verified with the anchor", relabel)
		}
		kinds := map[string]int{}
		for _, p := range rep.Problems {
			kinds[p.Kind]++
		}
		mismatch := 0
		if relabel {
			mismatch = 1 // the genuine key, labelled for an earlier seq
		}
		if kinds[KindModified] != 6 || kinds[KindHeadInvalid] != 1 || kinds[KindKeyMismatch] != mismatch {
			t.Fatalf("relabel=%v: %+v", relabel, rep.Problems)
		}
		// Without the vault: an unrelabelled key shows the head is signed
		// with the wrong key; a relabelled one cannot be told apart (the
		// documented limit of a check without the vault).
		plain := verifyMark(t, dir, nil)
		if relabel != plain.OK() {
			t.Fatalf("relabel=%v: without the anchor OK()=%v: %+v", relabel, plain.OK(), plain.Problems)
		}
		if plain.OK() && !hasNote(plain, "checked for order only") {
			t.Fatalf("an order-only check does not say so: %q", plain.Notes)
		}
	}
}

// A vault mark names the log and the last entry it recorded.
func TestMarkChecks(t *testing.T) {
	t.Parallel()
	l, dir := newLog(t)
	appendN(t, l, 3)
	pos, err := l.Record(Event{Op: "secret.add", Name: "MARKED"})
	if err != nil {
		t.Fatal(err)
	}
	a := anchorOf(dir)
	mark := &Mark{Project: "p1", LogID: pos.LogID, Seq: pos.Last, MAC: pos.LastMAC, AnchorSeq: a.AnchorSeq, AnchorKey: a.AnchorKey}
	savedLog, _ := os.ReadFile(filepath.Join(dir, LogFile))
	savedHead, _ := os.ReadFile(filepath.Join(dir, HeadFile))
	savedKey, _ := os.ReadFile(filepath.Join(dir, KeyFile))
	appendN(t, l, 2) // reads after the vault's write
	rep := verifyMark(t, dir, mark)
	expectProblems(t, rep)
	if rep.Mark == nil || rep.Mark.Result != "ok" || rep.Verified != 6 || rep.MACsFrom != 1 {
		t.Fatalf("%+v", rep)
	}

	// Another log: the same vault under a fresh PHANTOM_HOME.
	other := filepath.Join(t.TempDir(), "other")
	appendN(t, Open(other, Options{}), 1)
	rep = verifyMark(t, other, mark)
	expectProblems(t, rep, want{0, KindOtherLog})
	// No log at all (deleted, or a home never used).
	rep = verifyMark(t, filepath.Join(t.TempDir(), "none"), mark)
	expectProblems(t, rep, want{0, KindOtherLog})

	// Rolled back: the log cut before the vault's own entry, the head
	// re-signed with the key the attacker read.
	restore := func(logb, headb, keyb []byte) {
		os.WriteFile(filepath.Join(dir, LogFile), logb, 0o600)
		os.WriteFile(filepath.Join(dir, HeadFile), headb, 0o600)
		os.WriteFile(filepath.Join(dir, KeyFile), keyb, 0o600)
	}
	restore(savedLog, savedHead, savedKey) // back to just after the vault's write: fine
	expectProblems(t, verifyMark(t, dir, mark))
	// Cut the vault's own entry off and re-sign the head with the key read.
	cut := strings.SplitAfter(string(savedLog), "\n")[:3]
	ks := testKey(t, dir)
	prev := eventAt(t, cut[2]).MAC
	restore([]byte(strings.Join(cut, "")), encodeHead(ks.key, ks.logID, 3, prev), encodeKey(keyState{logID: ks.logID, seq: 4, key: ks.key}))
	rep = verifyMark(t, dir, mark)
	kinds := map[string]bool{}
	for _, p := range rep.Problems {
		kinds[p.Kind] = true
	}
	if !kinds[KindMarkAhead] || !kinds[KindKeyMismatch] || !kinds[KindHeadInvalid] || rep.Mark.Result != "ahead" {
		t.Fatalf("rollback: %+v", rep.Problems)
	}
}

// A vault-moved entry is a problem until an adopt for the same project.
func TestVaultMovedUntilAdopted(t *testing.T) {
	l, dir := newLog(t)
	appendN(t, l, 1)
	for _, e := range []Event{
		{Op: OpVaultMoved, Project: "p1", Detail: "the vault named log x"},
		{Op: OpVaultAhead, Project: "p2", Detail: "the vault was ahead"},
		{Op: "secret.list", Project: "p1"},
	} {
		if err := l.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	expectProblems(t, verify(t, dir), want{2, KindVaultMoved}, want{3, KindVaultMoved})
	l.Append(Event{Op: OpAdopt, Project: "p1"})
	expectProblems(t, verify(t, dir), want{3, KindVaultMoved})
	if err := l.Append(Event{Op: OpRatchetStart}); err == nil {
		t.Fatal("a caller wrote the log's own op")
	}
}

// A log written with a fixed key (before the ratchet) keeps working: the
// first append starts the ratchet from that key, records how the old entries
// verified, and erases the fixed key.
func TestMigrationFromFixedKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "home")
	os.MkdirAll(dir, 0o700)
	fixed := []byte(strings.Repeat("k", keyLen))
	var b strings.Builder
	prev := ""
	now := clock()
	for i := 1; i <= 4; i++ {
		e := Event{Seq: uint64(i), Time: now().UTC(), Op: "secret.add", Name: "OLD", PID: 1, Process: "old phantom", Prev: prev}
		line, err := sign(fixed, &e)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(append(line, '\n'))
		prev = e.MAC
	}
	os.WriteFile(filepath.Join(dir, LogFile), []byte(b.String()), 0o600)
	os.WriteFile(filepath.Join(dir, HeadFile), encodeHead(fixed, "", 4, prev), 0o600)
	os.WriteFile(filepath.Join(dir, KeyFile), []byte(hex.EncodeToString(fixed)+"\n"), 0o600)
	expectProblems(t, verifyMark(t, dir, nil)) // the old format verifies as before

	l := Open(dir, Options{Process: "new phantom", Now: now})
	pos, err := l.Record(Event{Op: "secret.list"})
	if err != nil {
		t.Fatal(err)
	}
	if pos.First != 5 || pos.Last != 6 || !hmacEqual(pos.FirstKey, fixed) || !isLogID(pos.LogID) {
		t.Fatalf("position %+v", pos)
	}
	start := eventAt(t, readLines(t, dir)[4])
	if start.Op != OpRatchetStart || !strings.Contains(start.Detail, "verified (4 entries)") || !strings.Contains(start.Detail, pos.LogID) {
		t.Fatalf("ratchet start %+v", start)
	}
	ks := testKey(t, dir)
	if ks.legacy || ks.seq != 7 || hmacEqual(ks.key, fixed) {
		t.Fatalf("key file %+v", ks)
	}
	// Without the fixed key, the old entries are checked for order only.
	rep := verifyMark(t, dir, nil)
	expectProblems(t, rep)
	if !hasNote(rep, "ratchet started at seq 5") {
		t.Fatalf("notes %q", rep.Notes)
	}
	// The vault that recorded the ratchet start holds the fixed key: it
	// checks every entry from there on.
	rep = verifyMark(t, dir, &Mark{LogID: pos.LogID, Seq: pos.Last, MAC: pos.LastMAC, AnchorSeq: pos.First, AnchorKey: pos.FirstKey})
	expectProblems(t, rep)
	if rep.Verified != 2 {
		t.Fatalf("%+v", rep)
	}
}

// Identity reads the log's id and next seq without the lock.
func TestIdentity(t *testing.T) {
	l, dir := newLog(t)
	if id, next, err := Identity(dir); id != "" || next != 0 || err != nil {
		t.Fatal(id, next, err)
	}
	appendN(t, l, 3)
	id, next, err := Identity(dir)
	if err != nil || id != anchorOf(dir).LogID || next != 4 {
		t.Fatal(id, next, err)
	}
}
