package stack_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDemo runs `make demo`'s script (scripts/demo.sh) end to end with
// freshly built phantom, stack, demoapi and fakecloud first on PATH, so the
// walkthrough in the README cannot rot: it must exit 0 and show the key
// steps. The script itself exits non-zero when a step it depends on fails
// (its `must` helper) or when a value is found on disk.
func TestDemo(t *testing.T) {
	t.Parallel() // its own temp dirs and loopback ports
	if testing.Short() {
		t.Skip("builds four binaries and runs the whole demo; skipped with -short")
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("bash is needed to run scripts/demo.sh: %v", err)
		}
		t.Skipf("no bash: %v", err)
	}
	bin := t.TempDir()
	for out, pkg := range map[string]string{
		"phantom":   "./phantom/cmd/phantom",
		"stack":     "./stack/cmd/stack",
		"demoapi":   "./phantom/internal/tools/demoapi",
		"fakecloud": "./providers/fake/cmd/fakecloud",
	} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(bin, out), pkg)
		cmd.Dir = ".."
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("building %s: %v\n%s", pkg, err, b)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bash, "scripts/demo.sh")
	cmd.Dir = ".."
	// A clean environment: nothing from the developer's shell (cloud
	// credentials, AWS_PROFILE, a keychain session) reaches the demo.
	home := t.TempDir()
	cmd.Env = []string{
		"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + home,
		"TMPDIR=" + t.TempDir(),
		"GIT_CONFIG_NOSYSTEM=1",
		"LANG=C.UTF-8",
	}
	cmd.WaitDelay = 10 * time.Second
	b, err := cmd.CombinedOutput()
	out := string(b)
	if ctx.Err() != nil {
		t.Fatalf("scripts/demo.sh did not finish within 3 minutes:\n%s", out)
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("scripts/demo.sh exited %d:\n%s", ee.ExitCode(), out)
		}
		t.Fatalf("scripts/demo.sh: %v\n%s", err, out)
	}

	for _, want := range []string{
		// the existing walkthrough
		`(?m)^\$ phantom init --yes$`,
		`upstream received: POST /v1/chat/completions  Authorization: Bearer sk-proj-demo-dddd…\(the real key\)`,
		// the revoked key's failure is announced before it happens
		`deliberately revoked key: the stand-in answers 401 for it, so stack refuses to store it and the next error is expected\)\n\$ stack add openai\n`,
		// the cloud section, labelled as a sandbox
		`local sandbox: fakecloud, started by this demo on 127\.0\.0\.1, stands in for api\.supabase\.com, api\.vercel\.com and AWS`,
		`Real endpoints are the default everywhere else`,
		`Supabase: using a local sandbox`,
		`Supabase: waiting for project [a-z]+ to be ACTIVE_HEALTHY`,
		`(?m)^  ACTIVE_HEALTHY$`,
		`✓ Supabase is set up`,
		`"url": "https://mcp\.supabase\.com/mcp\?project_ref=[a-z]{20}"`,
		`(?m)^SUPABASE_ANON_KEY=phm_[0-9a-f]{64}$`,
		`(?m)^SUPABASE_URL=http://127\.0\.0\.1:[0-9]+/project/[a-z]+$`,
		`✓ Vercel is set up`,
		`(?m)^VERCEL_TOKEN=phm_[0-9a-f]{64}$`,
		`skipped: stack env push vercel`,
		`✓ AWS is set up`,
		`(?m)^AWS_SECRET_ACCESS_KEY=phm_[0-9a-f]{64}$`,
		// doctor: every cloud key verified upstream; the database
		// credential is named unverifiable (doctor does not connect to
		// Postgres), never ok unchecked
		`(?m)^supabase +SUPABASE_ANON_KEY +present +ok`,
		`(?m)^supabase +SUPABASE_SERVICE_ROLE_KEY +present +ok`,
		`(?m)^supabase +DATABASE_URL +present +unverifiable: not checked`,
		`(?m)^vercel +VERCEL_TOKEN +present +ok`,
		`(?m)^aws +AWS_ACCESS_KEY_ID +present +ok`,
		`(?m)^aws +AWS_SECRET_ACCESS_KEY +present +ok`,
		// remove deleted the project upstream
		`Supabase: deleted project [a-z]+`,
		`(?m)^supabasefake: DELETE /v1/projects/\{ref\}$`,
		`✓ Removed supabase`,
		// nothing on disk
		`not found: sk-proj-demo-aaaa…`,
		`not found: sk-proj-demo-dddd…`,
		`not found: the sandbox's SUPABASE_ACCESS_TOKEN`,
		`not found: the sandbox's VERCEL_TOKEN`,
		`not found: the sandbox's AWS_SECRET_ACCESS_KEY`,
		`(?m)^Done\.`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("demo output lacks %s", want)
		}
	}
	// After the remove, the project's services no longer list supabase.
	if i := strings.LastIndex(out, "$ stack list"); i < 0 || strings.Contains(out[i:], "supabase  supabase") {
		t.Errorf("stack list after stack remove supabase still shows it (or is missing)")
	}
	for _, bad := range []string{"FOUND", "demo: ", "panic:"} {
		if strings.Contains(out, bad) {
			t.Errorf("demo output contains %q", bad)
		}
	}
	// The sandbox's credentials look like these; none may be printed.
	if m := regexp.MustCompile(`sbp_[0-9a-f]{40}|vcp_[A-Za-z0-9]{20,}`).FindString(out); m != "" {
		t.Errorf("demo output shows a sandbox credential (%.8s…)", m)
	}
	if t.Failed() {
		t.Logf("demo output:\n%s", out)
	}
}
