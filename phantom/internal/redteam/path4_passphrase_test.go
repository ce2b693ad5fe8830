//go:build linux

package redteam

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

func init() {
	// envdump TAG: writes its environment, as Go sees it and as
	// /proc/self/environ holds it, into the project (env-TAG.txt,
	// environ-TAG.txt), and prints it.
	children["envdump"] = func(args []string) int {
		env := strings.Join(os.Environ(), "\n")
		os.WriteFile("env-"+args[0]+".txt", []byte(env), 0o644)
		raw, err := os.ReadFile("/proc/self/environ")
		if err != nil {
			raw = []byte(err.Error())
		}
		os.WriteFile("environ-"+args[0]+".txt", raw, 0o644)
		fmt.Println(env)
		return 0
	}
	// catfile PATH: prints a file, e.g. one the agent found the
	// passphrase in.
	children["catfile"] = func(args []string) int {
		b, err := os.ReadFile(args[0])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		os.Stdout.Write(b)
		return 0
	}
}

var (
	stackOnce sync.Once
	stackBin  string
	stackErr  error
)

// buildStack builds the stack binary like a release (static, -trimpath).
func buildStack(t *testing.T) string {
	t.Helper()
	stackOnce.Do(func() {
		stackBin = filepath.Join(filepath.Dir(phantomBin), "stack")
		cmd := exec.Command("go", "build", "-trimpath", "-o", stackBin, "phantomstack.dev/stack/cmd/stack")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			stackErr = fmt.Errorf("building stack: %v\n%s", err, out)
		}
	})
	if stackErr != nil {
		t.Fatal(stackErr)
	}
	return stackBin
}

// allowedInChild are the PHANTOM_* variables a child may see: the proxy's
// address and session token, which exec sets for it.
var allowedInChild = []string{"PHANTOM_PROXY_URL", "PHANTOM_PROXY_TOKEN"}

// TestPath4_Passphrase: the agent's program runs under `phantom exec` and
// `stack exec` (stack doctor's probe runs under phantom exec the same way)
// and dumps its whole environment and /proc/self/environ, looking for
// PHANTOM_VAULT_PASSPHRASE — with it, `phantom reveal` is not needed: the
// agent decrypts the vault file itself. Then it prints a file holding the
// passphrase (found elsewhere, e.g. a shell history) through phantom.
//
// The passphrase is given to phantom directly and through
// PHANTOM_VAULT_PASSPHRASE_FILE. The child must see neither it nor any
// PHANTOM_* control variable (only the proxy's own two), and phantom's
// output masks the passphrase. exec is audited; there is nothing to refuse.
func TestPath4_Passphrase(t *testing.T) {
	stack := buildStack(t)
	for _, mode := range []string{"variable", "file"} {
		t.Run(mode, func(t *testing.T) {
			a := NewAgent(t, []string{"OPENAI_API_KEY", "ANTHROPIC_API_KEY"}, "PHANTOM_BIN="+phantomBin, "PHANTOM_AUDIT=1", "PHANTOM_PROXY_RATE=50")
			outside := t.TempDir() // not the project: the tree check covers the project
			found := filepath.Join(outside, "found-passphrase")
			os.WriteFile(found, []byte("history: "+Passphrase+"\n"), 0o600)
			if mode == "file" {
				pf := filepath.Join(outside, "passphrase")
				os.WriteFile(pf, []byte(Passphrase+"\n"), 0o600)
				a.Env = slices.DeleteFunc(a.Env, func(kv string) bool { return strings.HasPrefix(kv, "PHANTOM_VAULT_PASSPHRASE=") })
				a.Env = append(a.Env, "PHANTOM_VAULT_PASSPHRASE_FILE="+pf)
			}
			if r := a.Run("", stack, "init"); r.Code != 0 {
				t.Fatalf("stack init: %d\n%s", r.Code, r.Out())
			}

			runs := map[string]Result{
				"phantom-exec": a.Phantom("", append([]string{"exec", "--"}, Child("envdump", "phantom-exec")...)...),
				"stack-exec":   a.Run("", stack, append([]string{"exec", "--"}, Child("envdump", "stack-exec")...)...),
			}
			for tag, r := range runs {
				if r.Code != 0 {
					t.Fatalf("%s: exit %d\n%s", tag, r.Code, r.Out())
				}
				for _, f := range []string{"env-" + tag + ".txt", "environ-" + tag + ".txt"} {
					got := a.ReadFile(f)
					AssertNoValue(t, f, []byte(got), Passphrase)
					for _, kv := range strings.FieldsFunc(got, func(r rune) bool { return r == '\n' || r == 0 }) {
						k, _, _ := strings.Cut(kv, "=")
						if strings.HasPrefix(k, "PHANTOM_") && !slices.Contains(allowedInChild, k) {
							t.Errorf("%s: the child got %s", f, k)
						}
					}
					if !strings.Contains(got, "PHANTOM_PROXY_TOKEN=") {
						t.Errorf("%s: the proxy's variables are missing (was the proxy started?)", f)
					}
				}
				a.AssertClean(r)
			}

			r := a.Phantom("", append([]string{"exec", "--"}, Child("catfile", found)...)...)
			if r.Code != 0 || !strings.Contains(r.Stdout, "history: [phantom: vault passphrase]") {
				t.Errorf("the passphrase printed through phantom exec: exit %d, %q", r.Code, r.Stdout)
			}
			a.AssertClean(r)
			a.AssertAudited("exec.start", "routes: anthropic=https://api.anthropic.com, openai=https://api.openai.com")
		})
	}
}
