#!/bin/bash
# Mutual exclusion against the real gateway: K processes x M cycles of
# read-modify-write of a counter object, each cycle under `tflock --`.
# The counter must be exact and no two holders' intervals may overlap
# (enter/exit records with CLOCK_BOOTTIME stamps).
. "$top_srcdir/tests/integration/lib.sh"
plan_lazy
rgw_require
bucket=$(new_bucket)
tflock_env "$bucket"
export TFLOCK_KEY=counter/terraform.tfstate
K=${TFLOCK_MUTEX_PROCS:-6}
M=${TFLOCK_MUTEX_CYCLES:-30}

counter_setup "$bucket"

pids=()
for k in $(seq 1 "$K"); do
	(
		fails=0
		for m in $(seq 1 "$M"); do
			"$TFLOCK" -q -- "$TEST_TMP/rmw" "$k.$m" || fails=$((fails + 1))
		done
		echo "$fails" >"$TEST_TMP/fails.$k"
	) &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done

total_fails=$(cat "$TEST_TMP"/fails.* | awk '{ s += $1 } END { print s }')
is 0 "$total_fails" "every wrapped cycle succeeded"
final=$(s3 GET "/$bucket/counter" | sed '$d')
is "$((K * M))" "$final" "the counter is exact after $K x $M read-modify-write cycles"
is "$((2 * K * M))" "$(wc -l <"$TEST_TMP/intervals")" "every cycle recorded enter and exit"
overlaps=$(sort -k2,2n "$TEST_TMP/intervals" | awk '
	$1 == "enter" { if (inside) bad++; inside = 1; who = $3 }
	$1 == "exit"  { if (!inside || who != $3) bad++; inside = 0 }
	END { print bad + 0 }')
is 0 "$overlaps" "no two holders' intervals overlap"
is 404 "$(s3_status GET "/$bucket/counter/terraform.tfstate.tflock")" "no lock is left behind"
done_testing
