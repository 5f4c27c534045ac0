#!/bin/bash
# p5-throughput.sh — P5: lock cycles per second on one key with 8 contenders,
# straight to the store (no proxy), for BENCH_P5_SECONDS (10) each:
#   tflock: 8 loops of `tflock -- true` (each a new process: store self-test,
#           acquire — waiting by polling when held — run `true`, release);
#   curl:   8 loops of a raw conditional PUT (If-None-Match: *) and, when it
#           answered 200, a DELETE — retrying at once on 412, no waiting.
# cycles/s = successful cycles / (time from start until every loop finished;
# loops start no new cycle after the deadline). Also each contender's share of
# the cycles (min..max), which shows how fair the lock is under contention.
#
# Environment: BENCH_P5_SECONDS (10), BENCH_P5_CONTENDERS (8), plus lib.sh's.
. "$(dirname "$0")/lib.sh"
bench_require
bucket=${BENCH_BUCKET:-$(new_bucket)}
SECS=${BENCH_P5_SECONDS:-10}
C=${BENCH_P5_CONTENDERS:-8}

# deadline check without a fork: bash's EPOCHREALTIME (microseconds)
usec() { local t=${EPOCHREALTIME/[.,]/}; printf '%s' "$t"; }

tflock_loop() {
	local i=$1 d=$2 end=$3 n=0 k
	for ((k = 0; k < 100000; k++)); do
		[ "$(usec)" -ge "$end" ] && break
		if "$TFLOCK" -q --timeout 60 -- true 2>>"$d/err.$i"; then
			n=$((n + 1))
		fi
	done
	echo "$n" >"$d/count.$i"
}

curl_loop() {
	local i=$1 d=$2 end=$3 url=$4 n=0 k st
	for ((k = 0; k < 1000000; k++)); do
		[ "$(usec)" -ge "$end" ] && break
		st=$(tf_put "$url" "$d/body")
		if [ "$st" = 200 ]; then
			st=$(tf_delete "$url")
			[ "$st" = 204 ] && n=$((n + 1))
		fi
	done
	echo "$n" >"$d/count.$i"
}

# run NAME — both loops share this driver
run() {
	local name=$1 d=$BENCH_TMP/$1 i pids=() t0 t1 end
	local key=bench/p5-$1-$RANDOM/terraform.tfstate
	mkdir -p "$d"
	export TFLOCK_ENDPOINT=$BENCH_ENDPOINT TFLOCK_BUCKET=$bucket TFLOCK_KEY=$key
	tf_body "$d/body" "$bucket" "$key"
	t0=$(now_ns)
	end=$(($(usec) + SECS * 1000000))
	for ((i = 0; i < C; i++)); do
		if [ "$name" = tflock ]; then
			tflock_loop "$i" "$d" "$end" &
		else
			curl_loop "$i" "$d" "$end" "$BENCH_ENDPOINT/$bucket/$key.tflock" &
		fi
		pids+=($!)
	done
	wait "${pids[@]}"
	t1=$(now_ns)
	cat "$d"/count.* >"$d/counts"
	local total cps
	total=$(awk '{ s += $1 } END { print s + 0 }' "$d/counts")
	cps=$(awk -v n="$total" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", n / ((b - a) / 1e9) }')
	printf '  %-6s %d contenders: %d cycles in %.2f s = %s cycles/s; per contender min %s max %s\n' \
		"$name" "$C" "$total" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print (b - a) / 1e9 }')" "$cps" \
		"$(pct 0 <"$d/counts")" "$(pct 100 <"$d/counts")"
	cat "$d"/err.* 2>/dev/null | sort | uniq -c | head -3 | sed 's/^/  stderr: /'
	fig "p5.$name.cps" "$cps"
	fig "p5.$name.min_share" "$(awk -v t="$total" -v c="$C" '{ v = $1 / t * c; if (NR == 1 || v < m) m = v } END { printf "%.2f", m }' "$d/counts")"
}

echo "P5 lock cycles per second, one key, $C contenders, $SECS s each (direct to the store)"
run tflock
run curl
