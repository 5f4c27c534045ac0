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
set +e
make -j2 check "$@"
rc=$?
set -e
if [ $rc != 0 ]; then
	for f in $(grep -l -E '^:test-result: (FAIL|ERROR|XPASS)' $(find tests -name '*.trs') 2>/dev/null); do
		echo "==== ${f%.trs}.log" >&2
		tail -n 40 "${f%.trs}.log" >&2
	done
fi
exit $rc
