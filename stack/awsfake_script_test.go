package stack_test

import (
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	awsfake "phantomstack.dev/providers/fake/aws"
)

// Each script gets its own AWS fake (IAM, STS, S3 with SigV4 checked on
// every call). Scripts opt in to it by exporting the AWS_FAKE_* values as
// the standard AWS variables, so no other script sees AWS credentials.
var awsFakes sync.Map // $WORK → *awsfake.Server

func setupAWSFake(e *testscript.Env) {
	// New keys take a moment to work, as in IAM: the provider must wait.
	srv := awsfake.New(awsfake.Options{KeyPropagationDelay: 700 * time.Millisecond})
	url := srv.Start()
	e.Defer(srv.Close)
	id, secret := srv.BootstrapCredentials()
	e.Setenv("AWS_FAKE_URL", url)
	e.Setenv("AWS_FAKE_KEY_ID", id)
	e.Setenv("AWS_FAKE_SECRET", secret)
	awsFakes.Store(e.WorkDir, srv)
}

// cmdAWSFake inspects or changes the script's AWS fake:
//
//	awsfake users N      N IAM users besides the bootstrap one
//	awsfake buckets N    N S3 buckets
//	awsfake keys N       N access keys held by those users
//	awsfake created users|buckets|keys N
//	                     N were ever created (deleted ones too): a resume
//	                     that adopts what exists creates none
//	awsfake revoke       delete every access key those users hold
//	awsfake secret VAR   set $VAR to the (only) user key's secret, for noplaintext
func cmdAWSFake(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 {
		ts.Fatalf("usage: awsfake users|buckets|keys N | created users|buckets|keys N | revoke | secret VAR")
	}
	v, ok := awsFakes.Load(ts.Getenv("WORK"))
	if !ok {
		ts.Fatalf("awsfake: no fake for this script")
	}
	srv := v.(*awsfake.Server)
	var keys []awsfake.AccessKey
	users := 0
	for _, u := range srv.Users() {
		if u.Arn == srv.BootstrapARN() {
			continue
		}
		users++
		keys = append(keys, srv.AccessKeys(u.UserName)...)
	}
	// count checks the last argument, N, against got.
	count := func(got int) {
		if len(args) != 2 && (args[0] != "created" || len(args) != 3) {
			ts.Fatalf("usage: awsfake %s N", args[0])
		}
		n := args[len(args)-1]
		want, err := strconv.Atoi(n)
		if err != nil {
			ts.Fatalf("awsfake: bad count %q", n)
		}
		if got != want {
			ts.Fatalf("awsfake %s: got %d, want %d", strings.Join(args[:len(args)-1], " "), got, want)
		}
	}
	switch args[0] {
	case "users":
		count(users)
	case "buckets":
		count(len(srv.Buckets()))
	case "keys":
		count(len(keys))
	case "created":
		if len(args) != 3 {
			ts.Fatalf("usage: awsfake created users|buckets|keys N")
		}
		n := srv.Created()
		got, ok := map[string]int{"users": n.Users, "buckets": n.Buckets, "keys": n.AccessKeys}[args[1]]
		if !ok {
			ts.Fatalf("awsfake created: unknown kind %q (users, buckets, keys)", args[1])
		}
		count(got)
	case "revoke":
		for _, k := range keys {
			srv.DeleteAccessKey(k.AccessKeyID)
		}
	case "secret":
		if len(args) != 2 || len(keys) != 1 {
			ts.Fatalf("awsfake secret VAR: needs exactly one user key (have %d)", len(keys))
		}
		s, _ := srv.SecretAccessKey(keys[0].AccessKeyID)
		ts.Setenv(args[1], s)
	default:
		ts.Fatalf("awsfake: unknown subcommand %q", args[0])
	}
}
