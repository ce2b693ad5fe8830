package stack_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	supabasefake "phantomstack.dev/providers/fake/supabase"
	"phantomstack.dev/stack/internal/browsertest"
)

// Each script gets its own Supabase fake (OAuth with PKCE and a consent
// page, the Management API, each project's data API). Scripts opt in by
// exporting the SUPA_FAKE_* values as the provider's variables.
var supaFakes sync.Map // $WORK → *supabasefake.Server

func setupSupaFake(e *testscript.Env) {
	srv := supabasefake.New(supabasefake.Options{ReadyAfter: 1500 * time.Millisecond})
	url := srv.Start()
	e.Defer(srv.Close)
	id, secret := srv.OAuthClient()
	e.Setenv("SUPA_FAKE_URL", url)
	e.Setenv("SUPA_FAKE_PAT", srv.PersonalToken())
	e.Setenv("SUPA_FAKE_CLIENT_ID", id)
	e.Setenv("SUPA_FAKE_CLIENT_SECRET", secret)
	e.Setenv("SUPA_FAKE_PROJECT_URL", url+"/project/{ref}")
	supaFakes.Store(e.WorkDir, srv)
}

// cmdSupaFake inspects or changes the script's Supabase fake:
//
//	supafake projects N          N projects exist
//	supafake created N           N projects were ever created
//	supafake revoke-key NAME     revoke an API key (anon, service_role) of the only project
//	supafake revoke-tokens       revoke every OAuth token it issued
//	supafake resets N            the only project's password was reset N times
//	supafake dbpass-sha256 FILE  FILE holds the sha256 (hex) of the only project's database password
//	supafake fault ROUTE STATUS [TIMES]  fail the next TIMES calls (default 1; -1: all) of ROUTE
//	                             ("POST /v1/projects", "GET /v1/projects/{ref}/api-keys", …)
//	supafake clear-faults        remove every fault
//	supafake calls ROUTE N       ROUTE was called N times
//	supafake ready-after DURATION  new projects stay COMING_UP this long
//	supafake never-ready         new projects stay COMING_UP forever
func cmdSupaFake(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 {
		ts.Fatalf("usage: supafake projects|created|resets N | revoke-key NAME | revoke-tokens | dbpass-sha256 FILE | fault ROUTE STATUS [TIMES] | clear-faults | calls ROUTE N | ready-after D")
	}
	v, ok := supaFakes.Load(ts.Getenv("WORK"))
	if !ok {
		ts.Fatalf("supafake: no fake for this script")
	}
	srv := v.(*supabasefake.Server)
	count := func(got int) {
		if len(args) != 2 {
			ts.Fatalf("usage: supafake %s N", args[0])
		}
		want, err := strconv.Atoi(args[1])
		if err != nil || got != want {
			ts.Fatalf("supafake %s: got %d, want %s", args[0], got, args[1])
		}
	}
	switch args[0] {
	case "projects":
		count(len(srv.Projects()))
	case "created":
		count(srv.Created())
	case "revoke-key":
		ps := srv.Projects()
		if len(args) != 2 || len(ps) != 1 {
			ts.Fatalf("supafake revoke-key NAME: needs exactly one project (have %d)", len(ps))
		}
		if !srv.RevokeAPIKey(ps[0].Ref, args[1]) {
			ts.Fatalf("supafake: no key %q", args[1])
		}
	case "revoke-tokens":
		srv.RevokeAllOAuthTokens()
	case "resets", "dbpass-sha256":
		ps := srv.Projects()
		if len(args) != 2 || len(ps) != 1 {
			ts.Fatalf("supafake %s: needs exactly one project (have %d)", args[0], len(ps))
		}
		if args[0] == "resets" {
			count(ps[0].PasswordResets)
			break
		}
		b, err := os.ReadFile(ts.MkAbs(args[1]))
		if err != nil {
			ts.Fatalf("supafake dbpass-sha256: %v", err)
		}
		sum := sha256.Sum256([]byte(ps[0].DBPass))
		if got := strings.TrimSpace(string(b)); got != hex.EncodeToString(sum[:]) {
			ts.Fatalf("supafake dbpass-sha256: %s holds %q, not the sha256 of the project's database password", args[1], got)
		}
	case "fault":
		if len(args) < 3 || len(args) > 4 {
			ts.Fatalf("usage: supafake fault ROUTE STATUS [TIMES]")
		}
		status, err := strconv.Atoi(args[2])
		if err != nil {
			ts.Fatalf("supafake fault: status %q: %v", args[2], err)
		}
		times := 1
		if len(args) == 4 {
			if times, err = strconv.Atoi(args[3]); err != nil {
				ts.Fatalf("supafake fault: times %q: %v", args[3], err)
			}
		}
		srv.AddFault(supabasefake.Fault{Route: args[1], Status: status, Times: times})
	case "clear-faults":
		srv.ClearFaults()
	case "calls":
		if len(args) != 3 {
			ts.Fatalf("usage: supafake calls ROUTE N")
		}
		args = args[1:]
		count(srv.Calls(args[0]))
	case "ready-after":
		d, err := time.ParseDuration(strings.Join(args[1:], ""))
		if err != nil || len(args) != 2 {
			ts.Fatalf("usage: supafake ready-after DURATION")
		}
		srv.SetReadyAfter(d)
	case "never-ready":
		srv.NeverReady(true)
	default:
		ts.Fatalf("supafake: unknown subcommand %q", args[0])
	}
}

// fakeBrowserMain is the program stack starts as $BROWSER in the OAuth
// scripts: a real headless chromium opens the consent page stack printed,
// clicks Approve (or Deny with FAKEBROWSER_CLICK=deny) as a person would,
// and follows the redirect to stack's loopback callback. Its log goes to
// $FAKEBROWSER_LOG so the script can check what the page said.
func fakeBrowserMain() {
	code := 0
	logf := os.Stderr
	if p := os.Getenv("FAKEBROWSER_LOG"); p != "" {
		if f, err := os.OpenFile(p, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600); err == nil {
			logf = f
		}
	}
	if len(os.Args) != 2 {
		fmt.Fprintln(logf, "fakebrowser: usage: fakebrowser URL")
		os.Exit(2)
	}
	sel := "#approve"
	if os.Getenv("FAKEBROWSER_CLICK") == "deny" {
		sel = "#deny"
	}
	text, err := browsertest.Click(context.Background(), os.Args[1], sel, "#result", 40*time.Second)
	if err != nil {
		fmt.Fprintf(logf, "fakebrowser: %v\n", err)
		code = 1
	} else {
		fmt.Fprintf(logf, "fakebrowser: clicked %s; the page says: %s\n", sel, text)
	}
	os.Exit(code)
}

// bun and @supabase/supabase-js, installed from npm once per test run.
var (
	bunOnce sync.Once
	bunDir  string
	bunErr  error
)

// cmdNeedBun makes bun and @supabase/supabase-js available to the script:
// $BUN is the bun binary and DIR/node_modules links to the installed
// packages. STACK_TEST_NODE_MODULES may name a directory that already has
// them (developer machines); otherwise npm installs them.
//
//	needbun DIR
func cmdNeedBun(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: needbun DIR")
	}
	bunOnce.Do(func() { bunDir, bunErr = installBun() })
	if bunErr != nil {
		ts.Fatalf("needbun: %v", bunErr)
	}
	link := filepath.Join(ts.MkAbs(args[0]), "node_modules")
	if err := os.Symlink(filepath.Join(bunDir, "node_modules"), link); err != nil {
		ts.Fatalf("needbun: %v", err)
	}
	ts.Setenv("BUN", filepath.Join(bunDir, "node_modules", ".bin", "bun"))
}

// cleanupBun removes the npm install made for this test run.
func cleanupBun() {
	if bunDir != "" && bunDir != os.Getenv("STACK_TEST_NODE_MODULES") {
		os.RemoveAll(bunDir)
	}
}

func installBun() (string, error) {
	if d := os.Getenv("STACK_TEST_NODE_MODULES"); d != "" {
		if _, err := os.Stat(filepath.Join(d, "node_modules", ".bin", "bun")); err == nil {
			return d, nil
		}
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", fmt.Errorf("npm is needed to install bun and @supabase/supabase-js (.ci/run installs it): %v", err)
	}
	dir, err := os.MkdirTemp("", "stack-bun-")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{"private": true, "type": "module"}`+"\n"), 0o644); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "install", "--no-audit", "--no-fund", "--no-update-notifier", "bun", "@supabase/supabase-js")
	cmd.Dir = dir
	cmd.WaitDelay = 10 * time.Second
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("npm install bun @supabase/supabase-js: %v\n%s", err, strings.TrimSpace(string(out)))
	}
	bun := filepath.Join(dir, "node_modules", ".bin", "bun")
	if out, err := exec.Command(bun, "--version").CombinedOutput(); err != nil {
		return "", fmt.Errorf("%s --version: %v\n%s", bun, err, out)
	}
	return dir, nil
}

// cmdWaitGrep waits (at most 60 s) until FILE contains a line matching
// REGEXP: the fake browser runs detached from stack and logs when done.
//
//	waitgrep REGEXP FILE
func cmdWaitGrep(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: waitgrep REGEXP FILE")
	}
	re, err := regexp.Compile("(?m)" + args[0])
	if err != nil {
		ts.Fatalf("waitgrep: %v", err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		b, _ := os.ReadFile(ts.MkAbs(args[1]))
		if re.Match(b) {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("waitgrep: no match for %q in %s after 60 s:\n%s", args[0], args[1], b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
