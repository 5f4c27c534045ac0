#!/bin/bash
# PROTOCOL B2 for the DynamoDB item (B11), under faults injected between tflock
# and dynalite by faultproxy (target=OP matches X-Amz-Target; err=NAME picks the
# injected DynamoDB error): a write whose reply is lost or garbled after it
# applied is read back and adopted, never resent as it was; a write refused
# before it reached the server is written again with a new seq; a throttled
# write (never executed) is resent; a lost release is read back. Every run must
# end with its command run once and nothing left behind.
# The self-test (B11) makes two PutItems and two DeleteItems on a scratch item
# first: rules skip them with after=2.
. "$top_srcdir/tests/integration/lib.sh"
plan_lazy
rgw_require
ddb_require
bucket=$(new_bucket)
tflock_env "$bucket"
table=tfl-faults-$$
ddb_table create "$table" >/dev/null || bail "cannot create table $table"
export TFLOCK_KEY=df/terraform.tfstate TFLOCK_DYNAMODB_TABLE=$table
lockid="$bucket/df/terraform.tfstate"

FAULTPROXY=$top_builddir/tests/helpers/faultproxy
PLOG=$TEST_TMP/ddbproxy.log
PRULES=$TEST_TMP/ddbproxy.rules
: >"$PRULES"
"$FAULTPROXY" --upstream "$TFLOCK_TEST_DDB_ENDPOINT" --port-file "$TEST_TMP/ddbproxy.port" \
	--log "$PLOG" --rules "$PRULES" --idle-exit 300 2>"$TEST_TMP/ddbproxy.err" &
ppid=$!
trap 'kill $ppid 2>/dev/null; test_cleanup' EXIT
wait_for "proxy port" 20 test -s "$TEST_TMP/ddbproxy.port" || bail "faultproxy did not start"
export TFLOCK_DYNAMODB_ENDPOINT=http://127.0.0.1:$(cat "$TEST_TMP/ddbproxy.port")

rules() {
	printf '%s\n' "$@" >"$PRULES.tmp"
	mv "$PRULES.tmp" "$PRULES"
	: >"$PLOG"
}
# ops OP — how many requests of that operation the proxy saw (this case)
ops() { grep -c " target=$1\$" "$PLOG"; }
clean() {
	is "{}" "$(ddb_table get "$table" "$lockid")" "$1: no item left"
	is 404 "$(s3_status GET "/$bucket/df/terraform.tfstate.tflock")" "$1: no file left"
}
run() { # NAME — one run whose command counts its starts
	TFLOCK_EVENT_LOG=$TEST_TMP/$1.events "$TFLOCK" -- sh -c 'echo run >>"$0"' "$TEST_TMP/$1.ran" \
		2>"$TEST_TMP/$1.err"
}

# 1. the create's reply lost after it applied: read back, adopted
rules "POST * drop-after target=PutItem after=2 count=1"
run lost-create
is 0 $? "create applied, reply lost: the run works"
is 1 "$(wc -l <"$TEST_TMP/lost-create.ran")" "its command ran once"
ok "the read-back followed the lost PutItem (a GetItem after it)" \
	awk '/ target=PutItem$/ && / client=dropped/ { d = 1 } d && / target=GetItem$/ { f = 1 } END { exit !f }' "$PLOG"
ok "it was acquired as created (our ID, our seq, B2)" grep -q ' acquired dynamodb:.* how=created' "$TEST_TMP/lost-create.events"
clean lost-create

# 2. the create answered 500 after it applied: the same
rules "POST * status-after 500 target=PutItem after=2 count=1"
run late500
is 0 $? "create applied, answered 500: the run works"
is 1 "$(wc -l <"$TEST_TMP/late500.ran")" "its command ran once"
is 1 "$(grep -c ' target=PutItem$' <(grep 'status-after:500' "$PLOG"))" "one 500 injected"
clean late500

# 3. the create refused before reaching the server (500, not forwarded):
# read back absent, written again with a new seq
rules "POST * status 500 target=PutItem after=2 count=1"
run early500
is 0 $? "create answered 500 unapplied: created again, the run works"
is 1 "$(grep -c 'action=status:500 .*client=500' "$PLOG")" "one create refused unforwarded"
ok "the second create went to the server" test "$(ops PutItem)" -ge 4
clean early500

# 4. throttled twice (never executed): resent, without a read-back in between
rules "POST * status 400 err=ProvisionedThroughputExceededException target=PutItem after=2 count=2"
run throttled
is 0 $? "throttled twice: resent, the run works"
is 2 "$(grep -c 'status:400' "$PLOG")" "two throttles injected"
is 1 "$(wc -l <"$TEST_TMP/throttled.ran")" "its command ran once"
clean throttled

# 5. a renewal's reply lost after it applied (the hold's item): read back, ours
rules "POST * drop-after target=PutItem after=3 count=1"
TFLOCK_EVENT_LOG=$TEST_TMP/renew.events "$TFLOCK" --lease 20s -- sleep 1 2>"$TEST_TMP/renew.err"
is 0 $? "a renewal applied with its reply lost: the run goes on and ends well"
is 1 "$(grep -c ' target=PutItem$' <(grep 'client=dropped' "$PLOG"))" "one renewal's reply was dropped"
ok "the lost renewal was read back as ours, and renewals went on" \
	test "$(grep -c ' renewed dynamodb:' "$TEST_TMP/renew.events")" -ge 1
ok "never lost" bash -c "! grep -q ' lost ' '$TEST_TMP/renew.events'"
clean renewal

# 6. the release's reply lost after it applied: read back absent, released
rules "POST * drop-after target=DeleteItem after=2 count=1"
run lost-release
is 0 $? "release applied, reply lost: exit 0"
is 1 "$(grep -c ' target=DeleteItem$' <(grep 'client=dropped' "$PLOG"))" "the release's reply was dropped"
ok "it says released" grep -q ' released dynamodb:' "$TEST_TMP/lost-release.events"
clean lost-release

# 7. the release refused before reaching the server: read back ours, deleted again
rules "POST * status 500 target=DeleteItem after=2 count=1"
run early-release
is 0 $? "release answered 500 unapplied: deleted again, exit 0"
is 1 "$(grep -c ' target=DeleteItem$' <(grep 'action=status:500' "$PLOG"))" "one DeleteItem refused unforwarded"
clean early-release
done_testing
