#!/bin/bash
# R4: CI cancel sequences, many times, with a terraform-like command (graceful
# stop on the first SIGINT, "exit immediately" on a second):
#   GitHub Actions: SIGINT, SIGTERM 7.5 s later, SIGKILL 2.5 s after (scaled);
#   GitLab: SIGTERM to the whole process group; and SIGKILL of tflock.
# The command gets exactly one graceful signal, never a second SIGINT; the lock
# is released once it is done (or, after SIGKILL, taken over after the lease).
# Rounds per sequence: TFLOCK_TORTURE_ROUNDS (3).
. "$top_srcdir/tests/integration/lib.sh"
plan_lazy
rgw_require
bucket=$(new_bucket)
tflock_env "$bucket"
export TFLOCK_KEY=r4/terraform.tfstate
N=${TFLOCK_TORTURE_ROUNDS:-3}
ready() { grep -q '^state ' "$1" 2>/dev/null; }
nsig() { awk '$1 == "signal" { n++ } END { print n + 0 }' "$1"; }
gone() { ! kill -0 "$1" 2>/dev/null; }
scale=$TFLOCK_TIME_SCALE
for i in $(seq 1 "$N"); do
	# GitHub: the graceful stop (300 ms) ends before the SIGTERM would come
	log=$TEST_TMP/gh$i.log
	"$TFLOCK" -q --lease 20s -- "$TESTCHILD" --log "$log" tf-like graceful=300 run=600000 </dev/null 2>/dev/null &
	t=$!
	wait_for "ready" 20 ready "$log"
	kill -INT "$t"
	wait_for "gone" 30 gone "$t" || { kill -TERM "$t"; wait_for "gone" 30 gone "$t" || kill -KILL "$t"; }
	wait "$t"
	rc=$?
	is "1 1 404" "$rc $(nsig "$log") $(s3_status GET "/$bucket/$TFLOCK_KEY.tflock")" \
		"GitHub cancel $i: graceful exit 1, exactly one signal, lock released"
	# GitLab: SIGTERM to the whole group
	log=$TEST_TMP/gl$i.log
	setsid "$TFLOCK" -q --lease 20s -- "$TESTCHILD" --log "$log" tf-like graceful=300 run=600000 </dev/null 2>/dev/null &
	t=$!
	wait_for "ready" 20 ready "$log"
	kill -TERM -- -"$t"
	wait "$t"
	rc=$?
	is "1 1 404" "$rc $(nsig "$log") $(s3_status GET "/$bucket/$TFLOCK_KEY.tflock")" \
		"GitLab cancel $i: graceful exit 1, exactly one signal, lock released"
	# SIGKILL of tflock: the command dies with it; the lock is taken over later
	log=$TEST_TMP/k$i.log
	"$TFLOCK" -q --lease 20s -- "$TESTCHILD" --log "$log" tf-like run=600000 </dev/null 2>/dev/null &
	t=$!
	wait_for "ready" 20 ready "$log"
	cpid=$(awk '/^start/ { sub("pid=", "", $3); print $3 }' "$log")
	kill -KILL "$t"
	wait "$t" 2>/dev/null
	wait_for "child gone" 20 gone "$cpid"
	ok "SIGKILL $i: the command died with tflock (no signal to stop gracefully: $(nsig "$log"))" gone "$cpid"
	TFLOCK_EVENT_LOG=$TEST_TMP/k$i.events "$TFLOCK" -q --lease 20s --timeout 60s -- true 2>/dev/null
	is 0 $? "SIGKILL $i: the next run takes the lock over after the lease"
	ok "SIGKILL $i: by takeover" grep -q 'how=taken' "$TEST_TMP/k$i.events"
done
done_testing
