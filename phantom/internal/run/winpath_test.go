package run

import (
	"slices"
	"testing"
)

// The Windows command lookup runs here with a fake file system: the rules
// (PATHEXT, case-insensitive variables, ";" lists) are plain string logic.
func TestWinLookPath(t *testing.T) {
	files := []string{
		`C:\Program Files\nodejs\node.exe`,
		`C:\tools\build.cmd`,
		`C:\tools\build.exe`,
		`C:\tools\script.py`,
		`C:\proj\bin\app.exe`,
		`.\local.exe`,
	}
	isFile := func(p string) bool { return slices.Contains(files, p) }
	env := []string{`Path=C:\Windows;"C:\Program Files\nodejs";C:\tools\`, "PATHEXT=.COM;.EXE;.BAT;.CMD"}
	for _, c := range []struct {
		name string
		env  []string
		want string
		code int
	}{
		{"node", env, `C:\Program Files\nodejs\node.exe`, 0},
		{"node.exe", env, `C:\Program Files\nodejs\node.exe`, 0},
		{"build", env, `C:\tools\build.exe`, 0},     // PATHEXT order: .EXE before .CMD
		{"build.cmd", env, `C:\tools\build.cmd`, 0}, // an extension in PATHEXT is used as given
		{"script.py", env, "", ExitNotFound},        // not in PATHEXT, and no script.py.exe
		{"script", env, "", ExitNotFound},
		{`C:\proj\bin\app`, env, `C:\proj\bin\app.exe`, 0},
		{`C:\proj\bin\missing`, env, `C:\proj\bin\missing`, ExitNotFound},
		{"local", env, "", ExitNotFound}, // the current directory is not searched
		{`.\local`, env, `.\local.exe`, 0},
		{"node", []string{`PATH=C:\Program Files\nodejs`}, `C:\Program Files\nodejs\node.exe`, 0}, // no PATHEXT: Windows' default
		{"node", []string{"PATHEXT=.EXE"}, "", ExitNotFound},                                      // no PATH
	} {
		got, code := winLookPath(c.name, c.env, isFile)
		if got != c.want || code != c.code {
			t.Errorf("winLookPath(%q) = %q, %d; want %q, %d", c.name, got, code, c.want, c.code)
		}
	}
}
