//go:build unix

package phantomctl

import "io/fs"

// executable reports whether a PHANTOM_BIN file can be run: a file with an
// execute bit.
func executable(st fs.FileInfo) bool {
	return !st.IsDir() && st.Mode().Perm()&0o111 != 0
}
