#!/bin/bash
# The lease bounds the command's whole process tree (PROTOCOL B9): whatever way
# tflock ends — SIGKILL, a process-group SIGKILL, SIGSTOP, renewals failing, the
# command exiting with descendants left — every process descended from the
# command (a grandchild, a setsid() child, a double-forked daemon; with the real
# terraform, a local-exec provisioner's shell and its sleep) is gone before the
# next holder's `acquired`, and nothing is left running.
#
# SIGKILLed processes cannot log their death: tests/helpers/pidwatch follows
# the tree's log, holds a pidfd on every pid that logs its start, and stamps
# each exit (CLOCK_BOOTTIME, as tflock's event log). Only orderings of logged
# times are compared. Rounds of the random-kill part: TFLOCK_TEST_TREE_ROUNDS
# (default 20).
. "$top_srcdir/tests/integration/lib.sh"
plan_lazy
rgw_require
bucket=$(new_bucket)
tflock_env "$bucket"
PIDWATCH=$top_builddir/tests/helpers/pidwatch
ROUNDS=${TFLOCK_TEST_TREE_ROUNDS:-20}
TREE=(spawn=600000 spawn-setsid=600000 daemon=600000)
# pids left alive (an old tflock's survivors) and the proxy are killed when the
# test ends (set again after proxy_start, which sets its own)
cleanup() {
	for f in "$TEST_TMP"/*.watch; do
		[ -f "$f" ] && awk '$1 == "alive" { print $3 }' "$f"
	done | xargs -r kill -KILL 2>/dev/null
	[ -n "${PROXY_PID:-}" ] && kill "$PROXY_PID" 2>/dev/null
	rm -rf "$TEST_TMP"
}
trap cleanup EXIT

# watch NAME — start pidwatch on $TEST_TMP/NAME.log
watch() {
	: >"$TEST_TMP/$1.log"
	"$PIDWATCH" --follow "$TEST_TMP/$1.log" --stop "$TEST_TMP/$1.stop" --limit 300 \
		>"$TEST_TMP/$1.watch" 2>&1 &
	WATCH_PID=$!
}
# unwatch NAME — stop it; its status says whether anything is left alive
unwatch() {
	touch "$TEST_TMP/$1.stop"
	wait "$WATCH_PID"
}
# tree_up NAME N — N processes of the tree have logged their start
tree_up() { [ "$(grep -c '^start \|^grandchild ' "$TEST_TMP/$1.log" 2>/dev/null)" -ge "$2" ]; }
# last_exit NAME — the latest exit stamp (0 if none)
last_exit() { awk '$1 == "exit" && $2 > m { m = $2 } END { printf "%.0f\n", m }' "$TEST_TMP/$1.watch"; }
nwatched() { grep -c '^watch ' "$TEST_TMP/$1.watch"; }
nexited() { grep -c '^exit ' "$TEST_TMP/$1.watch"; }
acquired() { awk '/ acquired / { print $1; exit }' "$1"; }
# check NAME EVENTS N DESC — every one of at least N watched processes died,
# each before the `acquired` in EVENTS, and none is left
check() {
	local name=$1 ev=$2 n=$3 desc=$4 acq last
	acq=$(acquired "$ev")
	last=$(last_exit "$name")
	ok "$desc: $(nwatched "$name") processes watched (at least $n)" test "$(nwatched "$name")" -ge "$n"
	ok "$desc: every one of them died" test "$(nexited "$name")" = "$(nwatched "$name")"
	ok "$desc: the last death ($last) came before the next holder's acquired (${acq:-none})" \
		test -n "$acq" -a "$last" -lt "${acq:-0}"
	ok "$desc: nothing is left alive" bash -c "! grep -q '^alive' '$TEST_TMP/$name.watch'"
}

# 1. SIGKILL tflock (or, every fourth round, its whole process group, as
#    GitLab's runner does) at a random point after the command started
export TFLOCK_KEY=tree/kill.tfstate
kill_to_dead=() kill_to_take=()
for ((r = 1; r <= ROUNDS; r++)); do
	n=k$r
	watch "$n"
	w=$WATCH_PID
	setsid "$TFLOCK" --lease 20s -- "$TESTCHILD" --log "$TEST_TMP/$n.log" "${TREE[@]}" run=600000 \
		</dev/null >/dev/null 2>"$TEST_TMP/$n.err" &
	t=$!
	wait_for "round $r: the command started" 30 grep -q '^start ' "$TEST_TMP/$n.log" || break
	sleep "0.0$((RANDOM % 10))$((RANDOM % 10))"
	k=$($NOW)
	if ((r % 4 == 0)); then kill -KILL -- -"$t"; else kill -KILL "$t"; fi
	wait "$t" 2>/dev/null
	TFLOCK_EVENT_LOG=$TEST_TMP/$n.next "$TFLOCK" --lease 20s -- true 2>/dev/null
	rc=$?
	WATCH_PID=$w
	unwatch "$n"
	is 0 "$rc" "round $r: the next holder ran"
	check "$n" "$TEST_TMP/$n.next" 1 "round $r ($(tree_up "$n" 4 && echo "whole tree up" || echo "tree partly up"))"
	kill_to_dead+=($((($(last_exit "$n") - k) / 1000000)))
	kill_to_take+=($((($(acquired "$TEST_TMP/$n.next") - k) / 1000000)))
done
diag "SIGKILL -> last descendant seen dead, ms: ${kill_to_dead[*]}"
diag "SIGKILL -> next holder acquired, ms: ${kill_to_take[*]}"
full=0
for ((r = 1; r <= ROUNDS; r++)); do tree_up "k$r" 4 && full=$((full + 1)); done
ok "in at least one round the whole tree (4 processes) was up when tflock was killed ($full of $ROUNDS)" test "$full" -ge 1

# 2. renewals fail (the fault proxy hangs every renewal): the command's group
#    gets SIGINT at half the lease, then the whole tree is killed, before the
#    waiter takes over
proxy_start
trap cleanup EXIT
export TFLOCK_KEY=tree/hang.tfstate
proxy_rules "PUT tree/hang.tfstate.tflock hang after=1"
watch h
TFLOCK_ENDPOINT=$PROXY_URL TFLOCK_EVENT_LOG=$TEST_TMP/h.events "$TFLOCK" --lease 20s -- \
	"$TESTCHILD" --log "$TEST_TMP/h.log" tf-like graceful=600000 "${TREE[@]}" \
	touch="$TEST_TMP/h.run" wait-file="$TEST_TMP/never" </dev/null 2>"$TEST_TMP/h.err" &
t=$!
wait_for "h: tree up" 30 tree_up h 4
wait_for "h: command ready" 30 test -e "$TEST_TMP/h.run"
TFLOCK_EVENT_LOG=$TEST_TMP/h.next "$TFLOCK" --lease 20s -- true 2>/dev/null
is 0 $? "h: the waiter got the lock in the end"
wait "$t"
is 76 $? "h: the holder exits 76 (the lease cut its command short)"
unwatch h
check h "$TEST_TMP/h.next" 4 "h"
int_t=$(awk '/ guardian-interrupt why=lease/ { print $1; exit }' "$TEST_TMP/h.events")
# the guardian's own deadline and tflock's (its second line) are the same:
# either may ask first
kill_t=$(awk '/ guardian-kill / { print $1; exit }' "$TEST_TMP/h.events")
sig_t=$(awk '$1 == "signal" && $3 == "SIGINT" { print $2; exit }' "$TEST_TMP/h.log")
first_exit=$(awk '$1 == "exit" && (m == "" || $2 < m) { m = $2 } END { printf "%.0f\n", m }' "$TEST_TMP/h.watch")
ok "h: the guardian interrupted the command for the lease" test -n "$int_t"
ok "h: the command got that SIGINT" test -n "$sig_t" -a "${sig_t:-0}" -ge "${int_t:-0}"
ok "h: exactly one SIGINT" test "$(grep -c '^signal .* SIGINT' "$TEST_TMP/h.log")" = 1
ok "h: then the guardian killed the tree" test -n "$kill_t" -a "${kill_t:-0}" -gt "${int_t:-0}"
ok "h: for the lease" grep -q ' lease-kill ' "$TEST_TMP/h.events"
ok "h: no process of the tree died before the SIGINT" test "$first_exit" -ge "${int_t:-0}"

# 3. SIGSTOP tflock while it holds: the guardian alone kills the tree by
#    send + L - m; the waiter takes over only after every descendant died
export TFLOCK_KEY=tree/stop.tfstate
watch s
TFLOCK_EVENT_LOG=$TEST_TMP/s.events "$TFLOCK" --lease 20s -- "$TESTCHILD" --log "$TEST_TMP/s.log" \
	"${TREE[@]}" run=600000 </dev/null 2>"$TEST_TMP/s.err" &
t=$!
wait_for "s: tree up" 30 tree_up s 4
kill -STOP "$t"
TFLOCK_EVENT_LOG=$TEST_TMP/s.next "$TFLOCK" --lease 20s -- true 2>/dev/null
is 0 $? "s: the waiter got the lock"
unwatch s
check s "$TEST_TMP/s.next" 4 "s"
send=$(awk '/ (renewed|acquired) / { for (i = 3; i <= NF; i++) if ($i ~ /^(send|renew_send)=/) { sub(/^[a-z_]*=/, "", $i); s = $i } } END { printf "%.0f\n", s }' "$TEST_TMP/s.events")
kill_t=$(awk '/ guardian-kill why=lease/ { print $1; exit }' "$TEST_TMP/s.events")
lease_ms=2000 margin_ms=200 # 20 s and m = 2 s, at the tests' time scale of 0.1
ok "s: the guardian killed the tree for the lease while tflock was stopped" test -n "$kill_t"
ok "s: not before the last renewal's send + L - m" test "${kill_t:-0}" -ge $((send + (lease_ms - margin_ms) * 1000000))
kill -KILL "$t"
kill -CONT "$t"
wait "$t" 2>/dev/null

# 4. the command exits and leaves its tree behind: --grace ends by killing it,
#    then the lock is released; the command's own status is kept
export TFLOCK_KEY=tree/grace.tfstate
watch g
TFLOCK_EVENT_LOG=$TEST_TMP/g.events "$TFLOCK" --lease 20s --grace 3s -- "$TESTCHILD" --log "$TEST_TMP/g.log" \
	"${TREE[@]}" exit=3 </dev/null 2>"$TEST_TMP/g.err"
is 3 $? "g: tflock exits with the command's status"
rel=$(awk '/ released / { print $1; exit }' "$TEST_TMP/g.events")
cexit=$(awk '/ child-exit / { print $1; exit }' "$TEST_TMP/g.events")
unwatch g
ok "g: 4 processes watched" test "$(nwatched g)" -ge 4
ok "g: every one died" test "$(nexited g)" = "$(nwatched g)"
ok "g: the lock was released after the last death" test -n "$rel" -a "$(last_exit g)" -lt "${rel:-0}"
ok "g: the leftovers outlived the command" test -n "$cexit" -a "$(last_exit g)" -gt "${cexit:-0}"
like "$(cat "$TEST_TMP/g.err")" "still running after .*killing them" "g: tflock says it killed them"

# 5. the real terraform: a terraform_data with a local-exec provisioner
#    (sleep 60); tflock SIGKILLed mid-apply
if command -v terraform >/dev/null; then
	export CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1 TF_INPUT=0
	: >"$TEST_TMP/terraformrc"
	export TF_CLI_CONFIG_FILE=$TEST_TMP/terraformrc
	unset TFLOCK_BUCKET TFLOCK_ENDPOINT TFLOCK_KEY
	proj=$TEST_TMP/proj
	mkdir -p "$proj" && cd "$proj" || bail "cd $proj"
	cat >main.tf <<TF
terraform {
  backend "s3" {
    bucket                      = "$bucket"
    key                         = "tree/real.tfstate"
    region                      = "us-east-1"
    endpoints                   = { s3 = "$TFLOCK_TEST_S3_ENDPOINT" }
    use_path_style              = true
    use_lockfile                = true
    skip_credentials_validation = true
    skip_region_validation      = true
    skip_requesting_account_id  = true
    skip_metadata_api_check     = true
  }
}
resource "terraform_data" "slow" {
  provisioner "local-exec" {
    command = "echo \"grandchild \$($NOW) pid=\$\$\" >>'$TEST_TMP/tf.log'; sleep 60 & echo \"grandchild \$($NOW) pid=\$!\" >>'$TEST_TMP/tf.log'; wait"
  }
}
TF
	terraform init -input=false >"$TEST_TMP/init.out" 2>&1
	is 0 $? "tf: terraform init against the local gateway"
	watch tf
	w=$WATCH_PID
	TFLOCK_EVENT_LOG=$TEST_TMP/tf.events "$TFLOCK" --lease 20s -- terraform apply -auto-approve \
		</dev/null >"$TEST_TMP/apply.out" 2>&1 &
	t=$!
	wait_for "tf: terraform started" 60 grep -q ' child-start ' "$TEST_TMP/tf.events"
	awk '/ child-start / { for (i = 3; i <= NF; i++) if ($i ~ /^pid=/) print "start " $1 " " $i }' \
		"$TEST_TMP/tf.events" >>"$TEST_TMP/tf.log"
	wait_for "tf: the provisioner's sleep started" 120 tree_up tf 3
	kill -KILL "$t"
	wait "$t" 2>/dev/null
	TFLOCK_EVENT_LOG=$TEST_TMP/tf.next "$TFLOCK" --lease 20s -- true 2>/dev/null
	is 0 $? "tf: the next holder ran"
	WATCH_PID=$w
	unwatch tf
	check tf "$TEST_TMP/tf.next" 3 "tf (terraform, the provisioner's shell, its sleep)"
else
	skip "no terraform binary on this machine: the real-terraform part is skipped"
fi
done_testing
