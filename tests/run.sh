#!/bin/bash
# run.sh — the whole test suite, from a fresh Debian 12 machine (as root):
# installs what is missing, builds in _build/$BUILD (out of tree), boots the
# local RADOS Gateway once for the run, runs `make check`, stops the gateway.
#
#   tests/run.sh                      default build
#   BUILD=asan CONFIGURE_FLAGS="--enable-asan --enable-ubsan" tests/run.sh
#   TFLOCK_TEST_TIME_SCALE=4 tests/run.sh   stretch every test duration (slow machines)
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)

tests/install-deps.sh
[ -x configure ] || ./bootstrap >/dev/null

build=${BUILD:-default}
b=$src/_build/$build
mkdir -p "$b"
cd "$b"
if [ ! -f Makefile ] || [ "$src/configure" -nt Makefile ]; then
	# shellcheck disable=SC2086
	"$src/configure" -q ${CONFIGURE_FLAGS:-}
fi
make -s -j2 >/dev/null

run=$b/tests/rgw-run
"$src/tests/helpers/rgw-start" "$run" >"$b/rgw-start.log" 2>&1 || {
	cat "$b/rgw-start.log" >&2
	echo "run.sh: the local RADOS Gateway did not start: read $b/rgw-start.log and $run/log/" >&2
	exit 1
}
trap '"$src/tests/helpers/rgw-stop" "$run"' EXIT
# shellcheck disable=SC1091
. "$run/env"
export TFLOCK_TEST_RGW_RUN=$run
# the DynamoDB test server (dynalite), once for the run
ddb=$b/tests/ddb-run
"$src/tests/helpers/ddb-start" "$ddb" >"$b/ddb-start.log" 2>&1 || {
	cat "$b/ddb-start.log" >&2
	echo "run.sh: dynalite did not start: read $b/ddb-start.log and $ddb/log" >&2
	exit 1
}
trap '"$src/tests/helpers/rgw-stop" "$run"; "$src/tests/helpers/ddb-stop" "$ddb"' EXIT
export TFLOCK_TEST_DDB_RUN=$ddb
# make check's output (a line per check, thousands) goes to a log; what is
# shown is what needs a look — failures and skips with their reasons — and a
# summary at the end
log=$b/check.log
echo "run.sh: make check in $b (a quarter of an hour on 2 cores; every line: tail -f $log)"
set +e
make -j2 check "$@" 2>&1 | tee "$log" | grep --line-buffered -E '^(FAIL|ERROR|XPASS|SKIP):'
rc=${PIPESTATUS[0]}
set -e
trs=$(find tests -name '*.trs' 2>/dev/null)
scripts=0 pass=0 fail=0 skip=0 bad=()
for f in $trs; do
	scripts=$((scripts + 1))
	# (grep -c exits 1 when it counts 0: not a failure here)
	p=$(grep -c -E '^:test-result: (PASS|XFAIL)' "$f" || true)
	s=$(grep -c -E '^:test-result: SKIP' "$f" || true)
	n=$(grep -c -E '^:test-result: (FAIL|ERROR|XPASS)' "$f" || true)
	pass=$((pass + p)) skip=$((skip + s)) fail=$((fail + n))
	[ "$n" = 0 ] || bad+=("${f%.trs}.log")
done
for f in "${bad[@]}"; do
	echo "==== $b/$f (last 40 lines)" >&2
	tail -n 40 "$f" >&2
done
echo "run.sh: $scripts test programs, $((pass + fail + skip)) checks: $pass passed, $fail failed, $skip skipped${bad[0]:+; failing: ${bad[*]}}"
echo "run.sh: make check exited $rc; the whole output is in $log"
exit $rc
