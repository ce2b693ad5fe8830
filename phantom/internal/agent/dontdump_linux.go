package agent

import "golang.org/x/sys/unix"

// dontDump keeps mem out of core dumps (madvise MADV_DONTDUMP). Best
// effort: the agent writes no core file at all (RLIMIT_CORE 0).
func dontDump(mem []byte) { _ = unix.Madvise(mem, unix.MADV_DONTDUMP) }
