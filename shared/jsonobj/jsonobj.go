// Package jsonobj is a JSON object that keeps its key order, for editing a
// configuration file someone else owns: phantom setup merging its MCP entry
// into a client's JSON file, and stack writing its entries into a project's
// .mcp.json. encoding/json's maps lose the order of the keys; here every
// key stays where it was and every value it does not set stays byte for
// byte what it was (only re-indented when rendered).
package jsonobj

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Member is one key of an Object, with its value as it was in the input.
type Member struct {
	Key   string
	Value json.RawMessage
}

// Object is a JSON object in key order. The zero value is the empty object.
type Object []Member

// ErrNotObject is Parse's error for input whose top level is valid JSON
// but not an object (an array, a string, null...).
var ErrNotObject = errors.New("not a JSON object")

// ErrTrailingData is Parse's error for anything but white space after the
// object: a second value, or garbage.
var ErrTrailingData = errors.New("more than one JSON value")

// Parse decodes b, which must be exactly one JSON object (white space
// around it is allowed). Values are kept raw, nested objects included; a
// key given twice keeps its first place and its last value, as
// JavaScript's JSON.parse does.
//
// Syntax errors are encoding/json's, whose offsets are relative to where
// the streaming decoder was: a caller that reports a position should take
// it from json.Unmarshal of the whole input (which fails on the same
// input).
func Parse(b []byte) (Object, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, ErrNotObject
	}
	var o Object
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, _ := tok.(string) // inside an object the decoder only yields string keys
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		o.Set(k, v)
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, ErrTrailingData
	}
	return o, nil
}

// Get returns the raw value of key k.
func (o Object) Get(k string) (json.RawMessage, bool) {
	for _, m := range o {
		if m.Key == k {
			return m.Value, true
		}
	}
	return nil, false
}

// Set gives key k the raw value v: in its place when k exists, appended
// otherwise. v must be valid JSON (Indent fails on it otherwise).
func (o *Object) Set(k string, v json.RawMessage) {
	for i, m := range *o {
		if m.Key == k {
			(*o)[i].Value = v
			return
		}
	}
	*o = append(*o, Member{k, v})
}

// Delete removes key k and reports whether it was there.
func (o *Object) Delete(k string) bool {
	for i, m := range *o {
		if m.Key == k {
			*o = append((*o)[:i], (*o)[i+1:]...)
			return true
		}
	}
	return false
}

// Indent renders o with two-space indentation, as an object whose opening
// brace is at the current position of a document already indented by
// prefix: members are indented by prefix plus two spaces, the closing brace
// by prefix. An empty object is "{}". There is no trailing newline.
func (o Object) Indent(prefix string) ([]byte, error) {
	if len(o) == 0 {
		return []byte("{}"), nil
	}
	var b bytes.Buffer
	b.WriteString("{\n")
	for i, m := range o {
		k, err := json.Marshal(m.Key)
		if err != nil {
			return nil, err
		}
		var v bytes.Buffer
		if err := json.Indent(&v, m.Value, prefix+"  ", "  "); err != nil {
			return nil, fmt.Errorf("%s: %w", m.Key, err)
		}
		b.WriteString(prefix + "  ")
		b.Write(k)
		b.WriteString(": ")
		b.Write(v.Bytes())
		if i < len(o)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString(prefix + "}")
	return b.Bytes(), nil
}
