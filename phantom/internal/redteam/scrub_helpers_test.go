//go:build linux

package redteam

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/creack/pty"
)

// RouteTo points route at upstream (a loopback http URL the test runs) in
// .phantom.toml and approves it as the human would: `phantom trust` on a
// terminal the test opens, "trust" typed once the prompt is on screen. The
// agent has no terminal, so only the test's human side can do this.
func (a *Agent) RouteTo(route, upstream string) {
	a.t.Helper()
	cfg := a.ReadFile(".phantom.toml")
	a.WriteFile(".phantom.toml", cfg+"\n[routes."+route+"]\nupstream = \""+upstream+"\"\n")
	screen, code := a.humanOnPTY("trust\r", `Type "trust"`, "trust")
	if code != 0 || !strings.Contains(screen, "Approved") {
		a.t.Fatalf("the human's phantom trust: exit %d\n%s", code, screen)
	}
}

// lockedBuffer is a bytes.Buffer safe for one writer and one reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// humanOnPTY runs phantom with stdin, stdout and stderr on a pseudo-terminal
// (the human's own terminal, not something the agent has), types input once
// waitFor is on screen, and returns the screen and the exit code. Bounded:
// 20 s for the prompt, 30 s for the command.
func (a *Agent) humanOnPTY(input, waitFor string, args ...string) (string, int) {
	a.t.Helper()
	cmd := exec.Command(phantomBin, args...)
	cmd.Dir = a.Dir
	cmd.Env = append(append([]string{}, a.Env...), "TERM=xterm")
	f, err := pty.Start(cmd)
	if err != nil {
		a.t.Fatalf("pty: %v", err)
	}
	defer f.Close()
	var screen lockedBuffer
	copied := make(chan struct{})
	go func() { io.Copy(&screen, f); close(copied) }()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(screen.String(), waitFor) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	f.Write([]byte(input))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		a.t.Fatalf("phantom %v did not finish; screen:\n%s", args, screen.String())
	}
	select {
	case <-copied:
	case <-time.After(2 * time.Second):
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	return screen.String(), code
}

// Everything an attacker would try on bytes it received to get a value out:
// gunzip (repeatedly), and decoding every base64, hex, percent and JSON
// escaped run. decodeAll returns data followed by every decoding found.
func decodeAll(data []byte) []byte {
	out := bytes.Clone(data)
	add := func(b []byte) {
		out = append(out, '\n')
		out = append(out, b...)
	}
	cur := data
	for range 4 {
		zr, err := gzip.NewReader(bytes.NewReader(cur))
		if err != nil {
			break
		}
		dec, _ := io.ReadAll(io.LimitReader(zr, 1<<20))
		add(dec)
		cur = dec
	}
	for _, run := range b64Run.FindAll(data, -1) {
		for skip := range 4 {
			if skip >= len(run) {
				break
			}
			r := bytes.TrimRight(run[skip:], "=")
			s := strings.NewReplacer("-", "+", "_", "/").Replace(string(r))
			for len(s)%4 == 1 {
				s = s[:len(s)-1]
			}
			if dec, err := base64.RawStdEncoding.DecodeString(s); err == nil {
				add(dec)
			}
		}
	}
	for _, run := range hexRun.FindAll(data, -1) {
		for skip := range 2 {
			r := run[skip:]
			if dec, err := hex.DecodeString(string(r[:len(r)/2*2])); err == nil {
				add(dec)
			}
		}
	}
	if dec, err := url.QueryUnescape(string(data)); err == nil {
		add([]byte(dec))
	}
	if dec, err := url.PathUnescape(string(data)); err == nil {
		add([]byte(dec))
	}
	add(jsonEsc.ReplaceAllFunc(data, func(m []byte) []byte {
		if m[1] == 'u' {
			n, _ := strconv.ParseUint(string(m[2:]), 16, 32)
			return []byte(string(rune(n)))
		}
		return m[1:]
	}))
	return out
}

var (
	b64Run = regexp.MustCompile(`[A-Za-z0-9+/_-]{8,}=*`)
	hexRun = regexp.MustCompile(`[0-9A-Fa-f]{12,}`)
	// JSON escapes: \uXXXX, and \/ \" \\ (the escaped byte itself).
	jsonEsc = regexp.MustCompile(`\\(u[0-9A-Fa-f]{4}|[/"\\])`)
)

// writeReceived is the child's record of what it got, in the project (the
// agent's own file: not masked by phantom), decoded every way it can.
func writeReceived(name string, data []byte) {
	os.WriteFile(name, decodeAll(data), 0o644)
}
