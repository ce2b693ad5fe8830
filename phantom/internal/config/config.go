// Package config reads, validates and edits a project's .phantom.toml.
//
// The file is committed to git and holds no secrets: the project's identity
// (project_id, which names its vault), the audit mode, the env files phantom
// protects, secret-detection overrides and per-secret policies.
//
// Parsing is strict. Every unknown key, wrong type or invalid value is an
// error naming the file and line, with the nearest valid key when one is
// close. Edits (SetSecretPolicy, AddEnvFile) change the user's text in place
// so comments and layout survive, and every edit is verified by parsing the
// result again and comparing it with the intended configuration.
package config

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

// FileName is the per-project config file, found by walking up from the
// working directory.
const FileName = ".phantom.toml"

// SchemaVersion is the [phantom] version this code reads and writes.
const SchemaVersion = 1

// Audit modes ([phantom] audit).
const (
	AuditOn       = "on"       // default: audit what phantom does
	AuditOff      = "off"      // no audit log
	AuditRequired = "required" // refuse to work when the audit log cannot be written
)

// Secret policies ([secrets.NAME] policy); see docs/architecture.md §5.
const (
	PolicyProxy  = "proxy"  // the child keeps the phm token; the proxy puts the value on the wire
	PolicyInject = "inject" // the child gets the real value at spawn
	PolicyDeny   = "deny"   // never leaves the vault except through a route
)

var (
	auditModes = []string{AuditOn, AuditOff, AuditRequired}
	policies   = []string{PolicyProxy, PolicyInject, PolicyDeny}
)

// defaultEnvFiles is the env file list used when [phantom] env_files is
// unset, in load order (later files override earlier ones).
var defaultEnvFiles = []string{".env", ".env.local"}

// ErrNotFound is wrapped by Find's error when no .phantom.toml exists in the
// start directory or any parent.
var ErrNotFound = errors.New("no " + FileName + " found")

// Config is a parsed .phantom.toml together with its source text. A Config
// is not safe for concurrent use.
type Config struct {
	name string // file name used in error messages
	path string // file loaded from or last saved to; "" for New
	disk []byte // bytes at path when loaded or last saved; nil for New
	src  []byte // current text, what Save writes
	ix   *index
	m    model
}

// model is the meaning of a config file: everything in it except layout and
// comments. Two sources with equal models configure phantom identically.
type model struct {
	version   int64
	projectID string
	audit     string   // "" when unset
	envFiles  []string // clean, slash-separated; meaningful when envSet
	envSet    bool
	classify  Overrides
	policies  map[string]string // secret name → explicit policy; never nil
	routes    map[string]RouteSpec
	proxy     ProxySettings
	aws       AWSSettings
}

func (m model) clone() model {
	m.envFiles = slices.Clone(m.envFiles)
	m.classify.Secret = slices.Clone(m.classify.Secret)
	m.classify.Public = slices.Clone(m.classify.Public)
	m.policies = maps.Clone(m.policies)
	m.routes = maps.Clone(m.routes) // RouteSpecs are values; Routes() clones their slices
	return m
}

// Overrides are the per-project secret-detection overrides from [classify]:
// glob patterns (path.Match syntax) on env var names.
type Overrides struct {
	Secret []string // always treat matching keys as secrets
	Public []string // never treat matching keys as secrets
}

// Error is one problem in a config file, located by line.
type Error struct {
	File string
	Line int // 1-based
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// ErrorList is every problem Load found, ordered by line. errors.As finds
// its first *Error.
type ErrorList []*Error

func (l ErrorList) Error() string {
	msgs := make([]string, len(l))
	for i, e := range l {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// Unwrap exposes the individual errors to errors.Is and errors.As.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// NotFoundError is Find's error when there is no .phantom.toml; it wraps
// ErrNotFound.
type NotFoundError struct{ Dir string }

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("no %s in %s or any parent; run `phantom init` first", FileName, e.Dir)
}

func (e *NotFoundError) Unwrap() error { return ErrNotFound }

// Find walks up from startDir, like git, to the nearest directory holding a
// .phantom.toml file, and returns that directory.
func Find(startDir string) (dir string, err error) {
	start, err := filepath.Abs(startDir)
	if err != nil {
		return "", err
	}
	for dir = start; ; dir = filepath.Dir(dir) {
		st, err := os.Stat(filepath.Join(dir, FileName))
		switch {
		case err == nil && st.Mode().IsRegular():
			return dir, nil
		case err != nil && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, errNotDir):
			return "", fmt.Errorf("look for %s: %w", FileName, err)
		}
		if filepath.Dir(dir) == dir {
			return "", &NotFoundError{Dir: start}
		}
	}
}

// Load reads and strictly validates the config file at path.
//
// A file that cannot be read gives an error wrapping the os error (so
// errors.Is(err, fs.ErrNotExist) works). A file with problems gives an
// ErrorList: TOML syntax errors, unknown keys (with the nearest valid key),
// wrong types and invalid values, each as "path:line: message".
func Load(path string) (*Config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	c, err := parse(path, src)
	if err != nil {
		return nil, err
	}
	c.path = path
	c.disk = slices.Clone(src)
	return c, nil
}

// New returns the config of a new project: a fresh random project_id and
// the defaults, rendered as a commented file. It exists only in memory until
// Save.
func New() *Config {
	var id [16]byte
	rand.Read(id[:]) // never fails (crypto/rand since Go 1.24)
	c, err := parse(FileName, renderNew(hex.EncodeToString(id[:])))
	if err != nil {
		panic("config: the template does not load: " + err.Error())
	}
	return c
}

func renderNew(projectID string) []byte {
	return []byte(`# .phantom.toml: phantom's settings for this project. Commit this file.
#
# It holds no secrets. Secret values live in your local encrypted phantom
# vault; env files hold phm_ placeholder tokens in their place.
# project_id names this project's vault on every machine and for every
# teammate: it is written once, do not change it.

[phantom]
version = 1
project_id = "` + projectID + `"
# Audit log: "on" (default), "off", or "required" (refuse to work without it).
audit = "on"
# Env files phantom protects and reads, relative to this directory; later
# files override earlier ones.
env_files = [".env", ".env.local"]

# Secret detection overrides: glob patterns on env var names.
# [classify]
# secret = ["MY_INTERNAL_*"]   # always a secret
# public = ["SENTRY_DSN"]      # never a secret

# Per-secret settings. policy = "proxy" (the proxy adds the value on the
# wire), "inject" (the program gets the real value) or "deny".
# [secrets.DATABASE_URL]
# policy = "inject"
`)
}

// parse decodes and validates src; name is used in error messages.
func parse(name string, src []byte) (*Config, error) {
	var root map[string]any
	if _, err := toml.Decode(string(src), &root); err != nil {
		return nil, ErrorList{syntaxError(name, src, err)}
	}
	ix := buildIndex(src)
	ck := &checker{file: name, ix: ix}
	m := ck.root(root)
	if len(ck.errs) > 0 {
		slices.SortStableFunc(ck.errs, func(a, b *Error) int { return a.Line - b.Line })
		return nil, ck.errs
	}
	return &Config{name: name, src: src, ix: ix, m: m}, nil
}

func syntaxError(name string, src []byte, err error) *Error {
	lines := strings.Count(string(src), "\n") + 1
	var pe toml.ParseError
	if errors.As(err, &pe) {
		line := min(max(pe.Position.Line, 1), lines)
		return &Error{File: name, Line: line, Msg: "invalid TOML: " + elideQuoted(pe.Message)}
	}
	return &Error{File: name, Line: 1, Msg: "invalid TOML: " + elideQuoted(strings.TrimPrefix(err.Error(), "toml: "))}
}

var longQuoted = regexp.MustCompile(`"([^"\\]|\\.){13,}"`)

// elideQuoted shortens long quoted fragments of a parser message (the
// parser quotes the text it choked on, which may be a pasted secret).
func elideQuoted(msg string) string {
	return longQuoted.ReplaceAllStringFunc(msg, func(q string) string {
		r := []rune(q)
		return string(r[:5]) + "…\""
	})
}

// ProjectID is the project's 128-bit identity as 32 lowercase hex digits.
func (c *Config) ProjectID() string { return c.m.projectID }

// AuditMode is AuditOn, AuditOff or AuditRequired (AuditOn when unset).
func (c *Config) AuditMode() string {
	if c.m.audit == "" {
		return AuditOn
	}
	return c.m.audit
}

// EnvFiles lists the env files phantom protects and reads, in load order:
// clean, slash-separated paths relative to the project directory (use
// filepath.FromSlash). When env_files is unset: .env, .env.local; an explicit
// empty list stays empty.
func (c *Config) EnvFiles() []string {
	if !c.m.envSet {
		return slices.Clone(defaultEnvFiles)
	}
	return slices.Clone(c.m.envFiles)
}

// DefaultEnvFiles is the env_files list when .phantom.toml sets none.
func DefaultEnvFiles() []string { return slices.Clone(defaultEnvFiles) }

// PolicyNames lists the secrets with a policy set in [secrets], sorted.
func (c *Config) PolicyNames() []string { return slices.Sorted(maps.Keys(c.m.policies)) }

// Overrides returns the [classify] patterns.
func (c *Config) Overrides() Overrides {
	return Overrides{Secret: slices.Clone(c.m.classify.Secret), Public: slices.Clone(c.m.classify.Public)}
}

// Policy returns the policy set for the secret in .phantom.toml, and whether
// one is set. When explicit is false the caller applies the default (proxy
// for a secret owned by a route, inject otherwise).
func (c *Config) Policy(name string) (policy string, explicit bool) {
	p, ok := c.m.policies[name]
	return p, ok
}

// Path is the file this config was loaded from or last saved to ("" for a
// New config not yet saved).
func (c *Config) Path() string { return c.path }
