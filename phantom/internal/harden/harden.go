// Package harden keeps a phantom process's memory out of reach of other
// processes of the same user. main calls Process before anything else:
// every phantom process may hold the vault key or secret values.
//
// It makes the process non-dumpable (Linux: prctl PR_SET_DUMPABLE 0, which
// also makes /proc/<pid>/mem, /proc/<pid>/environ and ptrace refuse the same
// uid without CAP_SYS_PTRACE; macOS: ptrace PT_DENY_ATTACH), sets RLIMIT_CORE
// to 0 (soft and hard, so a same-user prlimit cannot raise it again), and
// never lets GOTRACEBACK above "single" apply to phantom itself. On Windows
// only the GOTRACEBACK rule applies (harden_windows.go; docs/platforms.md).
//
// GOTRACEBACK is read by the Go runtime before main runs, and
// runtime/debug.SetTraceback cannot lower the level below the environment's
// (the runtime ORs the environment's setting in). So when GOTRACEBACK asks
// for more than "single", Process re-executes the program once with it
// removed, stashing the original under stashEnv so that programs phantom
// runs (phantom exec's child) still get the user's GOTRACEBACK. Nothing has
// been read from the vault or the environment's secrets at that point.
// See docs/decisions.md ("phantom processes are non-dumpable").
package harden

import (
	"fmt"
	"os"
	"slices"
	"strings"
)

// stashEnv carries the user's GOTRACEBACK across the re-execution; the
// re-executed process puts it back into its environment (for children) and
// removes the stash. It only ever decides what children get.
const stashEnv = "PHANTOM_CHILD_GOTRACEBACK"

// Process hardens the calling process; see the package comment. It returns
// only when the process is hardened (or with an error saying why it could
// not be; main must then stop). It may not return at all: it replaces the
// process with a fresh copy of itself when GOTRACEBACK needs removing.
func Process() error {
	if tb, set := os.LookupEnv("GOTRACEBACK"); set && !quietTraceback(tb) {
		return reexec(withoutTraceback(os.Environ(), tb))
	}
	if tb, ok := os.LookupEnv(stashEnv); ok {
		os.Unsetenv(stashEnv)
		if _, set := os.LookupEnv("GOTRACEBACK"); !set {
			os.Setenv("GOTRACEBACK", tb)
		}
	}
	if err := protect(); err != nil {
		return fmt.Errorf("could not protect this process's memory from other programs: %w", err)
	}
	return noCoreDumps()
}

// quietTraceback reports whether a GOTRACEBACK level prints no more than
// the crashing goroutine (Go's default, "single") and dumps no core.
func quietTraceback(level string) bool {
	switch level {
	case "", "none", "single":
		return true
	}
	return false
}

// withoutTraceback is env with GOTRACEBACK moved to stashEnv.
func withoutTraceback(env []string, tb string) []string {
	env = slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		return strings.HasPrefix(kv, "GOTRACEBACK=") || strings.HasPrefix(kv, stashEnv+"=")
	})
	return append(env, stashEnv+"="+tb)
}
