package leakscan

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
)

// gitCmd runs git in dir with settings that keep its output parseable
// whatever the user's configuration: no colour, no external diff or
// textconv, paths unquoted where possible.
func gitCmd(ctx context.Context, dir string, args ...string) *exec.Cmd {
	base := []string{"-c", "core.quotePath=false", "-c", "color.ui=never", "-c", "diff.noprefix=false", "-c", "diff.mnemonicPrefix=false"}
	cmd := exec.CommandContext(ctx, "git", append(base, args...)...)
	cmd.Dir = dir
	return cmd
}

// GitTopLevel returns the work tree's top directory, or "" outside one.
func GitTopLevel(dir string) string {
	out, err := gitCmd(context.Background(), dir, "rev-parse", "--show-toplevel").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// ScanStaged scans what `git commit` would record: for env files the whole
// staged blob (git show :path); for every other file only the lines the
// commit adds (git diff --cached -U0), so a key already in the repository
// does not block an unrelated commit. Works on a repository with no
// commits yet, on a detached HEAD, and for deletions (nothing added) and
// renames (only changed lines).
func (s *Scanner) ScanStaged(ctx context.Context, dir string, pathspec []string) error {
	args := []string{"diff", "--cached", "-M", "-U0", "--no-color", "--no-ext-diff", "--no-textconv", "--"}
	args = append(args, pathspec...)
	var envFiles []string
	err := s.scanDiff(ctx, dir, args, func(path string) bool {
		if IsEnvFile(path) {
			envFiles = append(envFiles, path)
			return false
		}
		return true
	})
	if err != nil {
		return err
	}
	for _, p := range envFiles {
		cmd := gitCmd(ctx, dir, "show", ":"+p)
		out, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("git show :%s failed: %v", p, gitErr(err))
		}
		if err := s.ScanReader(p, "", bytes.NewReader(out)); err != nil {
			return err
		}
	}
	return nil
}

// ScanHistory scans every line added in the history of HEAD (git log -p).
// A repository with no commits has no history: nothing to scan.
func (s *Scanner) ScanHistory(ctx context.Context, dir string, pathspec []string) error {
	if err := gitCmd(ctx, dir, "rev-parse", "--verify", "-q", "HEAD").Run(); err != nil {
		return nil
	}
	args := []string{"log", "-p", "-M", "-U0", "--no-color", "--no-ext-diff", "--no-textconv", "--format=%x00%H", "--"}
	args = append(args, pathspec...)
	return s.scanDiff(ctx, dir, args, func(string) bool { return true })
}

// scanDiff streams a unified diff (from git diff or git log -p), feeding
// the added lines of each file to a unit. want decides per file (by its
// new path) whether its added lines are scanned.
func (s *Scanner) scanDiff(ctx context.Context, dir string, args []string, want func(string) bool) error {
	cmd := gitCmd(ctx, dir, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("cannot run git: %v", err)
	}
	perr := s.parseDiff(out, want)
	io.Copy(io.Discard, out)
	werr := cmd.Wait()
	if perr != nil {
		return perr
	}
	if werr != nil {
		return fmt.Errorf("git %s failed: %s", args[0], strings.TrimSpace(stderr.String()))
	}
	return nil
}

func (s *Scanner) parseDiff(r io.Reader, want func(string) bool) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var (
		commit  string
		path    string
		u       *unit
		bl      *builder
		inHunk  bool
		newLine int
		// midLine: the previous piece of an added line did not end it.
		midLine bool
		feeding bool
		bytesN  int64
	)
	finish := func() {
		if bl != nil {
			bl.flush()
			s.count(1, bytesN)
		}
		u, bl, bytesN = nil, nil, 0
	}
	for {
		p, err := br.ReadSlice('\n')
		if len(p) > 0 {
			if midLine {
				// The rest of a long line: fed when it is an added one.
				eol := p[len(p)-1] == '\n'
				if bl != nil && feeding {
					bl.piece(newLine, p, eol)
					bytesN += int64(len(p))
				}
				if eol {
					if feeding {
						newLine++ // only added lines are lines of the new file
					}
					midLine = false
				}
			} else {
				line := p
				switch {
				case line[0] == 0:
					finish()
					commit = strings.TrimSpace(string(line[1:]))
					s.mu.Lock()
					s.rep.Scanned.Commits++
					s.mu.Unlock()
					inHunk = false
				case bytes.HasPrefix(line, []byte("diff --git ")):
					finish()
					inHunk, path = false, ""
				case !inHunk && bytes.HasPrefix(line, []byte("+++ ")):
					name := strings.TrimRight(string(line[4:]), "\r\n")
					path = diffPath(name)
					if path != "" && want(path) {
						u = s.newUnit(path, commit)
						u.env = IsEnvFile(path) && !IsExampleEnv(path)
						bl = &builder{u: u}
					}
				case !inHunk && bytes.HasPrefix(line, []byte("Binary files ")):
					if p := binaryPath(string(line)); p != "" {
						s.skip(p, "binary")
					}
				case bytes.HasPrefix(line, []byte("@@ ")):
					inHunk = true
					newLine = hunkStart(string(line))
				case inHunk && line[0] == '+':
					body := line[1:]
					eol := len(body) > 0 && body[len(body)-1] == '\n'
					if bl != nil && len(body) > 0 {
						bl.piece(newLine, body, eol)
						bytesN += int64(len(body))
					}
					if eol {
						newLine++
					} else {
						midLine, feeding = true, true
					}
				case inHunk && (line[0] == '-' || line[0] == ' ' || line[0] == '\\'):
					// removed lines, context, "\ No newline at end of file";
					// the rest of a long one is skipped, never a header.
					if line[len(line)-1] != '\n' {
						midLine, feeding = true, false
					}
				default:
					// other header lines (index, mode, rename, similarity)
				}
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
	finish()
	return nil
}

// diffPath turns "b/path" (or a C-quoted "\"b/pa\\th\"") from a +++ line
// into the path; "/dev/null" (a deletion) is "".
func diffPath(name string) string {
	if name == "/dev/null" {
		return ""
	}
	if strings.HasPrefix(name, `"`) {
		if u, err := strconv.Unquote(name); err == nil {
			name = u
		}
	}
	// git appends a tab after a name with spaces in some versions.
	name = strings.TrimSuffix(name, "\t")
	return strings.TrimPrefix(name, "b/")
}

// binaryPath extracts the new path from "Binary files a/x and b/y differ".
func binaryPath(line string) string {
	line = strings.TrimSpace(line)
	i := strings.LastIndex(line, " and ")
	if i < 0 {
		return ""
	}
	return diffPath(strings.TrimSuffix(line[i+5:], " differ"))
}

// hunkStart reads c from "@@ -a,b +c,d @@".
func hunkStart(h string) int {
	i := strings.Index(h, " +")
	if i < 0 {
		return 1
	}
	rest := h[i+2:]
	j := strings.IndexAny(rest, ", ")
	if j >= 0 {
		rest = rest[:j]
	}
	n, err := strconv.Atoi(rest)
	if err != nil {
		return 1
	}
	return n
}

func gitErr(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(ee.Stderr) > 0 {
		return strings.TrimSpace(string(ee.Stderr))
	}
	return err.Error()
}
