package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// syncBuffer lets the test read stdout while run writes it.
type syncBuffer struct {
	ch chan []byte
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.ch <- append([]byte(nil), p...)
	return len(p), nil
}

func TestRunPrintsWorkingSandbox(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{ch: make(chan []byte, 16)}
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"-supabase-ready-after=0s"}, out, &stderr) }()

	var got Output
	select {
	case b := <-out.ch:
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("stdout is not JSON: %v\n%s", err, b)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no output")
	}
	if !got.Sandbox || !strings.Contains(got.Note, "local sandbox") || got.AWS == nil {
		t.Fatalf("output %+v", got)
	}
	for _, u := range []string{got.Supabase.APIURL, got.Vercel.APIURL, got.AWS.EndpointURL} {
		if !strings.HasPrefix(u, "http://127.0.0.1:") {
			t.Fatalf("not loopback: %s", u)
		}
	}
	check := func(url, token, header string, want int) {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set(header, "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != want {
			t.Fatalf("%s: %d, want %d", url, res.StatusCode, want)
		}
	}
	check(got.Supabase.APIURL+"/v1/organizations", got.Supabase.AccessToken, "Authorization", 200)
	check(got.Vercel.APIURL+"/v2/user", got.Vercel.Token, "Authorization", 200)

	stopAndWait(t, cancel, done, &stderr)
}

// The names `make demo` (scripts/demo.sh) reads from -format=env.
var demoNeeds = []string{
	"FAKECLOUD_SUPABASE_API_URL", "FAKECLOUD_SUPABASE_ACCESS_TOKEN",
	"FAKECLOUD_VERCEL_API_URL", "FAKECLOUD_VERCEL_TOKEN",
	"FAKECLOUD_AWS_ENDPOINT_URL", "FAKECLOUD_AWS_REGION",
	"FAKECLOUD_AWS_ACCESS_KEY_ID", "FAKECLOUD_AWS_SECRET_ACCESS_KEY",
}

// envLine is how scripts/demo.sh parses a line (no eval, no jq).
var envLine = regexp.MustCompile(`^(FAKECLOUD_[A-Z0-9_]+)='([^']*)'$`)

func TestRunEnvFormat(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"-supabase-ready-after=0s", "-format=env"}, pw, &stderr) }()

	// fakecloud closes stdout once it has printed: reading to EOF ends.
	read := make(chan []byte, 1)
	go func() { b, _ := io.ReadAll(pr); read <- b }()
	var b []byte
	select {
	case b = <-read:
	case <-time.After(10 * time.Second):
		t.Fatal("stdout was not closed after the variables")
	}
	vars := map[string]string{}
	for i, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if i == 0 {
			if !strings.HasPrefix(line, "# fakecloud: local sandbox") {
				t.Fatalf("first line %q does not say it is a local sandbox", line)
			}
			continue
		}
		m := envLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("line %d %q is not NAME='value'", i+1, line)
		}
		vars[m[1]] = m[2]
	}
	for _, n := range demoNeeds {
		if vars[n] == "" {
			t.Errorf("%s missing or empty", n)
		}
	}
	if vars["FAKECLOUD_SANDBOX"] != "true" {
		t.Errorf("FAKECLOUD_SANDBOX=%q", vars["FAKECLOUD_SANDBOX"])
	}
	for _, n := range []string{"FAKECLOUD_SUPABASE_API_URL", "FAKECLOUD_VERCEL_API_URL", "FAKECLOUD_AWS_ENDPOINT_URL"} {
		if !strings.HasPrefix(vars[n], "http://127.0.0.1:") {
			t.Fatalf("%s not loopback: %s", n, vars[n])
		}
	}
	// The values are the live sandbox's.
	for _, c := range []struct{ url, token string }{
		{vars["FAKECLOUD_SUPABASE_API_URL"] + "/v1/organizations", vars["FAKECLOUD_SUPABASE_ACCESS_TOKEN"]},
		{vars["FAKECLOUD_VERCEL_API_URL"] + "/v2/user", vars["FAKECLOUD_VERCEL_TOKEN"]},
	} {
		req, _ := http.NewRequest("GET", c.url, nil)
		req.Header.Set("Authorization", "Bearer "+c.token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("%s: %d", c.url, res.StatusCode)
		}
	}
	stopAndWait(t, cancel, done, &stderr)
}

func TestRunRejectsUnknownFormat(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"-format=yaml"}, &stdout, &stderr); code != 2 {
		t.Fatalf("exit %d", code)
	}
	if stdout.Len() != 0 {
		t.Fatal("printed something for a bad -format")
	}
}

// A shell reads back exactly the value, whatever it holds.
func TestShellQuote(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	for _, v := range []string{"", "plain", "it's", "''", `a"b$HOME\n` + "`x`", "g8s+ej/aS=="} {
		out, err := exec.Command(sh, "-c", `eval "V=$1"; printf %s "$V"`, "sh", shellQuote(v)).Output()
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != v {
			t.Errorf("%q came back as %q", v, out)
		}
	}
}

func TestRunRefusesNonLoopback(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"-supabase-addr=0.0.0.0:0"}, &stdout, &stderr); code != 1 {
		t.Fatalf("exit %d", code)
	}
	if stdout.Len() != 0 {
		t.Fatal("printed credentials for a refused start")
	}
}

// stopAndWait cancels fakecloud's context and checks it exits 0, bounded.
func stopAndWait(t *testing.T, cancel context.CancelFunc, done <-chan int, stderr *bytes.Buffer) {
	t.Helper()
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not stop on cancel")
	}
}
