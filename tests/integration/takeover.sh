#!/bin/bash
# Clock-free takeover (PROTOCOL B4) against the real gateway:
#  - a live holder with a slow command is never taken over, however long it runs;
#  - a SIGKILLed holder's command dies with it (PDEATHSIG) and a waiter takes the
#    lock over, never before the holder's last renewal + one lease (asserted as a
#    lower bound from logged CLOCK_BOOTTIME stamps, never as an upper bound).
. "$top_srcdir/tests/integration/lib.sh"
plan_lazy
rgw_require
bucket=$(new_bucket)
tflock_env "$bucket"
export TFLOCK_KEY=tk/terraform.tfstate
lease_ms=$(awk -v s="$TFLOCK_TIME_SCALE" 'BEGIN { printf "%d", 20000 * s }')

TFLOCK_EVENT_LOG=$TEST_TMP/h.events "$TFLOCK" --lease 20s -- "$TESTCHILD" --log "$TEST_TMP/h.log" \
	touch="$TEST_TMP/h.run" wait-file="$TEST_TMP/never" 2>"$TEST_TMP/h.err" &
holder=$!
wait_for "holder running" 20 test -e "$TEST_TMP/h.run"
hchild=$(awk '/^start/ { sub("pid=", "", $3); print $3 }' "$TEST_TMP/h.log")

TFLOCK_EVENT_LOG=$TEST_TMP/w.events "$TFLOCK" --lease 20s -- "$TESTCHILD" --log "$TEST_TMP/w.log" \
	exit=0 2>"$TEST_TMP/w.err" &
waiter=$!
renewals() { awk '/ renewed / { n++ } END { print n + 0 }' "$TEST_TMP/h.events" 2>/dev/null; }
renewed12() { [ "$(renewals)" -ge 12 ]; }
# 12 renewals = 3 leases while the waiter watches
wait_for "12 renewals by the holder" 60 renewed12
ok "the holder renewed its lease 12 times (3 leases) while a waiter waited" renewed12
# (event names only: the bucket's name, in the queue's events, says "takeover")
ok "the waiter never took over a live holder" bash -c "! awk '\$3 == \"acquired\" || \$3 == \"takeover\"' '$TEST_TMP/w.events' 2>/dev/null | grep -q ."

ok "the waiter is still waiting" kill -0 "$waiter"

kill -KILL "$holder"
wait "$holder" 2>/dev/null
wait_for "the holder's command gone" 20 bash -c "! kill -0 $hchild 2>/dev/null"
ok "the SIGKILLed holder's command died with it (PDEATHSIG)" bash -c "! kill -0 $hchild 2>/dev/null"
wait "$waiter"
is 0 $? "the waiter took over, ran its command and exited 0"
ok "the waiter logged a takeover" grep -q ' takeover ' "$TEST_TMP/w.events"
last_send=$(awk '/ renewed / { for (i = 1; i <= NF; i++) if ($i ~ /^send=/) { sub("send=", "", $i); s = $i } } END { print s }' "$TEST_TMP/h.events")
take=$(awk '/ takeover / { print $1; exit }' "$TEST_TMP/w.events")
diag "last renewal send $last_send, takeover $take, lease $lease_ms ms"
ok "takeover came at least one lease after the holder's last renewal was sent" \
	test $((take - last_send)) -ge $((lease_ms * 1000000))
first_seen=$(awk '/ takeover / { for (i = 1; i <= NF; i++) if ($i ~ /^first_seen=/) { sub("first_seen=", "", $i); print $i } }' "$TEST_TMP/w.events")
ok "the waiter watched the final ETag for a whole lease before taking over" \
	test $((take - first_seen)) -ge $((lease_ms * 1000000))
like "$(cat "$TEST_TMP/w.err")" "took over .*unchanged for its whole lease" "the takeover is reported"
is 404 "$(s3_status GET "/$bucket/$TFLOCK_KEY.tflock")" "the new holder released the lock"
done_testing
