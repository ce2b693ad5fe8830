package audit

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// ReadOptions selects entries for ReadEntries.
type ReadOptions struct {
	Last int    // keep only the last N selected lines (0: all)
	Op   string // only events with this op (malformed lines are always kept)
	Name string // only events for this secret name (malformed lines are always kept)
}

// Entry is one line of audit.log as ReadEntries found it: either an Event, or
// a line that is not an entry, with the reason and the start of its text.
type Entry struct {
	Line    int    `json:"line"`
	Event   *Event `json:"event,omitempty"`
	Problem string `json:"problem,omitempty"` // why the line is not an entry
	Raw     string `json:"raw,omitempty"`     // up to 200 bytes of a malformed line
}

// ReadEntries returns the lines of the audit log in dir, oldest first. It
// parses but does NOT verify: MACs and the chain are Verify's job, so a shown
// entry is what the file says, not proof. Lines that are not entries are
// returned with Problem set, whatever the filter, so nothing is skipped
// silently. A directory with no log returns no entries and no error.
func ReadEntries(dir string, opts ReadOptions) ([]Entry, error) {
	s, ok, err := takeSnapshot(dir, "phantom audit show")
	if err != nil || !ok || s.log == nil {
		return nil, err
	}
	defer s.log.Close()
	var out []Entry
	lr := newLineReader(io.LimitReader(s.log, s.size))
	for n := 1; ; n++ {
		line, _, tooLong, err := lr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return out, fmt.Errorf("audit log: read %s: %w", filepath.Join(dir, LogFile), err)
		}
		var ent Entry
		ent.Line = n
		if tooLong {
			ent.Problem = fmt.Sprintf("line is longer than %d bytes", maxLineLen)
		} else if e, err := decodeLine(line); err != nil {
			ent.Problem = err.Error()
			ent.Raw = string(line[:min(len(line), 200)])
		} else {
			if (opts.Op != "" && e.Op != opts.Op) || (opts.Name != "" && e.Name != opts.Name) {
				continue
			}
			ent.Event = &e
		}
		out = append(out, ent)
		if opts.Last > 0 && len(out) > 2*opts.Last {
			out = append(out[:0], out[len(out)-opts.Last:]...)
		}
	}
	if opts.Last > 0 && len(out) > opts.Last {
		out = out[len(out)-opts.Last:]
	}
	return out, nil
}

// MalformedError is returned by Read, together with the events it could
// parse, when some lines of the log are not entries.
type MalformedError struct {
	Lines    []int  // line numbers (the first 20)
	Count    int    // how many lines in all
	FirstWhy string // why the first one is not an entry
}

func (e *MalformedError) Error() string {
	if e.Count == 1 {
		return fmt.Sprintf("%s: line %d is not a valid entry (%s); run 'phantom audit verify'", LogFile, e.Lines[0], e.FirstWhy)
	}
	nums := make([]string, len(e.Lines))
	for i, n := range e.Lines {
		nums[i] = fmt.Sprint(n)
	}
	if e.Count > len(e.Lines) {
		nums = append(nums, "...")
	}
	return fmt.Sprintf("%s: %d lines are not valid entries (lines %s; the first: %s); run 'phantom audit verify'",
		LogFile, e.Count, strings.Join(nums, ", "), e.FirstWhy)
}

// Read returns the last `last` events of the audit log in dir (all when last
// <= 0), oldest first, without verifying them (see ReadEntries). When some
// lines are not entries it returns the events it could parse AND a
// *MalformedError naming those lines, so a caller can show both.
func Read(dir string, last int) ([]Event, error) {
	ents, err := ReadEntries(dir, ReadOptions{})
	if err != nil {
		return nil, err
	}
	var evs []Event
	var bad *MalformedError
	for _, ent := range ents {
		if ent.Event != nil {
			evs = append(evs, *ent.Event)
			continue
		}
		if bad == nil {
			bad = &MalformedError{FirstWhy: ent.Problem}
		}
		bad.Count++
		if len(bad.Lines) < 20 {
			bad.Lines = append(bad.Lines, ent.Line)
		}
	}
	if last > 0 && len(evs) > last {
		evs = evs[len(evs)-last:]
	}
	if bad != nil {
		return evs, bad
	}
	return evs, nil
}
