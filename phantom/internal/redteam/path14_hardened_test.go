//go:build linux

package redteam

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The hardened run (issue 15; docs/security.md, "Hardened mode"): the
// person hardens the vault and unlocks it on their own terminal (a
// pseudo-terminal this test owns), so phantom's agent holds the key. Then
// the attacker — a process of the same uid with no terminal, free to make
// its own pseudo-terminal with script(1) or Python's pty module and to
// speak to the agent's socket — tries every way to a value we know of.
// Each must fail with no value in anything the attacker can read, and
// each refusal phantom can see must be in the audit log.
//
// When the suite runs as root (CI), the person and the attacker both run
// as sameUserName: root's CAP_SYS_PTRACE reads any process, non-dumpable or
// not, so neither side may be root for the test to mean anything.

// hardenedRun is the scenario after the person unlocked the vault.
type hardenedRun struct {
	*UserAgent
	agents []int // every agent pid started, killed at cleanup
}

// needTools fails in CI and skips elsewhere when a tool is missing.
func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is missing (.ci/run installs it)", tool)
			}
			t.Skipf("%s is missing", tool)
		}
	}
}

// newHardenedRun makes the project (three proxy-policy secrets: no child
// ever holds their values), hardens its vault and unlocks it, both as the
// person at their terminal.
func newHardenedRun(t *testing.T) *hardenedRun {
	t.Helper()
	needTools(t, "script", "python3", "strace", "prlimit", "setpriv")
	ua := NewUserAgent(t, []string{"OPENAI_API_KEY", "ANTHROPIC_API_KEY", "STRIPE_SECRET_KEY"})
	// The person types the passphrase; nobody has it in the environment.
	ua.Env = withoutEnv(ua.Env, "PHANTOM_VAULT_PASSPHRASE")
	h := &hardenedRun{UserAgent: ua}
	t.Cleanup(func() {
		for _, pid := range h.agents {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	r := ua.Human([]humanStep{
		{Expect: "Current vault passphrase:", Send: Passphrase},
		{Expect: "Vault passphrase:", Send: Passphrase},
		{Expect: "Repeat passphrase:", Send: Passphrase},
	}, "vault", "harden")
	if r.Code != 0 || !strings.Contains(r.Stdout, "Hardened") {
		t.Fatalf("phantom vault harden on the person's terminal: exit %d\n%s", r.Code, r.Stdout)
	}
	h.unlock(t)
	return h
}

// unlockResult is `phantom unlock --json`'s document.
type unlockResult struct {
	PID      int    `json:"agent_pid"`
	Started  bool   `json:"started"`
	Replaced string `json:"replaced"`
}

// unlock is the person's `phantom unlock`, typing the passphrase.
func (h *hardenedRun) unlock(t *testing.T) unlockResult {
	t.Helper()
	r := h.Human([]humanStep{{Expect: "Vault passphrase:", Send: Passphrase}}, "unlock", "--json")
	var u unlockResult
	i, j := strings.Index(r.Stdout, "{"), strings.LastIndex(r.Stdout, "}")
	if r.Code != 0 || i < 0 || j < i || json.Unmarshal([]byte(r.Stdout[i:j+1]), &u) != nil || u.PID <= 0 {
		t.Fatalf("phantom unlock on the person's terminal: exit %d\n%s", r.Code, r.Stdout)
	}
	h.agents = append(h.agents, u.PID)
	return u
}

// agentPID is the running agent's pid (the last one unlock reported).
func (h *hardenedRun) agentPID(t *testing.T) int {
	t.Helper()
	pid := h.agents[len(h.agents)-1]
	if !alive(pid) {
		t.Fatalf("the agent (pid %d) is not running", pid)
	}
	return pid
}

// assertHardened checks, as the attacker, that the vault is still hardened
// and every value still in it (through the agent, when one is unlocked).
func (h *hardenedRun) assertHardened(t *testing.T) {
	t.Helper()
	r := h.Phantom("", "status", "--json")
	var st struct {
		Mode struct {
			Name string `json:"name"`
		} `json:"mode"`
	}
	if json.Unmarshal([]byte(r.Stdout), &st) != nil || st.Mode.Name != "hardened" {
		t.Errorf("the vault is no longer hardened: exit %d\n%s", r.Code, r.Out())
	}
	h.AssertClean(r)
}

// TestHardened: the whole attack on a hardened, unlocked vault.
func TestHardened(t *testing.T) {
	h := newHardenedRun(t)
	ua := h.UserAgent

	t.Run("agent serves without a passphrase, values stay out", func(t *testing.T) {
		r := ua.Phantom("", "status", "--json")
		var st struct {
			Mode struct {
				Name  string `json:"name"`
				Agent bool   `json:"agent_unlocked"`
			} `json:"mode"`
		}
		if r.Code != 0 || json.Unmarshal([]byte(r.Stdout), &st) != nil || st.Mode.Name != "hardened" || !st.Mode.Agent {
			t.Fatalf("status through the agent: exit %d\n%s", r.Code, r.Out())
		}
		ua.AssertClean(r)
		r = ua.Phantom("", "list")
		if r.Code != 0 || !strings.Contains(r.Stdout, "OPENAI_API_KEY") {
			t.Fatalf("list through the agent: exit %d\n%s", r.Code, r.Out())
		}
		ua.AssertClean(r)
		r = ua.Phantom("", append([]string{"exec", "--"}, ua.ChildArgv("envdump", "agent")...)...)
		if r.Code != 0 || !strings.Contains(r.Stdout, "OPENAI_API_KEY=phm_") {
			t.Fatalf("exec through the agent: exit %d\n%s", r.Code, r.Out())
		}
		ua.AssertClean(r)
	})

	t.Run("environment passphrase refused", func(t *testing.T) {
		// The attacker found the passphrase (a shell history, a note) and
		// puts the right one in the environment, by variable and by file;
		// and a guess. A hardened vault takes none of them.
		found := filepath.Join(filepath.Dir(ua.Dir), "found-passphrase")
		if err := os.WriteFile(found, []byte(Passphrase+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chown(found, ua.UID, ua.GID)
		defer os.Remove(found)
		base := ua.Env
		defer func() { ua.Env = base }()
		for _, extra := range [][]string{
			{"PHANTOM_VAULT_PASSPHRASE=" + Passphrase},
			{"PHANTOM_VAULT_PASSPHRASE_FILE=" + found},
			{"PHANTOM_VAULT_PASSPHRASE=redteam-vault-passphrase"},
		} {
			ua.Env = append(append([]string{}, base...), extra...)
			// Without the agent (PHANTOM_AGENT=off), a command opens the
			// vault itself.
			ua.Env = append(ua.Env, "PHANTOM_AGENT=off")
			r := ua.Phantom("", "list", "--json")
			if r.Code == 0 || !strings.Contains(r.Out(), "hardened") {
				t.Errorf("%v: list without the agent: exit %d\n%s", extra, r.Code, r.Out())
			}
			ua.AssertClean(r)
			ua.Env = ua.Env[:len(ua.Env)-1]
			// On a pseudo-terminal of its own, with the confirmation typed.
			r = ua.OnScript("reveal OPENAI_API_KEY\n", "reveal", "OPENAI_API_KEY")
			if r.Code == 0 || !strings.Contains(r.Out(), "hardened") {
				t.Errorf("%v: reveal on a pty: exit %d\n%s", extra, r.Code, r.Out())
			}
			ua.AssertClean(r)
		}
		ua.AssertAudited("vault.open", "PHANTOM_VAULT_PASSPHRASE is set")
		ua.AssertAudited("vault.open", "PHANTOM_VAULT_PASSPHRASE_FILE is set")
	})

	t.Run("process memory", func(t *testing.T) {
		// The agent, a running `phantom exec` (its proxy lives in the
		// agent) and a running forwarded command, each read through
		// /proc/PID/environ, /proc/PID/mem and PTRACE_ATTACH.
		memread := func(what string, pid int) {
			t.Helper()
			argv := ua.ChildArgv("memread", strconv.Itoa(pid), ua.Dir)
			r := ua.RunAs("", argv[0], argv[1:]...)
			rep := readMemReport(t, ua.Dir)
			if rep.Environ != "denied" || rep.Mem != "denied" || rep.MemRead != 0 || rep.Ptrace != "denied" {
				t.Errorf("the attacker got at %s's memory (pid %d): %+v", what, pid, rep)
			}
			if owner := procOwner(t, pid); owner != 0 {
				t.Errorf("%s: /proc/%d/mem belongs to uid %d: it is dumpable", what, pid, owner)
			}
			ua.AssertClean(r)
		}
		memread("the agent", h.agentPID(t))
		// The person's `phantom unlock`, waiting at its passphrase prompt.
		u := ua.Human([]humanStep{{Expect: "Vault passphrase:", Send: Passphrase, Before: func(pid int) {
			memread("`phantom unlock` at its prompt", pid)
		}}}, "unlock", "--json")
		if u.Code != 0 || !strings.Contains(u.Stdout, `"started": false`) {
			t.Errorf("a second unlock: exit %d\n%s", u.Code, u.Stdout)
		}

		r := ua.Phantom("", append([]string{"exec", "--"}, ua.ChildArgv("memread", "parent", ua.Dir)...)...)
		if r.Code != 0 {
			t.Fatalf("exec: exit %d\n%s", r.Code, r.Out())
		}
		if rep := readMemReport(t, ua.Dir); rep.Environ != "denied" || rep.Mem != "denied" || rep.MemRead != 0 || rep.Ptrace != "denied" {
			t.Errorf("exec's child got at its phantom's memory: %+v", rep)
		}
		ua.AssertClean(r)

		// A forwarded command that is still running: `phantom add` waits
		// for its value on stdin while the agent holds the vault open.
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		argv := ua.argv(ua.PhantomBin, "add", "HELD_OPEN", "--stdin")
		cmd := ua.Command(ctx, "", argv[0], argv[1:]...)
		cmd.Stdin = nil
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		pid := cmd.Process.Pid // setpriv execs phantom: the same pid
		// Wait until it is phantom (not setpriv) that runs, and has
		// reached the agent.
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			if exe, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe"); strings.HasSuffix(exe, "/phantom") || os.Getuid() != 0 {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(300 * time.Millisecond)
		memread("a running forwarded `phantom add`", pid)
		memread("the agent while it runs a command", h.agentPID(t))
		stdin.Close()
		cmd.Wait()
	})

	t.Run("human-only commands on the attacker's own pty", func(t *testing.T) {
		// A file named "--" so that `--env-file --` is a real env file:
		// the argv trick that hid --no-masking behind a flag value.
		ua.WriteFile("--", ua.ReadFile(".env"))
		ua.chown(ua.Dir)
		defer os.Remove(filepath.Join(ua.Dir, "--"))
		show := ua.ChildArgv("showvar", "OPENAI_API_KEY")
		// Each command gets the confirmation word it asks for first, then
		// passphrase guesses (the last is the passphrase with a typo).
		// asks: it must reach the passphrase prompt, so a wrong try is
		// audited.
		commands := []struct {
			word string
			asks bool
			args []string
		}{
			{"reveal OPENAI_API_KEY", true, []string{"reveal", "OPENAI_API_KEY"}},
			{"unprotect", true, []string{"unprotect"}},
			{"trust", true, []string{"trust"}},
			{"no-masking", true, append([]string{"exec", "--no-masking", "--"}, show...)},
			{"no-masking", true, append([]string{"exec", "--env-file", "--", "--no-masking", "--"}, show...)},
			{"yes", true, append([]string{"exec", "--body-secret", "openai=OPENAI_API_KEY", "--"}, show...)},
			{"yes", true, append([]string{"exec", "--env-file", "--", "--body-secret", "openai=OPENAI_API_KEY", "--"}, show...)},
			{"redteam-vault-passphrase", true, []string{"vault", "rekey", "--to", "passphrase"}},
			{"yes", false, []string{"vault", "rekey", "--to", "keychain"}},
			{"soften", true, []string{"vault", "soften"}},
			{"adopt", false, []string{"audit", "adopt"}},
		}
		// Passphrase guesses, each typed twice (a new passphrase is asked
		// for twice), long enough to be taken as a new one.
		guesses := []string{"redteam-guess-1", "redteam-guess-1", "redteam-vault-passphrase-7f3b", "redteam-vault-passphrase-7f3b", "password", "password"}
		for _, c := range commands {
			typed := strings.Join(append([]string{c.word}, guesses...), "\n") + "\n"
			for _, pty := range []struct {
				name string
				run  func(string, ...string) Result
			}{{"script", ua.OnScript}, {"python pty", ua.OnPythonPTY}} {
				before := len(ua.Audit())
				start := time.Now()
				r := pty.run(typed, c.args...)
				what := pty.name + ": phantom " + strings.Join(c.args, " ")
				t.Logf("%s: exit %d in %s", what, r.Code, time.Since(start).Round(time.Millisecond))
				if r.Code == 0 {
					t.Errorf("%s succeeded:\n%s", what, r.Out())
				}
				for _, bad := range []string{"Approved", "Softened", "Re-keyed", "Restored", "stdout OPENAI_API_KEY="} {
					if strings.Contains(r.Out(), bad) {
						t.Errorf("%s: %q in its output:\n%s", what, bad, r.Out())
					}
				}
				ua.AssertClean(r)
				wrong := 0
				for _, e := range ua.Audit()[before:] {
					if (e.Op == "vault.open" || e.Op == "vault.rekey") && strings.Contains(e.Detail, "wrong") {
						wrong++
					}
				}
				if c.asks && wrong == 0 {
					t.Errorf("%s: no wrong passphrase try audited\n%s", what, r.Out())
				}
			}
		}
		ua.AssertAudited("vault.open", "python3")
		ua.AssertAudited("vault.open", "script(")
		h.assertHardened(t)
	})

	t.Run("the agent's socket, spoken to directly", func(t *testing.T) {
		sock := agentSocketOf(t, ua)
		record := filepath.Join(ua.Dir, "socket-record")
		talk := func(argv ...string) clientReport {
			t.Helper()
			b, _ := json.Marshal(argv)
			cargv := ua.ChildArgv("agentclient", sock, record, string(b))
			r := ua.RunAs("", cargv[0], cargv[1:]...)
			ua.AssertClean(r)
			var rep clientReport
			if err := json.Unmarshal([]byte(strings.TrimSpace(r.Stdout)), &rep); err != nil || rep.DialError != "" {
				t.Fatalf("agentclient %v: %v %s\n%s", argv, err, rep.DialError, r.Out())
			}
			return rep
		}
		ua.WriteFile("--", ua.ReadFile(".env"))
		ua.chown(ua.Dir)
		defer os.Remove(filepath.Join(ua.Dir, "--"))
		for _, argv := range [][]string{
			{"reveal", "OPENAI_API_KEY"},
			{"unprotect"},
			{"trust"},
			{"vault", "soften"},
			{"vault", "rekey", "--to", "passphrase"},
			{"audit", "adopt"},
			{"exec", "--no-masking", "--", "true"},
			{"exec", "--no-masking=true", "--", "true"},
			{"exec", "--body-secret", "openai=OPENAI_API_KEY", "--", "true"},
			// A flag whose value is "--" hides what follows from a scan
			// that stops at the first "--".
			{"exec", "--env-file", "--", "--no-masking", "--", "true"},
			{"exec", "--env-file", "--", "--body-secret", "openai=OPENAI_API_KEY", "--", "true"},
			{"exec", "-v", "--env-file", "--", "--no-masking", "--", "true"},
		} {
			rep := talk(argv...)
			if !strings.Contains(rep.Failure, "is not run by the agent") || rep.Code != nil || len(rep.Plans) > 0 {
				t.Errorf("the agent ran human-only %v: %+v", argv, rep)
			}
		}
		// Refused requests are audited in the vault's home, by command name.
		ua.AssertAudited("agent.refused", "'phantom reveal' sent to the agent's socket")
		ua.AssertAudited("agent.refused", "'phantom vault soften' sent to the agent's socket")
		ua.AssertAudited("agent.refused", "'phantom exec' with a human-only flag")
		// Forwarded commands answer, with no value, whatever the client
		// claims about its terminal and types at its prompts.
		for _, argv := range [][]string{
			{"list", "--json"}, {"status", "--json"}, {"env"}, {"check"},
			{"why", "OPENAI_API_KEY"}, {"exec", "--", "true"},
		} {
			rep := talk(argv...)
			if rep.Code == nil && rep.Failure == "" {
				t.Errorf("%v: no answer from the agent: %+v", argv, rep)
			}
			for _, p := range rep.Plans {
				AssertNoValue(t, "an exec plan", p, ua.Values()...)
			}
		}
		if b, err := os.ReadFile(record); err != nil || len(b) == 0 {
			t.Errorf("nothing recorded from the agent: %v", err)
		}
		ua.AssertClean(Result{})
		h.assertHardened(t)
		r := ua.Phantom("", append([]string{"exec", "--"}, ua.ChildArgv("envdump", "after-socket")...)...)
		if r.Code != 0 || !strings.Contains(r.Stdout, "OPENAI_API_KEY=phm_") {
			t.Errorf("exec after the socket attacks: exit %d\n%s", r.Code, r.Out())
		}
		ua.AssertClean(r)
	})

	t.Run("core dump of the agent", func(t *testing.T) {
		cwd, _ := os.Getwd()
		pattern, _ := os.ReadFile("/proc/sys/kernel/core_pattern")
		t.Logf("core_pattern: %q", strings.TrimSpace(string(pattern)))
		for _, sig := range []string{"ABRT", "SEGV"} {
			pid := h.agentPID(t)
			agentCwd, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/cwd")
			if os.Getuid() == 0 {
				// Root reads what the attacker cannot: the agent's own
				// environment holds no value and no GOTRACEBACK.
				env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
				if err != nil {
					t.Fatal(err)
				}
				AssertNoValue(t, "the agent's environment", env, ua.Values()...)
				if strings.Contains(string(env), "GOTRACEBACK") {
					t.Errorf("the agent runs with GOTRACEBACK in its environment: %q", env)
				}
			}
			if got := limitLine(t, pid); got != "Max core file size 0 0 bytes" {
				t.Errorf("the agent's core limit: %q", got)
			}
			// Same uid may change another process's limits (prlimit(2)),
			// but not above the hard limit, which is 0.
			r := ua.RunAs("", "prlimit", "--pid", strconv.Itoa(pid), "--core=unlimited:unlimited")
			if r.Code == 0 {
				t.Errorf("prlimit raised the agent's core limit:\n%s", r.Out())
			}
			r = ua.RunAs("", "prlimit", "--pid", strconv.Itoa(pid), "--core=unlimited")
			if r.Code == 0 {
				t.Errorf("prlimit raised the agent's soft core limit:\n%s", r.Out())
			}
			if got := limitLine(t, pid); got != "Max core file size 0 0 bytes" {
				t.Errorf("the agent's core limit after prlimit: %q", got)
			}
			r = ua.RunAs("", "sh", "-c", "ulimit -c unlimited; GOTRACEBACK=crash kill -"+sig+" "+strconv.Itoa(pid))
			if r.Code != 0 {
				t.Fatalf("kill -%s the agent: %d\n%s", sig, r.Code, r.Out())
			}
			waitExit(t, pid)
			if cores := coreFiles(ua.Dir, ua.Home, filepath.Dir(ua.Dir), cwd, agentCwd); len(cores) > 0 {
				t.Errorf("core files after SIG%s: %v", sig, cores)
			}
			for _, d := range []string{ua.Dir, ua.Home, agentCwd} {
				AssertNoValueInTree(t, d, ua.Values()...)
			}
			// The killed agent leaves its socket; commands neither hang nor
			// open the vault.
			start := time.Now()
			r = ua.Phantom("", "list")
			if r.Code == 0 || time.Since(start) > 20*time.Second {
				t.Errorf("list after the agent died: exit %d after %s\n%s", r.Code, time.Since(start), r.Out())
			}
			ua.AssertClean(r)
			if sig == "ABRT" {
				// A Go program dumps core on a fatal signal only with
				// GOTRACEBACK=crash in its own environment: the attacker
				// plants it in the person's shell before the next unlock.
				ua.Env = append(ua.Env, "GOTRACEBACK=crash")
				h.unlock(t)
				ua.Env = ua.Env[:len(ua.Env)-1]
			}
		}
	})

	t.Run("a fake agent on the socket", func(t *testing.T) {
		// The attacker kills the agent (same uid may), unless the previous
		// subtest's signal did; its socket is left behind.
		if pid := h.agents[len(h.agents)-1]; alive(pid) {
			if r := ua.RunAs("", "kill", "-KILL", strconv.Itoa(pid)); r.Code != 0 {
				t.Fatalf("the attacker could not kill the agent: %d\n%s", r.Code, r.Out())
			}
			waitExit(t, pid)
		}
		sock := filepath.Join(ua.Home, "run")
		m, _ := filepath.Glob(filepath.Join(sock, "*.sock"))
		if len(m) != 1 {
			t.Fatalf("agent socket: %v", m)
		}
		sock = m[0]
		for _, mode := range []string{"plain", "nondumpable"} {
			record := filepath.Join(ua.Dir, "fake-"+mode)
			pidfile := filepath.Join(ua.Dir, "fake-"+mode+".pid")
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			fargv := ua.argv("env", "REDTEAM_CHILD=fakeagent", ua.TestBin, sock, record, pidfile, mode)
			fake := exec.CommandContext(ctx, fargv[0], fargv[1:]...)
			fake.Dir, fake.Env = ua.Dir, ua.Env
			var ferr strings.Builder
			fake.Stderr = &ferr
			if err := fake.Start(); err != nil {
				t.Fatal(err)
			}
			stop := func() { fake.Process.Kill(); fake.Wait(); cancel() }
			waitFile(t, pidfile, 20*time.Second)

			// The person adds a value, on stdin, as the forwarded command
			// it is. A plain fake is refused before anything is sent.
			victim := RandomValue("VICTIM_API_KEY")
			r := ua.Phantom(victim+"\n", "add", "VICTIM_API_KEY", "--stdin")
			got, _ := os.ReadFile(record)
			AssertNoValue(t, "the fake agent ("+mode+")", got, Passphrase)
			switch mode {
			case "plain":
				if r.Code == 0 || !strings.Contains(r.Stderr, "Nothing was sent to it") {
					t.Errorf("add against a dumpable fake agent: exit %d\n%s", r.Code, r.Out())
				}
				AssertNoValue(t, "the fake agent", got, victim)
				for _, leak := range []string{"VICTIM_API_KEY", "PHANTOM_HOME"} {
					if strings.Contains(string(got), leak) {
						t.Errorf("the fake agent received %q:\n%s", leak, got)
					}
				}
				AssertNoValue(t, "the person's terminal", []byte(r.Out()), victim)
				ua.AssertAudited("agent.refused", "refused the agent socket")
			case "nondumpable":
				// A non-dumpable fake passes every check a non-root client
				// can make (the kernel hides /proc/PID/exe of a
				// non-dumpable process from its own uid): the residual of
				// docs/security.md, "Hardened mode". It sees the command
				// and what the person types into it, never a key or the
				// passphrase (checked above and after unlock below).
				t.Logf("non-dumpable fake agent, non-root client: add exit %d; the fake received %d bytes, the typed value among them: %v", r.Code, len(got), len(Leaks(got, victim)) > 0)
			}
			// The person's unlock asks it to prove it holds the key, which
			// it cannot, and puts a real agent in its place.
			u := h.unlock(t)
			if !u.Started || u.Replaced == "" {
				t.Errorf("unlock over the %s fake agent: %+v", mode, u)
			}
			got, _ = os.ReadFile(record)
			AssertNoValue(t, "the fake agent ("+mode+")", got, ua.Values()...)
			if strings.Contains(ferr.String(), Passphrase) {
				t.Error("the fake agent's stderr holds the passphrase")
			}
			stop()
			if mode == "plain" {
				os.Remove(record)
				syscall.Kill(h.agentPID(t), syscall.SIGKILL)
				waitExit(t, h.agents[len(h.agents)-1])
			} else {
				os.Remove(record) // holds the victim value by design: see above
			}
			ua.AssertClean(Result{})
		}
		h.assertHardened(t)
	})

	t.Run("agent serve under strace", func(t *testing.T) {
		// The attacker starts `phantom agent serve` itself, traced, with a
		// key of its own on fd 3: a traced agent refuses to serve. The same
		// line untraced serves (the control), so it is the tracer that is
		// refused.
		key := make([]byte, 32)
		rand.Read(key)
		keyFile := filepath.Join(ua.Dir, "key")
		os.WriteFile(keyFile, key, 0o644)
		os.Chown(keyFile, ua.UID, ua.GID)
		p := ua.Phantom("", "status", "--json")
		var st struct {
			Project string `json:"project"`
		}
		json.Unmarshal([]byte(p.Stdout), &st)
		for _, traced := range []bool{true, false} {
			sock := filepath.Join(ua.Home, "run", "s"+strconv.FormatBool(traced)+".sock")
			ready := filepath.Join(ua.Dir, "ready-"+strconv.FormatBool(traced))
			line := shellQuote([]string{ua.PhantomBin, "agent", "serve", "--socket", sock, "--home", ua.Home, "--project", "redteam", "--idle", "5s"}) +
				" 3<" + shellQuote([]string{keyFile}) + " 4>" + shellQuote([]string{ready})
			if traced {
				line = "strace -f -o /dev/null " + line
			} else {
				line += " & echo $! > " + shellQuote([]string{ready + ".pid"}) + "; wait"
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			argv := ua.argv("sh", "-c", line)
			cmd := ua.Command(ctx, "", argv[0], argv[1:]...)
			out, _ := cmd.CombinedOutput()
			cancel()
			b, _ := os.ReadFile(ready)
			if traced {
				if !strings.Contains(string(b), "tracing it") {
					t.Errorf("agent serve under strace: ready pipe %q\n%s", b, out)
				}
				if _, err := os.Stat(sock); err == nil {
					t.Errorf("a traced agent created its socket")
				}
			} else if !strings.HasPrefix(string(b), "ok") {
				t.Errorf("control: agent serve untraced: ready %q\n%s", b, out)
			}
		}
	})
}
