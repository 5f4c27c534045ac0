#!/bin/bash
# The FIFO queue of waiters (PROTOCOL B13) against the real gateway. Orders and
# counts come from event logs and files the commands write; the only times
# compared are CLOCK_BOOTTIME stamps from the event logs, as lower bounds.
#  - 8 and 32 waiters that join in a known order acquire in that order, behind
#    a tflock holder and behind a plain Terraform lock;
#  - a SIGKILLed holder is taken over by the head, and the order holds;
#  - a waiter SIGKILLed mid-queue is skipped, never before its ticket's last
#    write + the ticket lease, and its ticket is removed;
#  - a head SIGKILLed while waiting is skipped the same way;
#  - a waiter that gives up (--timeout) removes its ticket and exits 75;
#  - lost replies and 500s on queue writes (fault proxy) change nothing;
#  - the waiters watch only the head's ticket, the next head most often;
#  - failing listings are retried after a backoff, never in a loop;
#  - a 403 on the listing falls back to waiting without the queue, with a
#    warning; --no-queue sends no queue request; an uncontended run writes no
#    ticket;
#  - mutual exclusion (counter exact, no overlap) with queued and --no-queue
#    runs mixed.
. "$top_srcdir/tests/integration/lib.sh"
plan_lazy
rgw_require
bucket=$(new_bucket)
tflock_env "$bucket"
# the ticket lease Q = L/3 within 5..40 s, scaled like every duration
lease_ms=$(awk -v s="$TFLOCK_TIME_SCALE" 'BEGIN { printf "%d", 120000 * s }')
q_ms=$(awk -v s="$TFLOCK_TIME_SCALE" 'BEGIN { printf "%d", 40000 * s }')

# queue_keys KEY — the queue's object names under KEY.queue. (one per line)
queue_keys() {
	s3 GET "/$bucket?list-type=2&prefix=$(printf '%s' "$1" | sed 's|/|%2F|g').queue." |
		sed '$d' | tr '<' '\n' |
		sed -n 's/^Key>//p'
}
tickets_left() { queue_keys "$1" | grep -c '\.queue\.[0-9]\{16\}\.tflock$'; }
# joined EVENTS — the event log shows a queue-join
joined() { grep -q ' queue-join ' "$1" 2>/dev/null; }
# last_ticket_send EVENTS — the send of the last ticket write logged (join or renewal)
last_ticket_send() {
	awk '$3 == "queue-join" || $3 == "queue-renew" { for (k = 1; k <= NF; k++) if ($k ~ /^send=/) { sub("send=", "", $k); s = $k } } END { print s }' "$1"
}
# ev_time FILE WORD — the first event WORD's boottime
ev_time() { awk -v w="$2" '$3 == w { print $1; exit }' "$1"; }

# holder DIR KEY [ARGS] — a tflock holder whose command waits for DIR/release
holder() {
	local d=$1 key=$2
	shift 2
	TFLOCK_KEY=$key TFLOCK_EVENT_LOG=$d/h.events "$TFLOCK" "$@" -- "$TESTCHILD" \
		--log "$d/h.log" touch="$d/h.run" wait-file="$d/release" exit=0 2>"$d/h.err" &
	HOLDER=$!
	wait_for "holder running" 30 test -e "$d/h.run"
}

# waiters DIR KEY N [ARGS] — N waiters joining one after another (each waits
# for the previous one's queue-join); waiter i appends "w<i>" to DIR/order;
# pids in WPIDS
waiters() {
	local d=$1 key=$2 n=$3 i
	shift 3
	WPIDS=()
	for ((i = 1; i <= n; i++)); do
		TFLOCK_KEY=$key TFLOCK_EVENT_LOG=$d/w$i.events "$TFLOCK" "$@" -- \
			sh -c "echo w$i >>'$d/order'" 2>"$d/w$i.err" &
		WPIDS+=($!)
		wait_for "waiter $i joined" 30 joined "$d/w$i.events" || return 1
	done
}
expected() { for ((i = 1; i <= $1; i++)); do printf 'w%d\n' "$i"; done; }
wait_all() {
	local p st=0
	for p in "$@"; do wait "$p" || st=1; done
	return $st
}
positions_increase() {
	local d=$1 n=$2 i prev=0 p
	for ((i = 1; i <= n; i++)); do
		p=$(awk '$3 == "queue-join" { for (k = 1; k <= NF; k++) if ($k ~ /^pos=/) { sub("pos=", "", $k); print $k; exit } }' "$d/w$i.events")
		[ -n "$p" ] && [ "$p" -gt "$prev" ] || return 1
		prev=$p
	done
}

# ---- 8 and 32 waiters behind a tflock holder ----
for n in 8 32; do
	d=$TEST_TMP/order$n
	key=order$n/terraform.tfstate
	mkdir -p "$d"
	holder "$d" "$key"
	waiters "$d" "$key" "$n"
	ok "$n waiters joined the queue, one after another" test ${#WPIDS[@]} -eq "$n"
	ok "their positions increase in joining order" positions_increase "$d" "$n"
	is "$(tickets_left "$key")" "$n" "$n tickets next to the lock while they wait"
	is "$(cat "$d/order" 2>/dev/null | wc -l)" 0 "nobody ran while the holder held"
	TFLOCK_KEY=$key "$TFLOCK" status >"$d/status.out" 2>&1
	like "$(cat "$d/status.out")" "Queue: +$n waiting, in line order" "status lists the $n in line"
	is "$(TFLOCK_KEY=$key "$TFLOCK" status --json 2>/dev/null | grep -c '"queue_position"')" "$n" \
		"status --json has one line per ticket"
	touch "$d/release"
	wait "$HOLDER"
	wait_all "${WPIDS[@]}"
	is $? 0 "every waiter exited 0"
	is "$(cat "$d/order")" "$(expected "$n")" "$n waiters acquired in the order they joined"
	is "$(grep -l ' queue-leave .*why=acquired' "$d"/w*.events | wc -l)" "$n" \
		"each deleted its ticket once it held the lock"
	is "$(tickets_left "$key")" 0 "no ticket is left"
	is 404 "$(s3_status GET "/$bucket/$key.tflock")" "no lock is left"
done
like "$(cat "$TEST_TMP/order8/w5.err")" "5th in line, behind .* held by " \
	"the waiting line says the place in line, who is ahead, and the holder"

# ---- behind a plain Terraform lock ----
d=$TEST_TMP/plain
key=plain/terraform.tfstate
mkdir -p "$d"
printf '{"ID":"11111111-2222-3333-4444-555555555555","Operation":"OperationTypeApply","Info":"","Who":"tf@ci","Version":"1.11.4","Created":"2026-01-01T00:00:00Z","Path":"%s/%s"}' \
	"$bucket" "$key" >"$d/plain.json"
is "$(S3_BODY_FILE=$d/plain.json s3_status PUT "/$bucket/$key.tflock")" 200 "a plain Terraform lock"
waiters "$d" "$key" 4
sleep 1
is "$(cat "$d/order" 2>/dev/null | wc -l)" 0 "nobody takes a plain Terraform lock over"
is "$(s3_status DELETE "/$bucket/$key.tflock")" 204 "terraform force-unlock (the object deleted)"
wait_all "${WPIDS[@]}"
is $? 0 "every waiter exited 0"
is "$(cat "$d/order")" "$(expected 4)" "behind a plain lock, 4 waiters acquired in joining order"
is "$(tickets_left "$key")" 0 "no ticket is left"

# ---- a forged ticket with terminal escapes ahead: printed escaped, skipped ----
d=$TEST_TMP/hostile
key=hostile/terraform.tfstate
mkdir -p "$d"
holder "$d" "$key"
printf '{"v":1,"ID":"x","seq":1,"lease_ms":1000,"Who":"evil\\u001b[31mRED\\u001b]0;title\\u0007","Operation":"op","ci":"","host":"h","pid":1,"Created":"2026-01-01T00:00:00Z"}' \
	>"$d/forged.json"
is "$(S3_BODY_FILE=$d/forged.json s3_status PUT "/$bucket/$key.queue.0000000000000001.tflock")" 200 \
	"a forged ticket at position 1"
printf '{"v":1,"next":2,"ID":"x","seq":1}' >"$d/counter.json"
S3_BODY_FILE=$d/counter.json s3_status PUT "/$bucket/$key.queue.next.tflock" >/dev/null
waiters "$d" "$key" 1
TFLOCK_KEY=$key "$TFLOCK" status >"$d/status.out" 2>&1
touch "$d/release"
wait "$HOLDER"
wait "${WPIDS[0]}"
is $? 0 "the waiter behind a forged ticket acquired"
ok "its stderr holds no raw escape character" bash -c "! grep -q \$'\\e\\|\\a' '$d/w1.err'"
ok "status printed no raw escape character either" bash -c "! grep -q \$'\\e\\|\\a' '$d/status.out'"
like "$(cat "$d/status.out")" 'evil' "status lists the forged ticket (escaped)"
ok "the forged ticket was skipped and removed" grep -q ' queue-skip .*removed=yes' "$d/w1.events"
is "$(tickets_left "$key")" 0 "no ticket is left"

# ---- a SIGKILLed holder: the head takes over, the order holds ----
d=$TEST_TMP/killed-holder
key=killedholder/terraform.tfstate
mkdir -p "$d"
holder "$d" "$key" --lease 20s
waiters "$d" "$key" 4
kill -KILL "$HOLDER"
wait "$HOLDER" 2>/dev/null
wait_all "${WPIDS[@]}"
is $? 0 "every waiter exited 0 after the holder was SIGKILLed"
is "$(cat "$d/order")" "$(expected 4)" "the order holds across a takeover"
ok "the head (w1) took the lock over" grep -q ' takeover ' "$d/w1.events"
is "$(cat "$d"/w[234].events | grep -c ' takeover ')" 0 "nobody else took over"

# ---- a waiter SIGKILLed mid-queue is skipped after its ticket lease ----
d=$TEST_TMP/killed-waiter
key=killedwaiter/terraform.tfstate
mkdir -p "$d"
holder "$d" "$key"
waiters "$d" "$key" 3
kill -KILL "${WPIDS[1]}"
wait "${WPIDS[1]}" 2>/dev/null
touch "$d/release"
wait "$HOLDER"
wait "${WPIDS[0]}"
is $? 0 "w1 exited 0"
wait "${WPIDS[2]}"
is $? 0 "w3 exited 0"
is "$(cat "$d/order")" "$(printf 'w1\nw3')" "w2 (SIGKILLed) was skipped, w3 came after w1"
last_write=$(last_ticket_send "$d/w2.events")
head3=$(ev_time "$d/w3.events" queue-head)
diag "w2's last ticket write sent before $last_write, w3 head at $head3, ticket lease $q_ms ms"
ok "w3 skipped w2 no sooner than its last ticket write + the ticket lease" \
	test $((head3 - last_write)) -ge $((q_ms * 1000000))
ok "w3 removed the dead ticket" grep -q ' queue-skip .*removed=yes' "$d/w3.events"
is "$(tickets_left "$key")" 0 "no ticket is left"

# ---- a head SIGKILLed while waiting ----
d=$TEST_TMP/killed-head
key=killedhead/terraform.tfstate
mkdir -p "$d"
holder "$d" "$key"
waiters "$d" "$key" 2
wait_for "w1 is the head" 30 grep -q ' queue-head ' "$d/w1.events"
kill -KILL "${WPIDS[0]}"
wait "${WPIDS[0]}" 2>/dev/null
touch "$d/release"
wait "$HOLDER"
wait "${WPIDS[1]}"
is $? 0 "w2 exited 0 after the head was SIGKILLed"
is "$(cat "$d/order")" w2 "w2 ran; the dead head did not"
last_write=$(last_ticket_send "$d/w1.events")
head2=$(ev_time "$d/w2.events" queue-head)
ok "w2 became head no sooner than the dead head's last ticket write + the ticket lease" \
	test $((head2 - last_write)) -ge $((q_ms * 1000000))
is "$(tickets_left "$key")" 0 "no ticket is left"

# ---- a waiter stopped past its ticket lease loses its place, never writes it ----
d=$TEST_TMP/stopped
key=stopped/terraform.tfstate
mkdir -p "$d"
holder "$d" "$key"
waiters "$d" "$key" 2
kill -STOP "${WPIDS[0]}"
wait_for "w2 skipped the stopped w1" 60 grep -q ' queue-head ' "$d/w2.events"
kill -CONT "${WPIDS[0]}"
wait_for "w1 noticed" 30 grep -q ' queue-\(expired\|removed\) ' "$d/w1.events"
touch "$d/release"
wait "$HOLDER"
wait_all "${WPIDS[@]}"
is $? 0 "both exited 0"
is "$(cat "$d/order")" "$(printf 'w2\nw1')" "w2 went first; w1, stopped past its ticket lease, came after"
ok "w1 wrote no ticket renewal after its lease ran out" bash -c "
	s=\$(awk '\$3 == \"queue-join\" { for (k = 1; k <= NF; k++) if (\$k ~ /^send=/) { sub(\"send=\", \"\", \$k); print \$k } ; exit }' '$d/w1.events')
	awk -v s=\"\$s\" -v q=$((q_ms * 1000000)) '\$3 == \"queue-renew\" { for (k = 1; k <= NF; k++) if (\$k ~ /^send=/) { sub(\"send=\", \"\", \$k); if (\$k - s >= q) bad++; s = \$k } } \$3 == \"queue-join\" { for (k = 1; k <= NF; k++) if (\$k ~ /^send=/) { sub(\"send=\", \"\", \$k); s = \$k } } END { exit bad > 0 }' '$d/w1.events'"
is "$(grep -c ' queue-join ' "$d/w1.events")" 2 "w1 joined again at the back"
is "$(tickets_left "$key")" 0 "no ticket is left"

# ---- a waiter that gives up ----
d=$TEST_TMP/timeout
key=timeout/terraform.tfstate
mkdir -p "$d"
holder "$d" "$key"
TFLOCK_KEY=$key TFLOCK_EVENT_LOG=$d/t.events "$TFLOCK" --timeout 20s -- true 2>"$d/t.err" &
tpid=$!
wait_for "the impatient waiter joined" 30 joined "$d/t.events"
waiters "$d" "$key" 1
wait "$tpid"
is $? 75 "a waiter past its --timeout exits 75"
ok "it deleted its ticket" grep -q ' queue-leave .*why=\(held\|timeout\)' "$d/t.events"
like "$(cat "$d/t.err")" "held by .*tf|held by" "it names the holder"
is "$(tickets_left "$key")" 1 "only the other waiter's ticket is left"
touch "$d/release"
wait "$HOLDER"
wait "${WPIDS[0]}"
is $? 0 "the waiter behind it acquired"

# ---- faults on queue writes ----
proxy_start
d=$TEST_TMP/faults
key=faults/terraform.tfstate
mkdir -p "$d"
holder "$d" "$key"
proxy_rules "PUT .queue. drop-after count=2" "PUT .queue. status-after 500 count=2 after=1" \
	"PUT .queue. status 500 count=1 after=2" "GET list-type=2 status 503 count=1 after=3"
direct=$TFLOCK_ENDPOINT
TFLOCK_ENDPOINT=$PROXY_URL
waiters "$d" "$key" 4
TFLOCK_ENDPOINT=$direct
touch "$d/release"
wait "$HOLDER"
wait_all "${WPIDS[@]}"
is $? 0 "every waiter exited 0 through lost replies and 500s on queue writes"
is "$(cat "$d/order")" "$(expected 4)" "and they acquired in joining order"
ok "replies to queue writes were lost" grep -q 'PUT .*\.queue\..*action=drop-after' "$PROXY_LOG"
ok "queue writes were answered 500 after they applied" \
	grep -q 'PUT .*\.queue\..*action=status-after:500' "$PROXY_LOG"
ok "a queue write was refused with 500" grep -q 'PUT .*\.queue\..*action=status:500' "$PROXY_LOG"
is "$(tickets_left "$key")" 0 "no ticket is left"
is "$(grep -h ' queue-off ' "$d"/w*.events | wc -l)" 0 "nobody left the queue over it"

# ---- 403 on the listing: without the queue, said once ----
d=$TEST_TMP/denied
key=denied/terraform.tfstate
mkdir -p "$d"
holder "$d" "$key"
proxy_rules "GET list-type=2 status 403 err=AccessDenied"
TFLOCK_KEY=$key TFLOCK_ENDPOINT=$PROXY_URL TFLOCK_EVENT_LOG=$d/x.events "$TFLOCK" -- true \
	2>"$d/x.err" &
xpid=$!
wait_for "the waiter waits" 30 grep -q 'not queueing' "$d/x.err"
touch "$d/release"
wait "$HOLDER"
wait "$xpid"
is $? 0 "a run refused the listing (403) still acquired, waiting without the queue"
is "$(grep -c 'not queueing' "$d/x.err")" 1 "said once"
is "$(tickets_left "$key")" 0 "it wrote no ticket"
proxy_rules ""

# ---- pace: the waiters watch the head's ticket, the next head most often ----
d=$TEST_TMP/pace
key=pace/terraform.tfstate
mkdir -p "$d"
holder "$d" "$key"
: >"$PROXY_LOG"
direct=$TFLOCK_ENDPOINT
TFLOCK_ENDPOINT=$PROXY_URL
waiters "$d" "$key" 4
TFLOCK_ENDPOINT=$direct
head_ticket=$(awk '$3 == "queue-join" { sub(/^s3:\/\/[^\/]*/, "", $4); print $4; exit }' "$d/w1.events")
# head_reads — per proxy connection, its GETs of the head's ticket (a waiter
# keeps its connection for reads), most first
head_reads() {
	awk -v t="$head_ticket" '$3 == "GET" && $4 ~ /\.queue\.[0-9]+\.tflock$/ && index($4, t) { n[$2]++ }
		END { for (c in n) print n[c] }' "$PROXY_LOG" | sort -rn
}
busiest_ge() { [ "$(head_reads | head -n 1)" -ge "$1" ] 2>/dev/null; }
wait_for "the next head watched the head's ticket 40 times" 120 busiest_ge 40
reads=$(head_reads | tr '\n' ' ')
ok "the three behind the head watch its ticket (reads per connection: $reads)" \
	test "$(head_reads | wc -l)" -ge 3
ok "the next head watches it at least twice as often as the least eager ($reads)" \
	test "$(head_reads | head -n 1)" -ge $((2 * $(head_reads | tail -n 1)))
is "$(awk -v t="$head_ticket" '$3 == "GET" && $4 ~ /\.queue\.[0-9]+\.tflock$/ && !index($4, t)' "$PROXY_LOG" | wc -l)" 3 \
	"the other tickets are read once by each waiter behind them (their leases), never watched"
touch "$d/release"
wait "$HOLDER"
wait_all "${WPIDS[@]}"
is $? 0 "all four acquired"
is "$(cat "$d/order")" "$(expected 4)" "in joining order"

# ---- listings failing after an acquisition: retried after a backoff, never in a loop ----
d=$TEST_TMP/listfail
key=listfail/terraform.tfstate
mkdir -p "$d"
holder "$d" "$key"
direct=$TFLOCK_ENDPOINT
TFLOCK_ENDPOINT=$PROXY_URL
waiters "$d" "$key" 3
TFLOCK_ENDPOINT=$direct
: >"$PROXY_LOG"
proxy_rules "GET list-type=2 status 503 err=SlowDown"
touch "$d/release"
wait "$HOLDER"
wait_all "${WPIDS[@]}"
is $? 0 "three waiters acquired while every listing failed after the first one acquired"
proxy_rules ""
is "$(head -n 1 "$d/order")" w1 "the head first"
is "$(sort -u "$d/order" | wc -l)" 3 "each ran once (the other two race at the lock, without the queue)"
is "$(grep -h " queue-off " "$d"/w*.events | wc -l)" 2 "the two still waiting turned the queue off after the listings failed for the patience budget"
# per proxy connection (a waiter keeps its connection for reads), the shortest
# time between two failed listings: at least the poll (25 ms at the tests' time
# scale) apart when retried after a backoff; a loop at the store's pace would
# give a round trip
list_gaps() {
	awk '$3 == "GET" && $4 ~ /list-type=2/ && / action=status:503/ { if ($2 in t) print ($1 - t[$2]) / 1e6; t[$2] = $1 }' "$PROXY_LOG" | sort -n
}
ok "listings failed again and again ($(list_gaps | wc -l) retries on one connection)" \
	test "$(list_gaps | wc -l)" -ge 4
min_gap=$(list_gaps | head -n 1)
ok "no failed listing followed another within half a poll (shortest gap ${min_gap:-none} ms)" \
	awk -v g="${min_gap:-0}" 'BEGIN { exit !(g >= 12.5) }'

# ---- --no-queue and uncontended runs ----
: >"$PROXY_LOG"
TFLOCK_KEY=nq/terraform.tfstate TFLOCK_ENDPOINT=$PROXY_URL "$TFLOCK" --no-queue -- true 2>/dev/null
is $? 0 "--no-queue runs"
is "$(grep -c '\.queue\.\|list-type' "$PROXY_LOG")" 0 "--no-queue sends no queue request"
: >"$PROXY_LOG"
TFLOCK_KEY=nq/terraform.tfstate TFLOCK_ENDPOINT=$PROXY_URL "$TFLOCK" -- true 2>/dev/null
is $? 0 "an uncontended run"
is "$(grep -c 'list-type' "$PROXY_LOG")" 1 "lists the queue once"
is "$(grep -v 'list-type' "$PROXY_LOG" | grep -c '\.queue\.')" 0 "and writes no queue object"
TFLOCK_POLL=10ms "$TFLOCK" --key p/terraform.tfstate -- true 2>"$TEST_TMP/poll.err"
is $? 64 "--poll below 50ms is refused (64)"
like "$(cat "$TEST_TMP/poll.err")" "poll.*below 50ms" "naming the setting"

# ---- mutual exclusion, queued and --no-queue runs mixed ----
counter_setup "$bucket"
export TFLOCK_KEY=counter/terraform.tfstate
K=4
M=8
pids=()
for k in $(seq 1 "$K"); do
	(
		fails=0
		nq=
		[ $((k % 2)) = 0 ] && nq=--no-queue
		for m in $(seq 1 "$M"); do
			"$TFLOCK" -q $nq -- "$TEST_TMP/rmw" "$k.$m" || fails=$((fails + 1))
		done
		echo "$fails" >"$TEST_TMP/fails.$k"
	) &
	pids+=($!)
done
wait_all "${pids[@]}"
is "$(cat "$TEST_TMP"/fails.* | awk '{ s += $1 } END { print s }')" 0 "every cycle succeeded"
is "$(s3 GET "/$bucket/counter" | sed '$d')" "$((K * M))" "the counter is exact"
overlaps=$(sort -k2,2n "$TEST_TMP/intervals" | awk '
	$1 == "enter" { if (inside) bad++; inside = 1; who = $3 }
	$1 == "exit"  { if (!inside || who != $3) bad++; inside = 0 }
	END { print bad + 0 }')
is "$overlaps" 0 "no two holders' intervals overlap"
is "$(tickets_left "$TFLOCK_KEY")" 0 "no ticket is left"
done_testing
