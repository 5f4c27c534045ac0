#!/bin/bash
# run-all.sh — run every tflock benchmark BENCH_REPS times and print, for every
# figure, the median and the spread (min–max over the repetitions) beside its
# baseline and target, as markdown for docs/BENCHMARKS.md (the README has a summary).
#
#   tests/bench/run-all.sh                  5 repetitions (~3.5 min each)
#   BENCH_REPS=3 tests/bench/run-all.sh | tee tests/bench/RESULTS.md
#
# Uses the gateway named by TFLOCK_TEST_S3_ENDPOINT (with TFLOCK_TEST_ACCESS_KEY
# and TFLOCK_TEST_SECRET_KEY) when set; otherwise boots its own with
# tests/helpers/rgw-start in a scratch directory and stops it on exit.
# Needs the build in _build/default (or BENCH_BUILD): tflock and the test
# helpers (cd _build/default && make -s -j2 && make -s -j2 check TESTS=), curl,
# gcc; hyperfine when installed. Loopback only. Progress goes to stderr; the
# report to stdout. BENCH_KEEP=1 keeps the raw figures, logs and every
# benchmark's scratch directory (proxy and event logs) under one path (printed).
# The binaries are copied at the start, so a rebuild meanwhile cannot mix builds.
#
# Per repetition: p1-terraform.sh runs in the background (its clients sleep
# nearly all the time) while p1-handoff.sh and p4-takeover.sh run; then p2, p3
# (alone: it times processes), p5, p6 and p7. Timings are never pass/fail: the verdict
# column only compares the median with the target.
set -u -o pipefail

src=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$src/../.." && pwd)
build=${BENCH_BUILD:-$top/_build/default}
export BENCH_BUILD=$build
REPS=${BENCH_REPS:-5}
case $REPS in '' | *[!0-9]*) echo "run-all: BENCH_REPS must be a number" >&2; exit 64 ;; esac
[ "$REPS" -ge 1 ] && [ "$REPS" -le 100 ] || { echo "run-all: BENCH_REPS must be 1..100" >&2; exit 64; }

for f in tflock tests/helpers/faultproxy tests/helpers/now; do
	[ -x "$build/$f" ] || {
		echo "run-all: $build/$f missing: cd $build && make -s -j2 && make -s -j2 check TESTS=" >&2
		exit 1
	}
done

out=$(mktemp -d "${TMPDIR:-/tmp}/tflock-bench-all.XXXXXX")
# measure a private copy of the binaries: a rebuild during the run (make in
# another shell) must neither break a run nor mix two builds in one report
mkdir -p "$out/build/tests/helpers/tfcompat"
cp "$build/tflock" "$out/build/tflock"
cp "$build/tests/helpers/faultproxy" "$build/tests/helpers/now" "$out/build/tests/helpers/"
[ -x "$build/tests/helpers/tfcompat/tfcompat" ] &&
	cp "$build/tests/helpers/tfcompat/tfcompat" "$out/build/tests/helpers/tfcompat/"
built=$(date -u -r "$build/tflock" +%Y-%m-%dT%H:%M:%SZ)
export BENCH_BUILD=$out/build
unset TFLOCK
if [ -n "${BENCH_KEEP:-}" ]; then
	# the benchmarks' scratch directories (proxy logs, event logs) stay in $out
	mkdir -p "$out/scratch"
	export TMPDIR=$out/scratch
fi
rgw=
cleanup() {
	[ -n "$rgw" ] && "$top/tests/helpers/rgw-stop" "$rgw" >/dev/null 2>&1
	if [ -n "${BENCH_KEEP:-}" ]; then
		echo "run-all: raw figures and logs kept in $out" >&2
	else
		rm -rf "$out"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "${TFLOCK_TEST_S3_ENDPOINT:-}" ]; then
	echo "run-all: booting a local RADOS Gateway in $out/rgw" >&2
	rgw=$out/rgw
	"$top/tests/helpers/rgw-start" "$rgw" >"$out/rgw-start.log" 2>&1 || {
		cat "$out/rgw-start.log" >&2
		exit 1
	}
	# shellcheck disable=SC1091
	. "$rgw/env"
	store="own RADOS Gateway (tests/helpers/rgw-start, memstore)"
else
	store="RADOS Gateway at $TFLOCK_TEST_S3_ENDPOINT"
fi
export TFLOCK_TEST_S3_ENDPOINT TFLOCK_TEST_ACCESS_KEY TFLOCK_TEST_SECRET_KEY
case ${TFLOCK_TEST_S3_ENDPOINT%/} in
http://127.0.0.1:[0-9]*) ;;
*) echo "run-all: loopback only: TFLOCK_TEST_S3_ENDPOINT must be http://127.0.0.1:PORT" >&2; exit 64 ;;
esac

# ---- the machine ----
cpu=$(sed -n 's/^model name[[:space:]]*: *//p' /proc/cpuinfo | head -n 1)
rgwv=$(radosgw --version 2>/dev/null | head -n 1 | sed 's/ (.*//')
hfv=$(command -v hyperfine >/dev/null && hyperfine --version || echo "not installed (own loop)")
commit=$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git -C "$top" status --porcelain -- wrapper 2>/dev/null | grep -q . && echo ", wrapper/ modified" || true)
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
t_start=$SECONDS

# ---- the runs ----
for ((r = 1; r <= REPS; r++)); do
	export BENCH_FIGS=$out/rep$r.figs BENCH_SAMPLES=$out/samples
	log=$out/rep$r.log
	: >"$BENCH_FIGS"
	echo "run-all: repetition $r/$REPS ($((SECONDS - t_start)) s elapsed)" >&2
	"$src/p1-terraform.sh" >"$out/rep$r.tf.log" 2>&1 &
	tfpid=$!
	{
		"$src/p1-handoff.sh"
		"$src/p4-takeover.sh"
	} >"$log" 2>&1
	wait "$tfpid"
	cat "$out/rep$r.tf.log" >>"$log"
	for b in p2-requests p3-overhead p5-throughput p6-dynamodb p7-waiting; do
		"$src/$b.sh" >>"$log" 2>&1
	done
	grep -i 'error\|fail\|unmatched\|NO takeover' "$log" | head -5 | sed 's/^/run-all: rep '"$r"': /' >&2
done
elapsed=$((SECONDS - t_start))
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- aggregation: NAME median min max n ----
cat "$out"/rep*.figs | awk '
	{ v[$1] = v[$1] " " $2; n[$1]++ }
	END { for (k in v) print k, n[k], v[k] }' |
	while read -r name cnt vals; do
		# shellcheck disable=SC2086
		printf '%s %s %s\n' "$name" "$(printf '%s\n' $vals | grep -v nan | sort -g |
			awk '{ a[NR] = $1 } END { if (!NR) { print "nan nan nan"; exit }
				m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
				print m, a[1], a[NR] }')" "$cnt"
	done | sort >"$out/agg"

val() { awk -v k="$1" -v f="${2:-2}" '$1 == k { print $f; found = 1 } END { if (!found) print "nan" }' "$out/agg"; }
# fmt NAME DECIMALS — "median (min–max)"
fmt() {
	local m lo hi
	read -r m lo hi <<<"$(awk -v k="$1" '$1 == k { print $2, $3, $4 }' "$out/agg")"
	[ -n "${m:-}" ] && [ "$m" != nan ] || { echo "n/a"; return; }
	if [ "$REPS" -gt 1 ]; then
		awk -v m="$m" -v a="$lo" -v b="$hi" -v d="$2" 'BEGIN { printf "%.*f (%.*f–%.*f)", d, m, d, a, d, b }'
	else
		awk -v m="$m" -v d="$2" 'BEGIN { printf "%.*f", d, m }'
	fi
}
# verdict_le VALUE TARGET UNIT [MAX] — median against an upper bound
verdict_le() {
	awk -v v="$1" -v t="$2" -v u="$3" -v mx="${4:-}" 'BEGIN {
		if (v == "nan" || t == "nan") { print "n/a"; exit }
		if (v + 0 == t + 0) s = "met"
		else if (v + 0 < t + 0) s = sprintf("met (%.3g%s under)", t - v, u)
		else s = sprintf("**missed** by %.3g%s (+%.0f%%)", v - t, u, (v - t) / t * 100)
		if (mx != "" && mx != "nan" && mx + 0 > t + 0 && v + 0 <= t + 0) s = s sprintf("; max over by %.3g%s", mx - t, u)
		print s }'
}
# verdict_about VALUE TARGET — "~TARGET": within ±25 %
verdict_about() {
	awk -v v="$1" -v t="$2" 'BEGIN {
		if (v == "nan") { print "n/a"; exit }
		d = (v - t) / t * 100
		if (d >= -25 && d <= 25) printf "met (%+.0f%%)\n", d; else printf "**missed** (%+.0f%%)\n", d }'
}


{
	echo "## Benchmarks"
	echo
	echo "Machine: $(nproc) CPUs, ${cpu:-unknown CPU}; Linux $(uname -r) ($(uname -m)); $started; load average $load_start at the start, $load_end at the end (other jobs on the machine widen the spreads, P3 and P5 most)."
	echo "Store: $store${rgwv:+, $rgwv}, loopback. tflock $("$BENCH_BUILD/tflock" --version 2>/dev/null | awk '{ print $2 }') (binary built $built; source tree at commit $commit$dirty); curl $(curl --version | awk 'NR == 1 { print $2 }'); hyperfine: $hfv."
	echo "Command: BENCH_REPS=$REPS tests/bench/run-all.sh. $REPS repetitions, $((elapsed / 60)) min $((elapsed % 60)) s. Each cell: median over the repetitions (min–max). TFLOCK_TIME_SCALE=1 (real durations; the poll curve sets --poll)."
	echo "Round trip through the logging proxy (signed GET, fresh connection): $(fmt p1.rtt_ms 2) ms."
	echo
	echo "| | figure | tflock | baseline | target | verdict (median) |"
	echo "|---|---|---|---|---|---|"
	for n in 1 4 8 32; do
		q=p1.queue.n$n nq=p1.noqueue.n$n
		tfb="; Terraform: $(fmt p1.tf.n$n.p50_ms 0) / $(fmt p1.tf.n$n.p99_ms 0)"
		[ "$n" = 32 ] && tfb=
		echo "| P1 | handoff gap p50 / p99, $n waiter(s), holds ≥ 1 s (ms) | queue: $(fmt $q.p50_ms 0) / $(fmt $q.p99_ms 0) | --no-queue: $(fmt $nq.p50_ms 0) / $(fmt $nq.p99_ms 0)$tfb | p99 ≤ poll + 2 RTT = $(fmt $q.target_p99_ms 0) | queue: $(verdict_le "$(val $q.p99_ms)" "$(val $q.target_p99_ms)" " ms" "$(val $q.p99_ms 4)"); --no-queue: $(verdict_le "$(val $nq.p99_ms)" "$(val $nq.target_p99_ms)" " ms" "$(val $nq.p99_ms 4)") |"
		tfb="; Terraform: $(fmt p1.tf.n$n.reqs 2)"
		[ "$n" = 32 ] && tfb=
		echo "| P1 | requests/s per waiter, $n waiter(s), steady waiting | queue: $(fmt $q.reqs 2) | --no-queue: $(fmt $nq.reqs 2)$tfb | ~4 without the queue | --no-queue: $(verdict_about "$(val $nq.reqs)" 4) |"
		echo "| P1 | requests/s of the whole line while the lock changes hands, $n waiter(s) | queue: $(fmt $q.line_reqs 1) | --no-queue: $(fmt $nq.line_reqs 1) | — | — |"
	done
	for n in 1 8; do
		q=p1.queue.short.n$n nq=p1.noqueue.short.n$n
		echo "| P1 | handoff gap p50 / p99, $n waiter(s), short holds 0.2–0.5 s (ms) | queue: $(fmt $q.p50_ms 0) / $(fmt $q.p99_ms 0) | --no-queue: $(fmt $nq.p50_ms 0) / $(fmt $nq.p99_ms 0) | p99 ≤ $(fmt $q.target_p99_ms 0) | queue: $(verdict_le "$(val $q.p99_ms)" "$(val $q.target_p99_ms)" " ms" "$(val $q.p99_ms 4)"); --no-queue: $(verdict_le "$(val $nq.p99_ms)" "$(val $nq.target_p99_ms)" " ms" "$(val $nq.p99_ms 4)") |"
	done
	for t in p1.queue.rtt20.n4 p1.noqueue.rtt20.n4 p1.queue.xhold.n4; do
		case $t in
		*rtt20*) what="4 waiters, +20 ms a request, holds ≥ 1 s" ;;
		*) what="4 waiters, queue, holds ≥ 6 s (> 20 polls)" ;;
		esac
		echo "| P1 | handoff gap p50 / p99, $what (ms) | ${t#p1.}: $(fmt $t.p50_ms 0) / $(fmt $t.p99_ms 0) | — | p99 ≤ $(fmt $t.target_p99_ms 0) | $(verdict_le "$(val $t.p99_ms)" "$(val $t.target_p99_ms)" " ms" "$(val $t.p99_ms 4)") |"
	done
	echo "| P2 | requests per uncontended cycle on the lock, self-test excluded | $(fmt p2.tflock.without_selftest 0) | Terraform: $(fmt p2.tf.requests 0) | 3 | $(verdict_le "$(val p2.tflock.without_selftest)" 3 "") |"
	echo "| P2 | ... and the queue's listing (PROTOCOL B13) | $(fmt p2.tflock.queue 0) | --no-queue: 0 | — | — |"
	echo "| P2 | requests per \`tflock -- true\` run, self-test included | $(fmt p2.tflock.with_selftest 0) | Terraform: $(fmt p2.tf.requests 0) | 3 | $(verdict_le "$(val p2.tflock.with_selftest)" 3 "") |"
	echo "| P3 | wall time of one lock cycle (ms) | \`tflock -- true\`: $(fmt p3.tflock.wall_ms 1) | curl pair: $(fmt p3.curl.wall_ms 1); \`true\`: $(fmt p3.true.wall_ms 1) | ≤ 1.5× curl pair | see next row |"
	echo "| P3 | tflock / curl pair wall time | $(fmt p3.ratio 2)× | 1× | ≤ 1.5× | $(verdict_le "$(val p3.ratio)" 1.5 "") |"
	echo "| P3 | start-up alone: \`tflock --version\` wall time (ms) / peak RSS (MiB) | $(fmt p3.version.wall_ms 1) / $(fmt p3.version.rss_mib 2) | — | — | — |"
	echo "| P3 | peak RSS (MiB) | $(fmt p3.tflock.rss_mib 2) | curl pair: $(fmt p3.curl.rss_mib 2); \`true\`: $(fmt p3.true.rss_mib 2) | < 8 | $(verdict_le "$(val p3.tflock.rss_mib)" 8 " MiB") |"
	for l in 5 10 20; do
		echo "| P4 | takeover after SIGKILL, lease ${l} s: kill → takeover (s) | $(fmt p4.l$l.kill_to_takeover_s 2) | Terraform: never (force-unlock) | ≤ lease + poll = $(fmt p4.l$l.target_s 2) | $(verdict_le "$(val p4.l$l.kill_to_takeover_s)" "$(val p4.l$l.target_s)" " s" "$(val p4.l$l.kill_to_takeover_s 4)") |"
		echo "| P4 | lease ${l} s: holder's last renewal sent → takeover (s) | $(fmt p4.l$l.renew_to_takeover_s 2) | — | ≥ lease (safety) | $(awk -v v="$(val p4.l$l.renew_to_takeover_s 3)" -v l="$l" 'BEGIN { if (v == "nan") print "n/a"; else if (v + 0 >= l) print "met (min " v " s)"; else print "**VIOLATED** (min " v " s)" }') |"
	done
	echo "| P5 | lock cycles/s, 8 contenders, one key | queue: $(fmt p5.queue.cps 2) | --no-queue: $(fmt p5.noqueue.cps 1); raw curl PUT+DELETE loop: $(fmt p5.curl.cps 1) | — | — |"
	echo "| P5 | least-served contender's share, whole run (1 = fair) | queue: $(fmt p5.queue.min_share 2) | --no-queue: $(fmt p5.noqueue.min_share 2); curl loop: $(fmt p5.curl.min_share 2) | — | — |"
	echo "| P5 | least-served share after the start-up round, whole rounds | queue: $(fmt p5.queue.steady_share 2) | --no-queue: $(fmt p5.noqueue.steady_share 2); curl loop: $(fmt p5.curl.steady_share 2) | ≥ 0.95 with the queue | $(awk -v v="$(val p5.queue.steady_share)" 'BEGIN { if (v == "nan") print "n/a"; else if (v >= 0.95) print "met"; else print "**missed**" }') |"
	echo "| P5 | acquisitions out of joining order (pairs) | queue: $(fmt p5.queue.inversions 0) of $(fmt p5.queue.inversion_pairs 0) | by launch order: queue $(fmt p5.queue.launch_inversions 0) of $(fmt p5.queue.launch_pairs 0), --no-queue $(fmt p5.noqueue.launch_inversions 0) of $(fmt p5.noqueue.launch_pairs 0) | 0 | $(verdict_le "$(val p5.queue.inversions)" 0 "") |"
	for c in file table both; do
		echo "| P6 | $c: requests per \`tflock -- true\` (S3 + DynamoDB, self-tests included) | $(fmt p6.$c.requests.s3 0) + $(fmt p6.$c.requests.dynamodb 0) | — | — | — |"
		echo "| P6 | $c: handoff gap p50 / p99, 4 waiters, holds 1 s (ms) | $(fmt p6.$c.handoff.p50_ms 0) / $(fmt p6.$c.handoff.p99_ms 0) | — | — | — |"
	done
	for n in 1 2 4 8 32; do
		q=p7.queue.n$n v= tg=
		if [ "$n" = 8 ]; then
			tg="≤ 10"
			v="≤ 10: $(verdict_le "$(val $q.total)" 10 " req/s")"
		fi
		if [ "$n" -ge 3 ]; then
			tg="${tg:+$tg; }rest ≤ 0.2 × their --no-queue cost = $(fmt p7.n$n.rest_target 2)"
			v="${v:+$v; }rest: $(verdict_le "$(val $q.rest)" "$(val p7.n$n.rest_target)" " req/s")"
		fi
		echo "| P7 | requests/s of $n waiting tflock(s), long hold (close watchers + rest) | queue: $(fmt $q.total 2) ($(fmt $q.close 2) + $(fmt $q.rest 2)); design $(fmt $q.design 2) | --no-queue: $(fmt p7.noqueue.n$n.total 2) | ${tg:-—} | ${v:-—} |"
	done
	echo
	echo "Poll-interval trade-off (--poll; P1: one queued waiter, short holds; P7: 8 waiters, long hold):"
	echo
	echo "| --poll | measured poll (ms) | handoff p50 (ms) | handoff p99 (ms) | requests/s, 1 waiter | p99 target: poll + 2 RTT | verdict | P7: requests/s of 8 waiters (design) |"
	echo "|---|---|---|---|---|---|---|---|"
	for p in 50 100 250 500 1000; do
		t=p1.curve.p$p w=p7.queue.n8.p$p
		[ $p = 250 ] && t=p1.queue.short.n1 w=p7.queue.n8
		echo "| $p ms | $(fmt $t.poll_ms 0) | $(fmt $t.p50_ms 0) | $(fmt $t.p99_ms 0) | $(fmt $t.reqs 2) | $(fmt $t.target_p99_ms 0) ms | $(verdict_le "$(val $t.p99_ms)" "$(val $t.target_p99_ms)" " ms" "$(val $t.p99_ms 4)") | $(fmt $w.total 2) ($(fmt $w.design 2)) |"
	done
	echo
	echo "Handoff gaps pooled over all repetitions (ms):"
	echo
	echo "| run | handoffs | p50 | p90 | p99 | max |"
	echo "|---|---|---|---|---|---|"
	for s in p1.queue.n1 p1.queue.n4 p1.queue.n8 p1.queue.n32 p1.noqueue.n1 p1.noqueue.n4 p1.noqueue.n8 p1.noqueue.n32 p1.queue.short.n1 p1.queue.short.n8 p1.noqueue.short.n1 p1.noqueue.short.n8 p1.queue.rtt20.n4 p1.noqueue.rtt20.n4 p1.queue.xhold.n4 p1.curve.p50 p1.curve.p100 p1.curve.p500 p1.curve.p1000 p1.tf.n1 p1.tf.n4 p1.tf.n8; do
		f=$out/samples/$s.gaps
		[ -s "$f" ] || continue
		printf '| %s | %d | %.0f | %.0f | %.0f | %.0f |\n' "$s" "$(wc -l <"$f")" \
			"$(sort -g "$f" | awk '{ a[NR] = $1 } END { r = 0.5 * NR; i = int(r); if (i < r) i++; print a[i] }')" \
			"$(sort -g "$f" | awk '{ a[NR] = $1 } END { r = 0.9 * NR; i = int(r); if (i < r) i++; print a[i] }')" \
			"$(sort -g "$f" | awk '{ a[NR] = $1 } END { r = 0.99 * NR; i = int(r); if (i < r) i++; print a[i] }')" \
			"$(sort -g "$f" | tail -n 1)"
	done
	echo
	echo "Notes:"
	echo "- P1: N+1 workers loop on one key, each rejoining only once another holds, so N waiters are waiting at every release (with the queue: the releaser joins at the back). Holds ≥ 1 s = 1 s + U(0, 1.2 × poll); short holds (the setting before the queue) = 0.2 s + U(0, 1.2 × poll); holds ≥ 6 s exceed 20 polls, the pace at which a waiter 3rd or further in line watches its predecessor's ticket (PROTOCOL B13). Gap = the proxy's DELETE log line → the next \`acquired\` event (CLOCK_BOOTTIME). Requests/s per waiter: steady waiting only (every waiter request — lock, listing, tickets, counter — from 1 s after the first holder's acquire and the last join to its release). Line requests/s: every request but the self-tests and the holders' lock writes, from the first release to the last acquire. ~12 handoffs a configuration, so p99 is the maximum. The poll is set with --poll; +20 ms = faultproxy \"ANY * stall 20\"."
	echo "- P1 baseline: Terraform's retry schedule (PUT If-None-Match, GET on failure, then 1, 2, 4, 8, 16, 16 … s) simulated in bash/curl on the same gateway, holds U(2, 20 s), run alongside P1/P4. Its gaps depend on the holds: for holds over ~31 s every Terraform waiter tries once per 16 s (one waiter: gap ≈ U(0, 16 s), p50 ≈ 8 s; 0.125 requests/s)."
	echo "- P2: the self-test (PROTOCOL B6) runs once per process on a scratch key, so a CLI run of \`tflock -- true\` costs it every time. Request sequence of one run: see the detail of repetition 1 below."
	echo "- P3: hyperfine -N median; curl pair = one curl process making the PUT If-None-Match (Terraform-sized body) and the DELETE; tflock also makes the 7 self-test requests, and every write goes on a fresh connection. Peak RSS = ru_maxrss via wait4; \`tflock --version\` shows what loading the shared libraries alone costs (libcurl with its TLS, Kerberos, LDAP and SSH dependencies, libgit2 with its own TLS stack): the curl pair alone peaks above 8 MiB too."
	echo "- P4: real leases (TFLOCK_TIME_SCALE=1), the kill falls at a random phase of the holder's heartbeat (every lease/4), so kill → takeover is lease − (time since the last renewal) + up to two poll intervals (first sight of the last ETag, then the poll that finds the lease over). The detail below also counts the private run directories (tflock-run.*) the SIGKILLed holder leaves behind."
	echo "- P5: 15 s per mode (loops start no cycle after it; with the queue the runs in flight then take another round), straight to the gateway; the curl loop retries at once on 412 and is CPU-bound on this machine. Share after the start-up round: the acquisitions after the first 8, cut to whole rounds of 8 (strict FIFO gives 1). Inversions: pairs of queued runs where the one with the higher position (joined later, while the other waited) acquired first; by launch order (no join without the queue): launched ≥ 250 ms later, before the other acquired."
	echo "- P7: one holder (straight to the gateway) holds while N waiters wait through a logging proxy; window 20 s from 5 s after the last join, configurations of one mode at the same time. Close watchers = the head's polls, the second's watches of the head's ticket (the proxy connection with the most of them) and both their ticket renewals; rest = the other N − 2. Design = PROTOCOL B13's estimate: 4 + Σ over the waiters k = 1 … N − 1 behind the head of 4 / min(k = 1 ? 2 : 6k − 4, 20) + 0.1N + 0.033N + 0.033(N−1) (nominal intervals; the watches are jittered downward by up to 20 %)."
	echo
	echo "<details><summary>Detail of repetition 1</summary>"
	echo
	echo '```'
	cat "$out/rep1.log"
	echo '```'
	echo
	echo "</details>"
}
