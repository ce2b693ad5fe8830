package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"phantomstack.dev/phantom/internal/agent"
	"phantomstack.dev/phantom/internal/vault"
	"phantomstack.dev/shared/interrupt"
	"phantomstack.dev/shared/term"
)

// cheapKDF keeps end-to-end suites fast; scripts that set
// PHANTOM_TEST_REAL_KDF=1 get the production Argon2id parameters.
var cheapKDF = vault.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"phantom": func() {
			if os.Getenv("PHANTOM_TEST_REAL_KDF") != "1" {
				testKDF = cheapKDF
			}
			ctx, stop := interrupt.NotifyContext(context.Background()) // as cmd/phantom does
			if os.Getenv("PHANTOM_TEST_AGENT") == "1" {
				testAutoUnlock(ctx, os.Args[1:])
			}
			code := Main(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
			stop()
			os.Exit(code)
		},
		// Children for `phantom exec` suites, run as real processes.
		"showenv": childShowEnv,
		"leakenv": childLeakEnv,
	})
}

// childShowEnv prints NAME=VALUE for each argument, or NAME unset.
func childShowEnv() {
	for _, n := range os.Args[1:] {
		if v, ok := os.LookupEnv(n); ok {
			fmt.Printf("%s=%s\n", n, v)
		} else {
			fmt.Printf("%s unset\n", n)
		}
	}
	os.Exit(0)
}

// childLeakEnv writes the named variables' values to stdout and stderr
// one byte per write, the hardest case for a streaming masker.
func childLeakEnv() {
	for _, n := range os.Args[1:] {
		for _, w := range []*os.File{os.Stdout, os.Stderr} {
			v := "leak " + n + "=" + os.Getenv(n) + "\n"
			for i := 0; i < len(v); i++ {
				w.Write([]byte{v[i]})
			}
		}
	}
	os.Exit(0)
}

// TestScripts runs the end-to-end suites in phantom/testdata/script against
// the real CLI, each in a fresh temp HOME and PHANTOM_HOME.
func TestScripts(t *testing.T) {
	testscript.Run(t, scriptParams(false))
}

// TestScriptsAgent runs the same suites with phantom's agent serving each
// vault: before every phantom command the agent forwards, the test binary
// unlocks the project's vault (when it exists and opens without a person)
// into an agent, so the command runs inside it (testAutoUnlock).
func TestScriptsAgent(t *testing.T) {
	testscript.Run(t, scriptParams(true))
}

// scriptParams are the suites' settings, with or without an agent.
func scriptParams(withAgent bool) testscript.Params {
	return testscript.Params{
		Dir:                 "../../testdata/script",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("HOME", filepath.Join(env.WorkDir, "home"))
			env.Setenv("PHANTOM_HOME", filepath.Join(env.WorkDir, "phantom-home"))
			env.Setenv("NO_COLOR", "1")
			if err := shortRuntimeDir(env); err != nil {
				return err
			}
			if withAgent {
				env.Setenv("PHANTOM_TEST_AGENT", "1")
			}
			return os.MkdirAll(filepath.Join(env.WorkDir, "home"), 0o700)
		},
		Condition: agentCondition(withAgent),
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"noplaintext": cmdNoPlaintext,
			"trustroutes": cmdTrustRoutes,
			"corrupt":     cmdCorrupt,
		},
	}
}

// shortRuntimeDir gives the script an XDG_RUNTIME_DIR of its own: sun_path
// holds 108 bytes, so the agent's socket lives in a short directory, as
// under /run/user. Agents still running at the end are locked.
func shortRuntimeDir(env *testscript.Env) error {
	rt, err := os.MkdirTemp("", "pa")
	if err != nil {
		return err
	}
	env.Setenv("XDG_RUNTIME_DIR", rt)
	env.Defer(func() {
		lockAllAgents(rt)
		os.RemoveAll(rt)
	})
	return nil
}

// agentCondition gives scripts the condition [agent]: true when an agent
// serves the vault (TestScriptsAgent). Steps that need the vault locked
// (a wrong passphrase must be refused) lock it first with
// `[agent] exec phantom lock`.
func agentCondition(on bool) func(string) (bool, error) {
	return func(cond string) (bool, error) {
		if cond == "agent" {
			return on, nil
		}
		return false, fmt.Errorf("unknown condition %q", cond)
	}
}

// testAutoUnlock starts an agent for the project's vault before a
// forwardable command, when the vault exists and opens without a person
// (PHANTOM_VAULT_PASSPHRASE): what `phantom unlock` does, minus the
// terminal and the audit event the scripts do not expect.
func testAutoUnlock(ctx context.Context, args []string) {
	f := NewFactory(term.System(nil, io.Discard, io.Discard))
	if _, ok := forwardCommand(NewRootCmd(f), args); !ok {
		return
	}
	p, err := f.Project()
	if err != nil {
		return
	}
	home, err := f.Home()
	if err != nil {
		return
	}
	path := agent.SocketPath(f.Env, home, p.ID())
	if c, err := agent.Dial(ctx, path); err == nil {
		c.Close()
		return
	}
	opts, err := f.vaultOptions(ctx, p)
	if err != nil {
		return
	}
	opts.Prompt = nil
	v, err := vault.Open(opts)
	if err != nil {
		return
	}
	key := v.DataKey()
	v.Close()
	defer clear(key)
	if _, err := startAgent(ctx, f, path, home, p.ID(), key, 2*time.Minute); err != nil {
		fmt.Fprintf(os.Stderr, "test agent: %v\n", err)
	}
}

// lockAllAgents locks every agent whose socket is under runtimeDir.
func lockAllAgents(runtimeDir string) {
	paths, _ := filepath.Glob(filepath.Join(runtimeDir, "phantom", "*.sock"))
	for _, p := range paths {
		lockAgent(context.Background(), p)
	}
}

// cmdNoPlaintext: noplaintext VALUE DIR... fails if VALUE, or its base64 or
// hex encoding, appears in any file under the given directories.
func cmdNoPlaintext(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: noplaintext VALUE DIR...")
	}
	v := []byte(args[0])
	needles := [][]byte{
		v,
		[]byte(base64.StdEncoding.EncodeToString(v)),
		[]byte(base64.RawStdEncoding.EncodeToString(v)),
		[]byte(base64.URLEncoding.EncodeToString(v)),
		[]byte(base64.RawURLEncoding.EncodeToString(v)),
		[]byte(hex.EncodeToString(v)),
	}
	files := 0
	for _, dir := range args[1:] {
		root := ts.MkAbs(dir)
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !d.Type().IsRegular() {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			files++
			for _, n := range needles {
				if bytes.Contains(b, n) {
					ts.Fatalf("plaintext secret (or an encoding of it) found in %s", path)
				}
			}
			return nil
		})
		if err != nil {
			ts.Fatalf("walk %s: %v", dir, err)
		}
	}
	if files == 0 {
		ts.Fatalf("noplaintext checked no files")
	}
}

// cmdCorrupt: corrupt FILE flip|truncate|empty|newer damages a vault file the
// way a bad disk, an interrupted copy or a newer phantom would.
func cmdCorrupt(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: corrupt FILE flip|truncate|empty|newer")
	}
	path := ts.MkAbs(args[0])
	b, err := os.ReadFile(path)
	ts.Check(err)
	switch args[1] {
	case "flip":
		b[len(b)/2] ^= 0x40 // a byte inside the ciphertext
	case "truncate":
		b = b[:len(b)-7]
	case "empty":
		b = nil
	case "newer":
		b[9] = 99 // format version (big-endian uint16 at offset 8)
	default:
		ts.Fatalf("unknown mode %q", args[1])
	}
	ts.Check(os.WriteFile(path, b, 0o600))
}

// cmdTrustRoutes: trustroutes approves every route in ./.phantom.toml, as
// `phantom trust` would after a person typed "trust".
func cmdTrustRoutes(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: trustroutes")
	}
	env := []string{"PHANTOM_HOME=" + ts.Getenv("PHANTOM_HOME"), "PHANTOM_VAULT_PASSPHRASE=" + ts.Getenv("PHANTOM_VAULT_PASSPHRASE"), "HOME=" + ts.Getenv("HOME")}
	ts.Check(approveAll(ts.MkAbs("."), env))
}
