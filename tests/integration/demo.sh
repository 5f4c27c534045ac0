#!/bin/bash
# The README's first command, examples/demo.sh, with this build's tflock and the
# suite's gateway: three pipelines started together run one after the other, the
# --no-wait run says 75, the lock is free at the end. With the real terraform
# binary (when this machine has one) the pipelines run real applies; the sample
# command runs either way. The output goes to a file (not a terminal), where the
# line-buffered filters must still show the order.
. "$top_srcdir/tests/integration/lib.sh"
plan_lazy
rgw_require

# demo OUT [ENV...] — run the demo into OUT; its exit code
demo() {
	local out=$1
	shift
	env TFLOCK_DEMO_TFLOCK="$TFLOCK" TFLOCK_DEMO_GATEWAY="$TFLOCK_TEST_RGW_RUN/env" \
		TFLOCK_DEMO_BUCKET="$(new_bucket demo)" "$@" \
		bash "$top_srcdir/examples/demo.sh" >"$out" 2>&1
}

# order OUT — the pipelines' START and END lines, as "JOB START" / "JOB END"
order() {
	sed -n -E 's/^  \[(pipeline-[ABC])\].*apply (START|END)( .*)?$/\1 \2/p' "$1"
}

# check OUT LABEL
check() {
	local out=$1 what=$2 seq pairs
	seq=$(order "$out" | tr '\n' ' ')
	is 6 "$(order "$out" | wc -l)" "$what: three STARTs and three ENDs"
	# each START is followed by the same pipeline's END before any other START
	pairs=$(order "$out" | paste -d' ' - - | awk '$1 == $3 && $2 == "START" && $4 == "END"' | wc -l)
	is 3 "$pairs" "$what: one after the other ($seq)"
	is 3 "$(order "$out" | awk '$2 == "START" { print $1 }' | sort -u | wc -l)" "$what: each pipeline ran once"
	is 3 "$(grep -c -E '^  \[pipeline-[ABC]\] tflock: acquired ' "$out")" "$what: three acquisitions"
	is 3 "$(grep -c -E '^  \[pipeline-[ABC]\] tflock: .* released: ' "$out")" "$what: three releases"
	like "$(cat "$out")" "exit code 75 " "$what: the --no-wait run gives up with 75"
	like "$(tail -n 8 "$out")" "tflock: *$|: free" "$what: the lock is free at the end"
	is 0 "$(grep -c -P '[\x00-\x08\x0b-\x1f\x7f]|##\[|^\s*::' "$out")" "$what: no control byte, no CI command in the output"
	# the filters are line-buffered: when status saw a holder, that holder's
	# 'acquired' line (written before it ran its command) is already in the file
	local holder
	holder=$(sed -n -E 's/^  s3:.*: held by (pipeline-[ABC])@.*/\1/p' "$out" | head -n 1)
	if [ -n "$holder" ]; then
		local a s
		a=$(grep -n -m1 -E "^  \[$holder\] tflock: acquired " "$out" | cut -d: -f1)
		s=$(grep -n -m1 -E '^  s3:.*: held by ' "$out" | cut -d: -f1)
		ok "$what: $holder's 'acquired' (line ${a:-none}) precedes status's view of it (line $s)" \
			test -n "$a" -a "${a:-0}" -lt "$s"
	else
		# no holder seen: then status ran before any acquisition and said the lock was free
		like "$(sed -n '/^== meanwhile: tflock status/,/^== and a fourth run/p' "$out")" \
			'^  s3://[^ ]*: free' "$what: status ran before anyone held the lock and said it was free"
	fi
}

demo "$TEST_TMP/sample.out" TFLOCK_DEMO_SAMPLE=1
is 0 $? "the demo with the sample command exits 0"
like "$(cat "$TEST_TMP/sample.out")" "sample command stands in" "and says the sample command stands in"
check "$TEST_TMP/sample.out" "sample"

if command -v terraform >/dev/null; then
	demo "$TEST_TMP/real.out"
	is 0 $? "the demo with the real terraform exits 0"
	like "$(cat "$TEST_TMP/real.out")" "== Terraform v[0-9]" "and says it runs the real terraform"
	check "$TEST_TMP/real.out" "terraform"
	is 3 "$(grep -c -E '^  \[pipeline-[ABC]\] Apply complete!' "$TEST_TMP/real.out")" "terraform: three applies completed"
	like "$(cat "$TEST_TMP/real.out")" '"serial": 3,' "terraform: the state's serial is 3 (three applies, none lost)"
else
	for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13; do
		skip "no terraform binary on this machine: the demo's real-terraform path is not run"
	done
fi
done_testing
