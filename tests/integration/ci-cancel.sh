#!/bin/bash
# Cancels inside the CI's window (issue 16 §3). Each runner's documented cancel
# sequence is played exactly, against tflock with its default --grace (10s) and
# --term-grace (1s) at real time (TFLOCK_TIME_SCALE=1 where the runner's own
# timeouts matter), with a stand-in for setup-terraform's node wrapper between
# tflock and a terraform-like command where the runner makes it matter:
#
#  A  GitHub: SIGINT to the step's process (tflock, the action execs it), up to
#     7.5 s for it to exit, SIGTERM, up to 2.5 s, then SIGKILL of the whole
#     tree. Behind a wrapper that dies on SIGINT, terraform (a grandchild, its
#     graceful stop longer than the window) gets the SIGINT with its group and
#     the SIGTERM as what the wrapper left running; tflock releases after it
#     exits and before the runner's SIGKILL.
#  B  GitHub, a command (and a daemon it started) deaf to SIGINT and SIGTERM:
#     the SIGTERM cuts the grace to --term-grace, tflock kills the tree, waits
#     for every process, and releases before the runner's SIGKILL.
#  C  --grace counts from the first signal (the deadline is the signal's
#     receipt + grace, exactly); a second SIGINT does not move it.
#  D  GitLab's docker executor: SIGTERM to every process of the job, highest
#     pid first, from one shell, waiting up to 6 s (1 s steps) for each to go.
#     terraform gets it directly; tflock, reached last, must not send it a
#     second one (terraform's "two interrupts: exit now"), and the sentinel
#     must not hold the sequence up.
#  E  GitLab's shell executor sends no SIGTERM; the job's processes are killed
#     (SIGKILL to the job's process group). tflock cannot release: its guardian
#     kills the command's tree at once, and after_script's `tflock release`
#     removes the lock (its holder is provably gone).
#
# The runners' timeouts are the runners' own; the assertions are on counts,
# orderings of logged CLOCK_BOOTTIME times, and deadlines tflock logged
# (computed, exact), never on how long something took.
. "$top_srcdir/tests/integration/lib.sh"
plan_lazy
rgw_require
bucket=$(new_bucket)
tflock_env "$bucket"
unset GITHUB_ACTIONS GITLAB_CI CI_JOB_ID RUNNER_NAME GITHUB_RUN_ID GITHUB_RUN_ATTEMPT GITHUB_JOB
PIDWATCH=$top_builddir/tests/helpers/pidwatch
NOW=$top_builddir/tests/helpers/now
T=$TEST_TMP
cleanup() {
	for f in "$T"/*.watch; do
		[ -f "$f" ] && awk '$1 == "alive" { print $3 }' "$f"
	done | xargs -r kill -KILL 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

lockst() { s3_status GET "/$bucket/$TFLOCK_KEY.tflock"; }
nsig() { awk -v s="$2" '$1 == "signal" && $3 == s { n++ } END { print n + 0 }' "$1"; }
ready() { grep -q '^state ' "$1" 2>/dev/null; }
# ev FILE WORD — the time of the first event WORD (its third field) in FILE
ev() { awk -v w="$2" '$3 == w { print $1; exit }' "$1"; }
nev() { awk -v w="$2" '$3 == w { n++ } END { print n + 0 }' "$1"; }
# alive PID — it runs (a zombie does not)
alive() {
	local st
	st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[ -n "$st" ] && [ "$st" != Z ]
}
# descendants PID — PID and every process under it
descendants() {
	local c
	echo "$1"
	for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		descendants "$c"
	done
}
# gone_within PID MS — poll (10 ms) until PID is gone, for up to MS ms of real time
gone_within() {
	local end
	end=$(awk -v t="$EPOCHREALTIME" -v ms="$2" 'BEGIN { printf "%.0f", t * 1000 + ms }')
	while alive "$1"; do
		[ "$(awk -v t="$EPOCHREALTIME" 'BEGIN { printf "%.0f", t * 1000 }')" -ge "$end" ] && return 1
		sleep 0.01
	done
	return 0
}
# gh_cancel PID LOG — GitHub's runner cancelling the step whose process is PID
gh_cancel() {
	echo "int $($NOW)" >>"$2"
	kill -INT "$1"
	if gone_within "$1" 7500; then
		echo "exited after=int" >>"$2"
		return
	fi
	echo "term $($NOW)" >>"$2"
	kill -TERM "$1"
	if gone_within "$1" 2500; then
		echo "exited after=term" >>"$2"
		return
	fi
	echo "kill $($NOW)" >>"$2"
	descendants "$1" | xargs -r kill -KILL 2>/dev/null
	echo "exited after=kill" >>"$2"
}
# watch NAME — pidwatch on $T/NAME.log; unwatch NAME — stop it (0: nothing left)
watch() {
	"$PIDWATCH" --follow "$T/$1.log" --stop "$T/$1.stop" --limit 300 >"$T/$1.watch" 2>&1 &
	WATCH_PID=$!
}
unwatch() {
	touch "$T/$1.stop"
	wait "$WATCH_PID"
}

# A. GitHub, behind a node-like wrapper; terraform's graceful stop outlasts the window
export TFLOCK_KEY=cancel-a/terraform.tfstate
: >"$T/a.log"
watch a
TFLOCK_TIME_SCALE=1 TFLOCK_EVENT_LOG=$T/a.events "$TFLOCK" -q -- \
	"$TESTCHILD" --log "$T/a.wrap.log" wrap -- "$TESTCHILD" --log "$T/a.log" tf-like graceful=60000 \
	</dev/null 2>"$T/a.err" &
t=$!
wait_for "terraform stand-in A ready" 20 ready "$T/a.log"
is 200 "$(lockst)" "A: the lock is held while terraform runs behind the wrapper"
gh_cancel "$t" "$T/a.runner"
wait "$t"
is 130 $? "A: tflock exits with the wrapper's status (killed by SIGINT: 130)"
ok "A: tflock was done before the runner's SIGKILL (after its SIGTERM)" grep -qx 'exited after=term' "$T/a.runner"
is 1 "$(nsig "$T/a.log" SIGINT)" "A: terraform got the SIGINT once (with the wrapper's group)"
is 1 "$(nsig "$T/a.log" SIGTERM)" "A: and the runner's SIGTERM once, after the wrapper died"
ok "A: the SIGTERM went to what the wrapper left running" grep -q ' forward signal=15 .* to=left' "$T/a.events"
ok "A: the wrapper died of the SIGINT, leaving terraform running" bash -c "! grep -q '^wrap-exit' '$T/a.wrap.log'"
ok "A: terraform stopped on the second interrupt" grep -q '^immediate ' "$T/a.log"
gone=$(ev "$T/a.events" guardian-gone)
rel=$(ev "$T/a.events" released)
ok "A: every process of the command was gone ($gone) before the release ($rel)" \
	test -n "$gone" -a -n "$rel" -a "${rel:-0}" -gt "${gone:-0}"
ok "A: terraform's own exit came before the release" \
	awk -v r="${rel:-0}" '$1 == "immediate" { f = 1; exit !($2 < r) } END { if (!f) exit 1 }' "$T/a.log"
is 404 "$(lockst)" "A: the lock is released"
unwatch a
is 0 $? "A: nothing of the command is left running"
# the deadlines tflock computed: grace from the SIGINT, then term-grace from the SIGTERM
awk '$3 == "cancel-deadline" { for (i = 4; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
	printf "%d %.0f %s\n", v["signal"], v["at"] - v["from"], (v["grace_ms"] != "" ? v["grace_ms"] : v["term-grace_ms"]); delete v }' \
	"$T/a.events" >"$T/a.deadlines"
is "2 10000000000 10000
15 1000000000 1000" "$(cat "$T/a.deadlines")" "A: deadlines: SIGINT + 10s (--grace), then SIGTERM + 1s (--term-grace)"

# B. GitHub, a command and its daemon deaf to SIGINT and SIGTERM
export TFLOCK_KEY=cancel-b/terraform.tfstate
: >"$T/b.log"
watch b
TFLOCK_TIME_SCALE=1 TFLOCK_EVENT_LOG=$T/b.events "$TFLOCK" -q -- \
	"$TESTCHILD" --log "$T/b.log" ignore=SIGINT ignore=SIGTERM daemon=600000 sleep=600000 \
	</dev/null 2>"$T/b.err" &
t=$!
wait_for "command B and its daemon ready" 20 grep -q '^grandchild ' "$T/b.log"
gh_cancel "$t" "$T/b.runner"
wait "$t"
is 137 $? "B: the command was killed (137)"
ok "B: tflock was done before the runner's SIGKILL" grep -qx 'exited after=term' "$T/b.runner"
kill_at=$(ev "$T/b.events" cancel-kill)
gone=$(ev "$T/b.events" guardian-gone)
rel=$(ev "$T/b.events" released)
term=$(awk '$1 == "term" { print $2 }' "$T/b.runner")
ok "B: tflock killed the tree only after the runner's SIGTERM + 1s ($term < $kill_at)" \
	test -n "$term" -a -n "$kill_at" -a "${kill_at:-0}" -ge "$((${term:-0} + 1000000000))"
ok "B: the kill ($kill_at), every process gone ($gone), then the release ($rel)" \
	test -n "$gone" -a -n "$rel" -a "${kill_at:-0}" -lt "${gone:-0}" -a "${gone:-0}" -lt "${rel:-0}"
ok "B: the report says why" grep -q 'killing .* and everything it started' "$T/b.err"
is 404 "$(lockst)" "B: the lock is released"
unwatch b
is 0 $? "B: nothing of the command is left running (the daemon included)"

# C. --grace counts from the first signal; a second SIGINT does not move it
export TFLOCK_KEY=cancel-c/terraform.tfstate
TFLOCK_EVENT_LOG=$T/c.events "$TFLOCK" -q --grace 20s -- \
	"$TESTCHILD" --log "$T/c.log" ignore=SIGINT sleep=600000 </dev/null 2>"$T/c.err" &
t=$!
wait_for "command C ready" 20 ready "$T/c.log"
kill -INT "$t"
wait_for "first SIGINT handled" 20 grep -q ' cancel-deadline ' "$T/c.events"
kill -INT "$t"
wait_for "second SIGINT forwarded" 20 test "$(nev "$T/c.events" forward)" -ge 2
wait "$t"
is 137 $? "C: a command deaf to SIGINT is killed when the grace runs out"
is 1 "$(nev "$T/c.events" cancel-deadline)" "C: one deadline, from the first signal"
# --grace 20s at the tests' time scale
g=$(awk -v s="$TFLOCK_TIME_SCALE" 'BEGIN { printf "%.0f", 20000 * s }')
is "$g" "$(awk '$3 == "cancel-deadline" { for (i = 4; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
	printf "%.0f\n", (v["at"] - v["from"]) / 1000000 }' "$T/c.events")" "C: the deadline is the first signal + --grace"
ok "C: the kill came at the deadline or later" \
	awk '$3 == "cancel-deadline" { split($4, a, "="); at = a[2] } $3 == "cancel-kill" { exit !($1 >= at) }' "$T/c.events"
is 404 "$(lockst)" "C: the lock is released"

# D. GitLab's docker executor: SIGTERM pid by pid, highest first, waiting for each
export TFLOCK_KEY=cancel-d/terraform.tfstate
: >"$T/d.log"
watch d
# the job's script: a shell that runs tflock and more after it (so it stays)
TFLOCK_TIME_SCALE=1 TFLOCK_EVENT_LOG=$T/d.events bash -c '"$1" -q -- "$2" --log "$3" tf-like graceful=14000; echo "rc=$?"' \
	job "$TFLOCK" "$TESTCHILD" "$T/d.log" </dev/null >"$T/d.out" 2>"$T/d.err" &
job=$!
wait_for "terraform stand-in D ready" 20 ready "$T/d.log"
export -f descendants
# the canceller: one shell (the sender of every SIGTERM), as the runner's script
bash -c 'me=$$
	for p in $(descendants "$1" | sort -rn); do
		[ "$p" = "$me" ] && continue
		comm=$(cat /proc/$p/comm 2>/dev/null) || continue
		kill -TERM "$p" 2>/dev/null || continue
		n=0
		while [ -e /proc/$p ] && [ $n -lt 6 ]; do sleep 1; n=$((n + 1)); done
		echo "term $p $comm waits=$n"
	done; echo "sender $me"' canceller "$job" >"$T/d.cancel" 2>&1
wait "$job"
sender=$(awk '$1 == "sender" { print $2 }' "$T/d.cancel")
tfpid=$(awk '$1 == "start" { sub("pid=", "", $3); print $3; exit }' "$T/d.log")
ok "D: the canceller signalled terraform ($tfpid)" \
	awk -v tf="$tfpid" '$1 == "term" && $2 == tf { f = 1 } END { exit !f }' "$T/d.cancel"
is 1 "$(nsig "$T/d.log" SIGTERM)" "D: terraform got SIGTERM exactly once (from the canceller)"
ok "D: ... from the canceller ($sender)" grep -q "^signal .* SIGTERM code=0 from=$sender\$" "$T/d.log"
ok "D: terraform stopped gracefully, never 'exit now'" bash -c "! grep -q '^immediate' '$T/d.log' && grep -q '^graceful' '$T/d.log'"
if grep -q ' not-forwarded signal=15' "$T/d.events"; then
	ok "D: tflock's own SIGTERM was not forwarded (the sentinel saw it from the same sender)" \
		grep -q " not-forwarded signal=15 from=$sender\$" "$T/d.events"
else
	ok "D: tflock was done before the canceller reached it" bash -c "! grep -q ' forward signal=15' '$T/d.events'"
fi
# the sentinel: the one process the canceller met that is none of the job's
# shell, tflock, its guardian and terraform
tfl=$(awk '$3 == "child-start" { print $2; exit }' "$T/d.events")
grd=$(awk '$3 == "child-start" { for (i = 4; i <= NF; i++) if ($i ~ /^guardian=/) { sub("guardian=", "", $i); print $i } exit }' "$T/d.events")
awk -v a="$job" -v b="$tfl" -v c="$grd" -v d="$tfpid" '$1 == "term" && $2 != a && $2 != b && $2 != c && $2 != d' \
	"$T/d.cancel" >"$T/d.sentinel"
is 1 "$(wc -l <"$T/d.sentinel")" "D: the canceller met one more process of ours, the sentinel"
ok "D: the sentinel got out of the way at once (at most one 1s wait, not 6)" \
	awk '{ sub("waits=", "", $4); exit !($4 <= 1) }' "$T/d.sentinel"
is 404 "$(lockst)" "D: the lock is released"
unwatch d
is 0 $? "D: nothing of the command is left running"

# E. GitLab's shell executor: no SIGTERM; the job's process group is SIGKILLed
export TFLOCK_KEY=cancel-e/terraform.tfstate
: >"$T/e.log"
watch e
TFLOCK_EVENT_LOG=$T/e.events setsid bash -c '"$1" -q -- "$2" --log "$3" spawn=600000 sleep=600000; echo done' \
	job "$TFLOCK" "$TESTCHILD" "$T/e.log" </dev/null >/dev/null 2>&1 &
job=$!
wait_for "command E and its child ready" 20 grep -q '^grandchild ' "$T/e.log"
is 200 "$(lockst)" "E: held"
kill -KILL -- -"$job"
wait "$job" 2>/dev/null
wait_for "the guardian to kill the tree" 30 test "$(grep -c '^exit ' "$T/e.watch")" -ge 2
unwatch e
is 0 $? "E: the guardian killed the command's tree when tflock was killed"
is 200 "$(lockst)" "E: the lock stays (tflock could not release it)"
"$TFLOCK" release >"$T/e.rel" 2>&1
rc=$?
is 0 "$rc" "E: after_script's tflock release succeeds (the killed holder may be a zombie: it is gone)"
[ "$rc" = 0 ] || diag "$(cat "$T/e.rel")"
is 404 "$(lockst)" "E: and removes the lock its dead holder left"
done_testing
