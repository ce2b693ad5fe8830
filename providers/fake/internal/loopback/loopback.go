// Package loopback starts the fakes' test servers on loopback addresses only:
// they are a local sandbox and must never be reachable from the network.
package loopback

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
)

// Start serves h on 127.0.0.1 on a free port.
func Start(h http.Handler) *httptest.Server { return httptest.NewServer(h) }

// StartOn serves h on a fixed loopback address such as "127.0.0.1:54321"
// (for a launcher that prints stable endpoints). Anything but a loopback
// address is refused.
func StartOn(h http.Handler, addr string) (*httptest.Server, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("refusing to listen on %s: only loopback IP addresses are allowed", addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	ts := httptest.NewUnstartedServer(h)
	_ = ts.Listener.Close()
	ts.Listener = l
	ts.Start()
	return ts, nil
}
