//go:build unix && !linux && !darwin

package agent

import (
	"errors"
	"net"
)

var errNoPeerCred = errors.New("phantom agent needs peer credentials on its socket, which phantom supports on Linux and macOS only")

func peerCred(*net.UnixConn) (Peer, error) { return Peer{}, errNoPeerCred }

func checkServer(Peer) string { return errNoPeerCred.Error() }

// SelfCheck has no tracer check on this system.
func SelfCheck() error { return nil }
