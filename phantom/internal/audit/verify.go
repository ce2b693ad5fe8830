package audit

import (
	"crypto/hmac"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"phantomstack.dev/shared/fsx"
)

// Problem kinds reported by Verify.
const (
	KindMalformed    = "malformed"             // the line is not an entry (bad JSON, torn, too long)
	KindModified     = "modified"              // the entry's MAC does not match its content, or its text was rewritten
	KindInserted     = "inserted-or-reordered" // an entry the chain runs past: forged, copied or moved
	KindSequenceGap  = "sequence-gap"          // seq jumps although the entry links to its predecessor
	KindDeleted      = "deleted"               // entries are missing before this line
	KindHeadMismatch = "head-mismatch"         // the checkpoint does not name the log's last entry
	KindHeadMissing  = "head-missing"          // no checkpoint although the log has entries
	KindHeadInvalid  = "head-invalid"          // the checkpoint does not parse or its signature fails
	KindKeyMissing   = "key-missing"           // audit.key is gone: nothing can be verified
	KindKeyInvalid   = "key-invalid"           // audit.key is not a key
	KindKeyMismatch  = "key-mismatch"          // audit.key is not where the chain from a vault's anchor leads: replaced, re-chained or rolled back
	KindOtherLog     = "vault-other-log"       // the vault's mark names another log (or none this home has)
	KindMarkAhead    = "vault-mark-ahead"      // the vault's mark names an entry the log does not have (truncated, rolled back, replaced)
	KindVaultMoved   = "vault-moved"           // an audit.vault-moved/-ahead entry no audit.adopt has answered
)

// maxProblems caps Report.Problems; the rest are counted in Report.Omitted.
const maxProblems = 1000

// maxPending bounds how many unresolved lines Verify holds while looking for
// the chain to continue.
const maxPending = 4096

// Problem is one finding. Line is the 1-based line in audit.log, or 0 for a
// problem with audit.head or audit.key as a whole. Msg names the line and says
// what is wrong and what it means.
type Problem struct {
	Line int    `json:"line"`
	Kind string `json:"kind"`
	Msg  string `json:"message"`
}

// Checkpoint is the content of audit.head.
type Checkpoint struct {
	Seq uint64 `json:"seq"`
	MAC string `json:"mac"`
}

// Report is the result of Verify.
type Report struct {
	Lines    int         `json:"lines"`             // lines read from audit.log
	Verified int         `json:"verified"`          // entries whose MAC verifies and that sit in the chain
	Head     *Checkpoint `json:"head,omitempty"`    // audit.head as found (nil when missing or unreadable)
	Problems []Problem   `json:"problems"`          // sorted by line; empty when OK
	Omitted  int         `json:"omitted,omitempty"` // problems beyond the first 1000
	Notes    []string    `json:"notes,omitempty"`   // benign findings, e.g. a head one entry behind after a crash
	KeyFound bool        `json:"key_found"`         // false: audit.key is missing or invalid
	Dir      string      `json:"dir"`               // the directory verified
	Empty    bool        `json:"empty"`             // nothing has been recorded yet
	LogID    string      `json:"log_id,omitempty"`  // the log's identity ("" before the ratchet started)
	// MACsFrom is the first seq whose MAC could be checked: 1 for a
	// pre-ratchet log (one fixed key), a vault's anchor when a mark was
	// given, else audit.key's seq (normally past the end: nothing checked).
	MACsFrom uint64      `json:"macs_from,omitempty"`
	Mark     *MarkResult `json:"vault_mark,omitempty"` // the vault mark's check, when a mark was given
}

// Mark is a vault's audit position (vault.AuditMark): the log it names, the
// last entry it recorded, and the first entry it recorded in that log with
// the key that signed it (the anchor the chain is re-derived from).
type Mark struct {
	Project   string
	LogID     string
	Seq       uint64
	MAC       string
	AnchorSeq uint64
	AnchorKey []byte
}

// MarkResult is what Verify made of a Mark.
type MarkResult struct {
	Project string `json:"project,omitempty"`
	LogID   string `json:"log_id"`
	Seq     uint64 `json:"seq"`
	// Result: "ok", "other-log" (KindOtherLog), "ahead" (KindMarkAhead).
	Result string `json:"result"`
}

// VerifyOptions adds what only the owner holds to Verify.
type VerifyOptions struct {
	// Mark is the opened vault's audit mark; nil: check what audit.key allows.
	Mark *Mark
}

// OK reports whether the log verified without problems.
func (r Report) OK() bool { return len(r.Problems) == 0 && r.Omitted == 0 }

// MarshalJSON adds "ok" to the report's fields.
func (r Report) MarshalJSON() ([]byte, error) {
	type plain Report
	return json.Marshal(struct {
		OK bool `json:"ok"`
		plain
	}{r.OK(), plain(r)})
}

// snap is a consistent view of the log directory taken under the writer lock.
type snap struct {
	key        keyState
	keyErr     error
	rawHead    []byte
	headExists bool
	log        *os.File // nil when audit.log does not exist
	size       int64
	note       string
}

// takeSnapshot reads the key and head and records the log's size under the
// writer lock, then releases it; the caller reads the log up to size. When the
// directory holds neither a log nor a head it returns ok=false and creates
// nothing.
func takeSnapshot(dir, owner string) (s snap, ok bool, err error) {
	logPath := filepath.Join(dir, LogFile)
	headPath := filepath.Join(dir, HeadFile)
	_, lerr := os.Lstat(logPath)
	_, herr := os.Lstat(headPath)
	if errors.Is(lerr, fs.ErrNotExist) && errors.Is(herr, fs.ErrNotExist) {
		return s, false, nil
	}
	lockPath := filepath.Join(dir, LockFile)
	lock, err := fsx.AcquireLock(lockPath, DefaultLockTimeout, owner)
	switch {
	case errors.Is(err, fsx.ErrLockTimeout):
		return s, false, fmt.Errorf("audit log: %w", err)
	case err != nil:
		// A read-only directory: read without the lock.
		s.note = fmt.Sprintf("could not take %s (%v); the log was read without it", lockPath, err)
	default:
		defer lock.Release()
	}
	s.key, s.keyErr = readKey(filepath.Join(dir, KeyFile))
	if s.keyErr != nil && !errors.Is(s.keyErr, errKeyMissing) && !errors.Is(s.keyErr, errKeyInvalid) {
		return s, false, fmt.Errorf("audit log: read %s: %w", filepath.Join(dir, KeyFile), s.keyErr)
	}
	if s.rawHead, s.headExists, err = readOptional(headPath); err != nil {
		return s, false, fmt.Errorf("audit log: read %s: %w", headPath, err)
	}
	f, err := os.Open(logPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return s, false, fmt.Errorf("audit log: open %s: %w", logPath, err)
	default:
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return s, false, fmt.Errorf("audit log: stat %s: %w", logPath, err)
		}
		s.log, s.size = f, st.Size()
	}
	return s, true, nil
}

// Verify checks the audit log in dir with what the directory alone offers:
// the order of the chain (seq and prev), the head checkpoint with the key in
// audit.key, and MACs only where audit.key can derive their keys (a
// pre-ratchet log: all; otherwise only entries a crash left behind the key).
// VerifyWith and a vault's mark check the MACs from the vault's anchor on.
// The error is for I/O failures only; findings are in the Report. A
// directory with no log and no head verifies as empty.
func Verify(dir string) (Report, error) { return VerifyWith(dir, VerifyOptions{}) }

// VerifyWith is Verify with a vault's mark: when the mark names this log, the
// keys are re-derived from the mark's anchor, so every entry from the anchor
// on, the head and audit.key itself are checked against a key the files do
// not hold; the mark's entry must be in the chain.
func VerifyWith(dir string, o VerifyOptions) (Report, error) {
	rep := Report{Dir: dir, Problems: []Problem{}}
	s, ok, err := takeSnapshot(dir, "phantom audit verify")
	if err != nil {
		return rep, err
	}
	if !ok {
		rep.Empty = true
		if o.Mark != nil && o.Mark.LogID != "" {
			v := &verifier{keyFor: noKey, rep: &rep}
			v.checkMark(o.Mark, "")
		}
		return rep, nil
	}
	if s.log != nil {
		defer s.log.Close()
	}
	if s.note != "" {
		rep.Notes = append(rep.Notes, s.note)
	}
	ks, haveKey := s.key, s.keyErr == nil
	rep.KeyFound = haveKey
	logID := ks.logID
	if logID == "" && !ks.legacy {
		// No usable key file: take the identity the head claims.
		logID = parseHead(s.rawHead, s.headExists, false, nil, nil).logID
	}
	rep.LogID = logID
	v := &verifier{keyFor: noKey, rep: &rep}
	limit := uint64(s.size/64) + maxRatchetAhead // no entry line is shorter than 64 bytes
	m := o.Mark
	useMark := m != nil && logID != "" && m.LogID == logID && m.AnchorSeq > 0 && len(m.AnchorKey) == keyLen
	var legacyKey []byte
	switch {
	case useMark:
		r := newRatchet(m.AnchorSeq, m.AnchorKey, m.AnchorSeq+limit)
		v.keyFor = r.key
		rep.MACsFrom = m.AnchorSeq
		if haveKey && !ks.legacy {
			switch k := r.key(ks.seq); {
			case ks.seq < m.AnchorSeq:
				v.add(0, KindKeyMismatch, fmt.Sprintf("%s is at seq %d, before this vault's first entry in the log (seq %d): it was restored from an earlier copy, so the log was rolled back or replaced", KeyFile, ks.seq, m.AnchorSeq))
			case k == nil || !hmacEqual(k, ks.key):
				v.add(0, KindKeyMismatch, fmt.Sprintf("%s (at seq %d) is not the key the chain from this vault's first entry (seq %d) leads to: the key file was replaced, so the log was re-chained, rolled back or replaced", KeyFile, ks.seq, m.AnchorSeq))
			}
		}
	case haveKey && ks.legacy:
		legacyKey = ks.key
		v.keyFor = func(uint64) []byte { return legacyKey }
		rep.MACsFrom = 1
	case haveKey:
		r := newRatchet(ks.seq, ks.key, ks.seq+limit)
		v.keyFor = r.key
		rep.MACsFrom = ks.seq
	}
	check := useMark || haveKey
	var h head
	if check {
		h = parseHead(s.rawHead, s.headExists, true, legacyKey, v.keyFor)
		if h.valid && logID != "" && h.logID != logID {
			h.valid, h.why = false, "it names another log"
		}
	} else {
		h = parseHead(s.rawHead, s.headExists, false, nil, nil)
	}
	if h.present && (h.valid || h.why == "its signature does not match") {
		rep.Head = &Checkpoint{Seq: h.seq, MAC: h.mac}
	}
	if m != nil {
		v.mark = m
	}
	if haveKey && !ks.legacy && h.valid && ks.seq == h.seq+1 {
		v.behind, v.headSeq, v.headMAC = true, h.seq, h.mac
	}
	if s.log != nil {
		lr := newLineReader(io.LimitReader(s.log, s.size))
		for n := 1; ; n++ {
			line, complete, tooLong, err := lr.next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return rep, fmt.Errorf("audit log: read %s: %w", filepath.Join(dir, LogFile), err)
			}
			v.line(n, line, complete, tooLong)
		}
	}
	if !haveKey && (rep.Lines > 0 || h.present) {
		if errors.Is(s.keyErr, errKeyInvalid) {
			v.add(0, KindKeyInvalid, fmt.Sprintf("%s is not a valid key: the key file was edited or replaced; the order of the chain was still checked", KeyFile))
		} else {
			v.add(0, KindKeyMissing, fmt.Sprintf("%s is missing: the key was deleted or moved, so no new entry can be signed; the order of the chain was still checked", KeyFile))
		}
	}
	rep.Empty = rep.Lines == 0 && !h.present
	v.finish(h)
	if haveKey && !ks.legacy && v.a.seq >= ks.seq {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%s is behind the log (seq %d; the log ends at seq %d): a write was interrupted before the key file moved on; the next append repairs it", KeyFile, ks.seq, v.a.seq))
	}
	v.finishMoved()
	if m != nil {
		v.checkMark(m, logID)
	}
	if !useMark && logID != "" && v.a.seq > 0 && rep.MACsFrom > 1 {
		from := rep.MACsFrom
		if m == nil || m.LogID != logID {
			rep.Notes = append(rep.Notes, fmt.Sprintf("entries before seq %d were checked for order only: the keys that signed them are erased (forward security); run 'phantom audit verify' in a project whose vault you can open to check their MACs from that vault's first entry on", from))
		}
	} else if useMark && m.AnchorSeq > 1 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("entries before seq %d (this vault's first entry in the log) were checked for order only", m.AnchorSeq))
	}
	sort.SliceStable(rep.Problems, func(i, j int) bool { return rep.Problems[i].Line < rep.Problems[j].Line })
	return rep, nil
}

func noKey(uint64) []byte { return nil }

func hmacEqual(a, b []byte) bool { return len(a) == len(b) && hmac.Equal(a, b) }

// checkMark compares the vault's mark with the log (after the pass).
func (v *verifier) checkMark(m *Mark, logID string) {
	res := &MarkResult{Project: m.Project, LogID: m.LogID, Seq: m.Seq, Result: "ok"}
	v.rep.Mark = res
	proj := "this project's vault"
	if m.Project != "" {
		proj = "the vault of project " + m.Project
	}
	switch {
	case m.LogID != logID:
		res.Result = "other-log"
		here := "this home has no audit log"
		if logID != "" {
			here = "this home's log is " + logID
		}
		v.add(0, KindOtherLog, fmt.Sprintf("%s was last written with audit log %s (at seq %d), but %s: the vault was used and written under another PHANTOM_HOME, or this home's log was deleted or replaced. If you moved the vault or PHANTOM_HOME yourself, run 'phantom audit adopt' on your terminal", proj, m.LogID, m.Seq, here))
	case m.Seq == 0 || v.markSeen && v.markMatch:
		// Seq 0: an anchor without a recorded position.
	case v.a.seq < m.Seq:
		res.Result = "ahead"
		v.add(0, KindMarkAhead, fmt.Sprintf("%s was last written at seq %d, but the log ends at seq %d: the log was truncated or rolled back to an earlier copy (entries after seq %d are gone). Keep a copy of %s for an investigation; 'phantom audit adopt' accepts the log as it is", proj, m.Seq, v.a.seq, v.a.seq, v.rep.Dir))
	case !v.markSeen:
		res.Result = "ahead"
		v.add(0, KindMarkAhead, fmt.Sprintf("%s was last written at seq %d, but the log's chain has no entry seq %d: it was deleted or the log was replaced. Keep a copy of %s for an investigation; 'phantom audit adopt' accepts the log as it is", proj, m.Seq, m.Seq, v.rep.Dir))
	default:
		res.Result = "ahead"
		v.add(0, KindMarkAhead, fmt.Sprintf("%s was last written at seq %d, but the log's entry seq %d is not the one it recorded: the log was replaced or re-chained. Keep a copy of %s for an investigation; 'phantom audit adopt' accepts the log as it is", proj, m.Seq, m.Seq, v.rep.Dir))
	}
}

// finishMoved reports vault-moved entries no adopt answered.
func (v *verifier) finishMoved() {
	for _, ls := range v.moved {
		for _, p := range ls {
			v.add(p.line, KindVaultMoved, fmt.Sprintf("line %d: %s; a human has not accepted it yet (run 'phantom audit adopt' in that project if it was you)", p.line, p.detail))
		}
	}
}

type pendKind int

const (
	pendMalformed pendKind = iota // not an entry
	pendForged                    // parses, MAC does not verify: its fields are claims
	pendValid                     // MAC verifies but it does not follow the chain (yet)
)

// pend is a line that does not continue the chain; it is classified once the
// chain shows where it continues (the next linking entry, or the head).
type pend struct {
	line  int
	kind  pendKind
	ev    Event
	why   string // malformed: the reason
	atEOF bool   // malformed: the file ends inside this line
}

// anchor is the last entry of the chain as verified so far.
type anchor struct {
	seq       uint64
	mac, prev string
	line      int
}

type verifier struct {
	keyFor  func(seq uint64) []byte // nil result: that entry's MAC cannot be checked (order only)
	rep     *Report
	a       anchor
	pending []pend

	// behind: the head may be a checkpoint whose update failed (valid, and
	// audit.key at the key right after it); headSeen: the chain holds the
	// head's entry. See checkpointBehind in append.go.
	behind, headSeen    bool
	headSeq             uint64
	headMAC             string
	mark                *Mark // the vault's mark, to be found in the chain
	markSeen, markMatch bool
	moved               map[string][]movedEntry // project → vault-moved entries not yet adopted
}

type movedEntry struct {
	line   int
	detail string
}

func (v *verifier) add(line int, kind, msg string) {
	if len(v.rep.Problems) >= maxProblems {
		v.rep.Omitted++
		return
	}
	v.rep.Problems = append(v.rep.Problems, Problem{Line: line, Kind: kind, Msg: msg})
}

func (v *verifier) line(n int, raw []byte, complete, tooLong bool) {
	v.rep.Lines++
	if tooLong {
		v.hold(pend{line: n, kind: pendMalformed, why: fmt.Sprintf("longer than %d bytes", maxLineLen), atEOF: !complete})
		return
	}
	e, err := decodeLine(raw)
	if err != nil {
		v.hold(pend{line: n, kind: pendMalformed, why: err.Error(), atEOF: !complete})
		return
	}
	if k := v.keyFor(e.Seq); k != nil && !macValid(k, e) {
		v.hold(pend{line: n, kind: pendForged, ev: e})
		return
	}
	if !isCanonical(raw, e) {
		v.add(n, KindModified, fmt.Sprintf("line %d: entry text was altered: its fields match its MAC, but it is not byte-for-byte what phantom writes (keys added, duplicated or renamed, or the line re-formatted)", n))
	}
	if v.links(e.Seq, e.Prev) {
		v.flushNotInChain(v.pending)
		v.pending = nil
		v.setAnchor(e, n)
		return
	}
	if i := v.findPending(e.Seq, e.Prev); i >= 0 {
		v.resolveThrough(i)
		v.setAnchor(e, n)
		return
	}
	v.hold(pend{line: n, kind: pendValid, ev: e})
}

func (v *verifier) hold(p pend) {
	v.pending = append(v.pending, p)
	if len(v.pending) > maxPending {
		v.flushGeneric(v.pending[:1])
		v.pending = v.pending[1:]
	}
}

// links reports whether an entry with seq and prev directly follows the anchor.
func (v *verifier) links(seq uint64, prev string) bool {
	return seq == v.a.seq+1 && prev == v.a.mac
}

// findPending returns the index of the latest held entry (valid, or forged by
// its claims) that an entry with seq and prev follows, and that lies ahead of
// the anchor; -1 if none.
func (v *verifier) findPending(seq uint64, prev string) int {
	for i := len(v.pending) - 1; i >= 0; i-- {
		p := v.pending[i]
		if p.kind != pendMalformed && p.ev.Seq > v.a.seq && p.ev.Seq+1 == seq && p.ev.MAC == prev {
			return i
		}
	}
	return -1
}

func (v *verifier) setAnchor(e Event, line int) {
	v.a = anchor{seq: e.Seq, mac: e.MAC, prev: e.Prev, line: line}
	if v.keyFor(e.Seq) != nil {
		v.rep.Verified++
	}
	if v.behind && e.Seq == v.headSeq && e.MAC == v.headMAC {
		v.headSeen = true
	}
	if v.mark != nil && e.Seq == v.mark.Seq {
		v.markSeen, v.markMatch = true, e.MAC == v.mark.MAC
	}
	switch e.Op {
	case OpVaultMoved, OpVaultAhead:
		if v.moved == nil {
			v.moved = map[string][]movedEntry{}
		}
		v.moved[e.Project] = append(v.moved[e.Project], movedEntry{line, e.Detail})
	case OpAdopt:
		delete(v.moved, e.Project)
	case OpRatchetStart:
		v.rep.Notes = append(v.rep.Notes, fmt.Sprintf("line %d: the key ratchet started at seq %d; the entries before it were signed with one fixed key, now erased: %s", line, e.Seq, e.Detail))
	}
	if strings.HasPrefix(e.Op, anomalyPrefix) {
		v.add(line, strings.TrimPrefix(e.Op, "audit."), fmt.Sprintf("line %d: when this entry was written, %s", line, e.Detail))
	}
}

// resolveThrough handles the chain continuing through held entry i: entry i
// belongs to the chain; the held lines before and after it do not.
func (v *verifier) resolveThrough(i int) {
	p := v.pending[i]
	before, after := v.pending[:i], v.pending[i+1:]
	stand := 0 // unreadable lines between the anchor and p that may be the missing entries
	for _, b := range before {
		if b.kind != pendValid {
			stand++
		}
	}
	missing := p.ev.Seq - v.a.seq - 1 // findPending guarantees p.ev.Seq > v.a.seq
	switch {
	case v.links(p.ev.Seq, p.ev.Prev):
		v.flushNotInChain(before)
	case missing > 0 && uint64(stand) >= missing:
		// The unreadable lines stand where the missing entries were.
		v.flushGeneric(before)
	case missing > 0 && p.ev.Prev == v.a.mac:
		v.flushNotInChain(before)
		v.add(p.line, KindSequenceGap, fmt.Sprintf("line %d: seq jumps from %d to %d although the entry links to the one before it (line %d): the sequence numbers were rewritten", p.line, v.a.seq, p.ev.Seq, v.a.line))
	case missing > 0:
		v.flushNotInChain(before)
		v.add(p.line, KindDeleted, fmt.Sprintf("line %d: %s (%s) %s missing before this line: %s deleted", p.line, entries(missing), seqRange(v.a.seq+1, p.ev.Seq-1), isAre(missing), itThey(missing)))
	default:
		v.flushNotInChain(before)
		v.add(p.line, KindInserted, fmt.Sprintf("line %d: entry seq %d does not link to the entry before it (line %d): its prev MAC names another entry, so entries were replaced or spliced in here", p.line, p.ev.Seq, v.a.line))
	}
	if p.kind == pendForged {
		v.add(p.line, KindModified, fmt.Sprintf("line %d: entry was modified (its MAC does not match its content)", p.line))
		v.a = anchor{seq: p.ev.Seq, mac: p.ev.MAC, prev: p.ev.Prev, line: p.line}
	} else {
		v.setAnchor(p.ev, p.line)
	}
	v.flushNotInChain(after)
	v.pending = nil
}

// flushNotInChain reports held lines that the chain runs past.
func (v *verifier) flushNotInChain(ps []pend) {
	for _, p := range ps {
		switch p.kind {
		case pendMalformed:
			v.malformed(p)
		case pendForged:
			v.add(p.line, KindInserted, fmt.Sprintf("line %d: entry was inserted: its MAC does not verify (phantom did not write it) and the entries around it chain without it", p.line))
		default:
			v.add(p.line, KindInserted, fmt.Sprintf("line %d: entry seq %d is out of place: the entries around it chain without it, so a valid entry was copied here or entries were reordered", p.line, p.ev.Seq))
		}
	}
}

// flushGeneric reports held lines when the chain gives no more context.
func (v *verifier) flushGeneric(ps []pend) {
	for _, p := range ps {
		switch {
		case p.kind == pendMalformed:
			v.malformed(p)
		case p.kind == pendForged:
			v.add(p.line, KindModified, fmt.Sprintf("line %d: entry was modified or forged (its MAC does not match its content)", p.line))
		case p.ev.Seq > v.a.seq+1:
			missing := p.ev.Seq - v.a.seq - 1
			v.add(p.line, KindDeleted, fmt.Sprintf("line %d: entry seq %d does not follow seq %d (line %d): %s (%s) %s missing before it, or it was copied here", p.line, p.ev.Seq, v.a.seq, v.a.line, entries(missing), seqRange(v.a.seq+1, p.ev.Seq-1), isAre(missing)))
		default:
			v.add(p.line, KindInserted, fmt.Sprintf("line %d: entry seq %d does not follow the entry before it (seq %d, line %d): a valid entry was copied here or entries were reordered", p.line, p.ev.Seq, v.a.seq, v.a.line))
		}
	}
}

func (v *verifier) malformed(p pend) {
	if p.atEOF {
		v.add(p.line, KindMalformed, fmt.Sprintf("line %d is incomplete (%s; the file ends inside it): a write was interrupted or the log was truncated", p.line, p.why))
		return
	}
	v.add(p.line, KindMalformed, fmt.Sprintf("line %d is not a valid audit entry (%s): it was corrupted or edited, or a write was interrupted", p.line, p.why))
}

// finish compares the end of the chain with the head checkpoint.
func (v *verifier) finish(h head) {
	onlyLine := v.rep.Lines == 1 && v.a.line == 1
	verdict := judgeHead(h, v.a.seq, v.a.mac, v.a.prev, onlyLine)
	switch verdict {
	case headMatches:
		v.flushNotInChain(v.pending)
		return
	case headLags:
		v.flushNotInChain(v.pending)
		if h.present {
			v.rep.Notes = append(v.rep.Notes, fmt.Sprintf("%s is one entry behind the log (seq %d; the log ends at seq %d): a write was interrupted between appending and updating the checkpoint; the next append repairs it", HeadFile, h.seq, v.a.seq))
		} else {
			v.rep.Notes = append(v.rep.Notes, fmt.Sprintf("%s is missing while the log holds only its first entry: a write was interrupted before the first checkpoint; the next append repairs it", HeadFile))
		}
		return
	case headMissing:
		v.flushGeneric(v.pending)
		v.add(0, KindHeadMissing, fmt.Sprintf("%s is missing while the log holds entries up to seq %d: the checkpoint was deleted, so entries removed from the end of the log would go unnoticed", HeadFile, v.a.seq))
		return
	case headInvalid:
		v.flushGeneric(v.pending)
		v.add(0, KindHeadInvalid, fmt.Sprintf("%s does not verify (%s): the checkpoint was edited or forged, so the end of the log cannot be checked", HeadFile, h.why))
		return
	}
	if verdict == headMismatch && v.headSeen && h.seq < v.a.seq {
		v.flushNotInChain(v.pending)
		v.rep.Notes = append(v.rep.Notes, fmt.Sprintf("%s is %s behind the log (seq %d; the log ends at seq %d): updating the checkpoint failed after the entries were written (e.g. the disk was full), so %s did not move on either; every later entry is in the log and verifies; the next append repairs both", HeadFile, entries(v.a.seq-h.seq), h.seq, v.a.seq, KeyFile))
		return
	}
	if i := v.findPending(h.seq+1, h.mac); i >= 0 {
		v.resolveThrough(i) // the head names a held entry: classify through it
		return
	}
	stand := 0
	for _, p := range v.pending {
		if p.kind != pendValid {
			stand++
		}
	}
	v.flushGeneric(v.pending)
	line := v.a.line
	if line == 0 {
		line = v.rep.Lines
	}
	if verdict == headAhead {
		missing := h.seq - v.a.seq
		if uint64(stand) >= missing {
			return // the torn or unreadable trailing lines are those entries; already reported
		}
		if v.a.seq == 0 {
			v.add(line, KindHeadMismatch, fmt.Sprintf("%s holds no entry that verifies, but %s records seq %d: the log was emptied, replaced or truncated", LogFile, HeadFile, h.seq))
			return
		}
		v.add(line, KindHeadMismatch, fmt.Sprintf("line %d: the log ends with seq %d here, but %s records seq %d: the last %s (%s) %s deleted or the log was truncated", line, v.a.seq, HeadFile, h.seq, entries(missing), seqRange(v.a.seq+1, h.seq), wasWere(missing)))
		return
	}
	v.add(line, KindHeadMismatch, fmt.Sprintf("line %d: the log ends with seq %d here, but %s records seq %d with a MAC that names no entry there: the log or the checkpoint was replaced by another copy", line, v.a.seq, HeadFile, h.seq))
}

func entries(n uint64) string {
	if n == 1 {
		return "1 entry"
	}
	return fmt.Sprintf("%d entries", n)
}

func isAre(n uint64) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

func seqRange(a, b uint64) string {
	if a == b {
		return fmt.Sprintf("seq %d", a)
	}
	return fmt.Sprintf("seq %d–%d", a, b)
}

func itThey(n uint64) string {
	if n == 1 {
		return "it was"
	}
	return "they were"
}

func wasWere(n uint64) string {
	if n == 1 {
		return "was"
	}
	return "were"
}
