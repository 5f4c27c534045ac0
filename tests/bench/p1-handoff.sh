#!/bin/bash
# p1-handoff.sh — P1: how fast a released lock reaches the next waiter, and what
# the waiting costs the store, with the queue of waiters (PROTOCOL B13, the
# default) and with --no-queue (every waiter polls the lock), side by side.
#
# N+1 workers contend on one key through a faultproxy (which logs every request
# with CLOCK_BOOTTIME ns). Each worker loops: `tflock -- CHILD`, where CHILD
# records that it holds the lock and sleeps HOLD (BASE + uniform(0, 1.2 x poll),
# so releases fall at random phases of the head's polls); after its release the
# worker rejoins only once another worker holds the lock, so at every release
# exactly N waiters are waiting (with the queue: N tickets, the releaser joining
# at the back) and the releaser never races them with a fresh process. The very
# first hold is long (a few polls, more for large N) so all N waiters settle:
#   handoff gap = next holder's "acquired" event - the proxy's DELETE log line
#                 of the previous holder (p50/p99 over HANDOFFS handoffs)
#   req/s/waiter = the waiters' requests (lock, queue objects; not the store
#                  self-test, not the holder's renewal and DELETE) from 1 s after
#                  the first acquire and the last queue join to the first
#                  release / N: steady waiting in the first hold, joins excluded
#   line req/s  = every request but the self-tests and the holders' lock writes,
#                 from the first release to the last acquire: what the N waiters
#                 cost while the lock changes hands (each rejoin included)
#   poll        = median interval between one connection's GETs of the lock
# Configurations (tags):
#   p1.MODE.nN        MODE = queue, noqueue; N in BENCH_P1_NS; holds of at least
#                     1 s (BENCH_P1_HOLD_MS + U(0, 1.2 poll)): the queue's next
#                     head has noticed its turn before the release (B13 "learns
#                     late after short holds")
#   p1.MODE.short.nN  the setting used before the queue: holds 0.2 s + U(0, 1.2
#                     poll), N in BENCH_P1_SHORT_NS
#   p1.curve.pP       queue, N = BENCH_P1_CURVE_N, short holds, --poll P ms
#   p1.MODE.rttS.nN   +S ms on every request (faultproxy "ANY * stall S"),
#                     N in BENCH_P1_STALL_NS, holds >= 1 s
#   p1.queue.xhold.nN queue, holds of BENCH_P1_XHOLD_MS (+ U(0, 1.2 poll)),
#                     N = BENCH_P1_XHOLD_N: holds longer than 20 polls, the pace
#                     at which a waiter 3rd or further in line watches its
#                     predecessor's ticket
# Target: handoff p99 <= poll + 2 round trips (RTT measured through the proxy).
# No figure is pass/fail. Figures come from a shared machine: other jobs widen
# the spreads.
#
# Environment: BENCH_P1_HANDOFFS (12), BENCH_P1_MODES ("queue noqueue"),
# BENCH_P1_NS ("1 4 8 32"), BENCH_P1_HOLD_MS (1000), BENCH_P1_SHORT_HOLD_MS
# (200), BENCH_P1_SHORT_NS ("1 8"), BENCH_P1_SHORT_MODES ("queue noqueue"),
# BENCH_P1_POLLS ("50 100 500 1000"; 250 is p1.queue.short.nN),
# BENCH_P1_CURVE_N (1), BENCH_P1_STALL_MS (20; 0 for none), BENCH_P1_STALL_NS
# ("4"), BENCH_P1_XHOLD_MS (6000; 0 for none), BENCH_P1_XHOLD_N (4),
# BENCH_P1_XHOLD_HANDOFFS (8), plus lib.sh's. Empty lists skip a section.
. "$(dirname "$0")/lib.sh"
bench_require
bucket=${BENCH_BUCKET:-$(new_bucket)}
HANDOFFS=${BENCH_P1_HANDOFFS:-12}
MODES=${BENCH_P1_MODES-queue noqueue}
NS=${BENCH_P1_NS-1 4 8 32}
HOLD_MS=${BENCH_P1_HOLD_MS:-1000}
SHORT_HOLD_MS=${BENCH_P1_SHORT_HOLD_MS:-200}
SHORT_NS=${BENCH_P1_SHORT_NS-1 8}
SHORT_MODES=${BENCH_P1_SHORT_MODES-queue noqueue}
POLLS=${BENCH_P1_POLLS-50 100 500 1000}
CURVE_N=${BENCH_P1_CURVE_N:-1}
STALL_MS=${BENCH_P1_STALL_MS:-20}
STALL_NS=${BENCH_P1_STALL_NS-4}
XHOLD_MS=${BENCH_P1_XHOLD_MS:-6000}
XHOLD_N=${BENCH_P1_XHOLD_N:-4}
XHOLD_HANDOFFS=${BENCH_P1_XHOLD_HANDOFFS:-8}

child=$BENCH_TMP/child.sh
cat >"$child" <<'EOF'
#!/bin/bash
# child TOKEN DIR SECONDS — the holder's command: say who holds, then hold
printf '%s\n' "$1" >"$2/holder.tmp.$$" && mv -f "$2/holder.tmp.$$" "$2/holder"
printf '%s\n' "$1" >>"$2/acq"
exec sleep "$3"
EOF
chmod +x "$child"

# p1_worker I DIR STOP FIRST_HOLD POLL_MS BASE_MS — one contender (bounded:
# STOP iterations). Holds last BASE + uniform(0, 1.2 x poll), so that releases
# fall at a random phase of the head's polling, as independent jobs' releases do.
p1_worker() {
	local i=$1 d=$2 stop=$3 first=$4 poll=$5 base=$6 iter tok hold k cur ms
	for ((iter = 0; iter < stop; iter++)); do
		[ "$(wc -l <"$d/acq")" -ge "$stop" ] && return 0
		tok=w$i.$iter
		ms=$((base + (RANDOM * 32768 + RANDOM) % (poll * 12 / 10 + 1)))
		hold=$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))
		[ "$i" = 0 ] && [ "$iter" = 0 ] && hold=$first
		"$TFLOCK" --timeout 300 -- "$child" "$tok" "$d" "$hold" 2>>"$d/tflock.err"
		[ "$(wc -l <"$d/acq")" -ge "$stop" ] && return 0
		# rejoin only after someone else holds (bounded: ~60 s)
		for ((k = 0; k < 6000; k++)); do
			cur=
			read -r cur <"$d/holder"
			[ "$cur" != "$tok" ] && break
			sleep 0.01
		done
	done
}

# p1_config TAG MODE N POLL_MS BASE_MS HANDOFFS STALL_MS — one run; prints its
# figures under TAG
p1_config() {
	local tag=$1 mode=$2 n=$3 poll_ms=$4 base=$5 handoffs=$6 stall=$7 i k pids=()
	local d=$BENCH_TMP/$tag key=bench/p1-$tag-$RANDOM/terraform.tfstate
	local first stop lk rtt=$RTT
	# first hold: 1 s to settle (+ 0.1 s per waiter to start and join) + at
	# least 3 s and 8 polls of steady waiting
	first=$(awk -v p="$poll_ms" -v n="$n" 'BEGIN { w = 8 * p / 1000; if (w < 3) w = 3; printf "%.1f", 1 + n / 10 + w }')
	stop=$((handoffs + 1))
	mkdir -p "$d"
	: >"$d/acq"
	: >"$d/events"
	proxy_start "$d"
	if [ "$stall" -gt 0 ]; then
		printf 'ANY * stall %d\n' "$stall" >"$d/proxy.rules"
		rtt=$(rtt_ms "$PX_URL" "$bucket")
	fi
	(
		export TFLOCK_ENDPOINT=$PX_URL TFLOCK_BUCKET=$bucket TFLOCK_KEY=$key
		export TFLOCK_POLL=${poll_ms}ms TFLOCK_EVENT_LOG=$d/events TFLOCK_QUIET=1
		[ "$mode" = noqueue ] && export TFLOCK_NO_QUEUE=1
		p1_worker 0 "$d" "$stop" "$first" "$poll_ms" "$base" &
		pids+=($!)
		for ((k = 0; k < 500; k++)); do
			[ -s "$d/holder" ] && break
			sleep 0.02
		done
		for ((i = 1; i <= n; i++)); do
			p1_worker "$i" "$d" "$stop" "$first" "$poll_ms" "$base" &
			pids+=($!)
		done
		wait "${pids[@]}"
	)
	proxy_stop
	lk="/$bucket/$key.tflock"
	sort -n "$d/events" >"$d/events.sorted"

	# gaps: for acquisition j >= 2, acquired(j) - last DELETE before it
	awk -v lk="$lk" -v h="$handoffs" '
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
	# steady waiting: max(first acquire + 1 s, last join in the first hold + 1 s)
	# .. the first holder's DELETE
	local win w0 w1
	win=$(awk -v lk="$lk" '
		FNR == NR {
			if ($3 == "acquired" && !a) a = $1
			if ($3 == "acquired" && a && $1 > a && !a2) a2 = $1
			if ($3 == "queue-join" && (!a2) && $1 > j) j = $1
			next
		}
		$3 == "DELETE" && $4 == lk && $1 > a && !e { e = $1 }
		END { s = a + 1e9; if (j + 1e9 > s) s = j + 1e9; printf "%.0f %.0f\n", s, e }' "$d/events.sorted" "$PX_LOG")
	w0=${win% *} w1=${win#* }
	# a waiter's request: anything but a self-test and the holder's lock writes
	local notmine='$4 !~ /\.selftest\.tflock$/ && !($4 == lk && ($3 == "DELETE" || ($3 == "PUT" && $5 != "if-match=-")))'
	local reqs
	reqs=$(awk -v lk="$lk" -v w0="$w0" -v w1="$w1" -v n="$n" "
		\$1 >= w0 && \$1 <= w1 && $notmine { c++ }
		END { if (w1 > w0 + 5e8) printf \"%.2f\\n\", c / n / ((w1 - w0) / 1e9); else print \"nan\" }" "$PX_LOG")
	# the line while the lock changes hands: first release .. last acquire
	local line
	line=$(awk -v lk="$lk" -v w1="$w1" "
		FNR == NR { if (\$3 == \"acquired\") e = \$1; next }
		\$1 >= w1 && \$1 <= e && $notmine { c++ }
		END { if (e > w1) printf \"%.2f\\n\", c / ((e - w1) / 1e9); else print \"nan\" }" "$d/events.sorted" "$PX_LOG")
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
	others=$(awk '$3 ~ /^(takeover|lost|queue-off|queue-removed|queue-skip)$/ { c[$3]++ }
		END { for (k in c) printf "%s%s=%d", s++ ? " " : "", k, c[k]; if (!s) printf "none" }' "$d/events.sorted")
	sample "$tag.gaps" <"$d/gaps"
	printf '%s: %s, N=%d waiters, poll %d ms, %d handoffs, holds %d ms + U(0, %d ms)%s\n' \
		"$tag" "$mode" "$n" "$poll_ms" "$cnt" "$base" $((poll_ms * 12 / 10)) \
		"$([ "$stall" -gt 0 ] && printf ', +%d ms a request (RTT %s ms)' "$stall" "$rtt")"
	printf '  gap ms: p50 %s  p90 %s  p99 %s  max %s; steady window %.1f s; unusual events: %s\n' \
		"$p50" "$p90" "$p99" "$max" "$(awk -v a="$w0" -v b="$w1" 'BEGIN { print (b - a) / 1e9 }')" "$others"
	fig "$tag.p50_ms" "$p50"
	fig "$tag.p99_ms" "$p99"
	fig "$tag.max_ms" "$max"
	fig "$tag.reqs" "$reqs"
	fig "$tag.line_reqs" "$line"
	fig "$tag.poll_ms" "${mpoll:-nan}"
	fig "$tag.handoffs" "$cnt"
	fig "$tag.target_p99_ms" "$(awk -v p="$poll_ms" -v r="$rtt" 'BEGIN { printf "%.1f", p + 2 * r }')"
	[ -s "$d/tflock.err" ] && sed 's/^/  tflock stderr: /' "$d/tflock.err" | sort | uniq -c | head -5
	return 0
}

echo "P1 handoff gap and waiters' request rate (tflock: queue vs --no-queue)"
echo "  (figures from a shared 2-CPU machine: other jobs ran meanwhile)"
proxy_start "$BENCH_TMP/rtt"
RTT=$(rtt_ms "$PX_URL" "$bucket")
proxy_stop
fig p1.rtt_ms "$RTT"
for n in $NS; do
	for m in $MODES; do
		p1_config "p1.$m.n$n" "$m" "$n" 250 "$HOLD_MS" "$HANDOFFS" 0
	done
done
for n in $SHORT_NS; do
	for m in $SHORT_MODES; do
		p1_config "p1.$m.short.n$n" "$m" "$n" 250 "$SHORT_HOLD_MS" "$HANDOFFS" 0
	done
done
for p in $POLLS; do
	p1_config "p1.curve.p$p" queue "$CURVE_N" "$p" "$SHORT_HOLD_MS" "$HANDOFFS" 0
done
if [ "$STALL_MS" -gt 0 ]; then
	for n in $STALL_NS; do
		for m in $MODES; do
			p1_config "p1.$m.rtt$STALL_MS.n$n" "$m" "$n" 250 "$HOLD_MS" "$HANDOFFS" "$STALL_MS"
		done
	done
fi
if [ "$XHOLD_MS" -gt 0 ]; then
	p1_config "p1.queue.xhold.n$XHOLD_N" queue "$XHOLD_N" 250 "$XHOLD_MS" "$XHOLD_HANDOFFS" 0
fi
