package cli

import (
	"fmt"
	"os/user"
	"strconv"
	"sync"

	"phantomstack.dev/phantom/internal/audit"
	"phantomstack.dev/phantom/internal/proxy"
)

// refusedPeer is the proxy's RefusedPeer hook: each connection it closed
// because another OS user opened it is a proxy.refused audit event, and the
// first one of a run is also a warning on phantom's stderr, since it means
// someone else on this machine has the proxy's URL (docs/phantom.md, "The
// proxy").
func (q *auditQueue) refusedPeer() func(proxy.PeerRefusal) {
	var once sync.Once
	return func(r proxy.PeerRefusal) {
		who := "a socket whose owner could not be found"
		if r.UID >= 0 {
			who = "uid " + strconv.Itoa(r.UID)
			if u, err := user.LookupId(strconv.Itoa(r.UID)); err == nil {
				who += " (" + u.Username + ")"
			}
		}
		q.add(audit.Event{Op: "proxy.refused", Detail: fmt.Sprintf("from=%s peer=%s reason=%s", r.Remote, who, r.Reason)})
		once.Do(func() {
			q.f.IO.Warnf("the proxy refused a connection from %s: it serves only the user who started it (uid %d). Another user may have the proxy's URL; each refusal is in the audit log: phantom audit show", who, r.Owner)
		})
	}
}
