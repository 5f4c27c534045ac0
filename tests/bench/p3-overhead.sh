#!/bin/bash
# p3-overhead.sh — P3: what wrapping costs. Wall time and peak RSS of
# `tflock -- true` (uncontended, straight to the store: no proxy), beside
#   - the same two signed requests made by one curl process: PUT If-None-Match: *
#     with a Terraform-sized lock body, then DELETE (--aws-sigv4, with the
#     x-amz-content-sha256 header), from a curl config file (-K);
#   - bare `true`;
#   - `tflock --version`: start-up alone (loading libcurl's and libgit2's
#     shared-library trees), no request.
# Wall time: hyperfine (-N, no shell; warm-up 3, BENCH_P3_RUNS runs, median)
# when installed, else this script's own loop with the rusage helper. Peak RSS:
# ru_maxrss from wait4(), by rusage.c (compiled here with gcc), median of
# BENCH_P3_RSS_RUNS runs. Every tflock run also does the store self-test
# (PROTOCOL B6: 7 requests, once per process), so it makes 10 requests to
# curl's 2. Targets: wall time <= 1.5x the curl pair; peak RSS < 8 MB.
#
# Environment: BENCH_P3_RUNS (40), BENCH_P3_RSS_RUNS (10), BENCH_NO_HYPERFINE=1.
. "$(dirname "$0")/lib.sh"
bench_require
bucket=${BENCH_BUCKET:-$(new_bucket)}
RUNS=${BENCH_P3_RUNS:-40}
RSS_RUNS=${BENCH_P3_RSS_RUNS:-10}
d=$BENCH_TMP

command -v gcc >/dev/null || bench_die "gcc not found (needed for rusage.c)"
gcc -O2 -o "$d/rusage" "$BENCH_SRC/rusage.c" || bench_die "cannot compile rusage.c"

key=bench/p3-$RANDOM/terraform.tfstate
export TFLOCK_ENDPOINT=$BENCH_ENDPOINT TFLOCK_BUCKET=$bucket TFLOCK_KEY=$key
tf_body "$d/body" "$bucket" "$key-curl"
umask 077
# pair_conf EXTRA — curl config for the pair; EXTRA is added to both requests
pair_conf() {
	local m
	for m in PUT DELETE; do
		[ $m = DELETE ] && echo next
		printf '%s\n' silent 'output = "/dev/null"' 'aws-sigv4 = "aws:amz:us-east-1:s3"' \
			"user = \"$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY\"" "request = \"$m\""
		if [ $m = PUT ]; then
			printf '%s\n' "header = \"x-amz-content-sha256: $TF_SHA\"" 'header = "If-None-Match: *"' \
				'header = "Content-Type: application/json"' "data-binary = \"@$d/body\""
		else
			printf '%s\n' "header = \"x-amz-content-sha256: $EMPTY_SHA\""
		fi
		printf '%s\n' "url = \"$BENCH_ENDPOINT/$bucket/$key-curl.tflock\"" "$1"
	done
}
pair_conf "" >"$d/pair.conf"
# sanity: the pair really locks (200) and unlocks (204)
pair_conf 'write-out = "%{http_code}"' >"$d/pair-check.conf"
check=$(curl -K "$d/pair-check.conf")
[ "$check" = 200204 ] || bench_die "curl pair answered '$check', not 200 then 204"
"$TFLOCK" -q -- true || bench_die "tflock -- true failed"

echo "P3 wrapper overhead (uncontended, direct to the store)"
true_bin=$(command -v true)
[ "$true_bin" = true ] && true_bin=/bin/true
names=(tflock curl true version)
cmds=("$TFLOCK -q -- $true_bin" "curl -K $d/pair.conf" "$true_bin" "$TFLOCK --version")
if command -v hyperfine >/dev/null && [ -z "${BENCH_NO_HYPERFINE:-}" ]; then
	echo "  wall time by $(hyperfine --version), $RUNS runs each"
	hyperfine -N --style basic --warmup 3 --runs "$RUNS" --export-csv "$d/hf.csv" "${cmds[@]}" \
		>"$d/hf.out" 2>&1 || { cat "$d/hf.out"; bench_die "hyperfine failed"; }
	sed -n '/Time\|Range\|Benchmark/p' "$d/hf.out" | sed 's/^/  /'
	# command,mean,stddev,median,user,system,min,max (seconds)
	for i in 0 1 2 3; do
		wall[i]=$(awk -F, -v r=$((i + 2)) 'NR == r { printf "%.2f", $4 * 1000 }' "$d/hf.csv")
	done
else
	echo "  wall time by this script's loop, $RUNS runs each (median)"
	for i in 0 1 2 3; do
		: >"$d/wall.$i"
		# shellcheck disable=SC2086
		for ((k = 0; k < RUNS + 3; k++)); do "$d/rusage" "$d/wall.$i" ${cmds[i]} >/dev/null; done
		wall[i]=$(tail -n "$RUNS" "$d/wall.$i" | awk '{ print $1 }' | pct 50)
	done
fi
for i in 0 1 2 3; do
	: >"$d/rss.$i"
	# shellcheck disable=SC2086
	for ((k = 0; k < RSS_RUNS; k++)); do "$d/rusage" "$d/rss.$i" ${cmds[i]} >/dev/null; done
	rss[i]=$(awk '{ printf "%.2f\n", $2 / 1024 }' "$d/rss.$i" | pct 50)
	printf '  %-7s wall %8s ms (median)   peak RSS %6s MiB (median of %d; range %s..%s)\n' "${names[i]}" \
		"${wall[i]}" "${rss[i]}" "$RSS_RUNS" "$(awk '{ printf "%.2f\n", $2 / 1024 }' "$d/rss.$i" | pct 0)" \
		"$(awk '{ printf "%.2f\n", $2 / 1024 }' "$d/rss.$i" | pct 100)"
done
fig p3.tflock.wall_ms "${wall[0]}"
fig p3.curl.wall_ms "${wall[1]}"
fig p3.true.wall_ms "${wall[2]}"
fig p3.ratio "$(awk -v a="${wall[0]}" -v b="${wall[1]}" 'BEGIN { printf "%.2f", a / b }')"
fig p3.tflock.rss_mib "${rss[0]}"
fig p3.curl.rss_mib "${rss[1]}"
fig p3.true.rss_mib "${rss[2]}"
fig p3.version.wall_ms "${wall[3]}"
fig p3.version.rss_mib "${rss[3]}"
