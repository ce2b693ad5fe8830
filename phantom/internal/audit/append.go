package audit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"phantomstack.dev/shared/fsx"
)

// tail describes the end of audit.log as Append sees it.
type tail struct {
	last     *Event // the last line accept took; nil when there is none
	onlyLine bool   // last is the log's only line
	clean    bool   // the file is empty or ends with '\n'
	// claim is the last line that parses with seq < claimBelow, when no line
	// was accepted: its fields are claims nobody can check any more.
	claim *Event
}

// readTail scans the log backwards for the last entry accept takes (its MAC
// verifies, or the head checkpoint names it), skipping torn, malformed and
// forged lines.
func readTail(f io.ReaderAt, size int64, accept func(Event) bool, claimBelow uint64) (tail, error) {
	t := tail{clean: true}
	if size == 0 {
		return t, nil
	}
	var b [1]byte
	if _, err := f.ReadAt(b[:], size-1); err != nil {
		return t, err
	}
	t.clean = b[0] == '\n'
	err := eachLineBackward(f, size, func(off int64, line []byte, tooLong bool) bool {
		if tooLong {
			return false
		}
		e, err := decodeLine(line)
		if err != nil {
			return false
		}
		if !accept(e) {
			if t.claim == nil && e.Seq < claimBelow {
				c := e
				t.claim = &c
			}
			return false
		}
		t.last = &e
		end := off + int64(len(line))
		t.onlyLine = off == 0 && (end == size || end+1 == size)
		return true
	})
	if t.last != nil {
		t.claim = nil
	}
	return t, err
}

// writeFile replaces audit.head and audit.key (atomically: temp file, fsync,
// rename). Tests swap it to simulate a full disk; nothing else does.
var writeFile = fsx.WriteFileAtomic

// checkpointBehind reports whether a valid head names an earlier entry of the
// chain that ends at last while audit.key is still at the key right after the
// head. That is what appends leave when writing audit.head failed (a full
// disk): the log got its entries, and audit.key is moved on only after the
// head. It is not tampering: every entry after the head is in the log,
// chained from the head's entry and signed with a key audit.key derives, so
// nothing was hidden; the next append that can write rewrites both files.
// A head lagging by one entry is judgeHead's headLags; this covers a batch
// (several entries per append) or several failed appends.
func checkpointBehind(f io.ReaderAt, size int64, h head, ks keyState, last *Event, keyFor func(uint64) []byte) bool {
	if !h.valid || last == nil || ks.legacy || ks.seq != h.seq+1 || h.seq >= last.Seq || last.Seq-h.seq > maxRatchetAhead {
		return false
	}
	want, started, ok := *last, false, false
	eachLineBackward(f, size, func(_ int64, line []byte, tooLong bool) bool {
		if tooLong {
			return started
		}
		e, err := decodeLine(line)
		if !started {
			// Torn or unreadable lines after the last entry are reported by
			// Verify either way; the walk starts at the last entry.
			started = err == nil && e.Seq == last.Seq && e.MAC == last.MAC
			return false
		}
		if err != nil || e.Seq+1 != want.Seq || e.MAC != want.Prev {
			return true
		}
		if e.Seq == h.seq {
			ok = e.MAC == h.mac
			return true
		}
		if k := keyFor(e.Seq); k == nil || !macValid(k, e) {
			return true
		}
		want = e
		return false
	})
	return ok
}

// maxRatchetAhead bounds how far past audit.key's seq a head or entry may
// claim to be and still be checked (a batch a crash left between the log
// and the key file is far smaller).
const maxRatchetAhead = 1 << 16

// headVerdict is how a head checkpoint relates to the log's last entry.
type headVerdict int

const (
	headMatches  headVerdict = iota // head names the last entry (or both are empty)
	headLags                        // head names the entry before the last: a crash between append and checkpoint
	headAhead                       // head is beyond the log: entries were removed from the end
	headMissing                     // no head although the log has entries
	headInvalid                     // head does not parse or its signature fails
	headMismatch                    // anything else: log or head replaced by another copy
)

// judgeHead compares a checkpoint with the last entry of the log (seq 0 and mac
// "" for an empty log). A missing head counts as a checkpoint at seq 0, so the
// first entry's crash window (log written, head not yet) is a lag, not a loss.
// Append and Verify share this rule, so Append writes an anomaly entry exactly
// when Verify would report the head.
func judgeHead(h head, lastSeq uint64, lastMAC, lastPrev string, onlyLine bool) headVerdict {
	if !h.present {
		switch {
		case lastSeq == 0:
			return headMatches
		case lastSeq == 1 && lastPrev == "" && onlyLine:
			return headLags
		}
		return headMissing
	}
	switch {
	case !h.valid:
		return headInvalid
	case h.seq == lastSeq && h.mac == lastMAC:
		return headMatches
	case h.seq+1 == lastSeq && h.mac == lastPrev:
		return headLags
	case h.seq > lastSeq:
		return headAhead
	}
	return headMismatch
}

func (l *Log) appendLocked(events []Event) (Position, error) {
	dir := l.dir
	logPath := filepath.Join(dir, LogFile)
	headPath := filepath.Join(dir, HeadFile)
	if err := fsx.MkdirPrivate(dir); err != nil {
		return Position{}, &WriteError{Step: "create directory", Path: dir, Err: err}
	}
	lockPath := filepath.Join(dir, LockFile)
	lock, err := fsx.AcquireLock(lockPath, l.opts.LockTimeout, l.opts.Process)
	if err != nil {
		return Position{}, &WriteError{Step: "lock", Err: err} // the lock error names the file and its holder
	}
	defer lock.Release()

	_, statErr := os.Lstat(logPath)
	created := errors.Is(statErr, os.ErrNotExist)
	f, err := os.OpenFile(logPath, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return Position{}, &WriteError{Step: "open", Path: logPath, Err: err}
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Position{}, &WriteError{Step: "stat", Path: logPath, Err: err}
	}
	if !st.Mode().IsRegular() {
		return Position{}, &WriteError{Step: "open", Path: logPath, Err: errors.New("not a regular file")}
	}
	if st.Mode().Perm()&0o077 != 0 {
		f.Chmod(0o600)
	}
	size := st.Size()

	rawHead, headPresent, err := readOptional(headPath)
	if err != nil {
		return Position{}, &WriteError{Step: "read", Path: headPath, Err: err}
	}
	keyPath := filepath.Join(dir, KeyFile)
	ks, err := readKey(keyPath)
	switch {
	case errors.Is(err, errKeyMissing) && size == 0 && !headPresent:
		// A new log: its identity and first key are on disk before any
		// entry, so a crash can never leave entries without their key.
		if ks, err = newKeyState(); err == nil {
			err = writeKey(dir, ks)
		}
		if err != nil {
			return Position{}, &WriteError{Step: "create key", Path: keyPath, Err: err}
		}
	case errors.Is(err, errKeyMissing):
		return Position{}, &WriteError{Step: "read key", Path: keyPath, Err: fmt.Errorf(
			"%w, but %s already holds entries signed with it; restore the key, or move %s and %s aside to start a new log",
			err, LogFile, LogFile, HeadFile)}
	case err != nil:
		return Position{}, &WriteError{Step: "read key", Path: keyPath, Err: err}
	default:
		if st, err := os.Stat(keyPath); err == nil && st.Mode().Perm()&0o077 != 0 {
			os.Chmod(keyPath, 0o600)
		}
	}

	// keyFor(n) is the key that signs entry n: the fixed key of a legacy
	// log, else derived forward from audit.key (entries before its seq
	// cannot be checked here: their keys are erased).
	var r *ratchet
	var legacyKey []byte
	claimBelow := uint64(0)
	if ks.legacy {
		legacyKey = ks.key
	} else {
		r = newRatchet(ks.seq, ks.key, ks.seq+maxRatchetAhead)
		claimBelow = ks.seq
	}
	keyFor := func(seq uint64) []byte {
		if legacyKey != nil {
			return legacyKey
		}
		return r.key(seq)
	}
	h := parseHead(rawHead, headPresent, true, legacyKey, r.key)
	if h.valid && h.logID != ks.logID {
		h.valid, h.why = false, "it names another log"
	}
	t, err := readTail(f, size, func(e Event) bool {
		if k := keyFor(e.Seq); k != nil && macValid(k, e) {
			return true
		}
		return legacyKey == nil && h.valid && e.Seq == h.seq && e.MAC == h.mac
	}, claimBelow)
	if err != nil {
		return Position{}, &WriteError{Step: "read", Path: logPath, Err: err}
	}
	var lastSeq uint64
	var lastMAC, lastPrev string
	onlyLine := t.onlyLine
	switch {
	case t.last != nil:
		lastSeq, lastMAC, lastPrev = t.last.Seq, t.last.MAC, t.last.Prev
	case t.claim != nil:
		// Nothing checkable: chain from what the last line claims; the
		// head verdict below records why, and Verify sees the rest.
		lastSeq, lastMAC, lastPrev = t.claim.Seq, t.claim.MAC, t.claim.Prev
		onlyLine = false
	}

	// Decide what the new entry chains from, and whether to record an anomaly.
	anchorSeq, anchorMAC := lastSeq, lastMAC
	var anomaly *Event
	verdict := judgeHead(h, lastSeq, lastMAC, lastPrev, onlyLine)
	if verdict == headMismatch && legacyKey == nil && checkpointBehind(f, size, h, ks, t.last, keyFor) {
		verdict = headLags // a failed checkpoint write; this append repairs it
	}
	switch verdict {
	case headMatches, headLags:
	case headAhead:
		// Entries after lastSeq were removed. Chain from the checkpoint so
		// the gap stays visible in the chain.
		anchorSeq, anchorMAC = h.seq, h.mac
	case headMissing:
		anomaly = &Event{Op: anomalyPrefix + "missing", Detail: fmt.Sprintf(
			"%s was missing while %s ended at seq %d: the checkpoint was deleted, so entries at the end of the log may have been removed before this entry",
			HeadFile, LogFile, lastSeq)}
	case headInvalid:
		anomaly = &Event{Op: anomalyPrefix + "invalid", Detail: fmt.Sprintf(
			"%s did not verify (%s) while %s ended at seq %d: the checkpoint was edited or forged, so entries at the end of the log may have been removed before this entry",
			HeadFile, h.why, LogFile, lastSeq)}
	case headMismatch:
		anomaly = &Event{Op: anomalyPrefix + "mismatch", Detail: fmt.Sprintf(
			"%s recorded seq %d but %s ended at seq %d with an entry it does not name: the log or the checkpoint was replaced by another copy",
			HeadFile, h.seq, LogFile, lastSeq)}
	}
	if legacyKey == nil && anchorSeq+1 < ks.seq {
		// The key has moved past the log's end (entries were removed and
		// the head no longer says so): the next entry can only be signed
		// with the key kept, so the sequence jumps and the gap shows.
		anchorSeq = ks.seq - 1
	}

	now := l.opts.Now().UTC().Round(0)
	var buf []byte
	if !t.clean {
		buf = append(buf, '\n') // leave a torn line as evidence; start afresh
	}
	batch := make([]*Event, 0, len(events)+2)
	logID := ks.logID
	if legacyKey != nil {
		// Migration: the ratchet starts from the fixed key (k[n] = the old
		// key for the first entry n written here); the fixed key is erased
		// when audit.key is replaced below. What the old entries looked
		// like at this moment is recorded, signed by the new chain.
		ns, err := newKeyState()
		if err != nil {
			return Position{}, &WriteError{Step: "create log id", Err: err}
		}
		logID = ns.logID
		verdict := legacyVerdict(f, size, legacyKey, h)
		batch = append(batch, &Event{Op: OpRatchetStart, Detail: fmt.Sprintf(
			"log %s: from this entry on each entry has its own key, derived from the previous one, and used keys are erased; the %d entries before it were signed with one fixed key, erased now, so from here on they can be checked for order only; with that key they %s",
			logID, anchorSeq, verdict)})
	}
	if anomaly != nil {
		batch = append(batch, anomaly)
	}
	for _, ev := range batch {
		ev.PID, ev.Process = events[0].PID, events[0].Process
	}
	for i := range events {
		batch = append(batch, &events[i])
	}
	k := bytes.Clone(keyFor(anchorSeq + 1))
	if k == nil {
		return Position{}, &WriteError{Step: "sign", Err: fmt.Errorf("no key for seq %d (audit.key is at seq %d)", anchorSeq+1, ks.seq)}
	}
	pos := Position{LogID: logID, First: anchorSeq + 1, FirstKey: bytes.Clone(k)}
	for _, ev := range batch {
		ev.Seq = anchorSeq + 1
		ev.Prev = anchorMAC
		ev.Time = now
		line, err := sign(k, ev)
		if err != nil {
			return Position{}, &WriteError{Step: "encode event", Err: err}
		}
		buf = append(append(buf, line...), '\n')
		anchorSeq, anchorMAC = ev.Seq, ev.MAC
		next := nextKey(k)
		clear(k)
		k = next
	}
	pos.Last, pos.LastMAC = anchorSeq, anchorMAC

	if _, err := f.Write(buf); err != nil {
		return Position{}, &WriteError{Step: "append to", Path: logPath, Err: err}
	}
	if err := f.Sync(); err != nil {
		return Position{}, &WriteError{Step: "sync", Path: logPath, Err: err}
	}
	if created {
		if err := fsx.SyncDir(dir); err != nil {
			return Position{}, &WriteError{Step: "sync", Path: dir, Err: err}
		}
	}
	// The head is signed with k[last+1] and written before audit.key moves
	// to that key: after a crash in between, audit.key is behind and derives
	// the head's key; the other order would leave a head nobody can check.
	if err := writeFile(headPath, encodeHead(k, logID, anchorSeq, anchorMAC), 0o600); err != nil {
		return pos, &WriteError{Step: "update checkpoint", Path: headPath, Recorded: true, Err: err}
	}
	if err := writeKey(dir, keyState{logID: logID, seq: anchorSeq + 1, key: k}); err != nil {
		return pos, &WriteError{Step: "advance key", Path: keyPath, Recorded: true, Err: err}
	}
	return pos, nil
}

// legacyVerdict checks a pre-ratchet log with its fixed key, before that key
// is erased, and says what it found (for the OpRatchetStart entry).
func legacyVerdict(f io.ReaderAt, size int64, key []byte, h head) string {
	rep := Report{Problems: []Problem{}}
	v := &verifier{keyFor: func(uint64) []byte { return key }, rep: &rep}
	lr := newLineReader(io.NewSectionReader(f, 0, size))
	for n := 1; ; n++ {
		line, complete, tooLong, err := lr.next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				return "could not be read (" + err.Error() + ")"
			}
			break
		}
		v.line(n, line, complete, tooLong)
	}
	v.finish(h)
	if rep.OK() {
		return fmt.Sprintf("verified (%d entries)", rep.Verified)
	}
	n := len(rep.Problems) + rep.Omitted
	return fmt.Sprintf("had %d problem(s), the first: %s", n, rep.Problems[0].Msg)
}
