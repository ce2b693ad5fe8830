package cli

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// echoOn reports whether the terminal echoes typed characters.
func echoOn(t *testing.T, tty *os.File) bool {
	t.Helper()
	st, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatalf("reading the terminal state: %v", err)
	}
	return st.Lflag&unix.ECHO != 0
}
