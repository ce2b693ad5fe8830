package vault

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"phantomstack.dev/shared/token"
)

// Child processes re-exec this test binary with VAULT_TEST_CHILD set.
const (
	childEnv     = "VAULT_TEST_CHILD"
	childHome    = "VAULT_TEST_HOME"
	childProject = "VAULT_TEST_PROJECT"
	childName    = "VAULT_TEST_NAME"
	childGate    = "VAULT_TEST_GATE"
	childPass    = "child passphrase"
)

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "":
		os.Exit(m.Run())
	case "writer":
		os.Exit(childWriter())
	case "adder":
		os.Exit(childAdder())
	case "hardener":
		os.Exit(childHardener())
	default:
		fmt.Fprintln(os.Stderr, "unknown child mode")
		os.Exit(3)
	}
}

func childOptions() Options {
	return Options{
		Home:      os.Getenv(childHome),
		ProjectID: os.Getenv(childProject),
		Env: func(k string) string {
			if k == EnvPassphrase {
				return childPass
			}
			return "" // no D-Bus: never the keychain
		},
		KDF:         cheapKDF,
		LockTimeout: 60 * time.Second,
		Owner:       "vault-test child",
	}
}

func crashName(n int) string  { return fmt.Sprintf("K%04d", n) }
func crashValue(n int) string { return fmt.Sprintf("value-%d-%x", n, n*7919) }

// childWriter adds K0000, K0001, … one Update each, until killed (or 30 s).
func childWriter() int {
	v, err := Open(childOptions())
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		return 2
	}
	fmt.Println("ready")
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		err := v.Update(func(p *Payload) error {
			n := len(p.Secrets)
			name := crashName(n)
			if p.Secrets[name] != nil {
				return fmt.Errorf("%s already present: the vault is not a prefix", name)
			}
			now := time.Now().UTC()
			p.Secrets[name] = &Secret{Value: []byte(crashValue(n)), Token: token.New(), CreatedAt: now, UpdatedAt: now}
			return nil
		}, nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, "child update:", err)
			return 2
		}
	}
	return 0
}

// childAdder waits for the gate, then OpenOrCreate + Update adding one secret.
func childAdder() int {
	gate := os.Getenv(childGate)
	for deadline := time.Now().Add(30 * time.Second); ; {
		if _, err := os.Stat(gate); err == nil {
			break
		}
		if time.Now().After(deadline) {
			fmt.Fprintln(os.Stderr, "gate never opened")
			return 2
		}
		time.Sleep(2 * time.Millisecond)
	}
	v, created, err := OpenOrCreate(childOptions())
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		return 2
	}
	name := os.Getenv(childName)
	err = v.Update(func(p *Payload) error {
		now := time.Now().UTC()
		p.Secrets[name] = &Secret{Value: []byte("v-" + name), Token: token.New(), CreatedAt: now, UpdatedAt: now}
		return nil
	}, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child update:", err)
		return 2
	}
	if created {
		fmt.Println("created")
	} else {
		fmt.Println("opened")
	}
	return 0
}

func childCmd(t *testing.T, home, pid string, extra ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), childHome+"="+home, childProject+"="+pid)
	cmd.Env = append(cmd.Env, extra...)
	return cmd
}

// parentOptions matches childOptions for the parent's checks.
func parentOptions(home, pid string) Options {
	o := childOptions()
	o.Home, o.ProjectID = home, pid
	return o
}

// TestCrashSafetySIGKILL SIGKILLs a writer in the middle of a long stream of
// writes, many times; after every kill the vault must open and hold exactly
// a prefix K0000..K(n-1) with correct values, and n never goes down.
func TestCrashSafetySIGKILL(t *testing.T) {
	const kills = 40
	home, pid := t.TempDir(), newPID(t)
	po := parentOptions(home, pid)
	mustCreate(t, po).Close()

	deadline := time.Now().Add(3 * time.Minute)
	prev, midWrite := 0, 0
	for i := 0; i < kills; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("time bound reached after %d kills", i)
		}
		cmd := childCmd(t, home, pid, childEnv+"=writer")
		killWhenReady(t, cmd)
		if len(tempFiles(t, filepath.Join(home, "vaults"))) > 0 {
			midWrite++
		}

		v, err := Open(po)
		if err != nil {
			t.Fatalf("kill %d: vault does not open: %v", i, err)
		}
		p := v.Payload()
		n := len(p.Secrets)
		for k := 0; k < n; k++ {
			s := p.Secrets[crashName(k)]
			if s == nil {
				t.Fatalf("kill %d: %d secrets but %s missing: not a prefix (%v)", i, n, crashName(k), secretNames(p))
			}
			if string(s.Value) != crashValue(k) || !token.Is(s.Token) {
				t.Fatalf("kill %d: %s = %q", i, crashName(k), s.Value)
			}
		}
		if n < prev {
			t.Fatalf("kill %d: %d secrets, fewer than the %d seen before", i, n, prev)
		}
		prev = n
		v.Close()
	}
	if prev == 0 {
		t.Fatal("no write completed in any run")
	}
	t.Logf("%d writes survived %d kills; %d kills left a temp file behind", prev, kills, midWrite)

	// The next write cleans leftovers.
	v := mustOpen(t, po)
	mustUpdate(t, v, add("AFTER", "x"))
	v.Close()
	if tf := tempFiles(t, filepath.Join(home, "vaults")); len(tf) != 0 {
		t.Fatalf("temp files left after a write: %v", tf)
	}
}

// TestConcurrentProcessesAllLand starts 20 processes that all OpenOrCreate
// the same (not yet existing) vault and add one secret each at once.
func TestConcurrentProcessesAllLand(t *testing.T) {
	const procs = 20
	home, pid := t.TempDir(), newPID(t)
	gate := filepath.Join(t.TempDir(), "go")
	type child struct {
		cmd    *exec.Cmd
		out    bytes.Buffer
		stderr bytes.Buffer
	}
	children := make([]*child, procs)
	for i := range children {
		c := &child{cmd: childCmd(t, home, pid, childEnv+"=adder", childGate+"="+gate, fmt.Sprintf("%s=S%02d", childName, i))}
		c.cmd.Stdout, c.cmd.Stderr = &c.out, &c.stderr
		if err := c.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		children[i] = c
	}
	writeFile(t, gate, nil)
	created := 0
	for i, c := range children {
		done := make(chan error, 1)
		go func() { done <- c.cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("child %d: %v: %s", i, err, c.stderr.String())
			}
		case <-time.After(2 * time.Minute):
			for _, c := range children {
				c.cmd.Process.Kill()
			}
			t.Fatalf("child %d did not finish", i)
		}
		if c.out.String() == "created\n" {
			created++
		}
	}
	if created != 1 {
		t.Fatalf("%d processes created the vault, want 1", created)
	}
	v := mustOpen(t, parentOptions(home, pid))
	defer v.Close()
	if n := len(v.Payload().Secrets); n != procs {
		t.Fatalf("%d secrets, want %d: %v", n, procs, secretNames(v.Payload()))
	}
	for i := 0; i < procs; i++ {
		name := fmt.Sprintf("S%02d", i)
		if value(t, v, name) != "v-"+name {
			t.Fatalf("%s wrong", name)
		}
	}
}

// killWhenReady starts cmd, waits (bounded) until it prints "ready", lets it
// work for 5–80 ms and SIGKILLs it, failing the test if it had ended on
// its own.
func killWhenReady(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(out).ReadString('\n')
		if err == nil && line != "ready\n" {
			err = fmt.Errorf("unexpected %q", line)
		}
		ready <- err
	}()
	select {
	case err := <-ready:
		if err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("child did not start: %v; stderr: %s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child not ready after 30s; stderr: %s", stderr.String())
	}
	time.Sleep(time.Duration(5+rand.IntN(76)) * time.Millisecond)
	cmd.Process.Signal(syscall.SIGKILL)
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child ended on its own (%v): %s", err, stderr.String())
	}
}
