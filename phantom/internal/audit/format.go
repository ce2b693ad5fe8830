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

	"phantomstack.dev/shared/fsx"
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

func readKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errKeyMissing
	}
	if err != nil {
		return nil, err
	}
	k, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(k) != keyLen {
		return nil, errKeyInvalid
	}
	return k, nil
}

// createKey makes a new key and publishes it atomically: the key is written to
// a temporary file which is then hard-linked to audit.key; link fails when the
// name exists, so a racing creator reads the winner's complete key instead.
// When the file system has no hard links it falls back to O_EXCL creation
// (safe here because Append creates keys only under the writer lock).
func createKey(dir string) ([]byte, error) {
	path := filepath.Join(dir, KeyFile)
	key := make([]byte, keyLen)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	data := []byte(hex.EncodeToString(key) + "\n")
	tmp, err := fsx.CreateTemp(dir, KeyFile, 0o600)
	if err != nil {
		return nil, err
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName)
	_, werr := tmp.Write(data)
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return nil, werr
	}
	lerr := os.Link(tmpName, path)
	switch {
	case lerr == nil:
		return key, fsx.SyncDir(dir)
	case errors.Is(lerr, fs.ErrExist):
		return readKey(path)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return readKey(path)
	}
	if err != nil {
		return nil, err
	}
	_, werr = f.Write(data)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(path)
		return nil, werr
	}
	return key, fsx.SyncDir(dir)
}

// ---- head checkpoint ----

type headFile struct {
	Seq uint64 `json:"seq"`
	MAC string `json:"mac"`
	Sig string `json:"sig"`
}

func headSig(key []byte, seq uint64, mac string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("phantom-audit-head\x00" + strconv.FormatUint(seq, 10) + "\x00" + mac))
	return hex.EncodeToString(m.Sum(nil))
}

func encodeHead(key []byte, seq uint64, mac string) []byte {
	b, _ := json.Marshal(headFile{Seq: seq, MAC: mac, Sig: headSig(key, seq, mac)})
	return append(b, '\n')
}

// head is a decoded checkpoint. A missing head is {present: false}; an
// unverifiable one is {present: true, valid: false, why: ...}.
type head struct {
	present bool
	valid   bool
	seq     uint64
	mac     string
	why     string
}

// parseHead decodes raw. With a nil key the signature cannot be checked and a
// well-formed head counts as valid.
func parseHead(raw []byte, present bool, key []byte) head {
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
	if key != nil {
		got, err := hex.DecodeString(h.Sig)
		want, _ := hex.DecodeString(headSig(key, h.Seq, h.MAC))
		if err != nil || !hmac.Equal(got, want) {
			return head{present: true, seq: h.Seq, mac: h.MAC, why: "its signature does not match"}
		}
	}
	return head{present: true, valid: true, seq: h.Seq, mac: h.MAC}
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
