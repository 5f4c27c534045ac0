#!/bin/bash
# The basic contract against the real gateway: acquire, run, release; the body
# Terraform reads; exit codes; --no-wait, --timeout and status while held.
. "$top_srcdir/tests/integration/lib.sh"
plan_lazy
rgw_require
bucket=$(new_bucket)
tflock_env "$bucket"
export TFLOCK_KEY=app/terraform.tfstate

# a command runs under the lock and the lock is gone afterwards
out=$("$TFLOCK" -- sh -c 'echo "inside $TFLOCK_HELD_LOCK"' 2>"$TEST_TMP/err")
is 0 $? "tflock -- CMD exits with the command's status"
is "inside s3://$bucket/app/terraform.tfstate.tflock" "$out" "the command ran with the lock identity in its environment"
ok "the lock is released afterwards" test "$(s3_status GET "/$bucket/app/terraform.tfstate.tflock")" = 404
like "$(cat "$TEST_TMP/err")" "released" "a summary names the outcome"

for code in 0 1 2 3 255; do
	"$TFLOCK" -q -- sh -c "exit $code"
	is "$code" $? "exit status $code passes through"
done
"$TFLOCK" -q -- sh -c 'kill -TERM $$'
is 143 $? "a command killed by SIGTERM gives 128+15"
"$TFLOCK" -q -- /nonexistent/command 2>"$TEST_TMP/err"
is 127 $? "a command that does not exist gives 127"
like "$(cat "$TEST_TMP/err")" "nonexistent/command.*not found" "and says why"
printf '#!/bin/sh\n' >"$TEST_TMP/noexec"
chmod 644 "$TEST_TMP/noexec"
"$TFLOCK" -q -- "$TEST_TMP/noexec" 2>"$TEST_TMP/err"
is 126 $? "a command that is not executable gives 126"
ok "no lock left after exec failures" test "$(s3_status GET "/$bucket/app/terraform.tfstate.tflock")" = 404

# hold the lock in the background while we look at it
"$TFLOCK" -- "$TESTCHILD" --log "$TEST_TMP/child.log" touch="$TEST_TMP/running" \
	wait-file="$TEST_TMP/go" 2>"$TEST_TMP/holder.err" &
holder=$!
wait_for "holder running" 20 test -e "$TEST_TMP/running"
ok "the holder's child is running" test -e "$TEST_TMP/running"

body=$(lock_body "$bucket" app/terraform.tfstate)
like "$body" '^\{"ID":"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}","Operation":"[^"]*","Info":"[^"]*","Who":"[^"]*","Version":"[^"]*","Created":"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]*[1-9])?Z","Path":"'"$bucket"'/app/terraform.tfstate","Tflock":\{' \
	"the lock body is Terraform's seven keys in order, then Tflock"
ok "the body is compact (no spaces after separators, no newline)" \
	bash -c '! printf "%s" "$1" | grep -q "\": \|, \"" && [ "$(printf "%s" "$1" | wc -l)" = 0 ]' _ "$body"

"$TFLOCK" --no-wait -- true 2>"$TEST_TMP/err"
is 75 $? "--no-wait on a held lock exits 75"
like "$(cat "$TEST_TMP/err")" "held by .*@" "and names the holder"
"$TFLOCK" --no-wait --conflict-exit-code 9 -- true 2>/dev/null
is 9 $? "--conflict-exit-code changes it"
"$TFLOCK" --timeout 1s -- true 2>"$TEST_TMP/err"
is 75 $? "--timeout on a held lock exits 75"
like "$(cat "$TEST_TMP/err")" "waiting for s3://$bucket/app/terraform.tfstate.tflock: held by" "the waiter says who it waits for"
"$TFLOCK" status >"$TEST_TMP/status" 2>&1
is 75 $? "status of a held lock exits 75"
like "$(cat "$TEST_TMP/status")" "held by" "status shows the holder"
like "$(cat "$TEST_TMP/status")" "Lease: +120s" "status shows the lease"
"$TFLOCK" status --json >"$TEST_TMP/status.json"
like "$(cat "$TEST_TMP/status.json")" '^\{"lock":"s3://[^"]*","held":true,"kind":"tflock",' "status --json"
id=$(printf '%s' "$body" | sed 's/^{"ID":"\([^"]*\)".*/\1/')
"$TFLOCK" unlock 00000000-0000-0000-0000-000000000000 2>"$TEST_TMP/err"
is 75 $? "unlock with an ID that is not the holder's exits 75"
is "$id" "$(lock_body "$bucket" app/terraform.tfstate | sed 's/^{"ID":"\([^"]*\)".*/\1/')" "and leaves the holder's lock in place"

touch "$TEST_TMP/go"
wait "$holder"
is 0 $? "the holder exits 0 when its command does"
"$TFLOCK" status >/dev/null 2>&1
is 0 $? "status of a free lock exits 0"

# workspaces (PROTOCOL A1)
"$TFLOCK" --workspace prod -- sh -c 'echo "$TFLOCK_HELD_LOCK"' >"$TEST_TMP/ws" 2>/dev/null
is "s3://$bucket/env:/prod/app/terraform.tfstate.tflock" "$(cat "$TEST_TMP/ws")" "a named workspace locks env:/WS/KEY.tflock"
"$TFLOCK" --workspace prod --workspace-key-prefix 'states//' -- sh -c 'echo "$TFLOCK_HELD_LOCK"' >"$TEST_TMP/ws" 2>/dev/null
is "s3://$bucket/states/prod/app/terraform.tfstate.tflock" "$(cat "$TEST_TMP/ws")" "a custom prefix, joined like a path"

# secrets are never printed, not even with -vv
"$TFLOCK" -vv -- true >"$TEST_TMP/vv.out" 2>&1
is 0 $? "-vv run"
ok "-vv prints request headers" grep -q 'x-amz-content-sha256' "$TEST_TMP/vv.out"
ok "-vv never prints the secret key" bash -c "! grep -qF -- '$AWS_SECRET_ACCESS_KEY' '$TEST_TMP/vv.out'"
ok "-vv redacts the Authorization header" bash -c "grep -q 'Authorization: \[redacted\]' '$TEST_TMP/vv.out' && ! grep -q 'Signature=' '$TEST_TMP/vv.out'"

# usage errors
"$TFLOCK" --lease 1s -- true 2>"$TEST_TMP/err"
is 64 $? "a lease below 5s is a usage error"
like "$(cat "$TEST_TMP/err")" "lease.*out of range" "naming the option"
TFLOCK_NO_WAIT=maybe "$TFLOCK" -- true 2>"$TEST_TMP/err"
is 64 $? "a bad boolean in the environment is a usage error"
like "$(cat "$TEST_TMP/err")" "TFLOCK_NO_WAIT" "naming the variable"
env -u TFLOCK_BUCKET "$TFLOCK" -- true 2>"$TEST_TMP/err"
is 64 $? "no bucket is a usage error"
"$TFLOCK" 2>/dev/null
is 64 $? "no command is a usage error"
done_testing
