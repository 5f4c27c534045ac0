#!/bin/bash
# p2-requests.sh — P2: requests one uncontended lock cycle costs, counted at the
# faultproxy. tflock: K runs of `tflock -- true`, one after another; each run
# is a new process, so each also runs the once-per-process store self-test
# (PROTOCOL B6, on a scratch key *.selftest.tflock): figures with and without
# those requests. Baseline: plain Terraform's lock + unlock — the project's
# tests/helpers/tf-lockclient when its tfcompat helper is built, else this
# bench's own curl client (lib.sh tf_*): PUT, then GET + DELETE on unlock.
# Target: 3 requests per uncontended cycle (Terraform's count) on RGW.
#
# Environment: BENCH_P2_RUNS (10), plus lib.sh's.
. "$(dirname "$0")/lib.sh"
bench_require
bucket=${BENCH_BUCKET:-$(new_bucket)}
K=${BENCH_P2_RUNS:-10}

echo "P2 requests per uncontended cycle"
d=$BENCH_TMP/tflock
proxy_start "$d"
key=bench/p2-$RANDOM/terraform.tfstate
for ((i = 0; i < K; i++)); do
	TFLOCK_ENDPOINT=$PX_URL TFLOCK_BUCKET=$bucket TFLOCK_KEY=$key TFLOCK_QUIET=1 \
		"$TFLOCK" -- true 2>>"$d/tflock.err" || echo "run $i failed" >>"$d/errors"
done
proxy_stop
lk="/$bucket/$key.tflock"
total=$(wc -l <"$PX_LOG")
st=$(grep -c '\.selftest\.tflock ' "$PX_LOG")
lock=$(awk -v lk="$lk" '$4 == lk { c++ } END { print c + 0 }' "$PX_LOG")
other=$((total - st - lock))
echo "  tflock: $K runs of 'tflock -- true': $total requests ($st self-test, $lock on the lock, $other other)"
echo "  one run, as the proxy saw it:"
awk -v lk="$lk" '
	$4 == lk || $4 ~ /\.selftest\.tflock$/ {
		n++; k = ($4 == lk) ? "lock    " : "selftest"
		printf "    %2d %-6s %s %-44s %-44s -> %s\n", n, $3, k, $5, $6, substr($9, 8)
		if ($3 == "DELETE" && $4 == lk) exit
	}' "$PX_LOG"
[ -s "$d/errors" ] && sed 's/^/  /' "$d/errors"
fig p2.tflock.with_selftest "$(awk -v a="$((st + lock))" -v k="$K" 'BEGIN { printf "%g", a / k }')"
fig p2.tflock.without_selftest "$(awk -v a="$lock" -v k="$K" 'BEGIN { printf "%g", a / k }')"
# the rest: the queue's listing (PROTOCOL B13: an uncontended run lists the
# queue once, finds it empty and writes no ticket)
fig p2.tflock.queue "$(awk -v a="$other" -v k="$K" 'BEGIN { printf "%g", a / k }')"

# baseline: Terraform
d=$BENCH_TMP/tf
proxy_start "$d"
key=bench/p2-tf-$RANDOM/terraform.tfstate
KT=3
tfcompat=$TFCOMPAT_BIN
if [ -x "$tfcompat" ]; then
	how="tests/helpers/tf-lockclient lock + unlock"
	for ((i = 0; i < KT; i++)); do
		id=$(TFLOCK_TEST_S3_ENDPOINT=$PX_URL TFCOMPAT=$tfcompat \
			"$BENCH_TOP/tests/helpers/tf-lockclient" lock "$bucket" "$key" 2>>"$d/err")
		TFLOCK_TEST_S3_ENDPOINT=$PX_URL TFCOMPAT=$tfcompat \
			"$BENCH_TOP/tests/helpers/tf-lockclient" unlock "$bucket" "$key" "$id" >/dev/null 2>>"$d/err"
	done
else
	how="bench curl client (tfcompat not built)"
	for ((i = 0; i < KT; i++)); do
		tf_body "$d/body" "$bucket" "$key"
		tf_put "$PX_URL/$bucket/$key.tflock" "$d/body" >/dev/null
		tf_unlock "$PX_URL/$bucket/$key.tflock" "$d/info" || echo "unlock failed" >>"$d/err"
	done
fi
proxy_stop
tfreq=$(wc -l <"$PX_LOG")
echo "  Terraform ($how), $KT cycles: $tfreq requests:"
awk '{ n++; if (n <= 3) printf "    %2d %-6s %s -> %s\n", n, $3, $6, substr($9, 8) }' "$PX_LOG"
[ -s "$d/err" ] && sed 's/^/  /' "$d/err"
fig p2.tf.requests "$(awk -v a="$tfreq" -v k="$KT" 'BEGIN { printf "%g", a / k }')"
