#!/bin/bash
# p6-dynamodb.sh — P6: the DynamoDB lock item (docs/PROTOCOL.md B11, B12) beside
# the lock file, on the local gateway and dynalite (DynamoDB's API, booted here
# by tests/helpers/ddb-start unless TFLOCK_TEST_DDB_ENDPOINT names one).
# Three configurations of the same state key, as a backend sets them:
#   file   use_lockfile only        the S3 object P.tflock
#   table  dynamodb_table only      the item LockID = BUCKET/P
#   both   both                     the file, then the item (B12)
# Figures per configuration:
#   requests per uncontended cycle, `tflock -- true` (self-tests included, as
#     a CLI run pays them), counted from tflock's own request trace (-v), split
#     into S3 and DynamoDB requests;
#   handoff gap with 4 waiters: 5 workers loop `tflock -- sleep HOLD` on one
#     key, each rejoining only once another worker holds, so 4 wait at every
#     release and the next holder is always one of them; gap = the next hold's last "acquired"
#     event - the previous hold's last "released" event (CLOCK_BOOTTIME, from
#     the event logs), p50/p99 over HANDOFFS handoffs. The item is polled at
#     most once a second (B11: a consistent read costs a read capacity unit),
#     the file every 250 ms: the table's gaps are expected near 1 s.
#
# Holds last HOLD_MS (1 s: as P1, long enough that the queue's next head
# watches the head's ticket closely before each release, PROTOCOL B13).
#
# Environment: BENCH_P6_HANDOFFS (20), BENCH_P6_HOLD_MS (1000),
# BENCH_P6_CYCLES (5), plus lib.sh's.
. "$(dirname "$0")/lib.sh"
bench_require
bucket=${BENCH_BUCKET:-$(new_bucket)}
HANDOFFS=${BENCH_P6_HANDOFFS:-20}
HOLD_MS=${BENCH_P6_HOLD_MS:-1000}
CYCLES=${BENCH_P6_CYCLES:-5}

if [ -z "${TFLOCK_TEST_DDB_ENDPOINT:-}" ]; then
	"$BENCH_TOP/tests/helpers/ddb-start" "$BENCH_TMP/ddb" >"$BENCH_TMP/ddb-start.log" 2>&1 ||
		bench_die "dynalite did not start (tests/install-deps.sh installs it): $(tail -n 3 "$BENCH_TMP/ddb-start.log")"
	. "$BENCH_TMP/ddb/env"
	trap '"$BENCH_TOP/tests/helpers/ddb-stop" "$BENCH_TMP/ddb"; bench_cleanup' EXIT
fi
case $TFLOCK_TEST_DDB_ENDPOINT in
http://127.0.0.1:[0-9]*) ;;
*) bench_die "loopback only: TFLOCK_TEST_DDB_ENDPOINT must be http://127.0.0.1:PORT" ;;
esac
table=bench-locks-$RANDOM
"$BENCH_TOP/tests/helpers/ddb-table" "$TFLOCK_TEST_DDB_ENDPOINT" create "$table" >/dev/null ||
	bench_die "cannot create table $table"

# backend DIR KEY CONF — the backend file terraform init writes, for CONF
backend() {
	local lf=null tb=null
	case $3 in
	file) lf=true ;;
	table) tb="\"$table\"" ;;
	both) lf=true tb="\"$table\"" ;;
	esac
	mkdir -p "$1/.terraform"
	cat >"$1/.terraform/terraform.tfstate" <<JSON
{"version":3,"terraform_version":"1.11.4","backend":{"type":"s3","config":{
"bucket":"$bucket","key":"$2","region":"us-east-1","use_path_style":true,
"endpoints":{"s3":"$BENCH_ENDPOINT","dynamodb":"$TFLOCK_TEST_DDB_ENDPOINT"},
"use_lockfile":$lf,"dynamodb_table":$tb},"hash":1}}
JSON
}

# requests CONF — S3 and DynamoDB requests of one uncontended `tflock -- true`
requests() {
	local d=$BENCH_TMP/req-$1 i s3n=0 ddbn=0 log
	backend "$d" "bench/p6-req-$1-$RANDOM/terraform.tfstate" "$1"
	for ((i = 0; i < CYCLES; i++)); do
		log=$d/v$i.err
		(cd "$d" && "$TFLOCK" -v -- true 2>"$log") || bench_die "$1: tflock -- true failed: $(tail -n 2 "$log")"
		s3n=$((s3n + $(grep -c "^tflock: > [A-Z]* $BENCH_ENDPOINT/" "$log")))
		ddbn=$((ddbn + $(grep -c "^tflock: > POST $TFLOCK_TEST_DDB_ENDPOINT/" "$log")))
	done
	fig "p6.$1.requests.s3" "$(awk -v n="$s3n" -v c="$CYCLES" 'BEGIN { printf "%.1f", n / c }')"
	fig "p6.$1.requests.dynamodb" "$(awk -v n="$ddbn" -v c="$CYCLES" 'BEGIN { printf "%.1f", n / c }')"
}

# handoff CONF — 5 workers, HANDOFFS handoffs; p50/p99 of the gaps (ms)
handoff() {
	local d=$BENCH_TMP/ho-$1 i pids=() stop=$((HANDOFFS + 1)) hold
	hold=$(printf '%d.%03d' $((HOLD_MS / 1000)) $((HOLD_MS % 1000)))
	backend "$d" "bench/p6-ho-$1-$RANDOM/terraform.tfstate" "$1"
	: >"$d/acq"
	for i in 0 1 2 3 4; do
		(
			cd "$d" || exit 1
			for ((k = 0; k < 200; k++)); do
				[ "$(wc -l <"$d/acq")" -ge "$stop" ] && exit 0
				TFLOCK_EVENT_LOG=$d/w$i.events "$TFLOCK" -q --timeout 120 -- \
					sh -c 'echo "$2" >>"$0"; sleep "$1"' "$d/acq" "$hold" "w$i.$k" 2>>"$d/w$i.err"
				# rejoin only once another worker holds (bounded: ~30 s), so
				# the next holder is always one of the 4 waiters, never a
				# fresh process racing them
				for ((j = 0; j < 3000; j++)); do
					[ "$(tail -n 1 "$d/acq")" != "w$i.$k" ] && break
					sleep 0.01
				done
			done
		) &
		pids+=($!)
	done
	wait "${pids[@]}"
	# per run (pid): its hold starts at its last "acquired", ends at its last
	# "released"; runs in order of start; gap = start(i+1) - end(i)
	cat "$d"/w*.events | awk '
		$3 == "acquired" { if ($1 > a[$2]) a[$2] = $1 }
		$3 == "released" { if ($1 > r[$2]) r[$2] = $1 }
		END { for (p in a) if (p in r) print a[p], r[p] }' | sort -n |
		awk 'NR > 1 && $1 >= prev { printf "%.1f\n", ($1 - prev) / 1e6 } { prev = $2 }' >"$d/gaps"
	fig "p6.$1.handoffs" "$(wc -l <"$d/gaps")"
	fig "p6.$1.handoff.p50_ms" "$(pct 50 <"$d/gaps")"
	fig "p6.$1.handoff.p99_ms" "$(pct 99 <"$d/gaps")"
	sample "p6.$1.gaps" <"$d/gaps"
}

echo "P6: the DynamoDB lock item beside the lock file (gateway $BENCH_ENDPOINT, dynalite $TFLOCK_TEST_DDB_ENDPOINT)"
for conf in file table both; do
	requests "$conf"
done
for conf in file table both; do
	handoff "$conf"
done
