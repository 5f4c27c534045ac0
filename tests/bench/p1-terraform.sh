#!/bin/bash
# p1-terraform.sh — P1 baseline: the same handoff measurement for plain
# Terraform's S3 lockfile client, simulated faithfully in bash/curl (PROTOCOL.md
# A3): one PutObject If-None-Match: * with the lock body; on failure a GetObject
# of the lock (for the "Lock Info" message), then sleep 1, 2, 4, 8, 16, 16 ... s
# (-lock-timeout long enough); unlock = GetObject, compare ID, DeleteObject.
#
# For N = 1, 4, 8 (run at the same time, each on its own key and faultproxy),
# N+1 workers loop: lock (with that schedule), hold a uniform random 2..20 s,
# unlock, and rejoin once another worker holds — so N waiters are queued at
# every release, as in p1-handoff.sh. The first hold lasts 20 s and the first
# waiters arrive at random times in its first 10 s (waiters that all started
# at once would retry in lock-step, like a single waiter). After BENCH_TF_WINDOW seconds (170) the
# workers are stopped. Figures, per N:
#   handoff gap  = worker's acquire (CLOCK_BOOTTIME right after the 200) -
#                  the proxy's DELETE log line of the previous holder
#   req/s/waiter = 2 x failed PUTs (each is followed by one GET) in the window /
#                  (N x window): what waiting Terraforms cost the store
# The holds matter here (a waiter's retry delay grows with its age): with holds
# of 2..20 s Terraform waiters are mostly in the 1..8 s phase of the schedule;
# holds over ~31 s put them at one try per 16 s (gap ~ U(0, 16 s) for N = 1).
#
# run-all.sh runs this in the background while p1-handoff.sh and
# p4-takeover.sh run: these clients sleep almost all the time.
. "$(dirname "$0")/lib.sh"
bench_require
bucket=${BENCH_BUCKET:-$(new_bucket)}
WINDOW=${BENCH_TF_WINDOW:-170}
NS=${BENCH_TF_NS:-1 4 8}

# tf_worker I DIR URL KEY START_MS — one simulated Terraform job after another,
# the first one starting after START_MS
tf_worker() {
	local i=$1 d=$2 url=$3 key=$4 iter tok attempt delay st hold k cur
	trap '[ -n "${BENCH_SLEEP:-}" ] && kill "$BENCH_SLEEP" 2>/dev/null; exit 0' TERM
	[ "$5" -gt 0 ] && sleep_ms "$5"
	for ((iter = 0; iter < 1000; iter++)); do
		tok=t$i.$iter
		tf_body "$d/body.$i" "$bucket" "$key"
		delay=1
		for ((attempt = 0; attempt < 1000; attempt++)); do
			st=$(tf_put "$url" "$d/body.$i")
			case $st in 2??) break ;; esac
			tf_get "$url" "$d/info.$i" >/dev/null
			sleep_ms $((delay * 1000))
			delay=$((delay * 2))
			[ $delay -gt 16 ] && delay=16
		done
		printf '%s %s acquired\n' "$(now_ns)" "$tok" >>"$d/events"
		printf '%s\n' "$tok" >"$d/holder.tmp.$i" && mv -f "$d/holder.tmp.$i" "$d/holder"
		hold=$((2000 + (RANDOM * 32768 + RANDOM) % 18001))
		[ "$i" = 0 ] && [ "$iter" = 0 ] && hold=20000
		sleep_ms "$hold"
		tf_unlock "$url" "$d/info.$i" || printf 'worker %s: unlock failed\n' "$i" >>"$d/errors"
		for ((k = 0; k < 12000; k++)); do
			cur=
			read -r cur <"$d/holder"
			[ "$cur" != "$tok" ] && break
			sleep 0.01
		done
	done
}

# tf_config N — runs for WINDOW seconds, then prints the figures
tf_config() {
	local n=$1 tag=p1.tf.n$1 i k pids=()
	local d=$BENCH_TMP/$tag key=bench/p1-tf-n$1-$RANDOM/terraform.tfstate
	mkdir -p "$d"
	: >"$d/events"
	proxy_start "$d"
	local url=$PX_URL/$bucket/$key.tflock t_end
	tf_worker 0 "$d" "$url" "$key" 0 &
	pids+=($!)
	for ((k = 0; k < 500; k++)); do
		[ -s "$d/holder" ] && break
		sleep 0.02
	done
	for ((i = 1; i <= n; i++)); do
		tf_worker "$i" "$d" "$url" "$key" $(((RANDOM * 32768 + RANDOM) % 10000)) &
		pids+=($!)
	done
	sleep "$WINDOW"
	t_end=$(now_ns)
	kill "${pids[@]}" 2>/dev/null
	for ((k = 0; k < 100; k++)); do
		kill -0 "${pids[@]}" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "${pids[@]}" 2>/dev/null
	wait "${pids[@]}" 2>/dev/null
	proxy_stop
	s3 DELETE "/$bucket/$key.tflock" >/dev/null

	local lk="/$bucket/$key.tflock"
	sort -n "$d/events" | awk -v e="$t_end" '$1 <= e' >"$d/events.sorted"
	awk -v lk="$lk" '
		FNR == NR { if ($3 == "DELETE" && $4 == lk && $9 ~ /^client=2/) del[++nd] = $1; next }
		$3 == "acquired" { acq[++na] = $1 }
		END {
			k = 1
			for (j = 2; j <= na; j++) {
				while (k < nd && del[k + 1] < acq[j]) k++
				if (del[k] < acq[j] && del[k] > acq[j - 1])
					printf "%.3f\n", (acq[j] - del[k]) / 1e6
			}
		}' "$PX_LOG" "$d/events.sorted" >"$d/gaps"
	local reqs
	reqs=$(awk -v lk="$lk" -v e="$t_end" -v n="$n" '
		FNR == NR { if ($3 == "acquired" && !a) a = $1; next }
		$3 == "PUT" && $4 == lk && $9 == "client=412" && $1 >= a && $1 <= e { c++ }
		END { if (e > a) printf "%.3f\n", 2 * c / n / ((e - a) / 1e9); else print "nan" }' \
		"$d/events.sorted" "$PX_LOG")
	local cnt
	cnt=$(wc -l <"$d/gaps")
	sample "$tag.gaps" <"$d/gaps"
	{
		printf '%s: N=%d Terraform waiters (schedule 1,2,4,8,16,16.. s), holds U(2,20 s), %d handoffs in %d s\n' \
			"$tag" "$n" "$cnt" "$WINDOW"
		printf '  gap ms: p50 %s  p90 %s  p99 %s  max %s\n' "$(pct 50 <"$d/gaps")" \
			"$(pct 90 <"$d/gaps")" "$(pct 99 <"$d/gaps")" "$(pct 100 <"$d/gaps")"
		[ -s "$d/errors" ] && sed 's/^/  /' "$d/errors"
		fig "$tag.p50_ms" "$(pct 50 <"$d/gaps")"
		fig "$tag.p99_ms" "$(pct 99 <"$d/gaps")"
		fig "$tag.reqs" "$reqs"
		fig "$tag.handoffs" "$cnt"
	} >"$d/report"
}

echo "P1 baseline: Terraform's lock retry schedule, simulated (window ${WINDOW} s)"
cfg_pids=()
for n in $NS; do
	tf_config "$n" &
	cfg_pids+=($!)
done
wait "${cfg_pids[@]}"
for n in $NS; do
	cat "$BENCH_TMP/p1.tf.n$n/report"
done
