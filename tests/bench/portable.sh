#!/bin/bash
# portable.sh — the portable binary's figures for the README: its size, and
# the start-up cost of the static (musl) build beside the dynamic one: the
# median (and p90) wall time of BENCH_PORTABLE_RUNS `tflock --version` starts
# each, timed in this shell with $EPOCHREALTIME around each run (no helper
# process in the measured interval). No store needed.
#
# Environment: BENCH_PORTABLE (the static binary; default: the one `make
# portable` left in BENCH_BUILD/portable/), BENCH_PORTABLE_RUNS (200).
. "$(dirname "$0")/lib.sh"
RUNS=${BENCH_PORTABLE_RUNS:-200}
version=$(sed -n 's/^AC_INIT(\[tflock\], *\[\([^]]*\)\].*/\1/p' "$BENCH_TOP/configure.ac")
STATIC=${BENCH_PORTABLE:-$BENCH_BUILD/portable/tflock-$version-linux-$(uname -m)}
[ -x "$TFLOCK" ] || bench_die "$TFLOCK missing: cd $BENCH_BUILD && make -s -j2"
[ -x "$STATIC" ] || bench_die "$STATIC missing: cd $BENCH_BUILD && make portable (or set BENCH_PORTABLE)"
[ -n "${EPOCHREALTIME:-}" ] || bench_die "bash 5 or newer is needed (\$EPOCHREALTIME)"

# start-up times of `$1 --version`, one per line, in microseconds
starts() {
	local i s e
	for ((i = 0; i < 5; i++)); do "$1" --version >/dev/null; done # warm the page cache
	for ((i = 0; i < RUNS; i++)); do
		s=${EPOCHREALTIME/[.,]/}
		"$1" --version >/dev/null
		e=${EPOCHREALTIME/[.,]/}
		echo $((e - s))
	done
}
ms() { awk '{ printf "%.2f ms", $1 / 1000 }'; }

libs=$(ldd "$TFLOCK" 2>/dev/null | grep -c '=> /')
echo "portable: tflock $version, $(uname -m), $(nproc) CPUs, $RUNS starts each"
[ "$(awk '{ print int($1 + 0.5) }' /proc/loadavg)" -lt "$(nproc)" ] ||
	echo "  (load average $(cut -d' ' -f1 /proc/loadavg): other jobs share the machine, figures are noisy)"
fig "static binary (bytes)" "$(stat -c %s "$STATIC")"
fig "dynamic binary (bytes)" "$(stat -c %s "$TFLOCK") + $libs shared libraries"
starts "$STATIC" >"$BENCH_TMP/static"
starts "$TFLOCK" >"$BENCH_TMP/dynamic"
sample portable-static-us <"$BENCH_TMP/static"
sample portable-dynamic-us <"$BENCH_TMP/dynamic"
fig "static --version p50" "$(pct 50 <"$BENCH_TMP/static" | ms)"
fig "static --version p90" "$(pct 90 <"$BENCH_TMP/static" | ms)"
fig "dynamic --version p50" "$(pct 50 <"$BENCH_TMP/dynamic" | ms)"
fig "dynamic --version p90" "$(pct 90 <"$BENCH_TMP/dynamic" | ms)"
