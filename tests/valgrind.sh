#!/bin/bash
# valgrind.sh BUILDDIR — the unit tests, and the real binary through the basic
# integration test, under valgrind's memcheck: any error or definite leak fails.
# Boots its own gateway for the integration part. Durations are stretched
# (TFLOCK_TEST_TIME_SCALE=5) because valgrind is slow.
set -uo pipefail
b=$(cd "${1:?usage: valgrind.sh BUILDDIR}" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
vg=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
	--show-leak-kinds=definite --track-fds=no)
status=0
for t in "$b"/tests/unit/*; do
	[ -x "$t" ] && [ -f "$t" ] || continue
	case $t in *.o | *.log | *.trs) continue ;; esac
	# TFLOCK_TEST_TIME_SCALE: unit tests with real-time budgets (tests/unit/lock.c's
	# request timeouts) stretch them under valgrind, as the integration run below does
	if TFLOCK_TEST_TIME_SCALE=5 top_srcdir=$src top_builddir=$b "${vg[@]}" "$t" >"$t.vg.log" 2>&1; then
		echo "valgrind: $(basename "$t"): clean"
	else
		echo "valgrind: $(basename "$t"): FAILED (see $t.vg.log)"
		tail -30 "$t.vg.log"
		status=1
	fi
done

run=$b/tests/rgw-run-vg
"$src/tests/helpers/rgw-start" "$run" >"$b/rgw-vg.log" 2>&1 || { cat "$b/rgw-vg.log"; exit 1; }
trap '"$src/tests/helpers/rgw-stop" "$run"' EXIT
. "$run/env"
cat >"$b/tflock-vg" <<SH
#!/bin/sh
exec valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \\
	--show-leak-kinds=definite --log-file="$b/tflock-vg.%p.log" "$b/tflock" "\$@"
SH
chmod +x "$b/tflock-vg"
rm -f "$b"/tflock-vg.*.log
for t in lock-basic; do
	if (cd "$b" && top_srcdir=$src top_builddir=$b TFLOCK=$b/tflock-vg TFLOCK_TEST_RGW_RUN=$run \
		TFLOCK_TEST_TIME_SCALE=5 AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null \
		AWS_SHARED_CREDENTIALS_FILE=/dev/null bash "$src/tests/integration/$t.sh") >"$b/vg-$t.log" 2>&1 &&
		! grep -q '^not ok' "$b/vg-$t.log"; then
		echo "valgrind: tflock through $t.sh: $(grep -c '^ok' "$b/vg-$t.log") checks pass"
	else
		echo "valgrind: tflock through $t.sh: FAILED"
		grep '^not ok' -A3 "$b/vg-$t.log" | head -30
		status=1
	fi
done
bad=$(cat "$b"/tflock-vg.*.log 2>/dev/null | grep -c '==[0-9]*== [A-Z]' || true)
if [ "$bad" != 0 ]; then
	echo "valgrind: memcheck reports in tflock runs:"
	cat "$b"/tflock-vg.*.log | head -60
	status=1
else
	echo "valgrind: no memcheck report in $(ls "$b"/tflock-vg.*.log 2>/dev/null | wc -l) tflock runs"
fi
exit $status
