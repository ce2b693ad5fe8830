#!/usr/bin/env bash
# An offline walkthrough of phantom and stack in a throwaway directory. Nothing outside
# the temp dir is touched: PHANTOM_HOME points into it, and the vault uses a
# passphrase from the environment (as in CI) instead of your OS keychain.
set -euo pipefail

demo=$(mktemp -d "${TMPDIR:-/tmp}/phantom-demo.XXXXXX")
trap 'rm -rf "$demo"' EXIT
export PHANTOM_HOME="$demo/phantom-home"
export PHANTOM_VAULT_PASSPHRASE="demo-passphrase-not-for-real-use"
unset DBUS_SESSION_BUS_ADDRESS PHANTOM_REQUIRE_KEYCHAIN || true
export NO_COLOR=1

bold=$'\033[1m'; dim=$'\033[2m'; off=$'\033[0m'
[ -t 1 ] || { bold=""; dim=""; off=""; }
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$off"; }
run() { printf '%s$ %s%s\n' "$dim" "$*" "$off"; "$@" 2>&1 || printf '%s(exit %d)%s\n' "$dim" "$?" "$off"; }

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
upstream_pid=$!
trap 'kill $upstream_pid 2>/dev/null; rm -rf "$demo"' EXIT
for _ in $(seq 50); do [ -s "$demo/upstream.url" ] && break; sleep 0.1; done
upstream_url=$(cat "$demo/upstream.url")
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
run stack add openai
export OPENAI_API_KEY=sk-proj-demo-dddddddddddddddddddddddddddd
run stack add openai
unset OPENAI_API_KEY
run cat .stack.toml
run cat .env.local
printf '\n[routes.openai]\nupstream = "%s"\n' "$upstream_url" >> .phantom.toml
demoapi approve
printf '%s(route to the stand-in approved, as above)%s\n' "$dim" "$off"
: > "$upstream_log"
run stack exec -- demoapi app
printf '%s$ cat upstream.log   # the real key went on the wire; the app and its output saw only the token%s\n' "$dim" "$off"
sed -E 's/(sk-proj-demo-dddd)[a-z]+/\1…(the real key)/' "$upstream_log"
printf '%s(stack doctor checks every declared key upstream — through phantom, so stack never holds a value; CI runs this)%s\n' "$dim" "$off"
run stack doctor --json

step "Is any real value left on disk? (grep both projects and PHANTOM_HOME)"
for v in sk-proj-demo-aaaa sk_test_demo_bbbb demo-db-password re_demo_cccc sk-proj-demo-dddd; do
	if grep -rq -- "$v" "$demo/app" "$demo/shop" "$PHANTOM_HOME"; then echo "FOUND $v"; exit 1; else echo "not found: $v…"; fi
done

printf '\n%sDone.%s Everything above ran in %s, now deleted.\n' "$bold" "$off" "$demo"
