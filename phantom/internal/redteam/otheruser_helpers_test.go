//go:build linux

package redteam

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// OtherUserName is the second OS user the tests create (path 9: another
// local user on the same machine). It is a system account with no home and
// no login shell, left in place between runs (useradd is not undone: tests
// running in parallel may share it).
const OtherUserName = "phantom-rt-other"

// OtherUser is a second local user and a copy of this test binary it can run.
type OtherUser struct {
	Name     string
	UID, GID uint32
	Dir      string // world-readable scratch directory
	bin      string // a copy of this test binary it can run
}

// NewOtherUser makes sure the second user exists (useradd when root) and
// prepares a directory it can read. Without root (no way to switch users)
// the test is skipped on a developer machine and fails in CI (CI runs as
// root, so a skip there would hide a regression).
func NewOtherUser(t *testing.T) *OtherUser {
	t.Helper()
	unavailable := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") != "" {
			t.Fatalf(format, args...)
		}
		t.Skipf(format, args...)
	}
	if os.Geteuid() != 0 {
		unavailable("needs root to create and switch to a second user (%s); CI runs it as root", OtherUserName)
	}
	u, err := user.Lookup(OtherUserName)
	if err != nil {
		useradd, lerr := exec.LookPath("useradd")
		if lerr != nil {
			unavailable("useradd not found (Debian: package passwd): %v", lerr)
		}
		out, aerr := exec.Command(useradd, "--system", "--no-create-home", "--user-group", "--shell", "/usr/sbin/nologin", OtherUserName).CombinedOutput()
		// Another test process may have created it meanwhile: look again.
		if u, err = user.Lookup(OtherUserName); err != nil {
			t.Fatalf("useradd %s: %v\n%s", OtherUserName, aerr, out)
		}
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	if uid == 0 {
		t.Fatalf("%s has uid 0", OtherUserName)
	}
	// Two world-readable directories: a scratch one, and one for the copy
	// of this test binary (which contains the harness's passphrase, so it
	// stays out of the scratch tree the tests scan for values).
	var dirs [2]string
	for i := range dirs {
		d, err := os.MkdirTemp("", "redteam-other-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(d) })
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
		dirs[i] = d
	}
	o := &OtherUser{Name: OtherUserName, UID: uint32(uid), GID: uint32(gid), Dir: dirs[0], bin: filepath.Join(dirs[1], "redteam.test")}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := copyFileMode(self, o.bin, 0o755); err != nil {
		t.Fatal(err)
	}
	return o
}

// Run runs the named child program of this test binary as the other user,
// in its directory, with a minimal environment; bounded by 60 s.
func (o *OtherUser) Run(t *testing.T, child string, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, o.bin, args...)
	cmd.Dir = o.Dir
	cmd.Env = []string{"REDTEAM_CHILD=" + child, "PATH=/usr/bin:/bin", "HOME=" + o.Dir, "TMPDIR=" + o.Dir}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: o.UID, Gid: o.GID, Groups: []uint32{}}}
	cmd.WaitDelay = 5 * time.Second
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := Result{Stdout: out.String(), Stderr: errb.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.Code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running %s as %s: %v (can it reach %s? every directory above it must be searchable by others)", child, o.Name, err, o.bin)
	}
	return r
}

func copyFileMode(from, to string, mode os.FileMode) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// ApproveRoutes approves the project's pending routes as the human does:
// `phantom trust` on a terminal (script(1) gives it one), typing "trust".
func (a *Agent) ApproveRoutes() {
	a.t.Helper()
	script, err := exec.LookPath("script")
	if err != nil {
		a.t.Fatalf("script(1) not found (util-linux): %v", err)
	}
	r := a.Run("trust\n", script, "-qec", phantomBin+" trust", "/dev/null")
	if r.Code != 0 || !strings.Contains(strings.ToLower(r.Out()), "trust") {
		a.t.Fatalf("phantom trust on a terminal: exit %d\n%s", r.Code, r.Out())
	}
}
