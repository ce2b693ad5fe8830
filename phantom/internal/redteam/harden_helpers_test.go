//go:build linux

package redteam

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// sameUserName is the unprivileged account the memory tests run as when
// the suite runs as root (CI does): root may read any process's memory
// (CAP_SYS_PTRACE), so the attacker — and phantom — must be an ordinary
// user for the test to mean anything. Both run as this one uid: the
// attacker shares phantom's uid, as the agent does.
const sameUserName = "phantom-rt-same"

// UserAgent is an Agent whose commands (phantom, children, shell) all run
// as one unprivileged uid: the current user, or sameUserName when the test
// runs as root.
type UserAgent struct {
	*Agent
	// As prefixes argv to run as the agent's uid (empty when that is the
	// current user).
	As         []string
	UID, GID   int
	PhantomBin string // the phantom binary, executable by the agent's uid
	TestBin    string // this test binary, likewise (for children)
	setupOnce  sync.Once
}

var (
	sameUserOnce sync.Once
	sameUserUID  int
	sameUserGID  int
	sameUserErr  error
)

// sameUser creates sameUserName once (useradd; an existing account is
// reused) and returns its ids.
func sameUser(t *testing.T) (int, int) {
	t.Helper()
	sameUserOnce.Do(func() {
		if _, err := user.Lookup(sameUserName); err != nil {
			out, err := exec.Command("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", sameUserName).CombinedOutput()
			if err != nil && !strings.Contains(string(out), "already exists") {
				sameUserErr = fmt.Errorf("useradd %s: %v: %s", sameUserName, err, out)
				return
			}
		}
		u, err := user.Lookup(sameUserName)
		if err != nil {
			sameUserErr = err
			return
		}
		sameUserUID, _ = strconv.Atoi(u.Uid)
		sameUserGID, _ = strconv.Atoi(u.Gid)
	})
	if sameUserErr != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(sameUserErr)
		}
		t.Skip(sameUserErr)
	}
	return sameUserUID, sameUserGID
}

// NewUserAgent is NewAgent run as an unprivileged uid: the project, the
// phantom home and copies of the phantom binary and of this test binary
// live in a tree that uid owns, and `phantom init` runs as it.
func NewUserAgent(t *testing.T, names []string, extraEnv ...string) *UserAgent {
	t.Helper()
	ua := &UserAgent{UID: os.Getuid(), GID: os.Getgid()}
	if os.Getuid() == 0 {
		if _, err := exec.LookPath("setpriv"); err != nil {
			t.Fatalf("running as root needs setpriv (util-linux) to act as an ordinary user: %v", err)
		}
		ua.UID, ua.GID = sameUser(t)
		ua.As = []string{"setpriv", "--reuid=" + strconv.Itoa(ua.UID), "--regid=" + strconv.Itoa(ua.GID), "--clear-groups", "--"}
	}
	// A tree of our own, not t.TempDir(): its parents are 0700 root-owned.
	root, err := os.MkdirTemp("", "redteam-user-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	a := &Agent{t: t, Dir: filepath.Join(root, "app"), Home: filepath.Join(root, "phantom-home")}
	for _, d := range []string{filepath.Join(root, "home"), filepath.Join(root, "bin"), a.Dir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ua.PhantomBin = filepath.Join(root, "bin", "phantom")
	ua.TestBin = filepath.Join(root, "bin", "redteam.test")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	copyExecutable(t, phantomBin, ua.PhantomBin)
	copyExecutable(t, self, ua.TestBin)
	a.Env = append([]string{
		"PATH=" + filepath.Join(root, "bin") + ":" + os.Getenv("PATH"),
		"HOME=" + filepath.Join(root, "home"),
		"PHANTOM_HOME=" + a.Home,
		"PHANTOM_VAULT_PASSPHRASE=" + Passphrase,
		"NO_COLOR=1",
		"TMPDIR=" + root,
	}, extraEnv...)
	var env strings.Builder
	for _, n := range names {
		s := Secret{Name: n, Value: RandomValue(n)}
		a.Secrets = append(a.Secrets, s)
		fmt.Fprintf(&env, "%s=%s\n", s.Name, s.Value)
	}
	a.WriteFile(".env", env.String())
	ua.Agent = a
	ua.chown(root)
	if r := ua.Phantom("", "init", "--yes"); r.Code != 0 {
		t.Fatalf("phantom init as uid %d: exit %d\n%s", ua.UID, r.Code, r.Out())
	}
	return ua
}

func copyExecutable(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

// chown gives the agent's uid everything under dir (a no-op when the agent
// is the current user).
func (ua *UserAgent) chown(dir string) {
	if len(ua.As) == 0 {
		return
	}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil {
			os.Lchown(p, ua.UID, ua.GID)
		}
		return nil
	})
}

// argv is name args run as the agent's uid.
func (ua *UserAgent) argv(name string, args ...string) []string {
	return append(append(append([]string{}, ua.As...), name), args...)
}

// RunAs runs a program as the agent's uid.
func (ua *UserAgent) RunAs(stdin, name string, args ...string) Result {
	ua.t.Helper()
	v := ua.argv(name, args...)
	return ua.Run(stdin, v[0], v[1:]...)
}

// Phantom runs the agent's copy of phantom as the agent's uid.
func (ua *UserAgent) Phantom(stdin string, args ...string) Result {
	ua.t.Helper()
	return ua.RunAs(stdin, ua.PhantomBin, args...)
}

// ChildArgv is Child for the agent's copy of this test binary.
func (ua *UserAgent) ChildArgv(name string, args ...string) []string {
	return append([]string{"env", "REDTEAM_CHILD=" + name, ua.TestBin}, args...)
}

// memReport is what the memread child managed to do to a process.
type memReport struct {
	Environ string `json:"environ"` // "denied", "read N bytes" or another error
	Maps    string `json:"maps"`
	Mem     string `json:"mem"`
	Ptrace  string `json:"ptrace"`   // PTRACE_ATTACH, as gdb and gcore do: "denied" or "attached"
	MemRead int    `json:"mem_read"` // bytes of memory read
}

func outcome(err error, n int) string {
	switch {
	case err == nil:
		return fmt.Sprintf("read %d bytes", n)
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EPERM), errors.Is(err, syscall.EACCES):
		return "denied"
	}
	return err.Error()
}

func init() {
	// memread PID OUTDIR: the attacker's memory reader. It reads
	// /proc/PID/environ and every writable mapping of /proc/PID/mem (or,
	// without maps, the Go heap's usual address) and writes whatever it
	// got under OUTDIR, where the test looks for values, plus report.json.
	// PID "parent" is the process that started it (phantom, under exec).
	children["memread"] = func(args []string) int {
		pid := os.Getppid()
		if args[0] != "parent" {
			pid, _ = strconv.Atoi(args[0])
		}
		out := args[1]
		proc := "/proc/" + strconv.Itoa(pid)
		var rep memReport
		env, err := os.ReadFile(proc + "/environ")
		rep.Environ = outcome(err, len(env))
		os.WriteFile(filepath.Join(out, "stolen-environ"), env, 0o644)
		type region struct{ from, to uint64 }
		regions := []region{{0xc000000000, 0xc000000000 + 64<<20}}
		maps, err := os.ReadFile(proc + "/maps")
		rep.Maps = outcome(err, len(maps))
		if err == nil {
			regions = nil
			for _, l := range strings.Split(string(maps), "\n") {
				f := strings.Fields(l)
				if len(f) < 2 || !strings.HasPrefix(f[1], "rw") {
					continue
				}
				a, b, _ := strings.Cut(f[0], "-")
				from, _ := strconv.ParseUint(a, 16, 64)
				to, _ := strconv.ParseUint(b, 16, 64)
				regions = append(regions, region{from, to})
			}
		}
		mem, err := os.Open(proc + "/mem")
		if err != nil {
			rep.Mem = outcome(err, 0)
		} else {
			dump, _ := os.Create(filepath.Join(out, "stolen-mem"))
			buf := make([]byte, 1<<20)
			var lastErr error
			for _, r := range regions {
				for off := r.from; off < r.to && rep.MemRead < 512<<20; off += uint64(len(buf)) {
					n, err := mem.ReadAt(buf[:min(uint64(len(buf)), r.to-off)], int64(off))
					rep.MemRead += n
					dump.Write(buf[:n])
					if err != nil && err != io.EOF {
						lastErr = err
						break
					}
				}
			}
			dump.Close()
			mem.Close()
			rep.Mem = outcome(nil, rep.MemRead)
			if rep.MemRead == 0 && lastErr != nil {
				rep.Mem = outcome(lastErr, 0)
			}
		}
		runtime.LockOSThread()
		if err := syscall.PtraceAttach(pid); err != nil {
			rep.Ptrace = outcome(err, 0)
		} else {
			rep.Ptrace = "attached"
			var ws syscall.WaitStatus
			syscall.Wait4(pid, &ws, syscall.WALL, nil)
			syscall.PtraceDetach(pid)
		}
		b, _ := json.Marshal(rep)
		os.WriteFile(filepath.Join(out, "report.json"), b, 0o644)
		fmt.Println(string(b))
		return 0
	}
	// sleeper FILE SECONDS: writes its pid into FILE, then sleeps.
	children["sleeper"] = func(args []string) int {
		os.WriteFile(args[0], []byte(strconv.Itoa(os.Getpid())), 0o644)
		s, _ := strconv.Atoi(args[1])
		time.Sleep(time.Duration(s) * time.Second)
		return 0
	}
}

// readMemReport reads report.json from dir.
func readMemReport(t *testing.T, dir string) memReport {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatalf("the memory reader wrote no report: %v", err)
	}
	var r memReport
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "report.json"))
	return r
}

// procOwner is the owner of /proc/PID/mem: root for a non-dumpable process
// (proc(5)), the process's own uid otherwise.
func procOwner(t *testing.T, pid int) uint32 {
	t.Helper()
	st, err := os.Stat("/proc/" + strconv.Itoa(pid) + "/mem")
	if err != nil {
		t.Fatal(err)
	}
	return st.Sys().(*syscall.Stat_t).Uid
}

// waitFile waits (bounded) until path exists.
func waitFile(t *testing.T, path string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s did not appear within %s", path, d)
}

// coreFiles lists files named core* in dirs.
func coreFiles(dirs ...string) []string {
	var out []string
	for _, d := range dirs {
		ents, _ := os.ReadDir(d)
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), "core") {
				out = append(out, filepath.Join(d, e.Name()))
			}
		}
	}
	return out
}

// limitLine is the "Max core file size" line of /proc/PID/limits.
func limitLine(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/limits")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "Max core file size") {
			return strings.Join(strings.Fields(l), " ")
		}
	}
	t.Fatalf("no core limit in /proc/%d/limits", pid)
	return ""
}
