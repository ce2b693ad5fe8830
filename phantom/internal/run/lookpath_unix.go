//go:build unix

package run

import (
	"os"
	"path/filepath"
	"strings"
)

// lookPath finds name in the child's PATH, not phantom's, the way a shell
// does: a name with a slash is used as it is. It tells "not there" (127)
// from "there but not executable" (126).
func lookPath(name string, env []string) (string, int) {
	check := func(p string) int {
		st, err := os.Stat(p)
		switch {
		case err != nil:
			return ExitNotFound
		case st.IsDir() || st.Mode().Perm()&0o111 == 0:
			return ExitNotExecutable
		}
		return 0
	}
	if strings.Contains(name, "/") {
		return name, check(name)
	}
	path := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	code := ExitNotFound
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		switch check(p) {
		case 0:
			return p, 0
		case ExitNotExecutable:
			code = ExitNotExecutable
		}
	}
	return "", code
}
