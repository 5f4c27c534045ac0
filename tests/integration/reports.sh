#!/bin/bash
# Reports: --report FILE (one JSON document), GitHub Actions step summary,
# outputs and annotations, GitLab's collapsible section around the wait.
. "$top_srcdir/tests/integration/lib.sh"
plan_lazy
rgw_require
bucket=$(new_bucket)
tflock_env "$bucket"
export TFLOCK_KEY=rep/terraform.tfstate
J=$top_builddir/tests/helpers/jsonget

"$TFLOCK" --report "$TEST_TMP/r1.json" -- sh -c 'exit 3' 2>/dev/null
is 3 $? "the command's status passes through"
ok "the report is valid JSON" bash -c "'$J' '$TEST_TMP/r1.json' >/dev/null"
is "s3://$bucket/$TFLOCK_KEY.tflock" "$("$J" "$TEST_TMP/r1.json" lock)" "report: lock"
like "$("$J" "$TEST_TMP/r1.json" id)" '^[0-9a-f-]{36}$' "report: the lock ID"
is "released" "$("$J" "$TEST_TMP/r1.json" outcome_kind)" "report: outcome_kind released"
is 3 "$("$J" "$TEST_TMP/r1.json" child.exit_code)" "report: the command's exit code"
is 3 "$("$J" "$TEST_TMP/r1.json" exit_code)" "report: tflock's exit code"
is true "$("$J" "$TEST_TMP/r1.json" acquired)" "report: acquired"

# waiting behind a holder, on GitHub Actions
"$TFLOCK" -- "$TESTCHILD" --log "$TEST_TMP/h.log" touch="$TEST_TMP/h.run" wait-file="$TEST_TMP/h.go" 2>/dev/null &
h=$!
wait_for "holder" 20 test -e "$TEST_TMP/h.run"
: >"$TEST_TMP/summary"
: >"$TEST_TMP/output"
GITHUB_ACTIONS=true GITHUB_STEP_SUMMARY=$TEST_TMP/summary GITHUB_OUTPUT=$TEST_TMP/output \
	GITHUB_ACTOR=octo GITHUB_REPOSITORY=o/r GITHUB_RUN_ID=99 GITHUB_SERVER_URL=https://github.example \
	"$TFLOCK" --report "$TEST_TMP/r2.json" -- true >"$TEST_TMP/stdout" 2>"$TEST_TMP/stderr" &
w=$!
wait_for "the waiter waits" 20 grep -q "waiting for" "$TEST_TMP/stderr"
touch "$TEST_TMP/h.go"
wait "$w"
is 0 $? "the waiter ran after the holder"
wait "$h"
is 1 "$("$J" "$TEST_TMP/r2.json" holders_seen | grep -o '"who"' | wc -l)" "report: one holder seen while waiting"
ok "report: waited more than zero seconds" awk -v w="$("$J" "$TEST_TMP/r2.json" waited_seconds)" 'BEGIN { exit !(w > 0) }'
# gh_value FILE NAME — an output's value as the runner reads it ("NAME<<DELIM"
# heredocs, which tflock always writes, or "NAME=VALUE")
gh_value() {
	awk -v want="$2" '
		d != "" { if ($0 == d) d = ""; else if (n == want) print; next }
		(i = index($0, "<<")) { n = substr($0, 1, i - 1); d = substr($0, i + 2); next }
		(i = index($0, "=")) && substr($0, 1, i - 1) == want { print substr($0, i + 1) }' "$1"
}
like "$(gh_value "$TEST_TMP/output" lock-id)" "^[0-9a-f-]{36}$" "GITHUB_OUTPUT: lock-id"
is released "$(gh_value "$TEST_TMP/output" outcome)" "GITHUB_OUTPUT: outcome"
like "$(gh_value "$TEST_TMP/output" waited-seconds)" "^[0-9.]+$" "GITHUB_OUTPUT: waited-seconds"
like "$(gh_value "$TEST_TMP/output" held-seconds)" "^[0-9.]+$" "GITHUB_OUTPUT: held-seconds"
like "$(cat "$TEST_TMP/summary")" "\|" "the step summary has a table"
like "$(cat "$TEST_TMP/stdout")" "^::warning" "a warning annotation for the wait"

# GitHub: a lost lock is an ::error:: annotation and outcome lost
export GITHUB_ACTIONS=true GITHUB_STEP_SUMMARY=$TEST_TMP/summary3 GITHUB_OUTPUT=$TEST_TMP/output3
rm -f "$TEST_TMP/l.run"
"$TFLOCK" --lease 20s --report "$TEST_TMP/r3.json" -- "$TESTCHILD" --log "$TEST_TMP/l3.log" tf-like \
	touch="$TEST_TMP/l3.run" wait-file="$TEST_TMP/never" >"$TEST_TMP/stdout3" 2>/dev/null &
h=$!
wait_for "holder 3" 20 test -e "$TEST_TMP/l3.run"
id3=$(awk '/^env TFLOCK_HELD_ID=/ { sub("env TFLOCK_HELD_ID=", ""); print }' "$TEST_TMP/l3.log")
"$TF_LOCKCLIENT" unlock "$bucket" "$TFLOCK_KEY" "$id3" >/dev/null 2>&1
# RGW does not order an unconditional DELETE against a conditional PUT already
# under way: a renewal in flight can put the lock back. Unlock again (as a second
# force-unlock would) until the holder notices, bounded (as stale.sh does).
for i in $(seq 1 50); do
	kill -0 "$h" 2>/dev/null || break
	sleep 0.2
	"$TF_LOCKCLIENT" unlock "$bucket" "$TFLOCK_KEY" "$id3" >/dev/null 2>&1
done
wait "$h"
is 76 $? "a lost lock exits 76"
is lost "$("$J" "$TEST_TMP/r3.json" outcome_kind)" "report: outcome_kind lost"
like "$(gh_value "$TEST_TMP/output3" outcome)" "^LOST" "GITHUB_OUTPUT: outcome says LOST"
like "$(cat "$TEST_TMP/stdout3")" "^::error" "an ::error:: annotation"
unset GITHUB_ACTIONS GITHUB_STEP_SUMMARY GITHUB_OUTPUT

# every exit is reported: a usage error, a store that cannot be used, a refusal,
# a lock held with --no-wait, a cancel while waiting; each with the report file,
# the outputs (outcome-kind one of the documented words) and one annotation
# exit_case NAME WANT-EXIT WANT-KIND WANT-LEVEL [ENV...] -- TFLOCK-ARGS...
exit_case() {
	local name=$1 want=$2 kind=$3 level=$4 rc
	shift 4
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	: >"$TEST_TMP/$name.out"
	: >"$TEST_TMP/$name.summary"
	env GITHUB_ACTIONS=true GITHUB_STEP_SUMMARY="$TEST_TMP/$name.summary" \
		GITHUB_OUTPUT="$TEST_TMP/$name.out" TFLOCK_REPORT="$TEST_TMP/$name.json" "${envs[@]}" \
		"$TFLOCK" "$@" >"$TEST_TMP/$name.stdout" 2>"$TEST_TMP/$name.err"
	rc=$?
	is "$want" "$rc" "$name: exits $want"
	is "$kind" "$(gh_value "$TEST_TMP/$name.out" outcome-kind)" "$name: outcome-kind $kind"
	is "$kind" "$("$J" "$TEST_TMP/$name.json" outcome_kind 2>/dev/null)" "$name: the report file says $kind"
	is "$want" "$("$J" "$TEST_TMP/$name.json" exit_code 2>/dev/null)" "$name: and the exit code"
	is 1 "$(grep -c "^::$level title=tflock%3A " "$TEST_TMP/$name.stdout")" "$name: one ::$level:: annotation"
	like "$(cat "$TEST_TMP/$name.summary")" "\|" "$name: a step summary"
}
exit_case usage 64 usage error -- --lease 1s -- true
like "$(grep '^::error' "$TEST_TMP/usage.stdout")" "lease" "usage: the annotation names what was wrong"
exit_case usage-early 64 usage error -- --no-such-option -- true
exit_case unavailable 69 unavailable error TFLOCK_ENDPOINT=http://127.0.0.1:9 TFLOCK_TIME_SCALE=0.01 -- -- true
(
	cd "$TEST_TMP" && git init -q rep && cd rep && echo x >f && git add f &&
		git -c user.name=t -c user.email=t@e commit -qm x && echo y >>f
) || bail "no repository"
cd "$TEST_TMP/rep" || bail "cd"
exit_case refused 77 refused error -- --git-check on -- true
like "$(grep '^::error' "$TEST_TMP/refused.stdout")" "dirty \(1 path: f\).*--allow-dirty" \
	"refused: the annotation names the cause and the fix"
cd "$TEST_TMP" || bail "cd"
"$TFLOCK" -- "$TESTCHILD" --log "$TEST_TMP/x.log" touch="$TEST_TMP/x.run" wait-file="$TEST_TMP/x.go" 2>/dev/null &
h=$!
wait_for "holder x" 20 test -e "$TEST_TMP/x.run"
exit_case held 75 held error -- --no-wait -- true
like "$(grep '^::error' "$TEST_TMP/held.stdout")" "not acquired: held by" "held: the annotation says by whom"
# a cancel while waiting
: >"$TEST_TMP/cn.out"
GITHUB_ACTIONS=true GITHUB_OUTPUT=$TEST_TMP/cn.out TFLOCK_REPORT=$TEST_TMP/cn.json \
	"$TFLOCK" -- true >"$TEST_TMP/cn.stdout" 2>"$TEST_TMP/cn.err" &
c=$!
wait_for "the waiter waits" 20 grep -q "waiting for" "$TEST_TMP/cn.err"
kill -TERM "$c"
wait "$c"
is 143 $? "cancelled while waiting: 128+SIGTERM"
is cancelled "$(gh_value "$TEST_TMP/cn.out" outcome-kind)" "cancelled: outcome-kind cancelled"
is cancelled "$("$J" "$TEST_TMP/cn.json" outcome_kind 2>/dev/null)" "cancelled: the report file says so"
is 1 "$(grep -c '^::warning title=tflock%3A cancelled' "$TEST_TMP/cn.stdout")" "cancelled: one ::warning:: annotation"
touch "$TEST_TMP/x.go"
wait "$h"

# GitLab: the wait is inside a collapsible section
"$TFLOCK" -- "$TESTCHILD" --log "$TEST_TMP/g.log" touch="$TEST_TMP/g.run" wait-file="$TEST_TMP/g.go" 2>/dev/null &
h=$!
wait_for "holder g" 20 test -e "$TEST_TMP/g.run"
GITLAB_CI=true "$TFLOCK" -- true 2>"$TEST_TMP/gl.err" &
w=$!
wait_for "the waiter waits" 20 grep -q "waiting for" "$TEST_TMP/gl.err"
touch "$TEST_TMP/g.go"
wait "$w"
is 0 $? "GitLab: the waiter ran"
wait "$h"
like "$(cat -v "$TEST_TMP/gl.err")" 'section_start:[0-9]+:tflock_wait\[collapsed=true\]' "GitLab: section start marker"
like "$(cat -v "$TEST_TMP/gl.err")" 'section_end:[0-9]+:tflock_wait' "GitLab: section end marker"
ok "GitLab: the waiting lines are inside the section" bash -c "awk '/section_start/ { s = 1 } /waiting for/ { if (!s) bad = 1 } /section_end/ { e = 1 } END { exit bad || !e }' '$TEST_TMP/gl.err'"
done_testing
