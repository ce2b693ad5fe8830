package agent

import (
	"errors"
	"net"
)

// The agent needs peer credentials on its socket and a non-dumpable
// process, which phantom does not have on Windows (docs/platforms.md).
func supported() error {
	return errors.New("phantom agent is not supported on Windows: the vault is opened by each phantom command (keychain or PHANTOM_VAULT_PASSPHRASE); see docs/platforms.md")
}

func runtimeDirOK(string) bool { return true }

func prepareDir(string) error { return supported() }

func peerCred(*net.UnixConn) (Peer, error) { return Peer{}, supported() }

func checkServer(Peer) string { return supported().Error() }

// SelfCheck: the agent does not run on Windows.
func SelfCheck() error { return supported() }

// Supported reports whether phantom's agent runs on this system.
func Supported() bool { return false }
