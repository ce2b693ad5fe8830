// Package leakscan is the engine of `phantom check`: it looks for leaked
// credentials in files, in what is staged for a commit, and in git history,
// with three layers (docs/phantom.md, "phantom check"):
//
//   - known values: the project's vault values, raw and encoded, found with
//     an in-memory automaton built after unlocking (known.go);
//   - patterns: gitleaks v8's maintained rule set, embedded as data and run
//     by a small matcher (patterns.go);
//   - env files: .env* entries holding a plaintext secret instead of a phm_
//     token (envfile.go).
//
// A finding never carries a value: file, line, rule, at most four
// characters of prefix, and a keyed fingerprint (fingerprint.go).
package leakscan

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"phantomstack.dev/shared/dotenv"
	"phantomstack.dev/shared/token"
)

// AllowMarker on a line suppresses pattern and env-file findings on it. It
// does not suppress a known-value hit: that is a real vault value, certain
// whatever the line says; only a baseline entry can accept one.
const AllowMarker = "phantom:allow"

// Layer names, as they appear in findings.
const (
	LayerKnown   = "known-value"
	LayerPattern = "pattern"
	LayerEnv     = "env-file"
)

const (
	// chunkSize bounds the text handed to the matchers at once; files are
	// streamed through blocks of about this size (cut at line ends).
	chunkSize = 1 << 20
	// overlap is carried from one block to the next when a single line is
	// longer than a block, so a secret across the cut is still seen whole.
	overlap = 4096
	// sniffLen is how much of a file decides whether it is binary: a NUL
	// byte there, as git decides.
	sniffLen = 8000
	// maxEnvFile bounds an env file read whole for the env layer; a bigger
	// one is scanned by the other layers only.
	maxEnvFile = 8 << 20
)

// Options configures a scan.
type Options struct {
	// Known is the known-value matcher; nil when the vault was not opened
	// (KnownReason says why).
	Known       *Known
	KnownReason string
	// NoPatterns and NoEnv switch layers off (tests and the benchmark).
	NoPatterns, NoEnv bool
	Overrides         dotenv.Overrides
	Ignore            *Ignore
	Baseline          *Baseline
	// FingerprintKey keys the fingerprints (FingerprintKeyFor).
	FingerprintKey []byte
	// Root is the directory paths are reported relative to (the git
	// top level, else the working directory).
	Root string
}

// Finding is one leak. It never holds a value.
type Finding struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Commit string `json:"commit,omitempty"`
	Layer  string `json:"layer"`
	Rule   string `json:"rule"`
	// Secret names the vault secret (known-value) or the env key (env-file).
	Secret      string `json:"secret,omitempty"`
	Encoded     bool   `json:"encoded,omitempty"`
	Description string `json:"description"`
	// Redacted is at most 4 leading characters of the match followed by
	// "…", or "" when the value is shorter than 16 characters.
	Redacted    string `json:"redacted"`
	Fingerprint string `json:"fingerprint"`
}

// LayerStatus says whether a layer ran.
type LayerStatus struct {
	Ran          bool   `json:"ran"`
	Reason       string `json:"reason,omitempty"`
	Values       int    `json:"values,omitempty"`
	SkippedShort int    `json:"skipped_short,omitempty"`
	Rules        int    `json:"rules,omitempty"`
}

// Layers reports each layer.
type Layers struct {
	KnownValues LayerStatus `json:"known_values"`
	Patterns    LayerStatus `json:"patterns"`
	EnvFiles    LayerStatus `json:"env_files"`
}

// Skipped is a file that was not scanned.
type Skipped struct {
	File   string `json:"file"`
	Reason string `json:"reason"`
}

// Scanned counts what was read.
type Scanned struct {
	Files   int       `json:"files"`
	Commits int       `json:"commits,omitempty"`
	Bytes   int64     `json:"bytes"`
	Skipped []Skipped `json:"skipped"`
}

// Suppressed counts findings not reported, by reason.
type Suppressed struct {
	Inline   int `json:"inline"`
	Baseline int `json:"baseline"`
	// IgnoredFiles is the number of files .phantomignore excluded from
	// the pattern and env layers (known values are still looked for).
	IgnoredFiles int `json:"ignored_files"`
}

// Report is the result of a scan: `phantom check --json` prints it.
type Report struct {
	Version    int        `json:"version"`
	Mode       string     `json:"mode"` // worktree | staged | history
	Clean      bool       `json:"clean"`
	Layers     Layers     `json:"layers"`
	Scanned    Scanned    `json:"scanned"`
	Findings   []Finding  `json:"findings"`
	Suppressed Suppressed `json:"suppressed"`
}

// ReportVersion is the version of the JSON document.
const ReportVersion = 1

// Scanner runs one scan. Methods are safe for concurrent use.
type Scanner struct {
	opts Options
	det  *ruleSet

	mu  sync.Mutex
	rep Report
}

// New prepares a scanner; the pattern rules are compiled once per process.
func New(opts Options) (*Scanner, error) {
	s := &Scanner{opts: opts}
	s.rep.Version = ReportVersion
	if opts.Known != nil {
		s.rep.Layers.KnownValues = LayerStatus{Ran: true, Values: opts.Known.Values(), SkippedShort: opts.Known.SkippedShort()}
	} else {
		s.rep.Layers.KnownValues = LayerStatus{Reason: opts.KnownReason}
	}
	if opts.NoPatterns {
		s.rep.Layers.Patterns = LayerStatus{Reason: "switched off"}
	} else {
		d, err := patternDetector()
		if err != nil {
			return nil, fmt.Errorf("cannot load the pattern rules: %w", err)
		}
		s.det = d
		s.rep.Layers.Patterns = LayerStatus{Ran: true, Rules: len(d.rules)}
	}
	if opts.NoEnv {
		s.rep.Layers.EnvFiles = LayerStatus{Reason: "switched off"}
	} else {
		s.rep.Layers.EnvFiles = LayerStatus{Ran: true}
	}
	return s, nil
}

// Report returns the findings, sorted by file, commit, line and rule.
func (s *Scanner) Report(mode string) *Report {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rep
	r.Mode = mode
	r.Findings = slices.Clone(r.Findings)
	if r.Findings == nil {
		r.Findings = []Finding{}
	}
	if r.Scanned.Skipped == nil {
		r.Scanned.Skipped = []Skipped{}
	}
	r.Findings = oneLeakPerLine(r.Findings)
	slices.SortFunc(r.Findings, func(a, b Finding) int {
		return cmpAll(strings.Compare(a.File, b.File), strings.Compare(a.Commit, b.Commit), a.Line-b.Line,
			strings.Compare(a.Layer, b.Layer), strings.Compare(a.Rule, b.Rule), strings.Compare(a.Fingerprint, b.Fingerprint))
	})
	r.Clean = len(r.Findings) == 0
	return &r
}

// oneLeakPerLine keeps, for each line, the findings of its most certain
// layer: a vault value over an env-file entry over a pattern. A plaintext
// SESSION_SECRET in .env is one leak, not an env finding plus a generic
// pattern finding.
func oneLeakPerLine(fs []Finding) []Finding {
	type loc struct {
		file, commit string
		line         int
	}
	rank := map[string]int{LayerKnown: 3, LayerEnv: 2, LayerPattern: 1}
	best := map[loc]int{}
	for _, f := range fs {
		l := loc{f.File, f.Commit, f.Line}
		best[l] = max(best[l], rank[f.Layer])
	}
	out := fs[:0]
	for _, f := range fs {
		if rank[f.Layer] == best[loc{f.File, f.Commit, f.Line}] {
			out = append(out, f)
		}
	}
	return out
}

func cmpAll(cs ...int) int {
	for _, c := range cs {
		if c != 0 {
			return c
		}
	}
	return 0
}

func (s *Scanner) skip(rel, reason string) {
	s.mu.Lock()
	s.rep.Scanned.Skipped = append(s.rep.Scanned.Skipped, Skipped{File: rel, Reason: reason})
	s.mu.Unlock()
}

func (s *Scanner) count(files int, n int64) {
	s.mu.Lock()
	s.rep.Scanned.Files += files
	s.rep.Scanned.Bytes += n
	s.mu.Unlock()
}

// unit is one file (or one file in one commit) being scanned: findings are
// de-duplicated within it (overlapping blocks can see a match twice).
type unit struct {
	s       *Scanner
	rel     string
	commit  string
	ignored bool // .phantomignore: known values only
	env     bool // run the env layer on blocks
	seen    map[string]bool
}

func (s *Scanner) newUnit(rel, commit string) *unit {
	u := &unit{s: s, rel: rel, commit: commit, seen: map[string]bool{}}
	u.ignored = s.opts.Ignore.Match(rel, false)
	if u.ignored {
		s.mu.Lock()
		s.rep.Suppressed.IgnoredFiles++
		s.mu.Unlock()
	}
	return u
}

// block scans one piece of text whose first line is file line first.
func (u *unit) block(first int, b []byte) {
	s := u.s
	s.opts.Known.find(b, func(h knownHit) {
		line := first + bytes.Count(b[:h.start], []byte{'\n'})
		red := ""
		if h.entry.length >= 16 {
			red = redact(b[h.start:h.end])
		}
		how := "raw"
		if h.encoded {
			how = "encoded"
		}
		u.add(Finding{Line: line, Layer: LayerKnown, Rule: "known-value", Secret: h.entry.name, Encoded: h.encoded,
			Description: fmt.Sprintf("the vault value of %s (%s)", h.entry.name, how), Redacted: red,
			Fingerprint: s.fingerprint("known-value", knownFingerprintInput(h.entry))}, "")
	})
	if u.ignored {
		return
	}
	if s.det != nil {
		for _, h := range scanPatterns(s.det, u.rel, first, string(b)) {
			if inToken(h.text, h.secret) {
				// A phm_ token is a placeholder, safe to commit by
				// design; generic rules mistake its 64 hex digits for a key.
				continue
			}
			red, in := "", "short\x00"+u.rel
			if len(h.secret) >= 16 {
				red, in = redact([]byte(h.secret)), h.secret
			}
			u.add(Finding{Line: h.line, Layer: LayerPattern, Rule: h.rule, Description: h.desc,
				Redacted: red, Fingerprint: s.fingerprint(h.rule, in)}, h.text)
		}
	}
	if u.env {
		u.envBlock(first, b)
	}
}

// envBlock runs the env layer over b (a whole env file, or the lines a
// commit adds to one).
func (u *unit) envBlock(first int, b []byte) {
	s := u.s
	if s.opts.NoEnv || u.ignored {
		return
	}
	for _, h := range scanEnv(b, first, s.opts.Overrides) {
		red, in := "", "env\x00"+u.rel+"\x00"+h.key
		if len(h.value) >= 16 {
			red, in = redact([]byte(h.value)), in+"\x00"+h.value
		}
		u.add(Finding{Line: h.line, Layer: LayerEnv, Rule: "env-plaintext", Secret: h.key,
			Description: h.key + " holds a plaintext secret instead of a phm_ token", Redacted: red,
			Fingerprint: s.fingerprint("env-plaintext", in)}, h.text)
	}
}

func (u *unit) add(f Finding, lineText string) {
	f.File, f.Commit = u.rel, u.commit
	key := fmt.Sprintf("%d\x00%s\x00%s\x00%s", f.Line, f.Layer, f.Rule, f.Fingerprint)
	s := u.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if u.seen[key] {
		return
	}
	u.seen[key] = true
	if f.Layer != LayerKnown && strings.Contains(lineText, AllowMarker) {
		s.rep.Suppressed.Inline++
		return
	}
	if s.opts.Baseline.Has(f) {
		s.rep.Suppressed.Baseline++
		return
	}
	s.rep.Findings = append(s.rep.Findings, f)
}

// inToken reports whether secret is (part of) a phm_ token on the line.
func inToken(line, secret string) bool {
	b := []byte(line)
	for _, i := range token.FindAll(b) {
		if strings.Contains(string(b[i:i+token.Len]), secret) {
			return true
		}
	}
	return false
}

// redact keeps at most 4 leading characters (whole UTF-8 characters only).
func redact(b []byte) string {
	n := 0
	for i := 0; i < 4 && n < len(b); i++ {
		r, sz := utf8.DecodeRune(b[n:])
		if r == utf8.RuneError {
			break
		}
		n += sz
	}
	if n == 0 {
		return ""
	}
	return string(b[:n]) + "…"
}

// builder feeds a unit blocks of whole lines, about chunkSize at a time;
// lines arrive whole or in pieces, with their line numbers, and a gap in
// the numbering (the next hunk of a diff) starts a new block.
type builder struct {
	u     *unit
	buf   []byte
	first int // line number of buf[0]
	next  int // line the next byte belongs to
}

func (b *builder) piece(line int, p []byte, eol bool) {
	if len(b.buf) > 0 && line != b.next {
		b.flush()
	}
	if len(b.buf) == 0 {
		b.first = line
	}
	b.buf = append(b.buf, p...)
	b.next = line
	if eol {
		b.next = line + 1
	}
	if len(b.buf) < chunkSize {
		return
	}
	if i := bytes.LastIndexByte(b.buf, '\n'); i >= 0 {
		head := b.buf[:i+1]
		b.u.block(b.first, head)
		b.first += bytes.Count(head, []byte{'\n'})
		b.buf = append(b.buf[:0], b.buf[i+1:]...)
		return
	}
	// One line longer than a block: scan it and carry its tail, so a
	// secret across the cut is seen whole in the next block.
	b.u.block(b.first, b.buf)
	b.buf = append(b.buf[:0], b.buf[len(b.buf)-overlap:]...)
}

func (b *builder) flush() {
	if len(b.buf) > 0 {
		b.u.block(b.first, b.buf)
	}
	b.buf = b.buf[:0]
}

// ScanReader scans one file's content, streamed: memory stays bounded
// whatever its size or line length. A file whose first 8000 bytes hold a
// NUL byte is binary and skipped.
func (s *Scanner) ScanReader(rel, commit string, r io.Reader) error {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(sniffLen)
	if err != nil && err != io.EOF && !errors.Is(err, bufio.ErrBufferFull) {
		return err
	}
	if bytes.IndexByte(head, 0) >= 0 {
		s.skip(rel, "binary")
		return nil
	}
	u := s.newUnit(rel, commit)
	env := IsEnvFile(rel) && !IsExampleEnv(rel)
	if env {
		// Env files are small: read whole, so the dotenv parser sees
		// multi-line values; beyond maxEnvFile, other layers only.
		b, err := io.ReadAll(io.LimitReader(br, maxEnvFile+1))
		if err != nil {
			return err
		}
		if len(b) <= maxEnvFile {
			s.count(1, int64(len(b)))
			u.block(1, b)
			u.envBlock(1, b)
			return nil
		}
		br = bufio.NewReaderSize(io.MultiReader(bytes.NewReader(b), br), 64<<10)
	}
	bl := &builder{u: u, buf: make([]byte, 0, chunkSize+64<<10)}
	line := 1
	var n int64
	for {
		p, err := br.ReadSlice('\n')
		n += int64(len(p))
		if len(p) > 0 {
			eol := p[len(p)-1] == '\n'
			bl.piece(line, p, eol)
			if eol {
				line++
			}
		}
		if err == nil || errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != io.EOF {
			return err
		}
		break
	}
	bl.flush()
	s.count(1, n)
	return nil
}

// ScanPaths scans files and directory trees (the working tree). Directory
// walks skip .git and node_modules, never follow symbolic links (so a link
// loop cannot trap them) and skip what .phantomignore names for the
// pattern and env layers.
func (s *Scanner) ScanPaths(paths []string) error {
	var files []string
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return err
		}
		st, err := os.Stat(abs)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && isSymlink(abs) || isLoop(err) {
				s.skip(s.rel(abs), "broken or looping symbolic link")
				continue
			}
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("%s does not exist", p)
			}
			return err
		}
		if !st.IsDir() {
			files = append(files, abs)
			continue
		}
		err = filepath.WalkDir(abs, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				if path == abs {
					return err
				}
				s.skip(s.rel(path), "unreadable: "+rootErr(err))
				if d != nil && d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if d.IsDir() {
				if path != abs && (d.Name() == ".git" || d.Name() == "node_modules") {
					return fs.SkipDir
				}
				return nil
			}
			if d.Type().IsRegular() {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	workers := max(1, runtime.GOMAXPROCS(0))
	ch := make(chan string)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for path := range ch {
				s.scanFile(path)
			}
		}()
	}
	for _, f := range files {
		ch <- f
	}
	close(ch)
	wg.Wait()
	return nil
}

func (s *Scanner) scanFile(path string) {
	rel := s.rel(path)
	f, err := os.Open(path)
	if err != nil {
		s.skip(rel, "unreadable: "+rootErr(err))
		return
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && !st.Mode().IsRegular() {
		s.skip(rel, "not a regular file")
		return
	}
	if err := s.ScanReader(rel, "", f); err != nil {
		s.skip(rel, "read failed: "+rootErr(err))
	}
}

// rel reports path relative to the root, with forward slashes.
func (s *Scanner) rel(path string) string {
	if s.opts.Root != "" {
		if r, err := filepath.Rel(s.opts.Root, path); err == nil && !strings.HasPrefix(r, "..") {
			return filepath.ToSlash(r)
		}
	}
	return filepath.ToSlash(path)
}

func isSymlink(p string) bool {
	st, err := os.Lstat(p)
	return err == nil && st.Mode()&fs.ModeSymlink != 0
}

func isLoop(err error) bool {
	return strings.Contains(err.Error(), "too many levels of symbolic links")
}

func rootErr(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
