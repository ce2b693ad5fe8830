//go:build linux

package redteam

import (
	"context"
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestPath1_ProcessMemory: the agent goes after a phantom process's memory,
// which holds the vault key and the proxied values the agent never gets.
//
// Attacks, each as the same uid as phantom (an unprivileged user; when the
// suite runs as root, both run as sameUserName):
//   - a child under `phantom exec` reads /proc/$PPID/environ (the passphrase)
//     and /proc/$PPID/mem at every writable mapping from /proc/$PPID/maps;
//   - the agent does the same to the background proxy of `phantom start -d`
//     (gcore works the same way: ptrace, refused alike);
//   - `ulimit -c unlimited; GOTRACEBACK=crash`, then SIGABRT to a running
//     `phantom exec`, hoping for a core file (core_pattern here is "core":
//     it would land in the project) or values in the crash output;
//   - LD_PRELOAD, which a dynamically linked phantom would honour.
//
// The kernel refuses the reads (phantom is non-dumpable), so phantom sees no
// attempt to audit; the test checks the refusals, that nothing the agent
// wrote or read holds a value, and that exec itself was audited.
func TestPath1_ProcessMemory(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	ua := NewUserAgent(t, []string{"OPENAI_API_KEY", "ANTHROPIC_API_KEY"})
	// Both secrets have the proxy policy: no child ever holds their values,
	// so any of them (or the passphrase) in what the agent got is a leak.

	t.Run("exec child reads its parent", func(t *testing.T) {
		r := ua.Phantom("", append([]string{"exec", "--"}, ua.ChildArgv("memread", "parent", ua.Dir)...)...)
		if r.Code != 0 {
			t.Fatalf("exec: %d\n%s", r.Code, r.Out())
		}
		rep := readMemReport(t, ua.Dir)
		if rep.Environ != "denied" || rep.Mem != "denied" || rep.MemRead != 0 || rep.Ptrace != "denied" {
			t.Errorf("the child got at phantom's memory: %+v", rep)
		}
		ua.AssertClean(r)
		ua.AssertAudited("exec.start", "")
	})

	t.Run("agent reads the background proxy", func(t *testing.T) {
		if r := ua.Phantom("", "start", "-d"); r.Code != 0 {
			t.Fatalf("start -d: %d\n%s", r.Code, r.Out())
		}
		pid := proxyPID(t, ua.Home)
		t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
		r := ua.RunAs("", ua.ChildArgv("memread", strconv.Itoa(pid), ua.Dir)[0], ua.ChildArgv("memread", strconv.Itoa(pid), ua.Dir)[1:]...)
		rep := readMemReport(t, ua.Dir)
		if rep.Environ != "denied" || rep.Mem != "denied" || rep.MemRead != 0 || rep.Ptrace != "denied" {
			t.Errorf("the agent got at the background proxy's memory: %+v", rep)
		}
		if owner := procOwner(t, pid); owner != 0 {
			t.Errorf("/proc/%d/mem is owned by uid %d: the background proxy is dumpable", pid, owner)
		}
		if os.Getuid() == 0 {
			// Root can read it: the passphrase is not there (it came
			// through a pipe), so not even root finds it in the environment.
			env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
			if err != nil {
				t.Fatal(err)
			}
			AssertNoValue(t, "the background proxy's environment", env, ua.Values()...)
		}
		ua.AssertClean(r)
		if r := ua.Phantom("", "stop"); r.Code != 0 {
			t.Errorf("stop: %d\n%s", r.Code, r.Out())
		}
		ua.AssertAudited("proxy.start", "")
	})

	t.Run("SIGABRT with GOTRACEBACK=crash and no core limit", func(t *testing.T) {
		marker := filepath.Join(ua.Dir, "sleeping")
		argv := ua.argv(ua.PhantomBin, append([]string{"exec", "--"}, ua.ChildArgv("sleeper", marker, "30")...)...)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		// ulimit as the shell's uid (root may raise it), then become the
		// agent's uid with the limit in place: exec keeps the pid.
		cmd := ua.Command(ctx, "", "sh", append([]string{"-c", `ulimit -c unlimited 2>/dev/null || ulimit -c "$(ulimit -Hc)"; exec "$@"`, "sh"}, argv...)...)
		cmd.Env = append(append([]string{}, ua.Env...), "GOTRACEBACK=crash")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		pid := cmd.Process.Pid
		waitFile(t, marker, 30*time.Second)
		defer os.Remove(marker)
		if b, err := os.ReadFile(marker); err == nil {
			if child, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && child > 0 {
				defer syscall.Kill(child, syscall.SIGKILL)
			}
		}
		if got := limitLine(t, pid); got != "Max core file size 0 0 bytes" {
			t.Errorf("phantom's core limit: %q", got)
		}
		if owner := procOwner(t, pid); owner != 0 {
			t.Errorf("/proc/%d/mem is owned by uid %d: phantom exec is dumpable", pid, owner)
		}
		syscall.Kill(pid, syscall.SIGABRT)
		err := cmd.Wait()
		ee, _ := err.(*exec.ExitError)
		ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
		// GOTRACEBACK=crash would re-raise SIGABRT for a core; phantom
		// runs at "single", so it prints the trace and exits 2.
		if ee == nil || ws.Signaled() || ee.ExitCode() != 2 || !strings.Contains(stderr.String(), "SIGABRT") {
			t.Errorf("phantom after SIGABRT: %v (signaled %v); stderr:\n%.2000s", err, ws.Signaled(), stderr.String())
		}
		cwd, _ := os.Getwd()
		if cores := coreFiles(ua.Dir, cwd, filepath.Dir(ua.Dir)); len(cores) > 0 {
			t.Errorf("core files appeared: %v", cores)
		}
		AssertNoValue(t, "phantom's crash output", []byte(stderr.String()), ua.Values()...)
		AssertNoValueInTree(t, ua.Dir, ua.Values()...)
	})

	t.Run("static binary ignores LD_PRELOAD", func(t *testing.T) {
		f, err := elf.Open(phantomBin)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Error("phantom has a PT_INTERP header: it is dynamically linked, so the loader honours LD_PRELOAD")
			}
		}
		if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
			t.Errorf("phantom needs shared libraries %v", libs)
		}
		// The loader of a dynamic program complains about a preload it
		// cannot find (the control shows it does here); a static phantom
		// has no loader to honour it.
		const bogus = "/nonexistent-phantom-redteam.so"
		ctl := exec.Command("/bin/true")
		ctl.Env = []string{"LD_PRELOAD=" + bogus}
		if out, _ := ctl.CombinedOutput(); !strings.Contains(string(out), bogus) {
			t.Logf("control: /bin/true with LD_PRELOAD printed %q (static here?)", out)
		}
		plain, _ := exec.Command(phantomBin, "version").CombinedOutput()
		cmd := exec.Command(phantomBin, "version")
		cmd.Env = append(append([]string{}, ua.Env...), "LD_PRELOAD="+bogus, "LD_AUDIT="+bogus)
		out, err := cmd.CombinedOutput()
		if err != nil || string(out) != string(plain) {
			t.Errorf("phantom with LD_PRELOAD/LD_AUDIT: %v\n%s", err, out)
		}
		// `make build` and `make install` build the same way.
		mk, err := os.ReadFile(filepath.Join("..", "..", "..", "Makefile"))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, l := range strings.Split(string(mk), "\n") {
			if strings.Contains(l, "/cmd/phantom") && (strings.Contains(l, "$(GO) build") || strings.Contains(l, "$(GO) install")) {
				n++
				if !strings.Contains(l, "CGO_ENABLED=0") {
					t.Errorf("Makefile builds phantom with cgo: %s", strings.TrimSpace(l))
				}
			}
		}
		if n < 2 {
			t.Errorf("found %d phantom build lines in the Makefile, want build and install", n)
		}
	})
}

// proxyPID is the pid in the background proxy's state file.
func proxyPID(t *testing.T, home string) int {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(home, "proxy", "*.json"))
	if len(m) != 1 {
		t.Fatalf("state files: %v", m)
	}
	b, err := os.ReadFile(m[0])
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		PID int `json:"pid"`
	}
	if err := json.Unmarshal(b, &st); err != nil || st.PID <= 0 {
		t.Fatalf("state file %s: %v %s", m[0], err, b)
	}
	return st.PID
}
