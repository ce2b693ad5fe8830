package vault

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"

	"phantomstack.dev/shared/token"
)

// File layout (all integers big-endian); see the package documentation.
const (
	magic         = "PHMVAULT"
	formatVersion = 1 // highest file format version this code reads and the one it writes

	keyLen      = chacha20poly1305.KeySize   // 32
	nonceLen    = chacha20poly1305.NonceSize // 12
	tagLen      = chacha20poly1305.Overhead  // 16
	saltLen     = 16
	keyCheckLen = 16
	sumLen      = 8
	wrappedLen  = keyLen + tagLen // 48

	prefixLen = len(magic) + 2 + 1 + projectIDLen // magic | version | key source | project id = 27
	kdfLen    = 4 + 4 + 1                         // time | memory KiB | threads

	keychainHeaderLen   = prefixLen + keyCheckLen + sumLen                              // 51
	passphraseHeaderLen = prefixLen + kdfLen + saltLen + nonceLen + wrappedLen + sumLen // 120
	wrapAADLen          = prefixLen + kdfLen + saltLen                                  // 52
	minTail             = nonceLen + tagLen                                             // payload nonce + empty ciphertext

	// maxFileSize bounds what is read into memory from a (possibly hostile) file.
	maxFileSize = 64 << 20

	// payloadVersion 2 added approvals and the audit mark; version 1
	// payloads are read (as having neither) and written back as version 2.
	payloadVersion = 2
)

// KDF parameter bounds enforced on every header read (and on creation), before
// Argon2 runs: a hostile file must not make phantom allocate or spin forever.
const (
	maxKDFTime      = 100
	maxKDFMemoryKiB = 4 << 20 // 4 GiB
	maxKDFThreads   = 64
)

var keyCheckLabel = []byte("phantom vault key check v1")

// header is a parsed, validated vault header.
type header struct {
	raw       []byte // header bytes up to and including the checksum
	version   uint16
	source    KeySource
	project   [projectIDLen]byte
	kdf       KDFParams
	salt      []byte
	wrapNonce []byte
	wrapped   []byte
	keyCheck  []byte
}

func headerLen(src KeySource) int {
	switch src {
	case Keychain:
		return keychainHeaderLen
	case Passphrase, Hardened:
		return passphraseHeaderLen
	}
	return 0
}

func headerSum(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:sumLen]
}

func keyCheck(dataKey []byte) []byte {
	m := hmac.New(sha256.New, dataKey)
	m.Write(keyCheckLabel)
	return m.Sum(nil)[:keyCheckLen]
}

func putPrefix(b []byte, src KeySource, project [projectIDLen]byte) []byte {
	b = append(b, magic...)
	b = binary.BigEndian.AppendUint16(b, formatVersion)
	b = append(b, byte(src))
	return append(b, project[:]...)
}

// newKeychainHeader builds the header of a vault whose data key is in the keychain.
func newKeychainHeader(project [projectIDLen]byte, dataKey []byte) *header {
	b := make([]byte, 0, keychainHeaderLen)
	b = putPrefix(b, Keychain, project)
	kc := keyCheck(dataKey)
	b = append(b, kc...)
	b = append(b, headerSum(b)...)
	return &header{raw: b, version: formatVersion, source: Keychain, project: project, keyCheck: b[prefixLen : prefixLen+keyCheckLen]}
}

// newPassphraseHeader wraps dataKey with kek and builds the header of a
// Passphrase or Hardened vault. The key-source byte is inside the wrap's
// associated data, so a file whose byte was changed from one to the other
// (and its checksum recomputed) no longer unwraps with any passphrase.
func newPassphraseHeader(src KeySource, project [projectIDLen]byte, kdf KDFParams, salt, kek, dataKey []byte) (*header, error) {
	if !src.wrapped() {
		return nil, fmt.Errorf("internal error: %v is not a passphrase key source", src)
	}
	b := make([]byte, 0, passphraseHeaderLen)
	b = putPrefix(b, src, project)
	b = binary.BigEndian.AppendUint32(b, kdf.Time)
	b = binary.BigEndian.AppendUint32(b, kdf.MemoryKiB)
	b = append(b, kdf.Threads)
	b = append(b, salt...)
	aead, err := chacha20poly1305.New(kek)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, nonceLen)
	rand.Read(nonce)
	aad := bytes.Clone(b)
	b = append(b, nonce...)
	b = aead.Seal(b, nonce, dataKey, aad)
	b = append(b, headerSum(b)...)
	h, _, err := parseHeader(append(bytes.Clone(b), make([]byte, minTail)...))
	if err != nil {
		return nil, fmt.Errorf("internal error: built an unparsable header: %w", err)
	}
	return h, nil
}

func corrupt(format string, a ...any) *Error { return errf(ErrCorrupt, fmt.Sprintf(format, a...)) }

// parseHeader strictly decodes and validates the header of a vault file and
// returns it with the rest (payload nonce and ciphertext). It never runs the
// KDF and never allocates more than the input size.
func parseHeader(data []byte) (*header, []byte, error) {
	n := len(data)
	if n == 0 {
		return nil, nil, corrupt("the file is empty")
	}
	if n > maxFileSize {
		return nil, nil, corrupt("the file is %d bytes, more than the %d MiB limit", n, maxFileSize>>20)
	}
	if n < len(magic) {
		if bytes.HasPrefix([]byte(magic), data) {
			return nil, nil, corrupt("truncated: %d bytes", n)
		}
		return nil, nil, corrupt("not a phantom vault file (bad magic)")
	}
	if string(data[:len(magic)]) != magic {
		return nil, nil, corrupt("not a phantom vault file (bad magic)")
	}
	if n < len(magic)+2 {
		return nil, nil, corrupt("truncated: %d bytes", n)
	}
	version := binary.BigEndian.Uint16(data[len(magic):])
	if version == 0 {
		return nil, nil, corrupt("invalid format version 0")
	}
	if version > formatVersion {
		return nil, nil, errf(ErrNewerVersion, fmt.Sprintf("format version %d; this phantom reads up to %d", version, formatVersion))
	}
	if n < len(magic)+3 {
		return nil, nil, corrupt("truncated: %d bytes", n)
	}
	src := KeySource(data[len(magic)+2])
	hl := headerLen(src)
	if hl == 0 {
		return nil, nil, corrupt("unknown key source %d", uint8(src))
	}
	if n < hl+minTail {
		return nil, nil, corrupt("truncated: %d bytes", n)
	}
	if subtle.ConstantTimeCompare(headerSum(data[:hl-sumLen]), data[hl-sumLen:hl]) != 1 {
		return nil, nil, corrupt("header checksum mismatch")
	}
	raw := bytes.Clone(data[:hl])
	h := &header{raw: raw, version: version, source: src}
	copy(h.project[:], raw[len(magic)+3:prefixLen])
	body := raw[prefixLen : hl-sumLen]
	switch src {
	case Keychain:
		h.keyCheck = body
	case Passphrase, Hardened:
		h.kdf = KDFParams{
			Time:      binary.BigEndian.Uint32(body[0:4]),
			MemoryKiB: binary.BigEndian.Uint32(body[4:8]),
			Threads:   body[8],
		}
		if err := h.kdf.validate(); err != nil {
			return nil, nil, corrupt("implausible key-derivation parameters: %v", err)
		}
		body = body[kdfLen:]
		h.salt = body[:saltLen]
		h.wrapNonce = body[saltLen : saltLen+nonceLen]
		h.wrapped = body[saltLen+nonceLen:]
	}
	return h, data[hl:], nil
}

func (h *header) wrapAAD() []byte { return h.raw[:wrapAADLen] }

// deriveKEK runs Argon2id. Parameters must have been validated.
func deriveKEK(pass, salt []byte, p KDFParams) []byte {
	return argon2.IDKey(pass, salt, p.Time, p.MemoryKiB, p.Threads, keyLen)
}

// unwrapPassphrase derives the KEK from pass and opens the wrapped data key.
func unwrapPassphrase(h *header, pass []byte) ([]byte, error) {
	if !h.source.wrapped() {
		return nil, errors.New("internal error: not a passphrase vault")
	}
	if err := h.kdf.validate(); err != nil { // defence in depth; parseHeader checked already
		return nil, corrupt("implausible key-derivation parameters: %v", err)
	}
	kek := deriveKEK(pass, h.salt, h.kdf)
	defer wipe(kek)
	aead, err := chacha20poly1305.New(kek)
	if err != nil {
		return nil, err
	}
	key, err := aead.Open(nil, h.wrapNonce, h.wrapped, h.wrapAAD())
	if err != nil {
		return nil, errf(ErrWrongPassphrase, "")
	}
	return key, nil
}

// unlockFunc returns the data key for a parsed header (a fresh copy the caller wipes).
type unlockFunc func(h *header) ([]byte, error)

// decodeFile parses, authenticates and decrypts a whole vault file. On error
// it returns no key and no plaintext.
func decodeFile(data []byte, project [projectIDLen]byte, unlock unlockFunc) (*header, *Payload, []byte, error) {
	h, rest, err := parseHeader(data)
	if err != nil {
		return nil, nil, nil, err
	}
	if h.project != project {
		return nil, nil, nil, errWrongProject(h.project, project)
	}
	key, err := unlock(h)
	if err != nil {
		return nil, nil, nil, err
	}
	if len(key) != keyLen {
		wipe(key)
		return nil, nil, nil, errors.New("internal error: data key has the wrong length")
	}
	if h.source == Keychain && subtle.ConstantTimeCompare(keyCheck(key), h.keyCheck) != 1 {
		wipe(key)
		return nil, nil, nil, errf(ErrKeyMismatch, "")
	}
	p, err := openPayload(h, key, rest)
	if err != nil {
		wipe(key)
		return nil, nil, nil, err
	}
	return h, p, key, nil
}

func errWrongProject(got, want [projectIDLen]byte) *Error {
	return errf(ErrWrongProject, "its header names project "+hex.EncodeToString(got[:])+", expected "+hex.EncodeToString(want[:]))
}

func openPayload(h *header, key, rest []byte) (*Payload, error) {
	plain, ok, err := decryptPayload(h, key, rest)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, corrupt("payload authentication failed")
	}
	defer wipe(plain)
	return parsePayload(plain)
}

// decryptPayload opens the payload; ok is false when authentication fails
// (a wrong key, or any changed byte of the header, nonce or ciphertext).
func decryptPayload(h *header, key, rest []byte) (plain []byte, ok bool, err error) {
	aead, err := chacha20poly1305.New(key)
	if err != nil {
		return nil, false, err
	}
	nonce := rest[:nonceLen]
	aad := make([]byte, 0, len(h.raw)+nonceLen)
	aad = append(append(aad, h.raw...), nonce...)
	plain, err = aead.Open(nil, nonce, rest[nonceLen:], aad)
	if err != nil {
		return nil, false, nil
	}
	return plain, true, nil
}

// sealFile encrypts plain under key with a fresh nonce and returns the whole file.
func sealFile(h *header, key, plain []byte) ([]byte, error) {
	aead, err := chacha20poly1305.New(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, nonceLen)
	rand.Read(nonce)
	out := make([]byte, 0, len(h.raw)+nonceLen+len(plain)+tagLen)
	out = append(append(out, h.raw...), nonce...)
	aad := bytes.Clone(out) // AEAD: dst and additional data must not overlap
	return aead.Seal(out, nonce, plain, aad), nil
}

// Payload is the decrypted content of a vault.
type Payload struct {
	Secrets map[string]*Secret
	// Approvals are the human decisions phantom acts on without asking
	// again (a route that sends secrets somewhere new, a config change that
	// weakens protection), keyed by what was approved. They live inside the
	// encrypted payload so that nothing without the vault key can forge one:
	// a file in PHANTOM_HOME could be written by any process of the user's.
	Approvals map[string]*Approval
	// Audit is where this home's audit log stood when the vault was last
	// written, so a vault used under another PHANTOM_HOME, or a log rolled
	// back, shows (audit verify, status). nil: never recorded.
	Audit *AuditMark
}

// Approval is one stored human decision. Hash identifies exactly what was
// approved (see package trust); Detail describes it for people and never
// holds a value.
type Approval struct {
	Hash       string          `json:"hash"`
	Detail     string          `json:"detail,omitempty"`
	ApprovedAt time.Time       `json:"approved_at"`
	Data       json.RawMessage `json:"data,omitempty"` // structured state the approval covers (e.g. the approved config baseline)
}

// AuditMark is a position in an audit log: the log's identity, and the
// sequence number and MAC of the last entry the vault knew of. AnchorSeq and
// AnchorKey are the first entry this vault recorded in that log and the
// ratchet key that signed it (package audit): with them `audit verify`
// re-derives every later key, which the log's own directory no longer holds.
// AnchorKey is key material: it never leaves the encrypted payload.
type AuditMark struct {
	LogID     string `json:"log_id"`
	Seq       uint64 `json:"seq"`
	MAC       string `json:"mac"`
	AnchorSeq uint64 `json:"anchor_seq,omitempty"`
	AnchorKey string `json:"anchor_key,omitempty"` // 64 hex digits
}

// Secret is one vaulted value with its persistent placeholder token.
type Secret struct {
	Value     []byte            `json:"value"`
	Token     string            `json:"token"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
	Origins   map[string]string `json:"origins,omitempty"` // env file (relative path) → raw value text as it appeared there
}

type wirePayload struct {
	Version   *int                 `json:"version"`
	Secrets   map[string]*Secret   `json:"secrets"`
	Approvals map[string]*Approval `json:"approvals,omitempty"`
	Audit     *AuditMark           `json:"audit,omitempty"`
}

// parsePayload decodes the decrypted JSON strictly: unknown fields, trailing
// data, a missing version or secrets object and invalid entries are errors.
// Any new field requires a new payload version, so an older phantom never
// rewrites (and silently drops) data it does not understand.
func parsePayload(b []byte) (*Payload, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var w wirePayload
	if err := dec.Decode(&w); err != nil {
		return nil, corrupt("malformed payload: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, corrupt("malformed payload: trailing data")
	}
	if w.Version == nil {
		return nil, corrupt("malformed payload: no version")
	}
	if *w.Version > payloadVersion {
		return nil, errf(ErrNewerVersion, fmt.Sprintf("payload version %d; this phantom reads up to %d", *w.Version, payloadVersion))
	}
	if *w.Version < 1 {
		return nil, corrupt("malformed payload: invalid version %d", *w.Version)
	}
	if *w.Version == 1 && (w.Approvals != nil || w.Audit != nil) {
		return nil, corrupt("malformed payload: version 1 has no approvals or audit mark")
	}
	if w.Secrets == nil {
		return nil, corrupt("malformed payload: no secrets object")
	}
	p := &Payload{Secrets: w.Secrets, Approvals: w.Approvals, Audit: w.Audit}
	if err := p.validate(); err != nil {
		return nil, corrupt("malformed payload: %v", err)
	}
	return p, nil
}

func encodePayload(p *Payload) ([]byte, error) {
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("vault: refusing to write an invalid payload: %w", err)
	}
	v := payloadVersion
	b, err := json.Marshal(wirePayload{Version: &v, Secrets: p.Secrets, Approvals: p.Approvals, Audit: p.Audit})
	if err != nil {
		return nil, fmt.Errorf("vault: encode payload: %w", err)
	}
	return b, nil
}

const maxNameLen = 1024

func (p *Payload) validate() error {
	if p == nil || p.Secrets == nil {
		return errors.New("no secrets map")
	}
	tokens := make(map[string]string, len(p.Secrets))
	for name, s := range p.Secrets {
		if err := validName(name); err != nil {
			return err
		}
		if s == nil {
			return fmt.Errorf("secret %q is null", name)
		}
		if !token.Is(s.Token) {
			return fmt.Errorf("secret %q has no well-formed phm_ token", name)
		}
		if other, dup := tokens[s.Token]; dup {
			return fmt.Errorf("secrets %q and %q share a token", other, name)
		}
		tokens[s.Token] = name
	}
	for key, a := range p.Approvals {
		if key == "" || len(key) > maxNameLen || a == nil || a.Hash == "" {
			return fmt.Errorf("invalid approval %q", key)
		}
	}
	return nil
}

func validName(name string) error {
	if name == "" || len(name) > maxNameLen || !utf8.ValidString(name) {
		return fmt.Errorf("invalid secret name %q", name)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return fmt.Errorf("invalid secret name %q (control character)", name)
		}
	}
	return nil
}

// clone returns a deep copy of p.
func (p *Payload) clone() *Payload {
	out := &Payload{Secrets: make(map[string]*Secret, len(p.Secrets))}
	for k, s := range p.Secrets {
		c := *s
		c.Value = bytes.Clone(s.Value)
		if s.Origins != nil {
			c.Origins = make(map[string]string, len(s.Origins))
			for ok, ov := range s.Origins {
				c.Origins[ok] = ov
			}
		}
		out.Secrets[k] = &c
	}
	if p.Approvals != nil {
		out.Approvals = make(map[string]*Approval, len(p.Approvals))
		for k, a := range p.Approvals {
			c := *a
			c.Data = bytes.Clone(a.Data)
			out.Approvals[k] = &c
		}
	}
	if p.Audit != nil {
		m := *p.Audit
		out.Audit = &m
	}
	return out
}

// wipe overwrites b with zeros. Best effort: it clears this buffer only, not
// copies the runtime or other packages may have made.
func wipe(b []byte) {
	clear(b)
	runtime.KeepAlive(b)
}

// wipePayload clears the secret values of p.
func wipePayload(p *Payload) {
	if p == nil {
		return
	}
	for _, s := range p.Secrets {
		if s != nil {
			wipe(s.Value)
		}
	}
}
