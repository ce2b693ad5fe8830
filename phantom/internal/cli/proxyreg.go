package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"phantomstack.dev/shared/fsx"
)

// RunningProxy is a proxy of this project that is running now. A proxy
// loads the vault's tokens once, when it starts, and never holds the vault
// key afterwards (docs/security.md), so after `phantom rotate` it still
// knows only the old tokens until it is restarted; rotate lists these so
// the user knows what to restart (docs/decisions.md, "rotate and running
// proxies").
type RunningProxy struct {
	Kind      string    `json:"kind"` // "start" or "exec"
	PID       int       `json:"pid"`
	Addr      string    `json:"addr"`
	Command   string    `json:"command,omitempty"` // exec: the command's name
	StartedAt time.Time `json:"started_at"`
	Restart   string    `json:"restart"`
}

// restartStart is how to restart the proxy of `phantom start`; the new one
// has a new port and session token, so the exports are read again.
const restartStart = `phantom stop && eval "$(phantom start -d)"`

func restartExec(command string) string {
	return fmt.Sprintf("stop %s and run it again with phantom exec", command)
}

// execRegPath is the registration file of the exec proxy of process pid:
// $PHANTOM_HOME/proxy/<project_id>.exec.<pid>.json (mode 0600). It holds no
// secret and no session token; it only tells rotate that the proxy exists.
func execRegPath(home, projectID string, pid int) string {
	return filepath.Join(stateDir(home), projectID+".exec."+strconv.Itoa(pid)+".json")
}

// registerExecProxy writes the registration file of this process's exec
// proxy and returns the function that removes it.
func registerExecProxy(home, projectID string, rp RunningProxy) (func(), error) {
	if err := fsx.MkdirPrivate(stateDir(home)); err != nil {
		return func() {}, err
	}
	path := execRegPath(home, projectID, rp.PID)
	b, _ := json.MarshalIndent(rp, "", "  ")
	if err := writeHint(path, append(b, '\n')); err != nil {
		return func() {}, err
	}
	return func() { os.Remove(path) }, nil
}

// writeHint writes a registration file whole (temp file, rename) but
// without fsync: it is a hint for rotate that lives as long as one run,
// and after a crash a missing or stale one costs nothing (runningProxies
// drops files of dead processes). Two fsyncs were most of exec's start-up
// cost on a slow disk.
func writeHint(path string, data []byte) error {
	f, err := fsx.CreateTemp(filepath.Dir(path), filepath.Base(path), 0o600)
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(f.Name(), path)
	}
	if werr != nil {
		os.Remove(f.Name())
	}
	return werr
}

// runningProxies lists the proxies of the project that are running: the
// one `phantom start` runs and every `phantom exec` proxy. Files left by a
// process that died without cleaning up are removed.
func runningProxies(home, projectID string) []RunningProxy {
	out := []RunningProxy{}
	if st, err := readProxyState(home, projectID); err == nil && st != nil {
		out = append(out, RunningProxy{Kind: "start", PID: st.PID, Addr: st.Addr, StartedAt: st.StartedAt, Restart: restartStart})
	}
	matches, _ := filepath.Glob(filepath.Join(stateDir(home), projectID+".exec.*.json"))
	sort.Strings(matches)
	for _, m := range matches {
		b, err := os.ReadFile(m)
		var rp RunningProxy
		if err != nil || json.Unmarshal(b, &rp) != nil || rp.PID <= 0 ||
			!strings.HasSuffix(m, ".exec."+strconv.Itoa(rp.PID)+".json") {
			continue
		}
		if !processAlive(rp.PID) {
			os.Remove(m)
			continue
		}
		rp.Kind = "exec"
		rp.Restart = restartExec(rp.Command)
		out = append(out, rp)
	}
	return out
}
