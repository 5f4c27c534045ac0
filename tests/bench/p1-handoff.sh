#!/bin/bash
# p1-handoff.sh — P1: how fast a released lock reaches the next waiter, and what
# the waiting costs the store.
#
# N+1 workers contend on one key through a faultproxy (which logs every request
# with CLOCK_BOOTTIME ns). Each worker loops: `tflock -- CHILD`, where CHILD
# records that it holds the lock and sleeps HOLD (0.2 s + uniform(0, 1.2 x poll),
# so releases fall at random phases of the waiters' polls); after its release the
# worker rejoins only once another worker holds the lock, so at every release
# exactly N waiters are queued and the releaser never races them with a fresh
# process. The very first hold is long (R, a few polls) so all N waiters settle
# into steady polling:
#   handoff gap = next holder's "acquired" event - the proxy's DELETE log line
#                 of the previous holder (p50/p99 over HANDOFFS handoffs)
#   req/s/waiter = the waiters' lock-key requests (all but the holder's renewal
#                  PUT If-Match and DELETE) in [first acquire + 1 s, first
#                  release] / (N x that window) — steady polling, joins excluded
#   poll         = median interval between one waiter's polls (per connection)
# Runs N = 1, 4, 8 at the default poll (TFLOCK_TIME_SCALE=1: 250 ms), then the
# trade-off curve for N = 1 at polls 100, 500, 1000 ms (TFLOCK_TIME_SCALE 0.4,
# 2, 4; every other tflock duration — lease, timeouts — scales with it; holds
# are far shorter than any heartbeat period, so no renewal falls in a hold).
# Target: handoff p99 <= poll + 2 round trips (RTT measured through the proxy);
# ~4 requests/s per waiter at the default poll.
#
# Environment: BENCH_P1_HANDOFFS (30), BENCH_P1_HOLD_MS (200), BENCH_P1_NS
# ("1 4 8"), BENCH_P1_POLLS ("100 500 1000"), plus lib.sh's.
. "$(dirname "$0")/lib.sh"
bench_require
bucket=${BENCH_BUCKET:-$(new_bucket)}
HANDOFFS=${BENCH_P1_HANDOFFS:-30}
HOLD_MS=${BENCH_P1_HOLD_MS:-200}
NS=${BENCH_P1_NS:-1 4 8}
POLLS=${BENCH_P1_POLLS:-100 500 1000}

child=$BENCH_TMP/child.sh
cat >"$child" <<'EOF'
#!/bin/bash
# child TOKEN DIR SECONDS — the holder's command: say who holds, then hold
printf '%s\n' "$1" >"$2/holder.tmp.$$" && mv -f "$2/holder.tmp.$$" "$2/holder"
printf '%s\n' "$1" >>"$2/acq"
exec sleep "$3"
EOF
chmod +x "$child"

# p1_worker I DIR STOP FIRST_HOLD POLL_MS — one contender (bounded: STOP
# iterations). Holds last HOLD + uniform(0, 1.2 x poll), so that releases fall at
# a random phase of the waiters' polling, as independent jobs' releases do.
p1_worker() {
	local i=$1 d=$2 stop=$3 first=$4 poll=$5 iter tok hold k cur ms
	for ((iter = 0; iter < stop; iter++)); do
		[ "$(wc -l <"$d/acq")" -ge "$stop" ] && return 0
		tok=w$i.$iter
		ms=$((HOLD_MS + (RANDOM * 32768 + RANDOM) % (poll * 12 / 10 + 1)))
		hold=$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))
		[ "$i" = 0 ] && [ "$iter" = 0 ] && hold=$first
		"$TFLOCK" --timeout 120 -- "$child" "$tok" "$d" "$hold" 2>>"$d/tflock.err"
		[ "$(wc -l <"$d/acq")" -ge "$stop" ] && return 0
		# rejoin only after someone else holds (bounded: ~30 s)
		for ((k = 0; k < 3000; k++)); do
			cur=
			read -r cur <"$d/holder"
			[ "$cur" != "$tok" ] && break
			sleep 0.01
		done
	done
}

# p1_config N SCALE TAG — one run; prints its figures under TAG
p1_config() {
	local n=$1 scale=$2 tag=$3 i k pids=()
	local d=$BENCH_TMP/$tag key=bench/p1-$tag-$RANDOM/terraform.tfstate
	local poll_ms first stop lk
	poll_ms=$(awk -v s="$scale" 'BEGIN { printf "%d", 250 * s }')
	# first hold: 1 s to settle + at least 3 s and 8 polls of steady waiting
	first=$(awk -v p="$poll_ms" 'BEGIN { w = 8 * p / 1000; if (w < 3) w = 3; printf "%.1f", 1 + w }')
	stop=$((HANDOFFS + 1))
	mkdir -p "$d"
	: >"$d/acq"
	: >"$d/events"
	proxy_start "$d"
	(
		export TFLOCK_ENDPOINT=$PX_URL TFLOCK_BUCKET=$bucket TFLOCK_KEY=$key
		export TFLOCK_TIME_SCALE=$scale TFLOCK_EVENT_LOG=$d/events TFLOCK_QUIET=1
		p1_worker 0 "$d" "$stop" "$first" "$poll_ms" &
		pids+=($!)
		for ((k = 0; k < 500; k++)); do
			[ -s "$d/holder" ] && break
			sleep 0.02
		done
		for ((i = 1; i <= n; i++)); do
			p1_worker "$i" "$d" "$stop" "$first" "$poll_ms" &
			pids+=($!)
		done
		wait "${pids[@]}"
	)
	proxy_stop
	lk="/$bucket/$key.tflock"
	sort -n "$d/events" >"$d/events.sorted"

	# gaps: for acquisition j >= 2, acquired(j) - last DELETE before it
	awk -v lk="$lk" -v h="$HANDOFFS" '
		FNR == NR { if ($3 == "DELETE" && $4 == lk && $9 ~ /^client=2/) del[++nd] = $1; next }
		$3 == "acquired" { acq[++na] = $1 }
		END {
			k = 1
			for (j = 2; j <= na && j <= h + 1; j++) {
				while (k < nd && del[k + 1] < acq[j]) k++
				if (del[k] < acq[j] && del[k] > acq[j - 1])
					printf "%.3f\n", (acq[j] - del[k]) / 1e6
				else
					printf "unmatched handoff %d\n", j > "/dev/stderr"
			}
		}' "$PX_LOG" "$d/events.sorted" >"$d/gaps"
	# steady-state window: first holder's acquire + 1 s .. its DELETE
	local win
	win=$(awk -v lk="$lk" '
		FNR == NR { if ($3 == "acquired" && !a) a = $1; next }
		$3 == "DELETE" && $4 == lk && $1 > a && !e { e = $1 }
		END { printf "%.0f %.0f\n", a + 1e9, e }' "$d/events.sorted" "$PX_LOG")
	local w0=${win% *} w1=${win#* }
	local reqs
	reqs=$(awk -v lk="$lk" -v w0="$w0" -v w1="$w1" -v n="$n" '
		$4 == lk && $1 >= w0 && $1 <= w1 && $3 != "DELETE" && !($3 == "PUT" && $5 != "if-match=-") { c++ }
		END { if (w1 > w0) printf "%.2f\n", c / n / ((w1 - w0) / 1e9); else print "nan" }' "$PX_LOG")
	local mpoll
	mpoll=$(awk -v lk="$lk" -v w0="$w0" -v w1="$w1" '
		$3 == "GET" && $4 == lk && $1 >= w0 && $1 <= w1 {
			if ($2 in last) printf "%.1f\n", ($1 - last[$2]) / 1e6
			last[$2] = $1
		}' "$PX_LOG" | pct 50)
	local cnt p50 p90 p99 max others
	cnt=$(wc -l <"$d/gaps")
	p50=$(pct 50 <"$d/gaps")
	p90=$(pct 90 <"$d/gaps")
	p99=$(pct 99 <"$d/gaps")
	max=$(pct 100 <"$d/gaps")
	others=$(grep -c -v ' acquired \| released \| child-\| renew' "$d/events.sorted")
	sample "$tag.gaps" <"$d/gaps"
	printf '%s: N=%d waiters, poll %d ms (TFLOCK_TIME_SCALE=%s), %d handoffs, hold %d ms + U(0, %d ms)\n' \
		"$tag" "$n" "$poll_ms" "$scale" "$cnt" "$HOLD_MS" $((poll_ms * 12 / 10))
	printf '  gap ms: p50 %s  p90 %s  p99 %s  max %s; steady window %.1f s; other events: %s\n' \
		"$p50" "$p90" "$p99" "$max" "$(awk -v a="$w0" -v b="$w1" 'BEGIN { print (b - a) / 1e9 }')" "$others"
	fig "$tag.p50_ms" "$p50"
	fig "$tag.p99_ms" "$p99"
	fig "$tag.reqs" "$reqs"
	fig "$tag.poll_ms" "${mpoll:-nan}"
	fig "$tag.handoffs" "$cnt"
	fig "$tag.target_p99_ms" "$(awk -v p="$poll_ms" -v r="$RTT" 'BEGIN { printf "%.1f", p + 2 * r }')"
	[ -s "$d/tflock.err" ] && sed 's/^/  tflock stderr: /' "$d/tflock.err" | sort | uniq -c | head -5
	return 0
}

echo "P1 handoff gap and waiters' request rate (tflock)"
proxy_start "$BENCH_TMP/rtt"
RTT=$(rtt_ms "$PX_URL" "$bucket")
proxy_stop
fig p1.rtt_ms "$RTT"
for n in $NS; do
	p1_config "$n" 1 "p1.tflock.n$n"
done
for p in $POLLS; do
	p1_config 1 "$(awk -v p="$p" 'BEGIN { printf "%g", p / 250 }')" "p1.curve.p$p"
done
