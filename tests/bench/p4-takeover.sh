#!/bin/bash
# p4-takeover.sh — P4: how long a SIGKILLed holder blocks the next waiter.
# For each lease (5 s, 10 s, 20 s; real seconds, TFLOCK_TIME_SCALE=1, run at the
# same time on separate keys): a holder `tflock --lease L -- sleep 600` and a
# waiter `tflock --lease L -- true` (both with event logs); once the waiter has
# polled for 1 s, wait a uniform random 0..L/4 (the holder renews every L/4, so
# the kill lands at a random phase of its heartbeat), SIGKILL the holder, and
# time the waiter's "takeover" event:
#   kill -> takeover                    (target: <= L + one poll = L + 250 ms)
#   holder's last renewal send -> takeover   (protocol: must be >= L)
# Plain Terraform has no lease: its lock stays until someone runs force-unlock.
# The runs go through faultproxy's cond-delete (a store that honours conditional
# DELETE, as AWS S3 does): on a store that ignores it, as RGW 16 does, tflock
# refuses leases below 20 s (docs/PROTOCOL.md B5).
#
# Environment: BENCH_P4_LEASES ("5 10 20"), plus lib.sh's.
. "$(dirname "$0")/lib.sh"
bench_require
bucket=${BENCH_BUCKET:-$(new_bucket)}
LEASES=${BENCH_P4_LEASES:-5 10 20}
POLL_MS=250

# takeover L — one measurement, report into $BENCH_TMP/l$L/report
takeover() {
	local l=$1 d=$BENCH_TMP/l$1 k hp wp hchild off t_kill
	local key=bench/p4-l$1-$RANDOM/terraform.tfstate
	mkdir -p "$d/run"
	export TFLOCK_ENDPOINT=$BENCH_ENDPOINT TFLOCK_BUCKET=$bucket TFLOCK_KEY=$key TFLOCK_QUIET=1
	# tflock's private run directories (re-entry token) go here, so what a
	# SIGKILLed holder cannot remove is counted, and removed with the scratch
	export TMPDIR=$d/run
	unset XDG_RUNTIME_DIR
	TFLOCK_EVENT_LOG=$d/h.events "$TFLOCK" --lease "${l}s" -- sleep 600 2>"$d/h.err" &
	hp=$!
	for ((k = 0; k < 500; k++)); do
		grep -q ' child-start ' "$d/h.events" 2>/dev/null && break
		sleep 0.02
	done
	hchild=$(sed -n 's/.* child-start pid=\([0-9]*\).*/\1/p' "$d/h.events")
	TFLOCK_EVENT_LOG=$d/w.events "$TFLOCK" --lease "${l}s" --timeout $((4 * l + 30))s -- true 2>"$d/w.err" &
	wp=$!
	sleep 1
	off=$(((RANDOM * 32768 + RANDOM) % (l * 250)))
	sleep_ms "$off"
	t_kill=$(now_ns)
	kill -KILL "$hp"
	wait "$hp" 2>/dev/null
	# the waiter exits once it took over, ran `true` and released (bounded by --timeout)
	wait "$wp"
	local rc=$?
	# the holder's command must have died with it (PR_SET_PDEATHSIG); never leave it
	local orphan=no
	if [ -n "$hchild" ] && kill -0 "$hchild" 2>/dev/null; then
		orphan=yes
		kill -KILL "$hchild" 2>/dev/null
	fi
	local take last first
	take=$(awk '$3 == "takeover" { print $1; exit }' "$d/w.events")
	last=$(awk '$3 == "acquired" { for (i = 4; i <= NF; i++) if ($i ~ /^renew_send=/) { sub("renew_send=", "", $i); s = $i } }
		$3 == "renewed" { for (i = 4; i <= NF; i++) if ($i ~ /^send=/) { sub("send=", "", $i); s = $i } }
		END { print s }' "$d/h.events")
	first=$(awk '$3 == "takeover" { for (i = 4; i <= NF; i++) if ($i ~ /^first_seen=/) { sub("first_seen=", "", $i); print $i } }' "$d/w.events")
	{
		if [ -z "$take" ]; then
			printf 'lease %2d s: NO takeover (waiter exit %d): %s\n' "$l" "$rc" "$(tr '\n' ' ' <"$d/w.err")"
		else
			printf 'lease %2d s: killed %4d ms after the last renewal was sent; kill->takeover %.3f s, last renewal sent->takeover %.3f s, first seen->takeover %.3f s; waiter exit %d; holder command orphaned: %s; run directories left behind: %d\n' \
				"$l" "$(awk -v a="$last" -v b="$t_kill" 'BEGIN { printf "%d", (b - a) / 1e6 }')" "$(awk -v a="$t_kill" -v b="$take" 'BEGIN { print (b - a) / 1e9 }')" \
				"$(awk -v a="$last" -v b="$take" 'BEGIN { print (b - a) / 1e9 }')" \
				"$(awk -v a="$first" -v b="$take" 'BEGIN { print (b - a) / 1e9 }')" "$rc" "$orphan" \
				"$(find "$d/run" -mindepth 1 -maxdepth 1 -name 'tflock-run.*' | wc -l)"
			fig "p4.l$l.kill_to_takeover_s" "$(awk -v a="$t_kill" -v b="$take" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')"
			fig "p4.l$l.renew_to_takeover_s" "$(awk -v a="$last" -v b="$take" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')"
		fi
		fig "p4.l$l.target_s" "$(awk -v l="$l" -v p="$POLL_MS" 'BEGIN { printf "%.3f", l + p / 1000 }')"
	} >"$d/report"
}

echo "P4 takeover after SIGKILL of the holder (TFLOCK_TIME_SCALE=1, default poll 250 ms)"
proxy_start "$BENCH_TMP/proxy"
echo "DELETE * cond-delete" >"$BENCH_TMP/proxy/proxy.rules"
BENCH_ENDPOINT=$PX_URL
pids=()
for l in $LEASES; do
	takeover "$l" &
	pids+=($!)
done
wait "${pids[@]}"
for l in $LEASES; do
	cat "$BENCH_TMP/l$l/report"
done
