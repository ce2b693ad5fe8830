//go:build unix

package vault

import (
	"fmt"
	"os"
)

// sharedFileProblem says why a passphrase file with group or other
// permission bits is refused, and how to fix it.
func sharedFileProblem(m os.FileMode, path string) string {
	return fmt.Sprintf("may be read or written by other users (mode %04o); make it private: chmod 600 %s", m.Perm(), path)
}
