// Package mcpjson reads and edits a project's .mcp.json, the project-scoped
// MCP server list that MCP clients (Claude Code and others) read:
//
//	{"mcpServers": {"<name>": {"command": "...", "args": [...], "env": {...}}}}
//
// Edits touch one server entry and nothing else: every other top-level key
// and every other server is kept, in its order, with its content as it was
// (re-indented with two spaces). A file that is not valid JSON is an error
// with its line and column, and is never written over.
package mcpjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"phantomstack.dev/shared/fsx"
	"phantomstack.dev/shared/jsonobj"
)

// FileName is the project-scoped MCP configuration file.
const FileName = ".mcp.json"

const serversKey = "mcpServers"

// Entry is one stdio server as stack writes it.
type Entry struct {
	Type    string            `json:"type,omitempty"` // "http" for a remote server
	URL     string            `json:"url,omitempty"`
	Command string            `json:"command,omitempty"`
	Args    []string          `json:"args,omitempty"`
	Env     map[string]string `json:"env,omitempty"`
}

// File is a parsed .mcp.json.
type File struct {
	Path   string
	Exists bool
	Orig   []byte // the bytes read (nil when the file did not exist)
	Mode   fs.FileMode
	top    jsonobj.Object
	svrs   jsonobj.Object
}

// Error is a .mcp.json that cannot be used, located by line and column
// when the JSON itself is broken.
type Error struct {
	File      string
	Line, Col int
	Msg       string
}

func (e *Error) Error() string {
	if e.Line > 0 && e.Col > 0 {
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
	}
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Load reads dir's .mcp.json. A missing file is an empty one.
func Load(dir string) (*File, error) {
	p := filepath.Join(dir, FileName)
	f := &File{Path: p, Mode: 0o644}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", FileName, err)
	}
	if st, err := os.Stat(p); err == nil {
		f.Mode = st.Mode().Perm()
	}
	f.Exists, f.Orig = true, b
	if len(bytes.TrimSpace(b)) == 0 {
		return f, nil // an empty file is an empty configuration
	}
	top, err := jsonobj.Parse(b)
	if err != nil {
		return nil, positioned(b, err)
	}
	f.top = top
	if raw, ok := top.Get(serversKey); ok {
		svrs, err := jsonobj.Parse(raw)
		if err != nil {
			return nil, &Error{File: FileName, Line: lineOfKey(b, serversKey), Msg: `"mcpServers" must be an object of server entries`}
		}
		f.svrs = svrs
	}
	return f, nil
}

// positioned turns a decoding error into an Error with a line and column.
func positioned(b []byte, err error) error {
	// The streaming decoder's offsets are relative to the value it was
	// reading; a whole-document pass gives the absolute one.
	var v any
	if uerr := json.Unmarshal(b, &v); uerr != nil {
		err = uerr
	}
	var se *json.SyntaxError
	off := int64(-1)
	if errors.As(err, &se) {
		off = se.Offset
	} else if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		off = int64(len(b))
		err = errors.New("unexpected end of JSON input")
	}
	e := &Error{File: FileName, Msg: "invalid JSON: " + err.Error()}
	if errors.Is(err, jsonobj.ErrNotObject) {
		e.Line, e.Col = 1, 1
		e.Msg = "invalid: the top level must be a JSON object"
	}
	if off >= 0 {
		if off > int64(len(b)) {
			off = int64(len(b))
		}
		pre := b[:off]
		e.Line = bytes.Count(pre, []byte("\n")) + 1
		e.Col = int(off) - (bytes.LastIndexByte(pre, '\n') + 1)
		if e.Col < 1 {
			e.Col = 1
		}
	}
	return e
}

func lineOfKey(b []byte, k string) int {
	i := bytes.Index(b, []byte(`"`+k+`"`))
	if i < 0 {
		return 0
	}
	return bytes.Count(b[:i], []byte("\n")) + 1
}

// Get returns the raw entry called name.
func (f *File) Get(name string) (json.RawMessage, bool) { return f.svrs.Get(name) }

// Same reports whether the entry called name is exactly e (as JSON values).
func (f *File) Same(name string, e Entry) bool {
	raw, ok := f.Get(name)
	if !ok {
		return false
	}
	var got, want any
	wb, _ := json.Marshal(e)
	if json.Unmarshal(raw, &got) != nil || json.Unmarshal(wb, &want) != nil {
		return false
	}
	gb, _ := json.Marshal(got)
	wb, _ = json.Marshal(want)
	return bytes.Equal(gb, wb)
}

// Set adds or replaces the entry called name (kept in its place when it
// exists, appended otherwise).
func (f *File) Set(name string, e Entry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	f.svrs.Set(name, b)
	return nil
}

// Delete removes the entry called name and reports whether it was there.
func (f *File) Delete(name string) bool { return f.svrs.Delete(name) }

// Bytes renders the file with two-space indentation.
func (f *File) Bytes() ([]byte, error) {
	top := append(jsonobj.Object{}, f.top...)
	svrs, err := f.svrs.Indent("  ")
	if err != nil {
		return nil, err
	}
	top.Set(serversKey, svrs)
	out, err := top.Indent("")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// Save writes the file atomically, keeping an existing file's mode.
func (f *File) Save() error {
	b, err := f.Bytes()
	if err != nil {
		return err
	}
	if err := fsx.WriteFileAtomic(f.Path, b, f.Mode); err != nil {
		return fmt.Errorf("could not write %s: %w", FileName, err)
	}
	return nil
}

// Restore puts back what Load read: the old bytes, or no file at all.
func (f *File) Restore() error {
	if !f.Exists {
		err := os.Remove(f.Path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	return fsx.WriteFileAtomic(f.Path, f.Orig, f.Mode)
}
