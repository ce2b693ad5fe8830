package run

import "os"

// lookPath finds name in the child's PATH, not phantom's, with Windows'
// rules (winLookPath).
func lookPath(name string, env []string) (string, int) {
	return winLookPath(name, env, func(p string) bool {
		st, err := os.Stat(p)
		return err == nil && st.Mode().IsRegular()
	})
}
