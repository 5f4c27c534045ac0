#!/bin/bash
# Re-entry (PROTOCOL B7): `tflock -- ./deploy.sh` holds one lock while the
# script wraps each terraform call in `tflock --`; nested runs never write to S3,
# siblings run one at a time, forged variables are ignored, and a nested run that
# outlives its parent does not act on a released lock.
. "$top_srcdir/tests/integration/lib.sh"
plan_lazy
rgw_require
bucket=$(new_bucket)
tflock_env "$bucket"
export TFLOCK_KEY=re/terraform.tfstate

# 1. a script holding the lock across two nested, wrapped steps
cat >"$TEST_TMP/deploy.sh" <<SH
#!/bin/bash
set -e
echo "outer \$TFLOCK_HELD_ID" >>"$TEST_TMP/ids"
TFLOCK_EVENT_LOG=$TEST_TMP/nested.events "$TFLOCK" -- sh -c 'echo "plan \$TFLOCK_HELD_ID" >>"$TEST_TMP/ids"'
TFLOCK_EVENT_LOG=$TEST_TMP/nested.events "$TFLOCK" -- sh -c 'echo "apply \$TFLOCK_HELD_ID" >>"$TEST_TMP/ids"; exit 3' || echo "apply-exit \$?" >>"$TEST_TMP/ids"
SH
chmod +x "$TEST_TMP/deploy.sh"
TFLOCK_EVENT_LOG=$TEST_TMP/outer.events "$TFLOCK" --no-wait -- "$TEST_TMP/deploy.sh" 2>"$TEST_TMP/1.err"
is 0 $? "a script under tflock runs its nested tflock steps without waiting for itself"
outer=$(awk '$1 == "outer" { print $2 }' "$TEST_TMP/ids")
is "plan $outer" "$(grep '^plan' "$TEST_TMP/ids")" "the nested plan ran under the outer lock"
is "apply $outer" "$(grep '^apply ' "$TEST_TMP/ids")" "the nested apply ran under the outer lock"
is "apply-exit 3" "$(grep '^apply-exit' "$TEST_TMP/ids")" "a nested command's exit status passes through"
ok "nested runs never wrote to S3 (no acquire, renew or release events)" \
	bash -c "! grep -q 'acquired\|renewed\|released' '$TEST_TMP/nested.events' 2>/dev/null"
is 1 "$(grep -c ' acquired ' "$TEST_TMP/outer.events")" "the outer acquired once"
is 404 "$(s3_status GET "/$bucket/$TFLOCK_KEY.tflock")" "and released at the end"
ok "the private run directory is removed" bash -c "! ls -d \${TMPDIR:-/tmp}/tflock-run.* 2>/dev/null | xargs -r grep -l '$outer' 2>/dev/null | grep -q ."

# 2. forged variables are ignored: a run that is not a descendant acquires
#    normally, and never waits for a lock whose ID it inherited
"$TFLOCK" -- "$TESTCHILD" --log "$TEST_TMP/h.log" touch="$TEST_TMP/h.run" wait-file="$TEST_TMP/h.go" 2>/dev/null &
holder=$!
wait_for "holder running" 20 test -e "$TEST_TMP/h.run"
hid=$(awk '/^env TFLOCK_HELD_ID=/ { sub("env TFLOCK_HELD_ID=", ""); print }' "$TEST_TMP/h.log")
hdir=$(awk '/^env TFLOCK_HELD_DIR=/ { sub("env TFLOCK_HELD_DIR=", ""); print }' "$TEST_TMP/h.log")
ok "the command got its run directory" test -d "$hdir"
ok "the run directory is private (0700)" test "$(stat -c %a "$hdir")" = 700
TFLOCK_HELD_DIR=$hdir TFLOCK_HELD_TOKEN=0000000000000000000000000000000000000000000000000000000000000000 \
	TFLOCK_HELD_ID=$hid "$TFLOCK" --timeout 60s -- touch "$TEST_TMP/forged1" 2>"$TEST_TMP/f1.err"
is 75 $? "a wrong token is not re-entry: it exits 75 at once instead of waiting for its 'own' lock"
ok "and did not run the command" test ! -e "$TEST_TMP/forged1"
like "$(cat "$TEST_TMP/f1.err")" "could not verify" "it says why"
TFLOCK_HELD_DIR=/nonexistent/tflock-run.x TFLOCK_HELD_TOKEN=abc TFLOCK_HELD_ID=$hid \
	"$TFLOCK" --no-wait -- touch "$TEST_TMP/forged2" 2>/dev/null
is 75 $? "a run directory from another machine or job is ignored"
ok "and did not run the command" test ! -e "$TEST_TMP/forged2"
touch "$TEST_TMP/h.go"
wait "$holder"

# 3. make -j4 style siblings under one outer lock run one at a time
cat >"$TEST_TMP/step" <<SH
#!/bin/bash
echo "enter \$($NOW) \$1" >>"$TEST_TMP/sib"
sleep 0.05
echo "exit \$($NOW) \$1" >>"$TEST_TMP/sib"
SH
chmod +x "$TEST_TMP/step"
"$TFLOCK" -- bash -c "for i in 1 2 3 4 5 6 7 8; do '$TFLOCK' -q -- '$TEST_TMP/step' \$i & done; wait" 2>/dev/null
is 0 $? "8 parallel nested siblings all ran"
is 16 "$(wc -l <"$TEST_TMP/sib")" "each recorded enter and exit"
overlaps=$(sort -k2,2n "$TEST_TMP/sib" | awk '$1 == "enter" { if (inside) bad++; inside = 1 } $1 == "exit" { inside = 0 } END { print bad + 0 }')
is 0 "$overlaps" "no two siblings overlapped"

# 4. a nested run that the outer's command leaves behind (setsid, in the
#    background) does not outlive the outer hold: when --grace ends, the
#    outer's guardian kills it and its command, and only then is the lock
#    released (PROTOCOL B9); nothing is ever written for the nested run
"$TFLOCK" -- bash -c "setsid '$TFLOCK' --on-lost report -- '$TESTCHILD' --log '$TEST_TMP/orphan.log' touch='$TEST_TMP/o.run' wait-file='$TEST_TMP/o.go' </dev/null >/dev/null 2>'$TEST_TMP/orphan.err' & echo \$! >'$TEST_TMP/orphan.pid'; for i in \$(seq 1 600); do [ -e '$TEST_TMP/o.run' ] && break; sleep 0.05; done" 2>"$TEST_TMP/outer4.err"
is 0 $? "the parent run exits with its command's status"
opid=$(cat "$TEST_TMP/orphan.pid")
cpid=$(awk '/^start / { sub("pid=", "", $3); print $3; exit }' "$TEST_TMP/orphan.log")
ok "the nested tflock left behind is gone when the outer returns" bash -c "! kill -0 $opid 2>/dev/null"
ok "and so is its command" test -n "$cpid" -a ! -d "/proc/${cpid:-0}"
ok "its command was killed, never finished" bash -c "! grep -q '^exit ' '$TEST_TMP/orphan.log'"
like "$(cat "$TEST_TMP/outer4.err")" "still running after .*killing them" "the outer says it killed what was left"
is 404 "$(s3_status GET "/$bucket/$TFLOCK_KEY.tflock")" "nothing was written for it: the lock stays free"

# 5. a SIGKILLed outer leaves its run directory (and token) behind; the next
#    tflock removes it once that process is provably gone. The run directories
#    go in a directory of this test's own (XDG_RUNTIME_DIR): any tflock of a
#    test running beside this one sweeps the shared one, and could remove the
#    dead run's directory before the first check looks
mkdir -m 700 "$TEST_TMP/xdg"
export XDG_RUNTIME_DIR=$TEST_TMP/xdg
"$TFLOCK" --lease 20s -- "$TESTCHILD" --log "$TEST_TMP/k.log" touch="$TEST_TMP/k.run" wait-file="$TEST_TMP/never" 2>/dev/null &
k=$!
wait_for "holder k" 20 test -e "$TEST_TMP/k.run"
kdir=$(awk '/^env TFLOCK_HELD_DIR=/ { sub("env TFLOCK_HELD_DIR=", ""); print }' "$TEST_TMP/k.log")
kill -KILL "$k"
wait "$k" 2>/dev/null
ok "a SIGKILLed tflock's run directory is left behind" test -d "$kdir"
"$TFLOCK" --lease 20s --timeout 60s -- true 2>/dev/null
is 0 $? "the next run takes the lock over"
ok "and removed the dead run's directory and token" test ! -e "$kdir"
done_testing
