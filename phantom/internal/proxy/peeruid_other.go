//go:build !linux

package proxy

// No peer-owner check outside Linux: peerLookup stays nil and Listen serves
// every loopback connection that brings the session token. macOS has no
// /proc; LOCAL_PEERCRED answers for Unix-domain sockets only, and finding
// the owner of a TCP loopback peer means walking every process's file
// descriptors through libproc (proc_pidinfo/proc_pidfdinfo, cgo, and
// permission to inspect other users' processes, which an unprivileged
// phantom does not have). Windows has no check either (nothing here can
// run one; docs/platforms.md). There the session token is the protection,
// a documented degradation, not an accident: docs/decisions.md, "The proxy
// serves only its owner" and "macOS and Windows: compile-checked", and
// invariant 4 in docs/security.md.
