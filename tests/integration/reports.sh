#!/bin/bash
# Reports: --report FILE (one JSON document), GitHub Actions step summary,
# outputs and annotations, GitLab's collapsible section around the wait and
# its section for every outcome but a plain success.
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
# gl_outcome FILE — tflock's GitLab outcome sections in FILE (its stderr), one
# line each, tab-separated: KIND, "collapsed" or "open", the title, the two body
# lines, then "end" when the matching section_end follows them. The wait's own
# section (tflock_wait) is left out.
gl_outcome() {
	local lines i re_s re_e kind coll title end
	mapfile -t lines <"$1"
	re_s=$'^\e\\[0Ksection_start:[0-9]+:tflock_([a-z-]+)(\\[collapsed=true\\])?\r\e\\[0K(.*)$'
	for ((i = 0; i < ${#lines[@]}; i++)); do
		[[ ${lines[i]} =~ $re_s ]] || continue
		kind=${BASH_REMATCH[1]} coll=${BASH_REMATCH[2]:+collapsed} title=${BASH_REMATCH[3]}
		[ "$kind" = wait ] && continue
		re_e=$'^\e\\[0Ksection_end:[0-9]+:tflock_'"$kind"$'\r\e\\[0K$'
		end=no-end
		[[ ${lines[i + 3]:-} =~ $re_e ]] && end=end
		printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$kind" "${coll:-open}" "$title" \
			"${lines[i + 1]:-}" "${lines[i + 2]:-}" "$end"
	done
}
# gl_check FILE NAME WANT-EXIT KIND TITLE FIX-PATTERN — FILE (tflock's stderr)
# holds exactly one outcome section, open for an error, collapsed for a cancel:
# the title naming the cause, the outcome ending in the exit code, then the fix
gl_check() {
	local f=$1 name=$2 want=$3 kind=$4 title=$5 fix=$6 out coll=open
	[ "$kind" = cancelled ] && coll=collapsed
	out=$(gl_outcome "$f")
	is 1 "$(printf '%s' "$out" | grep -c .)" "$name on GitLab: one outcome section"
	is "$kind	$coll	$title" "$(printf '%s' "$out" | cut -f1-3)" \
		"$name on GitLab: the section ($coll) names the cause"
	like "$(printf '%s' "$out" | cut -f4)" "\(exit $want\)$" "$name on GitLab: the outcome and exit code"
	like "$(printf '%s' "$out" | cut -f5)" "^Fix: $fix" "$name on GitLab: the fix"
	is end "$(printf '%s' "$out" | cut -f6)" "$name on GitLab: the section ends after the fix"
}
# gl_case NAME WANT-EXIT KIND TITLE FIX-PATTERN [ENV...] -- TFLOCK-ARGS... — as
# exit_case below, on GitLab CI alone (no report file, no GitHub): still reported
gl_case() {
	local name=$1 want=$2 kind=$3 title=$4 fix=$5
	shift 5
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	env -u TFLOCK_REPORT -u GITHUB_ACTIONS GITLAB_CI=true "${envs[@]}" \
		"$TFLOCK" "$@" >"$TEST_TMP/$name.gl.out" 2>"$TEST_TMP/$name.gl.err"
	is "$want" "$?" "$name on GitLab: exits $want"
	gl_check "$TEST_TMP/$name.gl.err" "$name" "$want" "$kind" "$title" "$fix"
	is "" "$(cat "$TEST_TMP/$name.gl.out")" "$name on GitLab: nothing on stdout"
}
like "$(gh_value "$TEST_TMP/output" lock-id)" "^[0-9a-f-]{36}$" "GITHUB_OUTPUT: lock-id"
is released "$(gh_value "$TEST_TMP/output" outcome)" "GITHUB_OUTPUT: outcome"
like "$(gh_value "$TEST_TMP/output" waited-seconds)" "^[0-9.]+$" "GITHUB_OUTPUT: waited-seconds"
like "$(gh_value "$TEST_TMP/output" held-seconds)" "^[0-9.]+$" "GITHUB_OUTPUT: held-seconds"
like "$(cat "$TEST_TMP/summary")" "\|" "the step summary has a table"
like "$(cat "$TEST_TMP/stdout")" "^::warning" "a warning annotation for the wait"

# lose NAME [ENV...] — a holder run under ENV whose lock is force-unlocked under
# it; its stdout in NAME.stdout, stderr in NAME.err, its exit status in $lost_rc
lose() {
	local name=$1 h id i
	shift
	env "$@" "$TFLOCK" --lease 20s -- "$TESTCHILD" --log "$TEST_TMP/$name.log" tf-like \
		touch="$TEST_TMP/$name.run" wait-file="$TEST_TMP/never" \
		>"$TEST_TMP/$name.stdout" 2>"$TEST_TMP/$name.err" &
	h=$!
	wait_for "holder $name" 20 test -e "$TEST_TMP/$name.run"
	id=$(awk '/^env TFLOCK_HELD_ID=/ { sub("env TFLOCK_HELD_ID=", ""); print }' "$TEST_TMP/$name.log")
	tf_force_unlock "$bucket" "$TFLOCK_KEY" "$id" >/dev/null 2>&1
	# RGW does not order an unconditional DELETE against a conditional PUT already
	# under way: a renewal in flight can put the lock back. Unlock again (as a second
	# force-unlock would) until the holder notices, bounded (as stale.sh does).
	for i in $(seq 1 50); do
		kill -0 "$h" 2>/dev/null || break
		sleep 0.2
		tf_force_unlock "$bucket" "$TFLOCK_KEY" "$id" >/dev/null 2>&1
	done
	wait "$h"
	lost_rc=$?
}

# GitHub: a lost lock is an ::error:: annotation and outcome lost
lose l3 GITHUB_ACTIONS=true GITHUB_STEP_SUMMARY="$TEST_TMP/summary3" \
	GITHUB_OUTPUT="$TEST_TMP/output3" TFLOCK_REPORT="$TEST_TMP/r3.json"
is 76 "$lost_rc" "a lost lock exits 76"
is lost "$("$J" "$TEST_TMP/r3.json" outcome_kind)" "report: outcome_kind lost"
like "$(gh_value "$TEST_TMP/output3" outcome)" "^LOST" "GITHUB_OUTPUT: outcome says LOST"
like "$(cat "$TEST_TMP/l3.stdout")" "^::error" "an ::error:: annotation"
like "$(cat "$TEST_TMP/l3.stdout")" "%0AFix: the command may have stopped halfway" \
	"the annotation ends in the fix"
# GitLab: the same, as an open log section
lose gl-lost GITLAB_CI=true
is 76 "$lost_rc" "lost on GitLab: exits 76"
gl_check "$TEST_TMP/gl-lost.err" lost 76 lost "tflock: lock lost" "the command may have stopped halfway"

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
	like "$(grep "^::$level title=tflock%3A " "$TEST_TMP/$name.stdout")" "\(exit $want\)%0AFix: [a-z]" \
		"$name: the annotation ends in the fix"
	like "$(cat "$TEST_TMP/$name.summary")" "\|" "$name: a step summary"
}
exit_case usage 64 usage error -- --lease 1s -- true
like "$(grep '^::error' "$TEST_TMP/usage.stdout")" "lease" "usage: the annotation names what was wrong"
gl_case usage 64 usage "tflock: usage or configuration error" "correct the option" -- --lease 1s -- true
exit_case usage-early 64 usage error -- --no-such-option -- true
gl_case usage-early 64 usage "tflock: usage or configuration error" "correct the option" -- --no-such-option -- true
exit_case unavailable 69 unavailable error TFLOCK_ENDPOINT=http://127.0.0.1:9 TFLOCK_TIME_SCALE=0.01 -- -- true
gl_case unavailable 69 unavailable "tflock: the store is unusable" "run tflock doctor" \
	TFLOCK_ENDPOINT=http://127.0.0.1:9 TFLOCK_TIME_SCALE=0.01 -- -- true
(
	cd "$TEST_TMP" && git init -q rep && cd rep && echo x >f && git add f &&
		git -c user.name=t -c user.email=t@e commit -qm x && echo y >>f
) || bail "no repository"
cd "$TEST_TMP/rep" || bail "cd"
exit_case refused 77 refused error -- --git-check on -- true
like "$(grep '^::error' "$TEST_TMP/refused.stdout")" "dirty \(1 path: f\).*--allow-dirty" \
	"refused: the annotation names the cause and the fix"
gl_case refused 77 refused "tflock: refused by the pre-apply check" "commit the changes" -- --git-check on -- true
like "$(gl_outcome "$TEST_TMP/refused.gl.err" | cut -f4)" "dirty \(1 path: f\)" \
	"refused on GitLab: the outcome names the cause"
cd "$TEST_TMP" || bail "cd"
"$TFLOCK" -- "$TESTCHILD" --log "$TEST_TMP/x.log" touch="$TEST_TMP/x.run" wait-file="$TEST_TMP/x.go" 2>/dev/null &
h=$!
wait_for "holder x" 20 test -e "$TEST_TMP/x.run"
exit_case held 75 held error -- --no-wait -- true
like "$(grep '^::error' "$TEST_TMP/held.stdout")" "not acquired: held by" "held: the annotation says by whom"
gl_case held 75 held "tflock: not acquired, the lock is held" "wait longer" -- --no-wait -- true
like "$(gl_outcome "$TEST_TMP/held.gl.err" | cut -f4)" "not acquired: held by" "held on GitLab: the outcome says by whom"
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
like "$(cat "$TEST_TMP/cn.stdout")" "%0AFix: nothing to clean up" "cancelled: the annotation ends in the fix"
# the same on GitLab: a collapsed section, after the wait's own has ended
GITLAB_CI=true "$TFLOCK" -- true >"$TEST_TMP/cn.gl.out" 2>"$TEST_TMP/cn.gl.err" &
c=$!
wait_for "the GitLab waiter waits" 20 grep -q "waiting for" "$TEST_TMP/cn.gl.err"
kill -TERM "$c"
wait "$c"
is 143 $? "cancelled on GitLab: 128+SIGTERM"
gl_check "$TEST_TMP/cn.gl.err" cancelled 143 cancelled "tflock: cancelled before the command ran" \
	"nothing to clean up"
ok "cancelled on GitLab: the wait's section ends before the outcome's starts" \
	awk '/section_end:[0-9]+:tflock_wait/ { e = NR } /section_start:[0-9]+:tflock_cancelled/ { s = NR }
		END { exit !(e && s > e) }' "$TEST_TMP/cn.gl.err"
touch "$TEST_TMP/x.go"
wait "$h"

# a release that fails (the store answers 500 to every DELETE of these locks)
proxy_start
proxy_rules "DELETE rf1/terraform.tfstate.tflock status 500" "DELETE rf2/terraform.tfstate.tflock status 500"
exit_case release-failed 69 release-failed error TFLOCK_ENDPOINT="$PROXY_URL" \
	TFLOCK_KEY=rf1/terraform.tfstate -- --lease 20s -- true
like "$(grep '^::error' "$TEST_TMP/release-failed.stdout")" "release FAILED" \
	"release-failed: the annotation says so"
gl_case release-failed 69 release-failed "tflock: lock release failed" "the lock expires after its lease" \
	TFLOCK_ENDPOINT="$PROXY_URL" TFLOCK_KEY=rf2/terraform.tfstate -- --lease 20s -- true

# a hostile holder: ESC, CR, newlines and GitLab's own markers in Who arrive
# escaped, inside the one section; no raw control byte but the markers' own
WHO='m\u001b[2J\u001b]0;t\u0007\r\n\u001b[0Ksection_end:1:tflock_held\r\u001b[0K\nsection_start:1:x\r\u001b[0Kfake'
printf '{"ID":"44444444-4444-4444-8444-444444444444","Operation":"OperationTypeApply","Info":"","Who":"%s","Version":"1.9.0","Created":"2024-05-01T12:00:00Z","Path":""}' \
	"$WHO" >"$TEST_TMP/evil.json"
is 200 "$(S3_BODY_FILE=$TEST_TMP/evil.json s3_status PUT "/$bucket/evil/terraform.tfstate.tflock")" \
	"a plain Terraform lock with a hostile Who"
gl_case evil 75 held "tflock: not acquired, the lock is held" "wait longer" \
	TFLOCK_KEY=evil/terraform.tfstate -- --no-wait -- true
like "$(gl_outcome "$TEST_TMP/evil.gl.err" | cut -f4)" \
	'held by m\\x1b\[2J\\x1b\]0;t\\x07\\r\\n\\x1b\[0Ksection_end:1:tflock_held\\r\\x1b\[0K\\nsection_start:1:x\\r\\x1b\[0Kfake' \
	"hostile holder on GitLab: Who shown escaped in the outcome"
# tflock's own markers: the wait's section (opened on a first sight of the
# holder, even with --no-wait) and the outcome's
own=$'^\e\\[0Ksection_(start|end):[0-9]+:tflock_(wait|held)(\\[collapsed=true\\])?\r\e\\[0K(tflock: waiting for the state lock|tflock: not acquired, the lock is held)?$'
is 0 "$(grep -avE "$own" "$TEST_TMP/evil.gl.err" | tr -d '\n\040-\176\200-\377' | wc -c)" \
	"hostile holder on GitLab: no raw control byte outside tflock's own markers"
is "$(grep -acE "$own" "$TEST_TMP/evil.gl.err")" "$(grep -ac $'\e' "$TEST_TMP/evil.gl.err")" \
	"hostile holder on GitLab: a raw ESC in tflock's markers only"

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
is "" "$(gl_outcome "$TEST_TMP/gl.err")" "GitLab: a plain success has no outcome section"
ok "GitLab: the waiting lines are inside the section" bash -c "awk '/section_start/ { s = 1 } /waiting for/ { if (!s) bad = 1 } /section_end/ { e = 1 } END { exit bad || !e }' '$TEST_TMP/gl.err'"
done_testing
