#!/bin/bash
# fn-size.sh — no function in wrapper/ is longer than 120 lines or has more
# than 40 branches (tests/helpers/fn-metrics counts both), except the ones
# listed below, each with its reason. A function over a limit and not listed
# fails; a listed one that is now within the limits (or gone) is named in a
# diagnostic: take it off the list.
. "$top_srcdir/tests/integration/lib.sh"
plan_lazy

max_lines=120
max_branches=40

# FILE:FUNCTION REASON — one line each (none today: issue 17 split them all)
exceptions='
'

FN_METRICS=$top_srcdir/tests/helpers/fn-metrics
cd "$top_srcdir" || bail "cannot enter $top_srcdir"
files=$(find wrapper -name '*.c' | LC_ALL=C sort)
[ -n "$files" ] || bail "no C file under $top_srcdir/wrapper"
# shellcheck disable=SC2086
metrics=$("$FN_METRICS" $files)
is 0 $? "fn-metrics reads every file"

# every body that opens in column 0 is measured, under a name
# shellcheck disable=SC2086
is "$(cat $files | grep -c '^{')" "$(printf '%s\n' "$metrics" | grep -c .)" \
	"fn-metrics measured every function ($(printf '%s\n' "$metrics" | grep -c .))"

# its line counts are ctags' (Universal Ctags: end - line + 1)
if ctags --version 2>/dev/null | grep -q 'Universal Ctags'; then
	# shellcheck disable=SC2086
	is "$(ctags --fields=+ne --kinds-C=f -x --_xformat='%N %n %e %F' $files |
		awk '{ print $3 - $2 + 1, $4 ":" $1 }' | LC_ALL=C sort)" \
		"$(printf '%s\n' "$metrics" | awk '{ print $1, $3 }' | LC_ALL=C sort)" \
		"fn-metrics' line counts are ctags' for every function"
else
	skip "Universal Ctags is not installed: fn-metrics' line counts not cross-checked"
fi

reason() { printf '%s\n' "$exceptions" | awk -v k="$1" '$1 == k { sub(/^[^ ]+ +/, ""); print; exit }'; }

offenders=
while read -r lines branches fn; do
	[ "$lines" -gt $max_lines ] || [ "$branches" -gt $max_branches ] || continue
	why=$(reason "$fn")
	if [ -n "$why" ]; then
		diag "excepted: $fn: $lines lines, $branches branches ($why)"
	else
		offenders="$offenders $fn ($lines lines, $branches branches)"
	fi
done <<EOF
$metrics
EOF
is "" "$offenders" \
	"no function in wrapper/ over $max_lines lines or $max_branches branches but the listed exceptions"

# listed, but no longer needed: a nudge to prune the list (not a failure)
printf '%s\n' "$exceptions" | while read -r fn _; do
	[ -n "$fn" ] || continue
	m=$(printf '%s\n' "$metrics" | awk -v k="$fn" '$3 == k')
	if [ -z "$m" ]; then
		diag "exception for $fn: no such function any more; take it off the list"
	else
		# shellcheck disable=SC2086
		set -- $m
		[ "$1" -gt $max_lines ] || [ "$2" -gt $max_branches ] ||
			diag "exception for $fn: now $1 lines, $2 branches; take it off the list"
	fi
done

# the exception list itself: one line each, with a reason
is "" "$(printf '%s\n' "$exceptions" | awk 'NF == 1 || (NF > 1 && $1 !~ /^wrapper\/.*\.c:[A-Za-z_][A-Za-z0-9_]*$/)')" \
	"every exception is FILE:FUNCTION followed by its reason"
done_testing
