#!/bin/bash
# Staleness as an observer sees it, and the options that bound the command:
# status --watch and unlock --force tell a live holder from a dead one by
# watching one lease; --max-hold stops a hung command (SIGINT, then kill);
# --on-lost=kill and --on-lost=report.
. "$top_srcdir/tests/integration/lib.sh"
plan_lazy
rgw_require
bucket=$(new_bucket)
tflock_env "$bucket"
export TFLOCK_KEY=stale/terraform.tfstate
lockst() { s3_status GET "/$bucket/$TFLOCK_KEY.tflock"; }

"$TFLOCK" --lease 20s -- "$TESTCHILD" --log "$TEST_TMP/h.log" touch="$TEST_TMP/h.run" wait-file="$TEST_TMP/h.go" 2>/dev/null &
h=$!
wait_for "holder" 20 test -e "$TEST_TMP/h.run"
"$TFLOCK" status --watch --json >"$TEST_TMP/w1" 2>/dev/null
is 75 $? "status --watch of a live holder: held (75)"
like "$(cat "$TEST_TMP/w1")" '"stale":false' "and not stale: it renewed while watched"
"$TFLOCK" unlock --force 2>"$TEST_TMP/u1"
is 75 $? "unlock --force refuses a live holder"
like "$(cat "$TEST_TMP/u1")" "alive" "saying it is alive"
kill -KILL "$h"
wait "$h" 2>/dev/null
"$TFLOCK" status --watch --json >"$TEST_TMP/w2" 2>/dev/null
like "$(cat "$TEST_TMP/w2")" '"stale":true' "status --watch of a SIGKILLed holder: stale after one lease"
"$TFLOCK" unlock --force 2>"$TEST_TMP/u2"
is 0 $? "unlock --force removes a lock proven stale"
is 404 "$(lockst)" "the lock is gone"

# --max-hold: SIGINT first, then the kill
TFLOCK_EVENT_LOG=$TEST_TMP/m.events "$TFLOCK" --lease 20s --max-hold 10s -- "$TESTCHILD" --log "$TEST_TMP/m.log" \
	tf-like graceful=600000 run=600000 </dev/null 2>"$TEST_TMP/m.err"
rc=$?
is 137 "$rc" "--max-hold: a command that does not stop on SIGINT is killed (137)"
is 1 "$(grep -c '^signal .* SIGINT' "$TEST_TMP/m.log")" "it got exactly one SIGINT first"
like "$(tr '\n' ' ' <"$TEST_TMP/m.err")" "max-hold: interrupting.*max-hold: killing" "both steps are reported, in order"
is 404 "$(lockst)" "the lock is released after"

# --on-lost=kill: the command is killed at once when the lock is lost
"$TFLOCK" --lease 20s --on-lost kill -- "$TESTCHILD" --log "$TEST_TMP/k.log" touch="$TEST_TMP/k.run" \
	run=600000 </dev/null 2>"$TEST_TMP/k.err" &
h=$!
wait_for "holder k" 20 test -e "$TEST_TMP/k.run"
idk=$(awk '/^env TFLOCK_HELD_ID=/ { sub("env TFLOCK_HELD_ID=", ""); print }' "$TEST_TMP/k.log")
tf_force_unlock "$bucket" "$TFLOCK_KEY" "$idk" >/dev/null 2>&1
# RGW does not order an unconditional DELETE against a conditional PUT already
# under way: a renewal in flight can put the lock back. Delete again (as a second
# force-unlock would) until the holder notices, bounded.
for i in $(seq 1 50); do
	kill -0 "$h" 2>/dev/null || break
	sleep 0.2
	s3_status DELETE "/$bucket/$TFLOCK_KEY.tflock" >/dev/null
done
wait "$h"
is 76 $? "--on-lost=kill: exit 76"
is 0 "$(grep -c '^signal' "$TEST_TMP/k.log")" "the command got no graceful signal: it was killed"
like "$(cat "$TEST_TMP/k.err")" "exited 137" "the report names its death"

# --on-lost=report: the command runs on to its end; the exit code says lost
"$TFLOCK" --lease 20s --on-lost report -- "$TESTCHILD" --log "$TEST_TMP/r.log" touch="$TEST_TMP/r.run" \
	wait-file="$TEST_TMP/r.go" </dev/null 2>"$TEST_TMP/r.err" &
h=$!
wait_for "holder r" 20 test -e "$TEST_TMP/r.run"
idr=$(awk '/^env TFLOCK_HELD_ID=/ { sub("env TFLOCK_HELD_ID=", ""); print }' "$TEST_TMP/r.log")
tf_force_unlock "$bucket" "$TFLOCK_KEY" "$idr" >/dev/null 2>&1
wait_for "lost reported" 30 grep -q LOST "$TEST_TMP/r.err"
touch "$TEST_TMP/r.go"
wait "$h"
is 76 $? "--on-lost=report: exit 76"
is 0 "$(grep -c '^signal' "$TEST_TMP/r.log")" "the command was not signalled"
like "$(cat "$TEST_TMP/r.err")" "exited 0" "it ran to its end (exit 0, in the report)"
done_testing
