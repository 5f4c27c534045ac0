#!/bin/bash
# Signals and the child (PROTOCOL B7): every signal tflock receives reaches the
# command exactly once — direct kill, a whole-process-group kill (GitLab's
# runner), the GitHub Actions cancel sequence, and Ctrl-C on a terminal (which
# the command already got from the kernel, so tflock must not resend it). In
# every case the lock is released once the command is done.
. "$top_srcdir/tests/integration/lib.sh"
plan_lazy
rgw_require
bucket=$(new_bucket)
tflock_env "$bucket"
export TFLOCK_KEY=sig/terraform.tfstate
lockst() { s3_status GET "/$bucket/$TFLOCK_KEY.tflock"; }
nsig() { awk -v s="$2" '$1 == "signal" && $3 == s { n++ } END { print n + 0 }' "$1"; }
ready() { grep -q '^state ' "$1" 2>/dev/null; }

# 1. direct kill of tflock: forwarded once, exit status is the command's
"$TFLOCK" -q -- "$TESTCHILD" --log "$TEST_TMP/1.log" run=600000 </dev/null 2>"$TEST_TMP/1.err" &
t=$!
wait_for "child 1 ready" 20 ready "$TEST_TMP/1.log"
kill -TERM "$t"
wait "$t"
is 143 $? "SIGTERM to tflock: the command exits 143 and tflock passes it on"
is 1 "$(nsig "$TEST_TMP/1.log" SIGTERM)" "the command got SIGTERM exactly once"
is 404 "$(lockst)" "the lock is released"
for s in HUP USR1 USR2 QUIT; do
	"$TFLOCK" -q -- "$TESTCHILD" --log "$TEST_TMP/s$s.log" run=600000 </dev/null 2>/dev/null &
	t=$!
	wait_for "child ready" 20 ready "$TEST_TMP/s$s.log"
	kill -"$s" "$t"
	[ "$s" = USR1 ] || [ "$s" = USR2 ] && { wait_for "SIG$s logged" 20 grep -q "SIG$s" "$TEST_TMP/s$s.log"; kill -TERM "$t"; }
	wait "$t"
	is 1 "$(nsig "$TEST_TMP/s$s.log" "SIG$s")" "SIG$s is forwarded exactly once"
done
ok "the command runs in its own process group when stdin is not a terminal" \
	awk '/^start/ { sub("pid=", "", $3); sub("pgid=", "", $4); exit !($3 == $4) }' "$TEST_TMP/1.log"

# 2. GitLab style: SIGTERM to tflock's whole process group
setsid "$TFLOCK" -q -- "$TESTCHILD" --log "$TEST_TMP/2.log" run=600000 </dev/null 2>/dev/null &
t=$!
wait_for "child 2 ready" 20 ready "$TEST_TMP/2.log"
kill -TERM -- -"$t"
wait "$t"
is 143 $? "process-group SIGTERM: the command's status"
is 1 "$(nsig "$TEST_TMP/2.log" SIGTERM)" "the command got SIGTERM exactly once, not twice"
is 404 "$(lockst)" "the lock is released"

# 3. GitHub Actions cancel: SIGINT, then SIGTERM, then SIGKILL (scaled down);
#    a terraform-like command stops gracefully on the first SIGINT
# (a long --grace and --term-grace: this is about forwarding, not the deadlines,
# which are scaled down here and covered by ci-cancel.sh)
"$TFLOCK" -q --grace 600s --term-grace 600s -- "$TESTCHILD" --log "$TEST_TMP/3.log" tf-like graceful=300 run=600000 </dev/null 2>/dev/null &
t=$!
wait_for "child 3 ready" 20 ready "$TEST_TMP/3.log"
kill -INT "$t"
wait "$t"
is 1 $? "GitHub cancel: terraform-like command stops gracefully (1) on the first SIGINT"
is 1 "$(nsig "$TEST_TMP/3.log" SIGINT)" "it got exactly one SIGINT"
ok "and never the 'exit immediately' second one" bash -c "! grep -q '^immediate' '$TEST_TMP/3.log'"
is 404 "$(lockst)" "the lock is released"
# a command that ignores SIGINT gets the SIGTERM that follows
TFLOCK_EVENT_LOG=$TEST_TMP/3b.events "$TFLOCK" -q --grace 600s --term-grace 600s -- "$TESTCHILD" --log "$TEST_TMP/3b.log" ignore=SIGINT run=600000 </dev/null 2>/dev/null &
t=$!
wait_for "child 3b ready" 20 ready "$TEST_TMP/3b.log"
kill -INT "$t"
wait_for "tflock forwarded SIGINT" 20 grep -q 'forward signal=2 ' "$TEST_TMP/3b.events"
kill -TERM "$t"
wait "$t"
is 143 $? "a command ignoring SIGINT stops on the SIGTERM that follows"
is 1 "$(nsig "$TEST_TMP/3b.log" SIGTERM)" "it got exactly one SIGTERM"
is 404 "$(lockst)" "the lock is released"

# 4. a terminal: Ctrl-C reaches the foreground group from the kernel; tflock
#    must not send it again (terraform would take a second SIGINT as "now!")
if command -v script >/dev/null; then
	mkfifo "$TEST_TMP/tty.in"
	script -qfec "'$TFLOCK' -q -- '$TESTCHILD' --log '$TEST_TMP/4.log' tf-like graceful=300 run=600000; echo \"rc=\$?\" >'$TEST_TMP/4.rc'" /dev/null \
		<"$TEST_TMP/tty.in" >"$TEST_TMP/4.out" 2>&1 &
	s=$!
	exec 3>"$TEST_TMP/tty.in"
	wait_for "child 4 ready" 20 ready "$TEST_TMP/4.log"
	printf '\003' >&3
	wait_for "tty run done" 30 test -s "$TEST_TMP/4.rc"
	exec 3>&-
	wait "$s"
	is "rc=1" "$(cat "$TEST_TMP/4.rc")" "Ctrl-C on a terminal: the command stops gracefully"
	is 1 "$(nsig "$TEST_TMP/4.log" SIGINT)" "it got exactly one SIGINT (from the terminal)"
	ok "that SIGINT came from the kernel, not from tflock" grep -q '^signal .* SIGINT code=128' "$TEST_TMP/4.log"
	ok "the command stayed in tflock's (foreground) process group" \
		awk '/^start/ { sub("pid=", "", $3); sub("pgid=", "", $4); exit !($3 != $4) }' "$TEST_TMP/4.log"
	is 404 "$(lockst)" "the lock is released"
else
	skip "script(1) not available for the terminal test"
fi

# 5. leftover descendants are waited for (subreaper) before the release
TFLOCK_EVENT_LOG=$TEST_TMP/5.events "$TFLOCK" -q -- "$TESTCHILD" --log "$TEST_TMP/5.log" spawn=500 exit=0 </dev/null 2>/dev/null
is 0 $? "a command that leaves a grandchild behind exits 0"
gexit=$(awk '/^grandchild-exit/ { print $2 }' "$TEST_TMP/5.log")
rel=$(awk '/ released / { print $1 }' "$TEST_TMP/5.events")
ok "the release came after the grandchild exited" test -n "$gexit" -a -n "$rel" -a "${rel:-0}" -gt "${gexit:-0}"
done_testing
