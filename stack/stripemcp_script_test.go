package stack_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// stripeMCPVersion is the @stripe/mcp release whose behaviour
// docs/providers.md ("MCP servers") describes: a stdio bridge to
// https://mcp.stripe.com that refuses keys not starting with sk_ or rk_.
const stripeMCPVersion = "0.3.3"

var (
	stripeMCPOnce sync.Once
	stripeMCPDir  string
	stripeMCPErr  error
)

// cmdNeedStripeMCP installs the real @stripe/mcp (pinned) once per test
// run and sets $STRIPE_MCP to its entry point and $NODE to node. Without
// node or npm it fails when CI is set (.ci/run installs both) and otherwise
// does nothing, for the script's `[!exec:node] skip` lines that follow (a
// command cannot skip a script itself).
//
//	needstripe
func cmdNeedStripeMCP(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: needstripe")
	}
	node, err1 := exec.LookPath("node")
	_, err2 := exec.LookPath("npm")
	if err1 != nil || err2 != nil {
		if os.Getenv("CI") != "" {
			ts.Fatalf("needstripe: node and npm are required when CI is set: %v %v", err1, err2)
		}
		return
	}
	stripeMCPOnce.Do(func() { stripeMCPDir, stripeMCPErr = installStripeMCP() })
	if stripeMCPErr != nil {
		ts.Fatalf("needstripe: %v", stripeMCPErr)
	}
	ts.Setenv("NODE", node)
	ts.Setenv("STRIPE_MCP", filepath.Join(stripeMCPDir, "node_modules", "@stripe", "mcp", "dist", "index.js"))
}

// cleanupStripeMCP removes the npm install made for this test run.
func cleanupStripeMCP() {
	if stripeMCPDir != "" {
		os.RemoveAll(stripeMCPDir)
	}
}

// installStripeMCP runs npm install in a fresh directory (npm's own cache
// keeps repeated runs fast), bounded to five minutes.
func installStripeMCP() (string, error) {
	dir, err := os.MkdirTemp("", "stack-stripe-mcp-")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{"private": true}`+"\n"), 0o644); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	pkg := "@stripe/mcp@" + stripeMCPVersion
	cmd := exec.CommandContext(ctx, "npm", "install", "--no-save", "--no-audit", "--no-fund", "--no-update-notifier", pkg)
	cmd.Dir = dir
	cmd.WaitDelay = 10 * time.Second
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("npm install %s: %v\n%s", pkg, err, strings.TrimSpace(string(out)))
	}
	return dir, nil
}
