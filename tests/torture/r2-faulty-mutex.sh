#!/bin/bash
# R2: mutual exclusion through a fault-injecting proxy. K processes x M cycles
# of read-modify-write of a counter under `tflock --`, while the proxy drops
# replies after the server committed, answers 500/503, resets and stalls
# requests (acquire, heartbeat, release, polls). The counter must be exact, no
# two holders' intervals may overlap, and no lock may be left at the end.
# Size: TFLOCK_TORTURE_PROCS (4) x TFLOCK_TORTURE_CYCLES (8).
. "$top_srcdir/tests/integration/lib.sh"
plan_lazy
rgw_require
bucket=$(new_bucket)
tflock_env "$bucket"
proxy_start
export TFLOCK_KEY=r2/terraform.tfstate
K=${TFLOCK_TORTURE_PROCS:-4}
M=${TFLOCK_TORTURE_CYCLES:-8}
L=terraform.tfstate.tflock
proxy_rules \
	"PUT $L drop-after count=3 after=2" \
	"PUT $L status-after 500 count=3 after=6" \
	"PUT $L status 503 count=3 after=9" \
	"PUT $L reset count=2 after=13" \
	"PUT $L stall 150 count=3 after=4" \
	"DELETE $L drop-after count=2 after=3" \
	"DELETE $L reset count=1 after=8" \
	"GET $L status 503 count=6 after=10" \
	"GET $L drop count=3 after=20" \
	"GET $L stall-after 100 count=5 after=5"

counter_setup "$bucket"
pids=()
for k in $(seq 1 "$K"); do
	(
		fails=0
		for m in $(seq 1 "$M"); do
			TFLOCK_ENDPOINT=$PROXY_URL "$TFLOCK" -q --lease 20s -- "$TEST_TMP/rmw" "$k.$m" 2>>"$TEST_TMP/err.$k"
			rc=$?
			# 69: the command ran, its release failed (a DELETE fault); the lease frees it
			# 76: renewals failed for a lease under the faults and a waiter took over;
			#     said, and the counter and the intervals below prove no overlap
			[ $rc = 0 ] || [ $rc = 69 ] || [ $rc = 76 ] || {
				fails=$((fails + 1))
				echo "cycle $k.$m exited $rc" >>"$TEST_TMP/failed-cycles"
			}
			[ $rc = 69 ] && echo "$k.$m" >>"$TEST_TMP/release-failed"
			[ $rc = 76 ] && echo "$k.$m" >>"$TEST_TMP/lost"
		done
		echo "$fails" >"$TEST_TMP/fails.$k"
	) &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
is 0 "$(cat "$TEST_TMP"/fails.* | awk '{ s += $1 } END { print s }')" \
	"every wrapped cycle succeeded despite the faults (or its release failed: 69, or it lost the lock: 76)"
[ -s "$TEST_TMP/failed-cycles" ] && diag "$(cat "$TEST_TMP/failed-cycles")" && tail -n 5 "$TEST_TMP"/err.* | sed 's/^/# /'
rf=$(cat "$TEST_TMP/release-failed" 2>/dev/null | wc -l)
rfl=$(cat "$TEST_TMP"/err.* | grep -c 'release.* FAILED\|renewal of .* failed')
diag "$rf cycle(s) ended 69 (release failed under injected faults)"
ok "each exit 69 said why its release failed ($rf exits, $rfl messages)" test "$rfl" -ge "$rf"
# a cycle cut short by the lease (76) may die inside its read-modify-write:
# the counter lies between the completed and the started ones, and such an
# interval ends at its enter (its tree is dead before anyone may take over, B9)
counter=$(s3 GET "/$bucket/counter" | sed '$d')
enters=$(grep -c '^enter' "$TEST_TMP/intervals")
exits=$(grep -c '^exit' "$TEST_TMP/intervals")
diag "counter $counter, read-modify-writes started $enters, completed $exits"
ok "the counter is exact: no update lost ($exits <= $counter <= $enters)" \
	test "$exits" -le "$counter" -a "$counter" -le "$enters"
# a cycle that lost the lock (76) may be cut short before its command wrote
# "enter": its acquisition's own write was sent a lease ago by the time the
# hold was established (faults, read-backs), and the guardian stopped it (B9)
lost=$(cat "$TEST_TMP/lost" 2>/dev/null | wc -l)
ok "every cycle ran its command ($K x $M; $enters started, $lost lost the lock)" \
	test "$enters" -le "$((K * M))" -a "$enters" -ge "$((K * M - lost))"
overlaps=$(awk '$1 == "enter" { s[$3] = $2 } $1 == "exit" { e[$3] = $2 }
	END { for (k in s) print s[k], (k in e ? e[k] : s[k]) }' "$TEST_TMP/intervals" | sort -n |
	awk '{ if (NR > 1 && $1 < last) bad++; if ($2 > last) last = $2 } END { print bad + 0 }')
is 0 "$overlaps" "no two holders' intervals overlap"
is 0 "$(cat "$TEST_TMP"/err.* | grep -c 'is not a tflock ticket')" \
	"the waiters read each other's tickets as tickets (a ticket lease of 667 ms at this time scale)"
injected=$(grep -vc 'action=pass' "$PROXY_LOG")
ok "faults were really injected ($injected requests)" test "$injected" -ge 20
is 404 "$(s3_status GET "/$bucket/$TFLOCK_KEY.tflock")" "no lock is left behind"
done_testing
