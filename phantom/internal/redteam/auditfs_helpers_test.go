//go:build linux

package redteam

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// InHome returns the same agent working under another PHANTOM_HOME (the
// same project, the same environment otherwise).
func (a *Agent) InHome(home string) *Agent {
	b := *a
	b.Home = home
	b.Env = nil
	for _, kv := range a.Env {
		if !strings.HasPrefix(kv, "PHANTOM_HOME=") {
			b.Env = append(b.Env, kv)
		}
	}
	b.Env = append(b.Env, "PHANTOM_HOME="+home)
	return &b
}

// VaultFile is the path of the agent's project vault under its home.
func (a *Agent) VaultFile() string {
	a.t.Helper()
	m, _ := filepath.Glob(filepath.Join(a.Home, "vaults", "*.vault"))
	if len(m) != 1 {
		a.t.Fatalf("want one vault in %s, found %v", a.Home, m)
	}
	return m[0]
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// forgedEntry mirrors an audit entry as the agent reads the documented format
// (docs/phantom.md, "The audit log"): field order and omitempty as phantom
// writes them, so json.Marshal gives the canonical text the MAC covers.
type forgedEntry struct {
	Seq     uint64    `json:"seq"`
	Time    time.Time `json:"time"`
	Op      string    `json:"op"`
	Project string    `json:"project,omitempty"`
	Name    string    `json:"name,omitempty"`
	Detail  string    `json:"detail,omitempty"`
	PID     int       `json:"pid"`
	Process string    `json:"process"`
	Prev    string    `json:"prev"`
	MAC     string    `json:"mac"`
}

// readAuditKey is what the agent learns from audit.key.
type readAuditKey struct {
	Log string `json:"log"`
	Seq uint64 `json:"seq"`
	Key string `json:"key"`
}

func hmacHex(key []byte, msg []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return hex.EncodeToString(m.Sum(nil))
}

// Rechain is the attack "a log re-chained with the readable audit.key": drop
// every entry whose op is dropOp, renumber, recompute prev and every MAC from
// the first dropped entry on with the key read from audit.key, re-sign the
// head with it, and relabel audit.key for the new end. It returns how many
// entries were dropped.
func (a *Agent) Rechain(dropOp string) int {
	a.t.Helper()
	kb, err := os.ReadFile(filepath.Join(a.Home, "audit.key"))
	if err != nil {
		a.t.Fatal(err)
	}
	var rk readAuditKey
	if err := json.Unmarshal(kb, &rk); err != nil {
		a.t.Fatalf("audit.key: %v", err)
	}
	key, _ := hex.DecodeString(rk.Key)
	lb, err := os.ReadFile(filepath.Join(a.Home, "audit.log"))
	if err != nil {
		a.t.Fatal(err)
	}
	var out []string
	var prev string
	var seq uint64
	dropped := 0
	for _, line := range strings.Split(strings.TrimSuffix(string(lb), "\n"), "\n") {
		var e forgedEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			a.t.Fatalf("audit.log line: %v", err)
		}
		if e.Op == dropOp {
			dropped++
			continue
		}
		seq++
		if dropped == 0 {
			out = append(out, line)
			prev = e.MAC
			continue
		}
		e.Seq, e.Prev, e.MAC = seq, prev, ""
		c, _ := json.Marshal(e)
		e.MAC = hmacHex(key, c)
		b, _ := json.Marshal(e)
		out = append(out, string(b))
		prev = e.MAC
	}
	os.WriteFile(filepath.Join(a.Home, "audit.log"), []byte(strings.Join(out, "\n")+"\n"), 0o600)
	sig := hmacHex(key, []byte("phantom-audit-head-v2\x00"+rk.Log+"\x00"+strconv.FormatUint(seq, 10)+"\x00"+prev))
	head, _ := json.Marshal(map[string]any{"log": rk.Log, "seq": seq, "mac": prev, "sig": sig})
	os.WriteFile(filepath.Join(a.Home, "audit.head"), append(head, '\n'), 0o600)
	rk.Seq = seq + 1
	nk, _ := json.Marshal(rk)
	os.WriteFile(filepath.Join(a.Home, "audit.key"), append(nk, '\n'), 0o600)
	return dropped
}
