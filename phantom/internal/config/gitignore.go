package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"phantomstack.dev/shared/fsx"
)

// GitignoreComment heads the block EnsureGitignore appends.
const GitignoreComment = "# phantom: env files hold placeholders, but keep them out of git"

// EnsureGitignore makes projectDir/.gitignore contain every pattern, in
// order, and returns the ones it appended. It keeps every existing byte: the
// missing patterns are appended as one block under GitignoreComment (after a
// newline if the file lacks a final one, and a blank line), with the file's
// own line ending. The file is created (0644) if missing and written
// atomically; a symlink is written through. Running it again adds nothing.
//
// An existing line counts as the pattern when it is equal to it, ignoring a
// leading "/" and trailing whitespace (git ignores that too). A negation
// ("!.env.example") counts only if no pattern before it in the list had to
// be appended: git applies the last matching line, so a negation must come
// after the rule it excepts.
func EnsureGitignore(projectDir string, patterns []string) (added []string, err error) {
	for _, p := range patterns {
		if strings.TrimSpace(p) == "" || strings.ContainsAny(p, "\r\n") {
			return nil, fmt.Errorf("invalid .gitignore pattern %q", p)
		}
	}
	path := filepath.Join(projectDir, ".gitignore")
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		if path, err = filepath.EvalSymlinks(path); err != nil {
			return nil, fmt.Errorf("update .gitignore: %w", err)
		}
	}
	old, err := os.ReadFile(path)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("update .gitignore: %w", err)
	}

	present := map[string]bool{}
	for _, line := range strings.Split(string(old), "\n") {
		present[gitignoreKey(line)] = true
	}
	appendedRule := false
	for _, p := range patterns {
		k := gitignoreKey(p)
		negation := strings.HasPrefix(k, "!")
		if present[k] && !(negation && appendedRule) {
			continue
		}
		present[k] = true
		added = append(added, p)
		if !negation {
			appendedRule = true
		}
	}
	if len(added) == 0 {
		return nil, nil
	}

	nl := "\n"
	if bytes.Contains(old, []byte("\r\n")) {
		nl = "\r\n"
	}
	var b bytes.Buffer
	b.Write(old)
	if len(old) > 0 {
		if old[len(old)-1] != '\n' {
			b.WriteString(nl)
		}
		if !isBlankLineEnd(b.Bytes()) {
			b.WriteString(nl)
		}
	}
	b.WriteString(GitignoreComment + nl)
	for _, p := range added {
		b.WriteString(p + nl)
	}
	perm := os.FileMode(0o644)
	if exists {
		perm = 0 // keep the file's mode
	}
	if err := fsx.WriteFileAtomic(path, b.Bytes(), perm); err != nil {
		return nil, fmt.Errorf("update .gitignore: %w", err)
	}
	return added, nil
}

// gitignoreKey normalises a .gitignore line for comparison: no trailing
// whitespace, no anchoring "/" (after a "!" too).
func gitignoreKey(line string) string {
	k := strings.TrimRight(line, " \t\r")
	neg := strings.HasPrefix(k, "!")
	k = strings.TrimPrefix(strings.TrimPrefix(k, "!"), "/")
	if neg {
		return "!" + k
	}
	return k
}
