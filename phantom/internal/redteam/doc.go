// Package redteam holds no code of its own: its tests play the attacker
// phantom is built against (docs/security.md) — an AI agent running as the
// same OS user, with a shell but no terminal, free to write any file the
// user can, read /proc, and open a loopback listener of its own — against
// the real, statically built phantom binary. Each test tries one path to a
// secret value and asserts that the value reaches nothing the agent can
// read (its output, the files it can write, its listener, core files) and
// that the refusal is in the audit log.
package redteam
