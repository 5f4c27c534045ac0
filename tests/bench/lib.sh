# lib.sh — helpers shared by the tflock benchmarks. Source it from a benchmark.
#
# Environment (all optional except the store):
#   TFLOCK_TEST_S3_ENDPOINT, TFLOCK_TEST_ACCESS_KEY, TFLOCK_TEST_SECRET_KEY
#                    the local S3 server (must be http://127.0.0.1:PORT)
#   BENCH_BUILD      build directory (default: _build/default of this tree)
#   BENCH_BUCKET     bucket to use (default: a fresh one per script)
#   BENCH_FIGS       file the figures are appended to, one "NAME VALUE" a line
#   BENCH_SAMPLES    directory raw samples are appended to (one file per NAME)
#   BENCH_KEEP=1     keep the scratch directory (printed) for inspection
#
# Helpers:
#   bench_require            check binaries and store; export the AWS keys
#   new_bucket               create a bucket, print its name
#   s3 METHOD PATH [ARGS]    signed request to the store, prints the HTTP status
#   proxy_start DIR          faultproxy (no faults) in front of the store; sets
#                            PX_URL, PX_LOG, PX_PID
#   proxy_stop               stop the last proxy started
#   tf_* functions           a Terraform S3-backend client in curl (PROTOCOL A3)
#   pct P                    nearest-rank percentile of the numbers on stdin
#   fig NAME VALUE           record a figure; sample NAME records stdin values
set -u -o pipefail

BENCH_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_TOP=$(cd "$BENCH_SRC/../.." && pwd)
BENCH_BUILD=${BENCH_BUILD:-$BENCH_TOP/_build/default}
TFLOCK=${TFLOCK:-$BENCH_BUILD/tflock}
FAULTPROXY=$BENCH_BUILD/tests/helpers/faultproxy
NOW=$BENCH_BUILD/tests/helpers/now
TFCOMPAT_BIN=$BENCH_BUILD/tests/helpers/tfcompat/tfcompat
EMPTY_SHA=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
bench_name=$(basename "$0" .sh)

bench_die() {
	printf '%s: %s\n' "$bench_name" "$*" >&2
	exit 1
}

BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/tflock-$bench_name.XXXXXX") || bench_die "no scratch directory"
BENCH_PIDS=()
bench_cleanup() {
	local p
	for p in "${BENCH_PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	if [ -n "${BENCH_KEEP:-}" ]; then
		[ -t 2 ] && printf '%s: scratch kept in %s\n' "$bench_name" "$BENCH_TMP" >&2
	else
		rm -rf "$BENCH_TMP"
	fi
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM
# run from a scratch directory: no Terraform configuration or git repository
# around that tflock might read
cd "$BENCH_TMP" || bench_die "cannot enter $BENCH_TMP"

bench_require() {
	local f
	for f in "$TFLOCK" "$FAULTPROXY" "$NOW"; do
		[ -x "$f" ] || bench_die "$f missing: cd $BENCH_BUILD && make -s -j2 && make -s -j2 check TESTS="
	done
	command -v curl >/dev/null || bench_die "curl not found"
	: "${TFLOCK_TEST_S3_ENDPOINT:?set TFLOCK_TEST_S3_ENDPOINT (or use run-all.sh, which boots a gateway)}"
	: "${TFLOCK_TEST_ACCESS_KEY:?}" "${TFLOCK_TEST_SECRET_KEY:?}"
	BENCH_ENDPOINT=${TFLOCK_TEST_S3_ENDPOINT%/}
	case $BENCH_ENDPOINT in
	http://127.0.0.1:[0-9]*) ;;
	*) bench_die "loopback only: TFLOCK_TEST_S3_ENDPOINT must be http://127.0.0.1:PORT" ;;
	esac
	# nothing may leave the machine: no HTTP proxy from the environment, no
	# profile or endpoint from the user's AWS configuration
	unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
	export NO_PROXY='*' no_proxy='*'
	unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 AWS_REGION AWS_DEFAULT_REGION
	export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
	local v
	for v in $(env | sed -n 's/^\(TFLOCK_[A-Z_]*\)=.*/\1/p'); do
		case $v in TFLOCK_TEST_*) ;; *) unset "$v" ;; esac
	done
	export AWS_ACCESS_KEY_ID=$TFLOCK_TEST_ACCESS_KEY
	export AWS_SECRET_ACCESS_KEY=$TFLOCK_TEST_SECRET_KEY
}

now_ns() { "$NOW"; }

# s3 METHOD PATH [curl args] — signed, empty body; prints the HTTP status
s3() {
	local m=$1 p=$2
	shift 2
	curl -s -o /dev/null -w '%{http_code}' --max-time 20 -X "$m" \
		--aws-sigv4 "aws:amz:us-east-1:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
		-H "x-amz-content-sha256: $EMPTY_SHA" "$@" "$BENCH_ENDPOINT$p"
}

new_bucket() {
	local name st
	name=tflock-bench-$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
	st=$(s3 PUT "/$name")
	[ "$st" = 200 ] || bench_die "cannot create bucket $name (HTTP $st)"
	printf '%s\n' "$name"
}

proxy_start() {
	local d=$1 i
	mkdir -p "$d"
	PX_LOG=$d/proxy.log
	: >"$d/proxy.rules"
	rm -f "$d/proxy.port"
	"$FAULTPROXY" --upstream "$BENCH_ENDPOINT" --port-file "$d/proxy.port" --log "$PX_LOG" \
		--rules "$d/proxy.rules" --idle-exit 900 2>"$d/proxy.err" &
	PX_PID=$!
	BENCH_PIDS+=("$PX_PID")
	for ((i = 0; i < 200; i++)); do
		[ -s "$d/proxy.port" ] && break
		sleep 0.02
	done
	[ -s "$d/proxy.port" ] || bench_die "faultproxy did not start: $(cat "$d/proxy.err")"
	PX_URL=http://127.0.0.1:$(cat "$d/proxy.port")
}

proxy_stop() {
	kill "$PX_PID" 2>/dev/null
	wait "$PX_PID" 2>/dev/null
	return 0
}

# rtt_ms URL BUCKET — median round trip (ms) of a signed GET of a missing key through
# URL, each on a fresh connection as tflock's writes are (curl's time_total)
rtt_ms() {
	local url=$1 bucket=$2 i
	for ((i = 0; i < 21; i++)); do
		curl -s -o /dev/null -w '%{time_total}\n' --max-time 10 \
			--aws-sigv4 "aws:amz:us-east-1:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
			-H "x-amz-content-sha256: $EMPTY_SHA" "$url/$bucket/bench-rtt-missing-key"
	done | awk '{ printf "%.3f\n", $1 * 1000 }' | pct 50
}

# ---- a Terraform S3-backend client (PROTOCOL.md A2/A3), written for the bench ----

# tf_body FILE BUCKET KEY — a Terraform lock body with a fresh ID; sets TF_ID,
# TF_SHA (hex payload hash) and TF_CKSUM (base64 SHA-256 for the checksum header)
tf_body() {
	local f=$1 hex
	hex=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
	TF_ID=${hex:0:8}-${hex:8:4}-${hex:12:4}-${hex:16:4}-${hex:20:12}
	printf '{"ID":"%s","Operation":"OperationTypeApply","Info":"","Who":"bench@localhost","Version":"1.11.4","Created":"%s","Path":"%s/%s"}' \
		"$TF_ID" "$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)" "$2" "$3" >"$f"
	TF_SHA=$(sha256sum "$f" | cut -c1-64)
	# shellcheck disable=SC2059
	TF_CKSUM=$(printf "$(printf '%s' "$TF_SHA" | sed 's/../\\x&/g')" | base64)
}

# tf_put URL FILE — Terraform's lock: one conditional PutObject; prints status
tf_put() {
	curl -s -o /dev/null -w '%{http_code}' --max-time 20 --connect-timeout 5 -X PUT \
		--aws-sigv4 "aws:amz:us-east-1:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
		-H "x-amz-content-sha256: $TF_SHA" -H "If-None-Match: *" -H "Content-Type: application/json" \
		-H "x-amz-sdk-checksum-algorithm: SHA256" -H "x-amz-checksum-sha256: $TF_CKSUM" \
		--data-binary "@$2" "$1"
}

# tf_get URL OUT — GetObject of the lock (Terraform reads it for the error
# message after a failed PUT, and before unlocking); prints status
tf_get() {
	curl -s -o "$2" -w '%{http_code}' --max-time 20 --connect-timeout 5 \
		--aws-sigv4 "aws:amz:us-east-1:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
		-H "x-amz-content-sha256: $EMPTY_SHA" "$1"
}

tf_delete() {
	curl -s -o /dev/null -w '%{http_code}' --max-time 20 --connect-timeout 5 -X DELETE \
		--aws-sigv4 "aws:amz:us-east-1:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
		-H "x-amz-content-sha256: $EMPTY_SHA" "$1"
}

# tf_unlock URL SCRATCH — Terraform's Unlock: GET, compare the ID, DELETE
tf_unlock() {
	local st
	st=$(tf_get "$1" "$2")
	[ "$st" = 200 ] && grep -q "\"ID\":\"$TF_ID\"" "$2" || return 1
	st=$(tf_delete "$1")
	case $st in 2??) return 0 ;; esac
	return 1
}

# ---- statistics and recording ----

# pct P — nearest-rank P-th percentile of the numbers on stdin (nothing if none)
pct() {
	sort -g | awk -v p="$1" '{ v[NR] = $1 }
		END { if (!NR) exit; r = p * NR / 100; i = int(r); if (i < r) i++; if (i < 1) i = 1; print v[i] }'
}

fig() {
	printf '  %-34s %s\n' "$1" "$2"
	[ -n "${BENCH_FIGS:-}" ] && printf '%s %s\n' "$1" "$2" >>"$BENCH_FIGS"
	return 0
}

sample() {
	if [ -n "${BENCH_SAMPLES:-}" ]; then
		mkdir -p "$BENCH_SAMPLES"
		cat >>"$BENCH_SAMPLES/$1"
	else
		cat >/dev/null
	fi
}

# sleep_ms MS — sleep that a trapped signal interrupts (sleep in the background, wait)
sleep_ms() {
	sleep "$(awk -v m="$1" 'BEGIN { printf "%.3f", m / 1000 }')" &
	BENCH_SLEEP=$!
	wait "$BENCH_SLEEP"
}
