package audit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// failWrites makes every audit.head / audit.key write fail as on a full disk
// until the returned restore is called. It swaps a package variable, so
// tests using it must not run in parallel.
func failWrites(t *testing.T) (restore func()) {
	t.Helper()
	orig := writeFile
	writeFile = func(path string, _ []byte, _ os.FileMode) error {
		return &os.PathError{Op: "write", Path: path, Err: syscall.ENOSPC}
	}
	restore = func() { writeFile = orig }
	t.Cleanup(restore)
	return restore
}

func reportText(r Report) string {
	var b strings.Builder
	for _, p := range r.Problems {
		fmt.Fprintf(&b, "problem line %d %s: %s\n", p.Line, p.Kind, p.Msg)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	return b.String()
}

// TestFullDiskCheckpointIsNotTampering: when writing audit.head fails (a full
// disk) after entries were appended, verify must say the checkpoint is
// behind, not that the log was replaced, and the first append once there is
// room again repairs it without recording a tamper anomaly (issue 13 item 11).
func TestFullDiskCheckpointIsNotTampering(t *testing.T) {
	l, dir := newLog(t)
	appendN(t, l, 3)

	restore := failWrites(t)
	// Two appends and a batch of two while the disk is full: the log gets
	// its entries, the head stays at seq 3, audit.key at seq 4.
	for _, batch := range [][]Event{
		{{Op: "secret.add", Name: "FULL_1"}},
		{{Op: "secret.add", Name: "FULL_2"}},
		{{Op: "secret.add", Name: "FULL_3"}, {Op: "secret.remove", Name: "FULL_1"}},
	} {
		_, err := l.Record(batch...)
		var we *WriteError
		if !errors.As(err, &we) || !we.Recorded || !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("record on a full disk: %v", err)
		}
		if !strings.Contains(err.Error(), "the next write updates it") {
			t.Fatalf("the error does not say it recovers: %v", err)
		}
	}
	for _, rep := range []Report{verify(t, dir), verifyMark(t, dir, nil)} {
		if !rep.OK() || !strings.Contains(reportText(rep), "updating the checkpoint failed") || !strings.Contains(reportText(rep), "4 entries behind") {
			t.Fatalf("verify after failed checkpoint writes:\n%s", reportText(rep))
		}
	}

	// Space is back: the next append rewrites head and key, records no
	// anomaly, and the log verifies with nothing to note about the head.
	restore()
	appendN(t, l, 1)
	for _, rep := range []Report{verify(t, dir), verifyMark(t, dir, nil)} {
		if !rep.OK() || strings.Contains(reportText(rep), "behind") {
			t.Fatalf("verify after recovery:\n%s", reportText(rep))
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, LogFile))
	if strings.Contains(string(b), anomalyPrefix) || strings.Count(string(b), "\n") != 8 {
		t.Fatalf("the log after recovery:\n%s", b)
	}
}

// TestCheckpointBehindStillCatchesReplacement: the full-disk allowance needs
// the head's entry in the chain and audit.key right after it. A head moved
// behind while audit.key moved on, or a log that no longer holds the head's
// entry, is still reported.
func TestCheckpointBehindStillCatchesReplacement(t *testing.T) {
	l, dir := newLog(t)
	appendN(t, l, 3)
	oldHead, _ := os.ReadFile(filepath.Join(dir, HeadFile))
	appendN(t, l, 3)
	// An older head with the current key: not what a failed write leaves.
	os.WriteFile(filepath.Join(dir, HeadFile), oldHead, 0o600)
	if rep := verify(t, dir); rep.OK() {
		t.Fatalf("an old head with a newer key verified:\n%s", reportText(rep))
	}
	// The head's entry replaced by a copy from elsewhere: still a mismatch.
	l2, dir2 := newLog(t)
	appendN(t, l2, 3)
	restore := failWrites(t)
	l2.Record(Event{Op: "secret.add", Name: "A"}, Event{Op: "secret.add", Name: "B"})
	restore()
	lines := readLines(t, dir2)
	lines[2] = strings.Replace(lines[2], `"KEY_3"`, `"KEY_X"`, 1)
	writeLog(t, dir2, lines)
	if rep := verify(t, dir2); rep.OK() {
		t.Fatalf("a changed head entry verified:\n%s", reportText(rep))
	}
}
