package stack_test

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/BurntSushi/toml"
	"github.com/rogpeppe/go-internal/testscript"

	vercelfake "phantomstack.dev/providers/fake/vercel"
)

// Each script gets its own Vercel fake with two personal tokens: the first
// is the one stack add stores, the second signs stack remove in after the
// first was revoked. Scripts opt in by exporting VERCEL_FAKE_* as
// VERCEL_TOKEN and STACK_VERCEL_API_URL.
var vercelFakes sync.Map // $WORK → *vercelfake.Server

func setupVercelFake(e *testscript.Env) {
	first, second := vercelfake.NewToken(), vercelfake.NewToken()
	srv := vercelfake.New(vercelfake.Options{Tokens: []string{first, second}})
	url := srv.Start()
	e.Defer(srv.Close)
	e.Setenv("VERCEL_FAKE_URL", url)
	e.Setenv("VERCEL_FAKE_TOKEN", first)
	e.Setenv("VERCEL_FAKE_TOKEN2", second)
	vercelFakes.Store(e.WorkDir, srv)
}

// cmdVercelFake inspects or changes the script's Vercel fake:
//
//	vercelfake projects N          N projects exist
//	vercelfake created N           N projects were ever created (deleted ones too)
//	vercelfake create-planned FILE create the project FILE's pending journal
//	                               plans (FILE is .stack.local.toml), as a run
//	                               killed after its create call, before the
//	                               journal got the id, would have left it
//	vercelfake envfile FILE        FILE (.env.local) names the only project
//	                               in VERCEL_PROJECT_ID and its owner in VERCEL_ORG_ID
//	vercelfake fail ROUTE STATUS N the next N calls of ROUTE (the fake's
//	                               pattern, e.g. 'GET /v9/projects/{idOrName}')
//	                               answer STATUS
//	vercelfake lose ROUTE STATUS N the next N calls of ROUTE take effect, then
//	                               answer STATUS instead (0: the connection
//	                               is closed with no answer): a lost answer
//	vercelfake calls ROUTE N       N calls of ROUTE arrived
//	vercelfake revoke              revoke the first token ($VERCEL_FAKE_TOKEN)
//	vercelfake env KEY VAR [T...]  the (only) project's variable KEY holds
//	                               exactly $VAR in each target T (default:
//	                               all three); the value is never printed
//	vercelfake envtype KEY TYPE    KEY's Vercel type is TYPE
//	vercelfake noenv KEY           the project has no variable KEY
func cmdVercelFake(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 {
		ts.Fatalf("usage: vercelfake projects|created N | create-planned FILE | envfile FILE | fail ROUTE STATUS N | lose ROUTE STATUS N | calls ROUTE N | revoke | env KEY VAR [TARGET...] | envtype KEY TYPE | noenv KEY")
	}
	v, ok := vercelFakes.Load(ts.Getenv("WORK"))
	if !ok {
		ts.Fatalf("vercelfake: no fake for this script")
	}
	srv := v.(*vercelfake.Server)
	project := func() vercelfake.Project {
		ps := srv.Projects()
		if len(ps) != 1 {
			ts.Fatalf("vercelfake %s: want exactly one project, have %d", args[0], len(ps))
		}
		return ps[0]
	}
	find := func(key string) *vercelfake.EnvVar {
		for _, e := range project().Env {
			if e.Key == key {
				return &e
			}
		}
		return nil
	}
	switch args[0] {
	case "projects", "created":
		if len(args) != 2 {
			ts.Fatalf("usage: vercelfake %s N", args[0])
		}
		want, err := strconv.Atoi(args[1])
		if err != nil {
			ts.Fatalf("vercelfake: bad count %q", args[1])
		}
		got := len(srv.Projects())
		if args[0] == "created" {
			got = srv.Created()
		}
		if got != want {
			ts.Fatalf("vercelfake %s: got %d, want %d", args[0], got, want)
		}
	case "create-planned":
		if len(args) != 2 {
			ts.Fatalf("usage: vercelfake create-planned FILE")
		}
		var local struct {
			Journal map[string]struct {
				Phase, Name string
			} `toml:"journal"`
		}
		if _, err := toml.DecodeFile(ts.MkAbs(args[1]), &local); err != nil {
			ts.Fatalf("vercelfake create-planned: %v", err)
		}
		j, ok := local.Journal["vercel"]
		if !ok || j.Name == "" {
			ts.Fatalf("vercelfake create-planned: %s has no pending journal for vercel with a name", args[1])
		}
		if _, ok := srv.AddProject(j.Name); !ok {
			ts.Fatalf("vercelfake create-planned: a project %s exists already", j.Name)
		}
	case "envfile":
		if len(args) != 2 {
			ts.Fatalf("usage: vercelfake envfile FILE")
		}
		b, err := os.ReadFile(ts.MkAbs(args[1]))
		if err != nil {
			ts.Fatalf("vercelfake envfile: %v", err)
		}
		p := project()
		for k, want := range map[string]string{"VERCEL_PROJECT_ID": p.ID, "VERCEL_ORG_ID": p.AccountID} {
			if !slices.Contains(strings.Split(string(b), "\n"), k+"="+want) {
				ts.Fatalf("vercelfake envfile: %s has no line %s=%s", args[1], k, want)
			}
		}
	case "fail":
		if len(args) != 4 {
			ts.Fatalf("usage: vercelfake fail ROUTE STATUS N")
		}
		status, err1 := strconv.Atoi(args[2])
		times, err2 := strconv.Atoi(args[3])
		if err1 != nil || err2 != nil || status < 400 || times < 1 {
			ts.Fatalf("vercelfake fail: want an HTTP error status and a count ≥ 1, got %q %q", args[2], args[3])
		}
		srv.AddFault(vercelfake.Fault{Route: args[1], Status: status, Times: times})
	case "lose":
		if len(args) != 4 {
			ts.Fatalf("usage: vercelfake lose ROUTE STATUS N")
		}
		status, err1 := strconv.Atoi(args[2])
		times, err2 := strconv.Atoi(args[3])
		if err1 != nil || err2 != nil || (status != 0 && status < 500) || times < 1 {
			ts.Fatalf("vercelfake lose: want 0 or a 5xx status and a count ≥ 1, got %q %q", args[2], args[3])
		}
		srv.AddFault(vercelfake.Fault{Route: args[1], Status: status, Times: times, AfterHandler: true})
	case "calls":
		if len(args) != 3 {
			ts.Fatalf("usage: vercelfake calls ROUTE N")
		}
		want, err := strconv.Atoi(args[2])
		if err != nil {
			ts.Fatalf("vercelfake: bad count %q", args[2])
		}
		if got := srv.Calls(args[1]); got != want {
			ts.Fatalf("vercelfake calls %s: got %d, want %d", args[1], got, want)
		}
	case "revoke":
		if !srv.RevokeToken(srv.Token()) {
			ts.Fatalf("vercelfake revoke: the token was already revoked")
		}
	case "env":
		if len(args) < 3 {
			ts.Fatalf("usage: vercelfake env KEY VAR [TARGET...]")
		}
		want := ts.Getenv(args[2])
		if want == "" {
			ts.Fatalf("vercelfake env: $%s is empty", args[2])
		}
		targets := args[3:]
		if len(targets) == 0 {
			targets = []string{"production", "preview", "development"}
		}
		p := project()
		for _, t := range targets {
			got, ok := srv.EnvValue(p.ID, args[1], t)
			if !ok {
				ts.Fatalf("vercelfake env: %s has no variable %s for %s", p.Name, args[1], t)
			}
			if got != want {
				// Never print either value: say only how they differ.
				ts.Fatalf("vercelfake env: %s in %s does not hold $%s (got %d bytes, want %d; phm token: %v)", args[1], t, args[2], len(got), len(want), len(got) == 68 && got[:4] == "phm_")
			}
		}
	case "envtype":
		if len(args) != 3 {
			ts.Fatalf("usage: vercelfake envtype KEY TYPE")
		}
		e := find(args[1])
		if e == nil {
			ts.Fatalf("vercelfake envtype: no variable %s", args[1])
		}
		if e.Type != args[2] {
			ts.Fatalf("vercelfake envtype: %s is %s, want %s", args[1], e.Type, args[2])
		}
	case "noenv":
		if len(args) != 2 {
			ts.Fatalf("usage: vercelfake noenv KEY")
		}
		if e := find(args[1]); e != nil {
			ts.Fatalf("vercelfake noenv: %s exists (targets %v)", args[1], slices.Clone(e.Target))
		}
	default:
		ts.Fatalf("vercelfake: unknown subcommand %q", args[0])
	}
}
