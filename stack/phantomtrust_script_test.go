package stack_test

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/creack/pty"
	"github.com/rogpeppe/go-internal/testscript"
)

// cmdPhantomTrust approves what `phantom trust` lists the way a person
// does: on a terminal (a pseudo-terminal here), typing "trust" at the
// prompt. Approvals cannot be given without a terminal, and the AWS
// scripts need one for the fake's [aws] sts_endpoint.
//
//	phantomtrust
func cmdPhantomTrust(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: phantomtrust")
	}
	cmd := exec.Command(filepath.Join(ts.Getenv("PHANTOM_DIR"), "phantom"), "trust")
	cmd.Dir = ts.MkAbs(".")
	var env []string
	for _, k := range []string{"PATH", "HOME", "PHANTOM_HOME", "PHANTOM_VAULT_PASSPHRASE", "NO_COLOR"} {
		env = append(env, k+"="+ts.Getenv(k))
	}
	cmd.Env = append(env, "TERM=xterm")
	f, err := pty.Start(cmd)
	if err != nil {
		ts.Fatalf("phantomtrust: %v", err)
	}
	defer f.Close()
	var (
		mu  sync.Mutex
		out bytes.Buffer
	)
	done := make(chan struct{})
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			mu.Lock()
			out.Write(buf[:n])
			mu.Unlock()
			if err != nil { // EOF, or EIO once the child closed its side
				close(done)
				return
			}
		}
	}()
	screen := func() string {
		mu.Lock()
		defer mu.Unlock()
		return out.String()
	}
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(screen(), `Type "trust"`) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	f.Write([]byte("trust\r"))
	werr := make(chan error, 1)
	go func() { werr <- cmd.Wait() }()
	select {
	case err = <-werr:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		ts.Fatalf("phantom trust did not finish; screen:\n%s", screen())
	}
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
	ts.Logf("phantom trust on a terminal:\n%s", screen())
	if err != nil {
		ts.Fatalf("phantom trust: %v", err)
	}
}
