#!/bin/bash
# R3: SIGKILL the holder at random moments (while acquiring, renewing,
# releasing, or while its command runs), many times. Each time the next run gets
# the lock (released, or taken over after the lease), the killed holder's command
# is gone before that, and the lock is never held by two. The time to recover is
# printed, not asserted. Rounds: TFLOCK_TORTURE_ROUNDS (8).
. "$top_srcdir/tests/integration/lib.sh"
plan_lazy
rgw_require
bucket=$(new_bucket)
tflock_env "$bucket"
export TFLOCK_KEY=r3/terraform.tfstate
N=${TFLOCK_TORTURE_ROUNDS:-8}
for i in $(seq 1 "$N"); do
	rm -f "$TEST_TMP/c.log"
	delay=$(awk -v r="$RANDOM" -v s="$TFLOCK_TIME_SCALE" 'BEGIN { printf "%.3f", (r % 3000) / 1000 * s * 10 / 4 }')
	TFLOCK_EVENT_LOG=$TEST_TMP/h$i.events "$TFLOCK" -q --lease 20s -- "$TESTCHILD" --log "$TEST_TMP/c.log" \
		run=$((RANDOM % 800)) 2>/dev/null &
	h=$!
	sleep "$delay"
	kill -KILL "$h" 2>/dev/null
	wait "$h" 2>/dev/null
	cpid=$(awk '/^start/ { sub("pid=", "", $3); print $3 }' "$TEST_TMP/c.log" 2>/dev/null)
	t0=$($NOW)
	TFLOCK_EVENT_LOG=$TEST_TMP/w$i.events "$TFLOCK" -q --lease 20s --timeout 60s -- \
		bash -c "[ -z '$cpid' ] || ! kill -0 '$cpid' 2>/dev/null" 2>"$TEST_TMP/w$i.err"
	rc=$?
	t1=$($NOW)
	how=$(awk '/ acquired / { for (i = 1; i <= NF; i++) if ($i ~ /^how=/) print $i }' "$TEST_TMP/w$i.events")
	is 0 "$rc" "round $i (holder killed after ${delay}s): the next run got the lock ($how) and the killed holder's command was already gone"
	diag "round $i: recovered in $(((t1 - t0) / 1000000)) ms ($how)"
done
is 404 "$(s3_status GET "/$bucket/$TFLOCK_KEY.tflock")" "no lock is left behind"
done_testing
