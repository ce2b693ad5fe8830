package phantomctl

import "io/fs"

// executable reports whether a PHANTOM_BIN file can be run. Windows files
// have no execute bit (every mode reads 0666 or 0444); a regular file is
// the best this can check, and starting it says the rest.
func executable(st fs.FileInfo) bool { return st.Mode().IsRegular() }
