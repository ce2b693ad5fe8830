// Command fakecloud starts the offline sandbox of upstream APIs — the
// Supabase and Vercel fakes and the AWS (IAM/STS/S3) fake — on 127.0.0.1,
// prints their base URLs and the sandbox credentials it registered on
// stdout, and serves until it is interrupted. The credentials are throwaway
// values that only this process accepts, clearly labelled as a local sandbox.
//
// stdout is one JSON object (the default, -format=json) or, with
// -format=env, shell assignments a script reads without jq or python:
//
//	# fakecloud: local sandbox ...
//	FAKECLOUD_SUPABASE_API_URL='http://127.0.0.1:40123'
//	FAKECLOUD_SUPABASE_ACCESS_TOKEN='sbp_...'
//	...
//
// one FAKECLOUD_<SECTION>_<FIELD> per JSON field, sorted, every value in
// single quotes (POSIX quoting, so the lines are also safe to eval). They
// are not exported: a shell that sources them keeps the credentials out of
// its children's environments. Either way fakecloud closes stdout once it
// has printed, so a reader (`make demo` reads it from a bash coproc) sees
// end of file instead of waiting on a pipe that stays open.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	awsfake "phantomstack.dev/providers/fake/aws"
	supabasefake "phantomstack.dev/providers/fake/supabase"
	vercelfake "phantomstack.dev/providers/fake/vercel"
)

// Output is what fakecloud prints on stdout (one JSON object).
type Output struct {
	Sandbox  bool     `json:"sandbox"`
	Note     string   `json:"note"`
	Supabase Supabase `json:"supabase"`
	Vercel   Vercel   `json:"vercel"`
	AWS      *AWS     `json:"aws,omitempty"`
}

// Supabase describes the Supabase fake (api_url stands in for
// https://api.supabase.com; a project's SUPABASE_URL is api_url/project/<ref>).
type Supabase struct {
	APIURL            string `json:"api_url"`
	AuthorizeURL      string `json:"authorize_url"`
	TokenURL          string `json:"token_url"`
	OAuthClientID     string `json:"oauth_client_id"`
	OAuthClientSecret string `json:"oauth_client_secret"`
	AccessToken       string `json:"access_token"`
	OrganizationID    string `json:"organization_id"`
}

// Vercel describes the Vercel fake (api_url stands in for https://api.vercel.com).
type Vercel struct {
	APIURL            string `json:"api_url"`
	AuthorizeURL      string `json:"authorize_url"`
	TokenURL          string `json:"token_url"`
	OAuthClientID     string `json:"oauth_client_id"`
	OAuthClientSecret string `json:"oauth_client_secret"`
	Token             string `json:"token"`
	TeamID            string `json:"team_id"`
}

// AWS describes the AWS fake (one endpoint for IAM, STS and S3).
type AWS struct {
	EndpointURL     string `json:"endpoint_url"`
	Region          string `json:"region"`
	AccessKeyID     string `json:"access_key_id"`
	SecretAccessKey string `json:"secret_access_key"`
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fakecloud", flag.ContinueOnError)
	fs.SetOutput(stderr)
	readyAfter := fs.Duration("supabase-ready-after", 3*time.Second, "how long a new Supabase project stays COMING_UP")
	supaAddr := fs.String("supabase-addr", "", "fixed loopback address for the Supabase fake (default: a free port)")
	vercelAddr := fs.String("vercel-addr", "", "fixed loopback address for the Vercel fake (default: a free port)")
	awsAddr := fs.String("aws-addr", "", "fixed loopback address for the AWS fake (default: a free port)")
	noAWS := fs.Bool("no-aws", false, "do not start the AWS fake")
	format := fs.String("format", "json", `what stdout says: "json" (one object) or "env" (FAKECLOUD_*='value' shell lines)`)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *format != "json" && *format != "env" {
		fmt.Fprintf(stderr, "fakecloud: -format must be json or env, not %q\n", *format)
		return 2
	}
	// The fakes log from their handler goroutines: serialise the writes.
	var logMu sync.Mutex
	stderr = lockedWriter{&logMu, stderr}
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) }

	supa := supabasefake.New(supabasefake.Options{ReadyAfter: *readyAfter, Logf: logf})
	vercel := vercelfake.New(vercelfake.Options{Logf: logf})
	var out Output
	out.Sandbox = true
	out.Note = "local sandbox: stand-ins for Supabase, Vercel and AWS on 127.0.0.1; nothing here reaches the real services"
	if err := listen(supa.Start, supa.StartOn, *supaAddr); err != nil {
		fmt.Fprintf(stderr, "fakecloud: supabase: %v\n", err)
		return 1
	}
	defer supa.Close()
	if err := listen(vercel.Start, vercel.StartOn, *vercelAddr); err != nil {
		fmt.Fprintf(stderr, "fakecloud: vercel: %v\n", err)
		return 1
	}
	defer vercel.Close()

	sid, ssecret := supa.OAuthClient()
	out.Supabase = Supabase{
		APIURL: supa.URL(), AuthorizeURL: supa.AuthorizeURL(), TokenURL: supa.TokenURL(),
		OAuthClientID: sid, OAuthClientSecret: ssecret, AccessToken: supa.PersonalToken(),
		OrganizationID: supa.Organizations()[0].ID,
	}
	vid, vsecret := vercel.OAuthClient()
	out.Vercel = Vercel{
		APIURL: vercel.URL(), AuthorizeURL: vercel.AuthorizeURL(), TokenURL: vercel.TokenURL(),
		OAuthClientID: vid, OAuthClientSecret: vsecret, Token: vercel.Token(), TeamID: vercel.Teams()[0].ID,
	}

	// The AWS fake (IAM, STS, S3 on one port, SigV4-verified).
	if !*noAWS {
		aws := awsfake.New(awsfake.Options{Logf: logf})
		if err := listen(aws.Start, aws.StartOn, *awsAddr); err != nil {
			fmt.Fprintf(stderr, "fakecloud: aws: %v\n", err)
			return 1
		}
		defer aws.Close()
		id, secret := aws.BootstrapCredentials()
		out.AWS = &AWS{EndpointURL: aws.URL(), Region: aws.Region(), AccessKeyID: id, SecretAccessKey: secret}
	}

	var err error
	if *format == "env" {
		err = writeEnv(stdout, out)
	} else {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(out)
	}
	if err != nil {
		fmt.Fprintf(stderr, "fakecloud: %v\n", err)
		return 1
	}
	// Nothing more goes to stdout: close it so a reader gets end of file.
	if c, ok := stdout.(io.Closer); ok {
		c.Close()
	}
	fmt.Fprintln(stderr, "fakecloud: serving the local sandbox; press Ctrl-C to stop")
	<-ctx.Done()
	return 0
}

// writeEnv prints out as FAKECLOUD_<SECTION>_<FIELD>='value' lines, one per
// JSON field of Output, sorted by name, after a comment saying what they are.
func writeEnv(w io.Writer, out Output) error {
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	var tree map[string]any
	if err := json.Unmarshal(b, &tree); err != nil {
		return err
	}
	var lines []string
	var walk func(name string, v any)
	walk = func(name string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				walk(name+"_"+strings.ToUpper(k), x)
			}
		case string:
			lines = append(lines, name+"="+shellQuote(v))
		case nil:
		default: // bools and numbers
			lines = append(lines, name+"="+shellQuote(fmt.Sprint(v)))
		}
	}
	walk("FAKECLOUD", tree)
	sort.Strings(lines)
	var sb strings.Builder
	sb.WriteString("# fakecloud: " + out.Note + "; throwaway credentials only this process accepts\n")
	for _, l := range lines {
		sb.WriteString(l + "\n")
	}
	// One write, so a reader never sees half of it.
	_, err = io.WriteString(w, sb.String())
	return err
}

// shellQuote puts s in single quotes for a POSIX shell; a quote inside s
// ends the quoting, is escaped with a backslash and reopens it.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func listen(start func() string, startOn func(string) (string, error), addr string) error {
	if addr == "" {
		start()
		return nil
	}
	_, err := startOn(addr)
	return err
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
