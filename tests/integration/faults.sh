#!/bin/bash
# PROTOCOL B2 on every path, through a fault-injecting proxy between tflock and
# the real gateway: responses lost after the server committed, 500 and 409
# answers, resets — for acquire, heartbeat, takeover and release. Every case
# must end with the right owner and nothing leaked. Then the lease bounding the
# child: with renewals hanging, the child gets SIGINT and then is killed, in
# that order, before any waiter takes over; and a forwarded signal reaches the
# child while a heartbeat request is still hanging.
. "$top_srcdir/tests/integration/lib.sh"
plan_lazy
rgw_require
bucket=$(new_bucket)
tflock_env "$bucket"
proxy_start
export TFLOCK_ENDPOINT=$PROXY_URL
L=terraform.tfstate.tflock
lockst() { s3_status GET "/$bucket/$TFLOCK_KEY.tflock"; }
proxied() { awk -v m="$1" -v a="$2" -v p="$3" '$3 == m && $4 ~ p && index($0, "action=" a) { n++ } END { print n + 0 }' "$PROXY_LOG"; }

case_run() { # KEY DESC RULE... — run `tflock -- true` with the rules, expect 0 and no lock left
	local key=$1 desc=$2
	shift 2
	export TFLOCK_KEY=$key/terraform.tfstate
	proxy_rules "$@"
	TFLOCK_EVENT_LOG=$TEST_TMP/$key.events "$TFLOCK" -- true 2>"$TEST_TMP/$key.err"
	is 0 $? "$desc: the run succeeds"
	is 404 "$(lockst)" "$desc: nothing is left behind"
}

# --- acquire
case_run a1 "acquire, reply lost after the server committed" "PUT $L drop-after count=1"
ok "a1: the lost reply was read back, not retried blindly (one create PUT, then a GET)" \
	test "$(proxied PUT drop-after "a1/$L")" = 1 -a "$(proxied GET pass "a1/$L")" -ge 1
ok "a1: adopted as ours: one acquisition" test "$(grep -c ' acquired ' "$TEST_TMP/a1.events")" = 1
case_run a2 "acquire, 500 after the server committed" "PUT $L status-after 500 count=1"
case_run a3 "acquire, 409 ConditionalRequestConflict (AWS, not applied)" "PUT $L status 409 count=1"
case_run a4 "acquire, connection reset before the server saw it" "PUT $L reset count=1"
case_run a5 "acquire, 503 SlowDown twice" "PUT $L status 503 count=2"

# --- heartbeat (lease 20s scaled: renewals every 0.5 s); the command outlives 3 renewals
hb_case() { # KEY DESC RULE
	local key=$1 desc=$2 rule=$3
	export TFLOCK_KEY=$key/terraform.tfstate
	proxy_rules "$rule"
	TFLOCK_EVENT_LOG=$TEST_TMP/$key.events "$TFLOCK" --lease 20s -- \
		bash -c "for i in \$(seq 1 400); do [ \$(grep -c ' renewed ' '$TEST_TMP/$key.events' 2>/dev/null || true) -ge 4 ] && exit 0; sleep 0.05; done; exit 9" \
		2>"$TEST_TMP/$key.err"
	is 0 $? "$desc: the command ran through 4 renewals"
	ok "$desc: never lost" bash -c "! grep -q ' lost ' '$TEST_TMP/$key.events'"
	is 404 "$(lockst)" "$desc: released at the end"
}
hb_case h1 "heartbeat reply lost after commit" "PUT $L drop-after count=1 after=1"
hb_case h2 "heartbeat answered 500 without applying" "PUT $L status 500 count=2 after=1"
hb_case h3 "heartbeat answered 500 after applying" "PUT $L status-after 500 count=1 after=1"
hb_case h4 "heartbeat reset" "PUT $L reset count=1 after=2"

# --- release (RGW ignores conditional DELETE: renew, then one DELETE)
case_run r1 "release: DELETE reply lost after commit" "DELETE $L drop-after count=1"
ok "r1: the DELETE was not repeated" test "$(awk -v p="r1/$L" '$3 == "DELETE" && $4 ~ p { n++ } END { print n + 0 }' "$PROXY_LOG")" = 1
case_run r2 "release: the renewal before the DELETE is lost after commit" "PUT $L drop-after count=1 after=1"
export TFLOCK_KEY=r3/terraform.tfstate
proxy_rules "DELETE $L reset count=1"
"$TFLOCK" --lease 20s -- true 2>"$TEST_TMP/r3.err"
is 69 $? "release: DELETE reset (never applied): a failed release is not 0 (69)"
like "$(cat "$TEST_TMP/r3.err")" "release .*FAILED.*expires" "and the failed release is reported loudly with the lease bound"
ok "r3: the lock was left to expire, not deleted blindly again" test "$(lockst)" = 200
"$TFLOCK" --lease 20s --timeout 30s -- true 2>/dev/null
is 0 $? "r3: the next run takes the leftover lock over after its lease"
is 404 "$(lockst)" "r3: and releases it"

# --- takeover with a lost reply
export TFLOCK_KEY=t1/terraform.tfstate
proxy_rules
"$TFLOCK" --lease 20s -- "$TESTCHILD" --log "$TEST_TMP/t1h.log" touch="$TEST_TMP/t1.run" wait-file="$TEST_TMP/never" 2>/dev/null &
h=$!
wait_for "t1 holder" 20 test -e "$TEST_TMP/t1.run"
kill -KILL "$h"
wait "$h" 2>/dev/null
n_before=$(awk '$3 == "PUT" { n++ } END { print n + 0 }' "$PROXY_LOG")
proxy_rules "PUT t1/$L drop-after count=1 after=$((0))"
TFLOCK_EVENT_LOG=$TEST_TMP/t1w.events "$TFLOCK" --lease 20s -- true 2>"$TEST_TMP/t1w.err"
is 0 $? "takeover PUT whose reply is lost: the waiter reads back, owns it, runs"
ok "t1: a takeover was logged" grep -q ' takeover ' "$TEST_TMP/t1w.events"
is 404 "$(lockst)" "t1: released"

# --- renewals hang: the lease bounds the child; a waiter takes over only after
export TFLOCK_KEY=k1/terraform.tfstate
proxy_rules "PUT k1/$L hang after=1"
TFLOCK_EVENT_LOG=$TEST_TMP/k1.events "$TFLOCK" --lease 20s -- "$TESTCHILD" --log "$TEST_TMP/k1.log" \
	tf-like graceful=600000 touch="$TEST_TMP/k1.run" wait-file="$TEST_TMP/never" 2>"$TEST_TMP/k1.err" &
holder=$!
wait_for "k1 holder" 20 test -e "$TEST_TMP/k1.run"
proxy_rules "PUT k1/$L hang after=1" # the waiter's requests go straight to the gateway
TFLOCK_ENDPOINT=$TFLOCK_TEST_S3_ENDPOINT TFLOCK_EVENT_LOG=$TEST_TMP/k1w.events "$TFLOCK" --lease 20s -- true 2>/dev/null &
waiter=$!
wait "$holder"
hrc=$?
wait "$waiter"
is 0 $? "k1: the waiter got the lock in the end"
is 76 "$hrc" "k1: the holder exits 76: its release found the lock taken over (lost)"
like "$(cat "$TEST_TMP/k1.err")" "exited 137" "k1: its command, slow to stop on SIGINT, was killed (137)"
acq=$(awk '/ acquired / { for (i = 1; i <= NF; i++) if ($i ~ /^renew_send=/) { sub("renew_send=", "", $i); print $i } }' "$TEST_TMP/k1.events")
int_t=$(awk '/ lease-interrupt / { print $1 }' "$TEST_TMP/k1.events")
kill_t=$(awk '/ lease-kill / { print $1 }' "$TEST_TMP/k1.events")
sig_t=$(awk '$1 == "signal" && $3 == "SIGINT" { print $2; exit }' "$TEST_TMP/k1.log")
take_t=$(awk '/ takeover | acquired / { print $1; exit }' "$TEST_TMP/k1w.events")
lease_ns=$(awk -v s="$TFLOCK_TIME_SCALE" 'BEGIN { printf "%d", 20000 * s * 1000000 }')
ok "k1: SIGINT was sent no earlier than half the lease after the last successful write was sent" test $((int_t - acq)) -ge $((lease_ns / 2))
ok "k1: the kill came after the SIGINT" test "$kill_t" -gt "$int_t"
ok "k1: the command received that SIGINT (logged by the command)" test -n "$sig_t"
ok "k1: exactly one SIGINT" test "$(grep -c '^signal .* SIGINT' "$TEST_TMP/k1.log")" = 1
ok "k1: the waiter took over only after the holder's command was killed" test "$take_t" -gt "$kill_t"

# --- a signal reaches the child while a heartbeat request hangs
export TFLOCK_KEY=s1/terraform.tfstate
proxy_rules "PUT s1/$L hang after=1"
TFLOCK_EVENT_LOG=$TEST_TMP/s1.events "$TFLOCK" --lease 60s -- "$TESTCHILD" --log "$TEST_TMP/s1.log" \
	touch="$TEST_TMP/s1.run" run=600000 </dev/null 2>/dev/null &
holder=$!
wait_for "s1 holder" 20 test -e "$TEST_TMP/s1.run"
# the holder's first renewal is on its way (and will hang at the proxy)
wait_for "renewal attempt in flight" 20 grep -q ' renewing ' "$TEST_TMP/s1.events"
t_sig=$($NOW)
kill -TERM "$holder"
wait "$holder"
is 143 $? "s1: the command stopped on the forwarded SIGTERM"
got=$(awk '$1 == "signal" && $3 == "SIGTERM" { print $2; exit }' "$TEST_TMP/s1.log")
fin=$(awk -v p="s1/$L" '$3 == "PUT" && $4 ~ p && index($0, "action=hang") { print $1; exit }' "$PROXY_LOG")
ok "s1: the command got SIGTERM before the hanging renewal ended" test -n "$got" -a -n "$fin" -a "${got:-0}" -lt "${fin:-0}"
done_testing
