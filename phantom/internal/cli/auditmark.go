package cli

import (
	"encoding/hex"
	"fmt"
	"os"

	"phantomstack.dev/phantom/internal/audit"
	"phantomstack.dev/phantom/internal/vault"
	"phantomstack.dev/shared/exitcode"
)

// The vault's audit mark (vault.AuditMark) ties a vault to the audit log of
// the home it is used under: every vault write stores the position of its
// own audit event, and the key that signed the vault's first entry in that
// log (the anchor `audit verify` re-derives the forward-secure chain from).
// A vault copied to another PHANTOM_HOME and written there comes back naming
// another log; a log rolled back falls behind the mark. See docs/phantom.md,
// "The audit log".

// auditMarks is where this process's audit events landed.
type auditMarks struct {
	first, last audit.Position // first: this process's first event in last.LogID's log
	// adopting makes the next vault write take a fresh anchor in this
	// home's log even when the old mark names the same log (audit adopt).
	adopting bool
}

// note remembers the position of an append (zero when nothing was written).
func (m *auditMarks) note(pos audit.Position) {
	if pos.LogID == "" || pos.Last == 0 {
		return
	}
	if m.first.LogID != pos.LogID {
		m.first = pos
	}
	m.last = pos
}

// nextMark is vault.Options.Mark: it runs under the vault lock after the
// write's audit event was appended.
func (f *Factory) nextMark(old *vault.AuditMark) *vault.AuditMark {
	last := f.marks.last
	if last.LogID == "" {
		return old // nothing recorded by this process (audit off): keep the old mark
	}
	m := &vault.AuditMark{LogID: last.LogID, Seq: last.Last, MAC: last.LastMAC}
	if !f.marks.adopting && old != nil && old.LogID == m.LogID && old.AnchorKey != "" {
		// Same log: the anchor stays where the vault joined it, so verify
		// keeps checking from there (and a rolled-back log keeps failing).
		m.AnchorSeq, m.AnchorKey = old.AnchorSeq, old.AnchorKey
		return m
	}
	first := f.marks.first
	m.AnchorSeq, m.AnchorKey = first.First, hex.EncodeToString(first.FirstKey)
	return m
}

// auditMarkOf converts a vault's mark for audit.VerifyWith (nil when none).
func auditMarkOf(p *Project, m *vault.AuditMark) *audit.Mark {
	if m == nil {
		return nil
	}
	key, _ := hex.DecodeString(m.AnchorKey)
	return &audit.Mark{Project: p.ID(), LogID: m.LogID, Seq: m.Seq, MAC: m.MAC, AnchorSeq: m.AnchorSeq, AnchorKey: key}
}

// markProblem says what is wrong between a vault's mark and this home's log,
// from the cheap check (audit.Identity: no log scan); "" when nothing.
func markProblem(m *vault.AuditMark, home, id string, next uint64) (op, what string) {
	switch {
	case m == nil || m.LogID == "":
		return "", ""
	case id != m.LogID:
		here := "this home (" + home + ") has no audit log"
		if id != "" {
			here = "this home's log (" + home + ") is " + id
		}
		return audit.OpVaultMoved, fmt.Sprintf("this project's vault was last written with audit log %s (seq %d), but %s: the vault was used and written under another PHANTOM_HOME, or this home's log was deleted or replaced", m.LogID, m.Seq, here)
	case m.Seq >= next:
		return audit.OpVaultAhead, fmt.Sprintf("this project's vault was last written at audit seq %d, but the log in %s ends at seq %d: the log was truncated or rolled back to an earlier copy", m.Seq, home, next-1)
	}
	return "", ""
}

// checkVaultMark runs whenever a command opens the project's vault. A vault
// whose mark names another log, or a log that fell behind the mark, is
// recorded in this home's log (audit.vault-moved / audit.vault-ahead, which
// `audit verify` reports until `phantom audit adopt`). With audit =
// "required" the command is refused (exit 5) until a human adopts the vault;
// otherwise it warns, and the next vault write anchors the vault in this log.
func (f *Factory) checkVaultMark(p *Project, v *vault.Vault) error {
	log := f.auditLog(p)
	m := v.Payload().Audit
	if m == nil || !log.Enabled() {
		return nil
	}
	id, next, err := audit.Identity(log.Dir())
	if err != nil {
		f.IO.Warnf("could not check the vault's audit mark: %v", err)
		return nil
	}
	op, what := markProblem(m, log.Dir(), id, next)
	if op == "" {
		return nil
	}
	rerr := f.record(p, audit.Event{Op: op, Detail: what})
	if log.Required() {
		return exitcode.Errorf(exitcode.Refused, "%s.\n%s says audit = \"required\", so this vault is not used until you accept this home's audit log as its log: check with `phantom audit verify`, then run `phantom audit adopt` on your own terminal.", what, ConfigFile)
	}
	f.IO.Warnf("%s.\nRecorded as %s in this home's audit log. If you moved the vault or PHANTOM_HOME yourself, run `phantom audit adopt` on your terminal.", what, op)
	return rerr
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
