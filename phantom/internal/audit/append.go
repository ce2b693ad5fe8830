package audit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"phantomstack.dev/shared/fsx"
)

// tail describes the end of audit.log as Append sees it.
type tail struct {
	last     *Event // the last line whose MAC verifies; nil when there is none
	onlyLine bool   // last is the log's only line
	clean    bool   // the file is empty or ends with '\n'
}

// readTail scans the log backwards for the last entry whose MAC verifies,
// skipping torn, malformed and forged lines.
func readTail(f *os.File, size int64, key []byte) (tail, error) {
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
		if err != nil || !macValid(key, e) {
			return false
		}
		t.last = &e
		end := off + int64(len(line))
		t.onlyLine = off == 0 && (end == size || end+1 == size)
		return true
	})
	return t, err
}

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

func (l *Log) appendLocked(events []Event) error {
	dir := l.dir
	logPath := filepath.Join(dir, LogFile)
	headPath := filepath.Join(dir, HeadFile)
	if err := fsx.MkdirPrivate(dir); err != nil {
		return &WriteError{Step: "create directory", Path: dir, Err: err}
	}
	lockPath := filepath.Join(dir, LockFile)
	lock, err := fsx.AcquireLock(lockPath, l.opts.LockTimeout, l.opts.Process)
	if err != nil {
		return &WriteError{Step: "lock", Err: err} // the lock error names the file and its holder
	}
	defer lock.Release()

	_, statErr := os.Lstat(logPath)
	created := errors.Is(statErr, os.ErrNotExist)
	f, err := os.OpenFile(logPath, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return &WriteError{Step: "open", Path: logPath, Err: err}
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return &WriteError{Step: "stat", Path: logPath, Err: err}
	}
	if !st.Mode().IsRegular() {
		return &WriteError{Step: "open", Path: logPath, Err: errors.New("not a regular file")}
	}
	if st.Mode().Perm()&0o077 != 0 {
		f.Chmod(0o600)
	}
	size := st.Size()

	rawHead, headPresent, err := readOptional(headPath)
	if err != nil {
		return &WriteError{Step: "read", Path: headPath, Err: err}
	}
	keyPath := filepath.Join(dir, KeyFile)
	key, err := readKey(keyPath)
	switch {
	case errors.Is(err, errKeyMissing) && size == 0 && !headPresent:
		if key, err = createKey(dir); err != nil {
			return &WriteError{Step: "create key", Path: keyPath, Err: err}
		}
	case errors.Is(err, errKeyMissing):
		return &WriteError{Step: "read key", Path: keyPath, Err: fmt.Errorf(
			"%w, but %s already holds entries signed with it; restore the key, or move %s and %s aside to start a new log",
			err, LogFile, LogFile, HeadFile)}
	case err != nil:
		return &WriteError{Step: "read key", Path: keyPath, Err: err}
	default:
		if st, err := os.Stat(keyPath); err == nil && st.Mode().Perm()&0o077 != 0 {
			os.Chmod(keyPath, 0o600)
		}
	}

	t, err := readTail(f, size, key)
	if err != nil {
		return &WriteError{Step: "read", Path: logPath, Err: err}
	}
	var lastSeq uint64
	var lastMAC, lastPrev string
	if t.last != nil {
		lastSeq, lastMAC, lastPrev = t.last.Seq, t.last.MAC, t.last.Prev
	}
	h := parseHead(rawHead, headPresent, key)

	// Decide what the new entry chains from, and whether to record an anomaly.
	anchorSeq, anchorMAC := lastSeq, lastMAC
	var anomaly *Event
	switch judgeHead(h, lastSeq, lastMAC, lastPrev, t.onlyLine) {
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

	now := l.opts.Now().UTC().Round(0)
	var buf []byte
	if !t.clean {
		buf = append(buf, '\n') // leave a torn line as evidence; start afresh
	}
	batch := make([]*Event, 0, len(events)+1)
	if anomaly != nil {
		anomaly.PID, anomaly.Process = events[0].PID, events[0].Process
		batch = append(batch, anomaly)
	}
	for i := range events {
		batch = append(batch, &events[i])
	}
	for _, ev := range batch {
		ev.Seq = anchorSeq + 1
		ev.Prev = anchorMAC
		ev.Time = now
		line, err := sign(key, ev)
		if err != nil {
			return &WriteError{Step: "encode event", Err: err}
		}
		buf = append(append(buf, line...), '\n')
		anchorSeq, anchorMAC = ev.Seq, ev.MAC
	}

	if _, err := f.Write(buf); err != nil {
		return &WriteError{Step: "append to", Path: logPath, Err: err}
	}
	if err := f.Sync(); err != nil {
		return &WriteError{Step: "sync", Path: logPath, Err: err}
	}
	if created {
		if err := fsx.SyncDir(dir); err != nil {
			return &WriteError{Step: "sync", Path: dir, Err: err}
		}
	}
	last := batch[len(batch)-1]
	if err := fsx.WriteFileAtomic(headPath, encodeHead(key, last.Seq, last.MAC), 0o600); err != nil {
		return &WriteError{Step: "update checkpoint", Path: headPath, Recorded: true, Err: err}
	}
	return nil
}
