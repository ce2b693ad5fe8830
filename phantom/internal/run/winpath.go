package run

import (
	"path"
	"strings"
)

// winLookPath is how Windows finds a command in the child's environment
// (lookpath_windows.go runs it with the real file system; it has no build
// tag so that its rules are tested on every OS): PATH and PATHEXT are
// looked up case-insensitively (Windows keeps "Path"), PATH is split on
// ";", and a name without one of PATHEXT's extensions is tried with each
// of them in order (node → node.exe). Like Go's exec.LookPath it does not
// search the current directory unless PATH names it. isFile reports whether
// a path is an existing regular file; there are no execute bits, so 126
// never applies.
func winLookPath(name string, env []string, isFile func(string) bool) (string, int) {
	pathList, pathext := "", ""
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		switch {
		case strings.EqualFold(k, "PATH"):
			pathList = v
		case strings.EqualFold(k, "PATHEXT"):
			pathext = v
		}
	}
	var exts []string
	for _, e := range strings.Split(strings.ToLower(pathext), ";") {
		if e != "" && e[0] == '.' {
			exts = append(exts, e)
		}
	}
	if len(exts) == 0 {
		exts = []string{".com", ".exe", ".bat", ".cmd"} // Windows' default
	}
	find := func(p string) (string, bool) {
		ext := strings.ToLower(path.Ext(strings.ReplaceAll(p, `\`, "/")))
		for _, e := range exts {
			if ext == e && isFile(p) {
				return p, true
			}
		}
		for _, e := range exts {
			if isFile(p + e) {
				return p + e, true
			}
		}
		return "", false
	}
	if strings.ContainsAny(name, `/\:`) {
		if p, ok := find(name); ok {
			return p, 0
		}
		return name, ExitNotFound
	}
	for _, dir := range strings.Split(pathList, ";") {
		dir = strings.Trim(dir, `"`)
		if dir == "" {
			continue
		}
		if p, ok := find(strings.TrimRight(dir, `\/`) + `\` + name); ok {
			return p, 0
		}
	}
	return "", ExitNotFound
}
