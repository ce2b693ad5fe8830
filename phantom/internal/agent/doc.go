// Package agent is the wire layer between the phantom CLI and `phantom
// agent`, the per-vault process that holds an unlocked vault's data key
// (issue 15; the protocol is documented in docs/phantom.md and in this
// package's constants).
//
// The package owns everything about the socket that a mistake would turn
// into a leak or an impersonation:
//
//   - where the socket lives (SocketDir, SocketPath) and the permission
//     checks on its directory (Listen);
//   - the frame format (Conn: a 4-byte big-endian length, then a type byte
//     and the payload; at most MaxFrame payload bytes);
//   - the version hello both sides exchange first;
//   - the peer checks: the agent serves only its own uid (Accept); the CLI
//     talks only to a peer of its uid that nobody traces, whose memory its
//     uid cannot read and, where the kernel lets us see it, that runs the
//     same executable as the CLI (Dial). A peer that fails is an
//     ImpostorError and nothing is sent to it.
//   - the key's memory (Key: mlock'd, wiped on lock and exit) and the
//     agent's own self-check (SelfCheck).
//
// A key or passphrase never travels over the socket: a same-uid process can
// kill the agent and serve the socket itself with a program that imitates
// every property a non-root client can check (the kernel hides
// /proc/<pid>/exe of a non-dumpable process from its own uid). `phantom
// unlock` hands the key to the agent it starts through an inherited pipe,
// and asks an agent that is already running to prove it holds the key
// (TypeProve) instead of trusting it.
package agent
