#!/bin/bash
# run.sh [SECONDS] — fuzz the parsers that read untrusted bytes (S3 error
# replies, lock bodies) with libFuzzer under ASan+UBSan, starting from the
# checked-in seeds (tests/fuzz/corpus/*) and the bad-body corpus
# (tests/corpus/lockinfo). New inputs go to a scratch corpus, not the tree.
# Exit non-zero on any crash, leak or sanitizer report.
set -euo pipefail
secs=${1:-${FUZZ_SECONDS:-20}}
src=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mktemp -d /tmp/tflock-fuzz.XXXXXX)
trap 'rm -rf "$out"' EXIT
cfg=$src/_build/default/ac-config.h
[ -f "$cfg" ] || { echo "fuzz: build _build/default first (tests/run.sh)" >&2; exit 1; }
common=(-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
	-include "$cfg" -I"$src/wrapper" -I"$src/_build/default")
status=0
for target in s3err lockinfo; do
	srcs=("$src/tests/fuzz/fuzz_$target.c" "$src/wrapper/$target.c" "$src/wrapper/buf.c"
		"$src/wrapper/error.c" "$src/wrapper/log.c" "$src/wrapper/sanitize.c"
		"$src/wrapper/clock.c" "$src/wrapper/xml.c" "$src/wrapper/rfc3339.c")
	clang "${common[@]}" "${srcs[@]}" -lcrypto -o "$out/fuzz_$target"
	mkdir -p "$out/corpus_$target"
	seeds=("$src/tests/fuzz/corpus/$target")
	[ "$target" = lockinfo ] && seeds+=("$src/tests/corpus/lockinfo")
	if "$out/fuzz_$target" -max_total_time="$secs" -max_len=70000 -print_final_stats=1 \
		"$out/corpus_$target" "${seeds[@]}" >"$out/$target.log" 2>&1; then
		echo "fuzz $target: $(grep -o 'stat::number_of_executed_units: [0-9]*' "$out/$target.log" | awk '{print $2}') runs in ${secs}s, no crash"
	else
		echo "fuzz $target: FAILED"
		tail -40 "$out/$target.log"
		status=1
	fi
done
exit $status
