package audit

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

const keyLen = 32

// errKeyMissing and errKeyInvalid classify readKey failures.
var (
	errKeyMissing = errors.New("audit key is missing")
	errKeyInvalid = errors.New("audit key is not 64 hex digits")
)

// canonical is the byte string the MAC covers: the event's JSON with mac "".
func canonical(e Event) ([]byte, error) {
	e.MAC = ""
	return json.Marshal(e)
}

func computeMAC(key []byte, e Event) (string, error) {
	c, err := canonical(e)
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, key)
	m.Write(c)
	return hex.EncodeToString(m.Sum(nil)), nil
}

// sign fills e.MAC and returns the line (without newline).
func sign(key []byte, e *Event) ([]byte, error) {
	mac, err := computeMAC(key, *e)
	if err != nil {
		return nil, err
	}
	e.MAC = mac
	return json.Marshal(e)
}

// macValid reports whether e.MAC is the MAC of e's other fields under key.
func macValid(key []byte, e Event) bool {
	got, err := hex.DecodeString(e.MAC)
	if err != nil || len(got) != sha256.Size {
		return false
	}
	c, err := canonical(e)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, key)
	m.Write(c)
	return hmac.Equal(m.Sum(nil), got)
}

// isCanonical reports whether line is exactly the encoding Append writes for e.
func isCanonical(line []byte, e Event) bool {
	b, err := json.Marshal(e)
	return err == nil && bytes.Equal(b, line)
}

// decodeLine parses one line strictly: a single JSON object with only Event's
// fields. The error says why the line is not an entry.
func decodeLine(line []byte) (Event, error) {
	if len(line) > maxLineLen {
		return Event{}, fmt.Errorf("line is longer than %d bytes", maxLineLen)
	}
	if len(line) == 0 {
		return Event{}, errors.New("empty line")
	}
	if line[0] != '{' {
		return Event{}, errors.New("not a JSON object")
	}
	var e Event
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return Event{}, errors.New("the JSON object is cut short")
		}
		return Event{}, fmt.Errorf("invalid JSON: %v", strings.TrimPrefix(err.Error(), "json: "))
	}
	if _, err := dec.Token(); err != io.EOF {
		return Event{}, errors.New("data after the JSON object")
	}
	return e, nil
}

// ---- key ----

// keyState is the content of audit.key.
//
// A ratchet key file holds the log's identity and the key that signs the next
// entry: {"log":"<32 hex>","seq":N,"key":"<64 hex>"}. Each append signs entry n
// with k[n], derives k[n+1] = HMAC-SHA256(k[n], "next") and replaces the file,
// so a reader of the file learns no key that signed an existing entry.
//
// A legacy key file (64 hex digits) is the fixed key of a log written before
// the ratchet; the first append by this code starts the ratchet from it.
type keyState struct {
	legacy bool
	logID  string // 32 lowercase hex digits; "" for a legacy key
	seq    uint64 // the entry the key signs next
	key    []byte
}

type keyFileV2 struct {
	Log string `json:"log"`
	Seq uint64 `json:"seq"`
	Key string `json:"key"`
}

// nextKey is the ratchet step: k[n+1] = HMAC-SHA256(k[n], "next").
func nextKey(k []byte) []byte {
	m := hmac.New(sha256.New, k)
	m.Write([]byte("next"))
	return m.Sum(nil)
}

func isLogID(s string) bool {
	if len(s) != 32 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}

func readKey(path string) (keyState, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return keyState{}, errKeyMissing
	}
	if err != nil {
		return keyState{}, err
	}
	return parseKey(b)
}

func parseKey(b []byte) (keyState, error) {
	t := strings.TrimSpace(string(b))
	if !strings.HasPrefix(t, "{") {
		k, err := hex.DecodeString(t)
		if err != nil || len(k) != keyLen {
			return keyState{}, errKeyInvalid
		}
		return keyState{legacy: true, key: k}, nil
	}
	var w keyFileV2
	dec := json.NewDecoder(strings.NewReader(t))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return keyState{}, errKeyInvalid
	}
	if _, err := dec.Token(); err != io.EOF {
		return keyState{}, errKeyInvalid
	}
	k, err := hex.DecodeString(w.Key)
	if err != nil || len(k) != keyLen || !isLogID(w.Log) || w.Seq == 0 {
		return keyState{}, errKeyInvalid
	}
	return keyState{logID: w.Log, seq: w.Seq, key: k}, nil
}

func encodeKey(ks keyState) []byte {
	b, _ := json.Marshal(keyFileV2{Log: ks.logID, Seq: ks.seq, Key: hex.EncodeToString(ks.key)})
	return append(b, '\n')
}

// newKeyState makes the identity and first key of a new log.
func newKeyState() (keyState, error) {
	id := make([]byte, 16)
	key := make([]byte, keyLen)
	if _, err := rand.Read(id); err != nil {
		return keyState{}, err
	}
	if _, err := rand.Read(key); err != nil {
		return keyState{}, err
	}
	return keyState{logID: hex.EncodeToString(id), seq: 1, key: key}, nil
}

// writeKey replaces audit.key atomically (temporary file, fsync, rename,
// directory fsync). The replaced file's key is gone from the file system's
// view; blocks the storage keeps elsewhere (journal, SSD remapping) are out
// of reach of this code.
func writeKey(dir string, ks keyState) error {
	return writeFile(filepath.Join(dir, KeyFile), encodeKey(ks), 0o600)
}

// ratchet derives k[seq] for base <= seq <= limit from k[base]. limit bounds
// the work a hostile sequence number can cause. It keeps every 1024th key so
// going back costs at most 1023 steps.
type ratchet struct {
	base, limit uint64
	marks       [][]byte // k[base + i*ratchetStride]
	cur         uint64
	curKey      []byte
}

const ratchetStride = 1024

func newRatchet(base uint64, key []byte, limit uint64) *ratchet {
	k := bytes.Clone(key)
	return &ratchet{base: base, limit: limit, marks: [][]byte{k}, cur: base, curKey: k}
}

// key returns k[seq], or nil when seq is outside [base, limit] (or r is nil).
func (r *ratchet) key(seq uint64) []byte {
	if r == nil || seq < r.base || seq > r.limit {
		return nil
	}
	if seq < r.cur {
		i := (seq - r.base) / ratchetStride
		r.cur, r.curKey = r.base+i*ratchetStride, r.marks[i]
	}
	for r.cur < seq {
		r.curKey = nextKey(r.curKey)
		r.cur++
		if d := r.cur - r.base; d%ratchetStride == 0 && d/ratchetStride == uint64(len(r.marks)) {
			r.marks = append(r.marks, r.curKey)
		}
	}
	return r.curKey
}

// ---- head checkpoint ----

// headFile is audit.head. Log is empty in a legacy head (signed with the
// fixed key); a ratchet head names the log and is signed with k[Seq+1], the
// key audit.key holds once the append is complete.
type headFile struct {
	Log string `json:"log,omitempty"`
	Seq uint64 `json:"seq"`
	MAC string `json:"mac"`
	Sig string `json:"sig"`
}

func headSig(key []byte, logID string, seq uint64, mac string) string {
	m := hmac.New(sha256.New, key)
	if logID == "" {
		m.Write([]byte("phantom-audit-head\x00" + strconv.FormatUint(seq, 10) + "\x00" + mac))
	} else {
		m.Write([]byte("phantom-audit-head-v2\x00" + logID + "\x00" + strconv.FormatUint(seq, 10) + "\x00" + mac))
	}
	return hex.EncodeToString(m.Sum(nil))
}

func encodeHead(key []byte, logID string, seq uint64, mac string) []byte {
	b, _ := json.Marshal(headFile{Log: logID, Seq: seq, MAC: mac, Sig: headSig(key, logID, seq, mac)})
	return append(b, '\n')
}

// head is a decoded checkpoint. A missing head is {present: false}; an
// unverifiable one is {present: true, valid: false, why: ...}.
type head struct {
	present bool
	valid   bool
	logID   string
	seq     uint64
	mac     string
	why     string
}

// parseHead decodes raw and checks its signature with keyFor(seq+1) (ratchet
// head) or legacy (legacy head). With check false the signature is not
// checked and a well-formed head counts as valid (no key at all).
func parseHead(raw []byte, present bool, check bool, legacy []byte, keyFor func(uint64) []byte) head {
	if !present {
		return head{}
	}
	var h headFile
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return head{present: true, why: "it is not valid JSON"}
	}
	if _, err := dec.Token(); err != io.EOF {
		return head{present: true, why: "data after the JSON object"}
	}
	out := head{present: true, logID: h.Log, seq: h.Seq, mac: h.MAC}
	if h.Log != "" && !isLogID(h.Log) {
		out.why = "its log id is not 32 hex digits"
		return out
	}
	if check {
		var key []byte
		switch {
		case h.Log == "" && legacy == nil:
			out.why = "it is a pre-ratchet checkpoint, but audit.key is not a pre-ratchet key"
			return out
		case h.Log == "":
			key = legacy
		case legacy != nil:
			out.why = "it names a log, but audit.key is a pre-ratchet key"
			return out
		case h.Seq == ^uint64(0):
			out.why = "its seq is out of range"
			return out
		default:
			key = keyFor(h.Seq + 1)
		}
		if key == nil {
			out.why = "it is signed with a key older than the one kept (it was restored from an earlier copy), or its seq is far beyond the log"
			return out
		}
		got, err := hex.DecodeString(h.Sig)
		want, _ := hex.DecodeString(headSig(key, h.Log, h.Seq, h.MAC))
		if err != nil || !hmac.Equal(got, want) {
			out.why = "its signature does not match"
			return out
		}
	}
	out.valid = true
	return out
}

// readOptional reads path, reporting whether it exists.
func readOptional(path string) ([]byte, bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return b, true, nil
}

// ---- line readers ----

// lineReader yields the lines of r in order. A line longer than maxLineLen is
// returned as tooLong with no content, without being buffered.
type lineReader struct {
	r *bufio.Reader
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 64<<10)}
}

// next returns the next line without its '\n'; complete is false for a last
// line that has no '\n'. It returns io.EOF when nothing is left.
func (lr *lineReader) next() (line []byte, complete, tooLong bool, err error) {
	var acc []byte
	seen := false
	for {
		frag, err := lr.r.ReadSlice('\n')
		if len(frag) > 0 {
			seen = true
			if !tooLong {
				acc = append(acc, frag...)
				if len(acc) > maxLineLen+1 {
					tooLong, acc = true, nil
				}
			}
		}
		switch {
		case err == nil:
			if tooLong {
				return nil, true, true, nil
			}
			return acc[:len(acc)-1], true, false, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if !seen {
				return nil, false, false, io.EOF
			}
			return acc, false, tooLong, nil
		default:
			return nil, false, false, err
		}
	}
}

// eachLineBackward calls fn for the lines of the first size bytes of r, last
// line first, reading from the end in chunks so a large log is not read whole.
// off is the line's offset; line is nil when tooLong. It stops when fn
// returns true.
func eachLineBackward(r io.ReaderAt, size int64, fn func(off int64, line []byte, tooLong bool) bool) error {
	const chunk = 32 << 10
	buf := make([]byte, chunk)
	var carry []byte // the end of the line currently being assembled
	tooLong := false
	pos := size
	for pos > 0 {
		n := int64(chunk)
		if n > pos {
			n = pos
		}
		pos -= n
		if _, err := r.ReadAt(buf[:n], pos); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		data := buf[:n]
		for {
			i := bytes.LastIndexByte(data, '\n')
			if i < 0 {
				break
			}
			off := pos + int64(i) + 1
			if off < size { // skip the empty "line" after a final '\n'
				var line []byte
				if !tooLong {
					line = append(append([]byte(nil), data[i+1:]...), carry...)
				}
				if fn(off, line, tooLong) {
					return nil
				}
			}
			carry, tooLong = nil, false
			data = data[:i]
		}
		if !tooLong {
			carry = append(append([]byte(nil), data...), carry...)
			if len(carry) > maxLineLen {
				carry, tooLong = nil, true
			}
		}
	}
	if size > 0 {
		fn(0, carry, tooLong)
	}
	return nil
}
