#!/usr/bin/env bash
# An offline walkthrough of phantom and stack in a throwaway directory. Nothing outside
# the temp dir is touched: PHANTOM_HOME points into it, and the vault uses a
# passphrase from the environment (as in CI) instead of your OS keychain.
set -euo pipefail

demo=$(mktemp -d "${TMPDIR:-/tmp}/phantom-demo.XXXXXX")
pids=() # the local stand-ins this demo starts, stopped on exit
cleanup() {
	for p in ${pids[@]+"${pids[@]}"}; do kill "$p" 2>/dev/null || true; done
	for p in ${pids[@]+"${pids[@]}"}; do wait "$p" 2>/dev/null || true; done
	rm -rf "$demo"
}
trap cleanup EXIT
export PHANTOM_HOME="$demo/phantom-home"
export STACK_HOME="$demo/stack-home" # stack's project registry, instead of ~/.stack
export PHANTOM_VAULT_PASSPHRASE="demo-passphrase-not-for-real-use"
unset DBUS_SESSION_BUS_ADDRESS PHANTOM_REQUIRE_KEYCHAIN || true
export NO_COLOR=1

bold=$'\033[1m'; dim=$'\033[2m'; off=$'\033[0m'
[ -t 1 ] || { bold=""; dim=""; off=""; }
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$off"; }
note() { printf '%s(%s)%s\n' "$dim" "$*" "$off"; }
# run shows a command and its output; a failure is part of the demo (a refusal).
run() { printf '%s$ %s%s\n' "$dim" "$*" "$off"; "$@" 2>&1 || printf '%s(exit %d)%s\n' "$dim" "$?" "$off"; }
# must is run for a step the rest depends on: a failure ends the demo (exit 1).
must() {
	printf '%s$ %s%s\n' "$dim" "$*" "$off"
	local rc=0
	"$@" 2>&1 || rc=$?
	if [ "$rc" -ne 0 ]; then printf '%sdemo: "%s" failed (exit %d); stopping%s\n' "$bold" "$*" "$rc" "$off"; exit 1; fi
}

mkdir -p "$demo/app" && cd "$demo/app"
git init -q . 2>/dev/null || true
cat > .env <<'ENV'
# My app
OPENAI_API_KEY=sk-proj-demo-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
STRIPE_SECRET_KEY="sk_test_demo_bbbbbbbbbbbbbbbbbbbbbbbb" # test mode
DATABASE_URL=postgres://app:demo-db-password@localhost:5432/app
NEXT_PUBLIC_SITE_URL=http://localhost:3000
PORT=3000
ENV

step "A project with real secrets in .env — what an agent would read today"
run cat .env

step "phantom init: values move into the encrypted vault, placeholders stay"
run phantom init --yes
run cat .env
run cat .phantom.toml

step "Names, never values"
run phantom list

step "Add a secret: from a hidden prompt, or piped on stdin — never as an argument"
run phantom add RESEND_API_KEY re_demo_should_not_be_in_argv
printf 're_demo_cccccccccccccccccccccccc\n' | run phantom add RESEND_API_KEY --stdin --env-file .env.local
run cat .env.local

step "Why is a key treated the way it is?"
run phantom why OPENAI_API_KEY
run phantom why PORT

step "Status at a glance (also: --json)"
run phantom status

step "A .env.example that is safe to commit"
run phantom env
run cat .env.example

step "Nobody can print a value without a human at a terminal"
run phantom reveal OPENAI_API_KEY

step "A placeholder leaked? Rotate the tokens; the old ones stop resolving"
run phantom rotate
run grep OPENAI_API_KEY .env

step "phantom exec: the app gets placeholders; the proxy puts the real key on the wire"
printf '%s(local sandbox: a stand-in for api.openai.com on 127.0.0.1, so the demo runs offline)%s\n' "$dim" "$off"
upstream_log="$demo/upstream.log"
: > "$upstream_log"
demoapi serve "$upstream_log" > "$demo/upstream.url" &
pids+=($!)
for _ in $(seq 50); do [ -s "$demo/upstream.url" ] && break; sleep 0.1; done
upstream_url=$(cat "$demo/upstream.url")
[ -n "$upstream_url" ] || { echo "demo: demoapi did not start"; exit 1; }
printf '\n[routes.openai]\nupstream = "%s"\n' "$upstream_url" >> .phantom.toml
run tail -n 3 .phantom.toml
printf '%s(a route that sends a key somewhere new is refused until a person approves it)%s\n' "$dim" "$off"
run phantom exec -- demoapi app
printf '%s(the demo approves it for you, as if you had typed "trust" at: phantom trust)%s\n' "$dim" "$off"
demoapi approve
run phantom exec -- demoapi app
printf '%s$ cat upstream.log   # what actually went over the wire%s\n' "$dim" "$off"
sed -E 's/(sk-proj-demo-aaaa)[a-z]+/\1…(the real key)/' "$upstream_log"

step "The audit log records every vault operation — never a value — and is tamper-evident"
run phantom audit show --last 10
run phantom audit verify
sed -i '2s/"secret.add"/"secret.ADD"/' "$PHANTOM_HOME/audit.log"
printf '%s(an attacker edits line 2 of the audit log)%s\n' "$dim" "$off"
run phantom audit verify

step "stack: a new project's services, every key handed straight to phantom"
mkdir -p "$demo/shop" && cd "$demo/shop"
git init -q . 2>/dev/null || true
run stack init
printf '%s(stack add checks a key with the provider before storing it; here the provider is the local stand-in)%s\n' "$dim" "$off"
export STACK_OPENAI_API_URL="$upstream_url"
printf '%s(the key comes from OPENAI_API_KEY, as in CI; on a terminal stack asks with a masked prompt)%s\n' "$dim" "$off"
export OPENAI_API_KEY=sk-revoked-eeeeeeeeeeeeeeeeeeeeeeee
printf '%s(first a deliberately revoked key: the stand-in answers 401 for it, so stack refuses to store it and the next error is expected)%s\n' "$dim" "$off"
run stack add openai
printf '%s(now a working key)%s\n' "$dim" "$off"
export OPENAI_API_KEY=sk-proj-demo-dddddddddddddddddddddddddddd
run stack add openai
unset OPENAI_API_KEY
run cat .stack.toml
run cat .env.local
run grep -A2 'routes.openai' .phantom.toml
demoapi approve
printf '%s(stack pointed phantom'"'"'s openai route at the stand-in, as STACK_OPENAI_API_URL says; approved, as above)%s\n' "$dim" "$off"
: > "$upstream_log"
run stack exec -- demoapi app
printf '%s$ cat upstream.log   # the real key went on the wire; the app and its output saw only the token%s\n' "$dim" "$off"
sed -E 's/(sk-proj-demo-dddd)[a-z]+/\1…(the real key)/' "$upstream_log"
printf '%s(stack doctor checks every declared key upstream — through phantom, so stack never holds a value; CI runs this)%s\n' "$dim" "$off"
run stack doctor --json

step "stack with Supabase, Vercel and AWS — against a local sandbox"
note "local sandbox: fakecloud, started by this demo on 127.0.0.1, stands in for api.supabase.com, api.vercel.com and AWS IAM/STS/S3. Real endpoints are the default everywhere else; only the STACK_*_API_URL and AWS_ENDPOINT_URL variables set below point stack here"
# Nothing from your shell may point stack at a real account.
for v in $(compgen -e); do
	case $v in AWS_* | SUPABASE_* | VERCEL_* | STACK_SUPABASE_* | STACK_VERCEL_*) unset "$v" ;; esac
done
export AWS_CONFIG_FILE="$demo/no-aws-config" AWS_SHARED_CREDENTIALS_FILE="$demo/no-aws-credentials"
# fakecloud prints its URLs and throwaway credentials as NAME='value' lines,
# then closes stdout; they are read into shell variables (never printed,
# never in a file, never in argv) and exported one at a time below.
coproc FAKECLOUD { exec fakecloud --format env --supabase-ready-after 2s 2>"$demo/fakecloud.log"; }
pids+=("$FAKECLOUD_PID")
n=0
for _ in $(seq 100); do
	IFS= read -r -t 30 line <&"${FAKECLOUD[0]}" || break
	if [[ $line =~ ^(FAKECLOUD_[A-Z0-9_]+)=\'([^\']*)\'$ ]]; then
		printf -v "${BASH_REMATCH[1]}" '%s' "${BASH_REMATCH[2]}"
		n=$((n + 1))
	fi
done
for v in SUPABASE_API_URL SUPABASE_ACCESS_TOKEN VERCEL_API_URL VERCEL_TOKEN AWS_ENDPOINT_URL AWS_REGION AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY; do
	v=FAKECLOUD_$v
	[ -n "${!v:-}" ] || { echo "demo: fakecloud did not start ($n lines read, no $v):"; cat "$demo/fakecloud.log"; exit 1; }
done
note "fakecloud is up: Supabase at $FAKECLOUD_SUPABASE_API_URL, Vercel at $FAKECLOUD_VERCEL_API_URL, AWS at $FAKECLOUD_AWS_ENDPOINT_URL"
mkdir -p "$demo/cloud-app" && cd "$demo/cloud-app"
git init -q . 2>/dev/null || true
must stack init

export STACK_SUPABASE_API_URL="$FAKECLOUD_SUPABASE_API_URL"
export STACK_SUPABASE_PROJECT_URL="$FAKECLOUD_SUPABASE_API_URL/project/{ref}"
export SUPABASE_ACCESS_TOKEN="$FAKECLOUD_SUPABASE_ACCESS_TOKEN"
note "sign-in: SUPABASE_ACCESS_TOKEN holds the sandbox's token, as in a CI job; on a terminal stack opens the browser instead. STACK_SUPABASE_API_URL and STACK_SUPABASE_PROJECT_URL point stack at the sandbox"
note "stack creates a project, then waits until it is ACTIVE_HEALTHY — 2s in the sandbox"
must stack add supabase
run cat .stack.toml
run cat .env.local
note "the agent's Supabase MCP server: Supabase's hosted one for this project; the MCP client signs in to it itself, so the file holds no credential (in the sandbox the ref is a fake project's)"
run cat .mcp.json

export STACK_VERCEL_API_URL="$FAKECLOUD_VERCEL_API_URL"
export VERCEL_TOKEN="$FAKECLOUD_VERCEL_TOKEN"
note "Vercel: the token from VERCEL_TOKEN goes to phantom; the project and team ids to .env.local"
must stack add vercel
unset VERCEL_TOKEN
note "skipped: stack env push vercel, which uploads the project's keys as Vercel variables — phantom releases them only after a person approves at a terminal"

export AWS_ENDPOINT_URL="$FAKECLOUD_AWS_ENDPOINT_URL" AWS_REGION="$FAKECLOUD_AWS_REGION"
export AWS_ACCESS_KEY_ID="$FAKECLOUD_AWS_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$FAKECLOUD_AWS_SECRET_ACCESS_KEY"
note "AWS: bootstrap credentials from the environment — yours, here the sandbox's — create a tagged IAM user, its S3 bucket and an access key; only the new key goes to phantom"
must stack add aws
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
run grep -e VERCEL_ -e AWS_ -e S3_ .env.local

printf '\n[aws]\nsts_endpoint = "%s"\n' "$FAKECLOUD_AWS_ENDPOINT_URL" >> .phantom.toml
demoapi approve
note "phantom's vercel route, the supabase route's SUPABASE_URL (not a https://<ref>.supabase.co project URL), and the STS endpoint phantom asks for the app's short-lived AWS credentials ([aws] sts_endpoint) go to the sandbox: approved, as above"
note "doctor checks each key upstream through phantom, so stack never holds a value; the bootstrap AWS credentials are unset by now: it checks the app's own key. The database credential shows unverifiable: doctor does not connect to Postgres yet, and says so rather than ok"
must stack doctor

note "remove deletes the Supabase project upstream, then its keys in phantom and its lines in .env.local; --keep-remote would keep the project"
must stack remove supabase
printf '%s$ grep DELETE fakecloud.log   # what the sandbox was asked to do%s\n' "$dim" "$off"
grep DELETE "$demo/fakecloud.log" || { echo "demo: the sandbox was asked to delete nothing"; exit 1; }
run stack list
unset SUPABASE_ACCESS_TOKEN

step "Is any real value left on disk? (grep every project, PHANTOM_HOME and STACK_HOME)"
for v in sk-proj-demo-aaaa sk_test_demo_bbbb demo-db-password re_demo_cccc sk-proj-demo-dddd; do
	if grep -rq -- "$v" "$demo/app" "$demo/shop" "$demo/cloud-app" "$PHANTOM_HOME" "$STACK_HOME"; then echo "FOUND $v"; exit 1; else echo "not found: $v…"; fi
done
# The sandbox's credentials: named, never printed; grep reads each one from a
# pipe (printf is a builtin), so it is not in any process's argv either.
for name in SUPABASE_ACCESS_TOKEN VERCEL_TOKEN AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY; do
	var=FAKECLOUD_$name
	if grep -rqF -f <(printf '%s\n' "${!var}") "$demo/app" "$demo/shop" "$demo/cloud-app" "$PHANTOM_HOME" "$STACK_HOME"; then echo "FOUND the sandbox's $name"; exit 1; else echo "not found: the sandbox's $name"; fi
done

printf '\n%sDone.%s Everything above ran in %s, now deleted.\n' "$bold" "$off" "$demo"
