// Package audit keeps phantom's tamper-evident audit log.
//
// Every vault operation appends one Event to $PHANTOM_HOME/audit.log. An event
// records what happened to which secret name, when, and by which process. It
// NEVER carries a secret value, a phm token, a passphrase or key material:
// Name is a secret's name, Detail is short free text (a file name, a count, a
// result such as "failed: vault locked"). Callers must keep it that way; the
// API takes no value and the package cannot tell a value from a name.
//
// # Files (all in the log directory, mode 0600, directory 0700)
//
//	audit.log   JSON Lines, one Event per line, append-only, fsync'd per append.
//	audit.key   {"log":"<32 hex>","seq":N,"key":"<64 hex>"} and "\n": the log's
//	            random identity and k[N], the key of the NEXT entry. Created
//	            before the first entry; replaced atomically (fsx.WriteFileAtomic)
//	            after every append, so no key that signed an existing entry
//	            stays on disk. (A log written before the ratchet has 64 hex
//	            digits here: one fixed key; see Migration.)
//	audit.head  {"log":"<id>","seq":N,"mac":"<MAC of entry N>","sig":"<hex>"}
//	            and "\n", replaced atomically after every append; sig =
//	            HMAC-SHA256(k[N+1], "phantom-audit-head-v2\x00" + log + "\x00" +
//	            decimal N + "\x00" + mac), i.e. signed with the key audit.key
//	            holds once the append is complete.
//	audit.lock  the flock that serialises writers (fsx.AcquireLock).
//
// # Chain
//
// Seq starts at 1 and grows by one. Prev is the MAC of the previous entry (""
// for the first). MAC = hex(HMAC-SHA256(k[Seq], canonical)) where canonical is
// the encoding/json encoding of the Event with MAC set to "": keys in
// declaration order seq, time, op, project, name, detail, pid, process, prev,
// mac (project, name and detail omitted when empty), no insignificant spaces,
// strings escaped as encoding/json does (including \u003c, \u003e, \u0026),
// time in UTC as RFC 3339 with nanoseconds. The line on disk is the same
// encoding with mac filled in; Verify requires each line to be byte-for-byte
// that encoding, so duplicate keys, case-folded keys, extra fields or
// re-formatting are reported even when the MAC over the decoded fields still
// matches.
//
// # Forward security
//
// The key ratchets: k[n+1] = HMAC-SHA256(k[n], "next"). Append signs each new
// entry with its own key, writes the log (fsync), then the head signed with
// the key after the last entry, then audit.key with that key. Whoever reads
// audit.key learns k[last+1]: it can sign future entries, not re-sign past
// ones. The order head-then-key is crash safe: after a crash between them
// audit.key is behind and derives the head's key (Verify notes it; the next
// append moves it on).
//
// A verifier needs an earlier key, which this directory no longer has. It
// comes from a vault (package vault's AuditMark): Record returns the
// Position of its entries with the key of the first one; a vault stores the
// first position it recorded in this log (its anchor) and the last one.
// VerifyWith re-derives every key from the anchor, so it checks every MAC
// from there, the head's signature, that audit.key is where the chain leads
// (a re-chained or rolled-back log fails) and that the vault's last write is
// in the chain. Verify alone checks the order of the chain and the head with
// audit.key, and the MACs only of entries audit.key can derive (a crash
// tail), and says so. Several vaults (projects) share one log; each anchors
// where it joined.
//
// # Migration
//
// A log written with one fixed key (audit.key = 64 hex digits, head without
// "log") verifies as before until the first append by this code, which gives
// the log an identity and starts the ratchet from the fixed key (k[n] = the
// fixed key for the first new entry n, an OpRatchetStart entry whose detail
// says whether the old entries verified with the fixed key at that moment).
// audit.key is then replaced, so the fixed key is erased and the old entries
// are order-only from then on: keeping it would keep them forgeable.
//
// # Decisions
//
//   - Torn lines. A crash can leave a last line without its newline. Append
//     keeps it (truncating would destroy evidence), starts its own line on a
//     fresh line, and chains from the last entry it can trust (its MAC
//     verifies with a key audit.key derives, or the head names it); Verify
//     reports the torn line as malformed. A crash can never make the log look
//     clean when it is not; it can make verify fail on a torn line.
//   - Head lag. A crash between appending and rewriting audit.head leaves the
//     head one entry behind. That is not tampering (the extra entry carries a
//     valid MAC), so Verify notes it and the next Append rewrites the head.
//     A failed head write (a full disk) can leave it further behind: a batch
//     of entries, or several appends while the disk stays full. Because
//     audit.key moves on only after the head, that case has a signature:
//     the head is valid, names an entry of the chain, audit.key is at the
//     key right after the head, and every later entry chains from the head's
//     and verifies with a key audit.key derives. Verify notes it and Append
//     treats it as a lag (checkpointBehind); nothing was hidden, since an
//     older head with a complete log removes no evidence. Anything else
//     behind the log is still a mismatch.
//   - Evidence is never healed. If Append finds audit.head ahead of the log
//     (entries deleted from the end), it chains the new entry from the head, so
//     the gap stays visible forever. If it finds the head missing, unverifiable
//     or disagreeing with the log, it first appends an "audit.head-missing",
//     "audit.head-invalid" or "audit.head-mismatch" entry describing what it
//     found, and Verify reports that entry as a problem. When audit.key has
//     moved past the log's end, the new entry's seq jumps to the key's seq.
//     So a tampered log keeps failing verify after later operations. To
//     start over after an investigation, move audit.log and audit.head aside
//     together. OpVaultMoved/OpVaultAhead entries (written by phantom when a
//     vault's mark does not fit this log) are reported until an OpAdopt entry
//     of the same project follows.
//   - Missing key. Append refuses (and returns an error) when audit.key is gone
//     but audit.log or audit.head exists: a new key would silently start a
//     chain nobody can link to the old one.
//   - Locking. Append holds the exclusive lock for read-tail, append, fsync,
//     head and key update. Verify and Read hold it only long enough to
//     snapshot the key, the head and the log's size, then read the log up to
//     that size without the lock (the log is append-only, so the prefix does
//     not change under a well-behaved writer), so verifying a large log does
//     not stall writers.
//
// # Limits of tamper evidence
//
// The ratchet protects the past against whoever reads audit.key later; it
// does not stop anyone from appending with the current key. Whoever can open
// a vault holds its anchor key and can re-sign entries from that anchor on
// (it can also decrypt every value). Without a vault, a log re-chained with
// the read key and audit.key relabelled passes Verify's order-only check.
// Replacing log, head and key with an earlier copy of all three (a rollback)
// is detected only when a vault write happened after the copy (the vault's
// mark is ahead of the log); events after the last vault write can be rolled
// back undetectably. Deleting all three files is detected by any vault whose
// mark names the log. Off-machine anchoring of the head would be needed to
// close the rest. The log is evidence, not a defence against an attacker in
// full control of the account.
package audit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// File names inside the log directory.
const (
	LogFile  = "audit.log"
	KeyFile  = "audit.key"
	HeadFile = "audit.head"
	LockFile = "audit.lock"
)

// DefaultLockTimeout bounds how long Append waits for another writer.
const DefaultLockTimeout = 10 * time.Second

// Field limits. Op, Project, Name and Process longer than MaxFieldLen bytes
// make Append fail; a longer Detail is cut to MaxDetailLen bytes (ending in "…").
const (
	MaxFieldLen  = 256
	MaxDetailLen = 1024
)

// maxLineLen is the longest line the readers accept as a possible entry;
// anything longer is reported as malformed without being held in memory.
const maxLineLen = 64 << 10

// anomalyPrefix marks the entries Append writes itself when it finds the head
// checkpoint missing, unverifiable or disagreeing with the log. Callers may not
// use ops with this prefix, nor OpRatchetStart.
const anomalyPrefix = "audit.head-"

// Ops the log and its callers write about the log itself.
const (
	// OpRatchetStart is the first entry the ratchet signs in a log that was
	// written with a fixed key (see "Forward security"). Written by Append.
	OpRatchetStart = "audit.ratchet-start"
	// OpVaultMoved records that a vault whose audit mark names another log
	// (or no log this home has) was opened under this home. Verify reports
	// it until an OpAdopt entry for the same project follows.
	OpVaultMoved = "audit.vault-moved"
	// OpVaultAhead records that a vault's audit mark is ahead of this log
	// (the log was truncated or rolled back). Reported like OpVaultMoved.
	OpVaultAhead = "audit.vault-ahead"
	// OpAdopt records a human accepting this home's log as the vault's log
	// from now on (phantom audit adopt).
	OpAdopt = "audit.adopt"
)

// ErrAuditFailed is wrapped by every error Append returns, so callers can tell
// an audit failure from the operation's own errors with errors.Is.
var ErrAuditFailed = errors.New("audit log write failed")

// Event is one audit entry. It must never carry a secret value.
type Event struct {
	Seq     uint64    `json:"seq"`
	Time    time.Time `json:"time"`
	Op      string    `json:"op"`
	Project string    `json:"project,omitempty"`
	Name    string    `json:"name,omitempty"`   // secret name, never its value
	Detail  string    `json:"detail,omitempty"` // short free text, never a value
	PID     int       `json:"pid"`
	Process string    `json:"process"`
	Prev    string    `json:"prev"`
	MAC     string    `json:"mac"`
}

// Options configures a Log.
type Options struct {
	// Disabled makes Append a no-op (PHANTOM_AUDIT=0).
	Disabled bool
	// Required records that the project wants a failed audit write to fail the
	// operation ([phantom] audit = "required"). Append behaves the same either
	// way; the caller reads Required() to decide.
	Required bool
	// Process names the command for events and for the lock holder, e.g.
	// "phantom add". Default: the base name of os.Args[0].
	Process string
	// Now is the clock (default time.Now). Times are stored in UTC.
	Now func() time.Time
	// LockTimeout bounds the wait for other writers (default 10s).
	LockTimeout time.Duration
}

// Log appends events to the audit log in one directory. Open does no I/O; the
// directory and files are created by the first Append. A nil *Log is a
// disabled log. A Log is safe for concurrent use, and any number of Logs in
// any number of processes may append to the same directory.
type Log struct {
	dir  string
	opts Options
	mu   sync.Mutex
}

// Open returns the log kept in dir (normally $PHANTOM_HOME).
func Open(dir string, opts Options) *Log {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = DefaultLockTimeout
	}
	if opts.Process == "" && len(os.Args) > 0 {
		opts.Process = filepath.Base(os.Args[0])
	}
	return &Log{dir: dir, opts: opts}
}

// Dir is the log directory.
func (l *Log) Dir() string {
	if l == nil {
		return ""
	}
	return l.dir
}

// Enabled reports whether Append writes anything.
func (l *Log) Enabled() bool { return l != nil && !l.opts.Disabled }

// Required reports whether a failed Append must fail the operation.
func (l *Log) Required() bool { return l != nil && l.opts.Required && !l.opts.Disabled }

// WriteError is the error Append returns. It wraps ErrAuditFailed and the
// underlying cause.
type WriteError struct {
	Step string // what failed: "check event", "lock", "read key", "append to", ...
	Path string // the file involved, if any
	// Recorded is true when the event reached audit.log (fsync'd) but a later
	// step, updating audit.head, failed. The next Append repairs the head.
	Recorded bool
	Err      error
}

func (e *WriteError) Error() string {
	var b strings.Builder
	b.WriteString("audit log: ")
	b.WriteString(e.Step)
	if e.Path != "" {
		b.WriteString(" ")
		b.WriteString(e.Path)
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	if e.Recorded {
		b.WriteString(" (the event was recorded; only the checkpoint is behind: 'phantom audit verify' says so, and the next write updates it once it can, e.g. when the disk has room again)")
	}
	return b.String()
}

// Unwrap exposes both ErrAuditFailed and the cause to errors.Is and errors.As.
func (e *WriteError) Unwrap() []error { return []error{ErrAuditFailed, e.Err} }

// Append records e. It fills in Seq, Prev, MAC, Time (from Options.Now) and
// PID, and Process when e.Process is empty; values the caller set in those
// fields are overwritten. It returns nil without touching the disk when the log
// is disabled. The event is durable (fsync'd) when Append returns nil.
func (l *Log) Append(e Event) error { return l.AppendBatch([]Event{e}) }

// Position is where Record put its events: the log's identity, the first
// entry written (which may be one the log wrote itself, such as an anomaly
// or OpRatchetStart) with the key that signed it, and the last entry.
//
// FirstKey lets its holder verify every entry from First on — and sign
// entries there, so it must be kept where only the owner can read it (a vault
// payload) and never printed.
type Position struct {
	LogID    string
	First    uint64
	FirstKey []byte
	Last     uint64
	LastMAC  string
}

// Record is AppendBatch returning where the events landed. The zero Position
// comes back when the log is disabled. With an error whose Recorded is true
// the events are in the log and the Position is valid.
func (l *Log) Record(events ...Event) (Position, error) {
	if !l.Enabled() || len(events) == 0 {
		return Position{}, nil
	}
	events = append([]Event(nil), events...)
	for i := range events {
		e := &events[i]
		if err := prepare(e); err != nil {
			return Position{}, &WriteError{Step: "check event", Err: err}
		}
		if e.Process == "" {
			e.Process = l.opts.Process
		}
		if len(e.Process) > MaxFieldLen {
			e.Process = cut(e.Process, MaxFieldLen)
		}
		e.PID = os.Getpid()
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	if l.dir == "" {
		return Position{}, &WriteError{Step: "open", Err: errors.New("no log directory (PHANTOM_HOME is not set)")}
	}
	return l.appendLocked(events)
}

// AppendBatch records events in order under one lock and one fsync (the
// proxy's per-request events). It is all or nothing in the same sense as
// Append: when it returns nil every event is durable.
func (l *Log) AppendBatch(events []Event) error {
	_, err := l.Record(events...)
	return err
}

// prepare checks the caller's fields and trims Detail.
func prepare(e *Event) error {
	if e.Op == "" {
		return errors.New("event has no op")
	}
	if strings.HasPrefix(e.Op, anomalyPrefix) || e.Op == OpRatchetStart {
		return fmt.Errorf("op %q is reserved for the audit log itself", e.Op)
	}
	for _, f := range []struct{ name, v string }{{"op", e.Op}, {"project", e.Project}, {"name", e.Name}} {
		if len(f.v) > MaxFieldLen {
			return fmt.Errorf("%s is %d bytes long; the limit is %d", f.name, len(f.v), MaxFieldLen)
		}
	}
	if len(e.Detail) > MaxDetailLen {
		e.Detail = cut(e.Detail, MaxDetailLen)
	}
	return nil
}

// cut shortens s to at most n bytes on a rune boundary, ending in "…".
func cut(s string, n int) string {
	const ell = "…"
	i := n - len(ell)
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + ell
}

// Identity returns the log's identity and the seq its next entry gets, read
// from audit.key and audit.head without the lock (both are replaced
// atomically): a cheap check for commands that open a vault. id is "" when
// the directory has no ratchet log (none at all, or one written before the
// ratchet that no append has migrated yet).
func Identity(dir string) (id string, next uint64, err error) {
	ks, err := readKey(filepath.Join(dir, KeyFile))
	switch {
	case errors.Is(err, errKeyMissing), errors.Is(err, errKeyInvalid):
		return "", 0, nil
	case err != nil:
		return "", 0, fmt.Errorf("audit log: read %s: %w", filepath.Join(dir, KeyFile), err)
	case ks.legacy:
		return "", 0, nil
	}
	next = ks.seq
	// After a crash between writing the head and the key the head is ahead.
	if raw, ok, _ := readOptional(filepath.Join(dir, HeadFile)); ok {
		if h := parseHead(raw, true, false, nil, nil); h.valid && h.logID == ks.logID && h.seq >= next && h.seq-next < maxRatchetAhead {
			next = h.seq + 1
		}
	}
	return ks.logID, next, nil
}
