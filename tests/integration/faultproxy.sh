#!/bin/bash
# faultproxy, the fault-injecting proxy the lock tests put between tflock and
# the RADOS Gateway, does what tests/helpers/faultproxy.c promises: seen from
# the client, from the server (requests sent to it directly) and in its log.
# Its DynamoDB side (target=, err=, JSON error answers, the log's target=
# field) is checked in front of the DynamoDB test server, dynalite; without
# dynalite installed those checks are skipped, saying so.
. "$top_srcdir/tests/integration/lib.sh"
plan_lazy
rgw_require

FAULTPROXY=${FAULTPROXY:-$top_builddir/tests/helpers/faultproxy}
[ -x "$FAULTPROXY" ] || bail "no faultproxy at $FAULTPROXY: build it first"

rules=$TEST_TMP/rules
log=$TEST_TMP/log
proxy_pids=()
cleanup() {
	local p
	for p in "${proxy_pids[@]}"; do kill "$p" 2>/dev/null; done
	rm -rf "$TEST_TMP"
}
trap cleanup EXIT
# (after the trap: need_ddb adds the stop of a private server to it)
ddb=
need_ddb --optional && ddb=1

# wait_for CMD...: poll CMD every 0.1 s, give up after 15 s
wait_for() {
	local i
	for ((i = 0; i < 150; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# a process of ours has exited (gone, or a zombie not yet waited for)
proc_gone() { [ ! -e "/proc/$1" ] || grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null; }

# set_rules LINE...: replace the rules atomically
set_rules() { printf '%s\n' "$@" >"$rules.new" && mv "$rules.new" "$rules"; }

# log_for TARGET: the log lines of requests for exactly TARGET
log_for() { awk -v t="$1" '$4 == t' "$log" 2>/dev/null; }
# log_has TARGET N: at least N lines for TARGET (lines are written when a request is finished,
# which may be just after the client saw its answer)
log_has() { [ "$(log_for "$1" | wc -l)" -ge "$2" ]; }
# last_log TARGET N: wait for N lines for TARGET and print the last one
last_log() { wait_for log_has "$1" "$2"; log_for "$1" | tail -n 1; }
# since TARGET: remember how many lines TARGET has; next_line TARGET [K]: wait for
# K (default 1) more and print the last
since() { since_n=$(log_for "$1" | wc -l); }
next_line() { last_log "$1" $((since_n + ${2:-1})); }
# the fields after the target
tail_of() { printf '%s\n' "$1" | cut -d' ' -f5-; }
# the object exists on the server
obj_exists() { [ "$(s3_status GET "$1")" = 200 ]; }

px() { TFLOCK_TEST_S3_ENDPOINT=$proxy s3 "$@"; }
px_status() { px "$@" 2>/dev/null | tail -n 1; }
put_body() { printf '%s' "$1" >"$TEST_TMP/body.$1"; printf '%s\n' "$TEST_TMP/body.$1"; }

set_rules '# nothing injected yet'
"$FAULTPROXY" --upstream "$TFLOCK_TEST_S3_ENDPOINT" --port-file "$TEST_TMP/port" --log "$log" \
	--rules "$rules" --idle-exit 300 2>"$TEST_TMP/proxy.err" &
proxy_pid=$!
proxy_pids+=("$proxy_pid")
ok "the port file appears" wait_for test -s "$TEST_TMP/port"
port=$(cat "$TEST_TMP/port")
like "$port" '^[0-9]+$' "the port file holds a port number"
proxy=http://127.0.0.1:$port
bucket=$(new_bucket)
b=/$bucket

# --- pass: verbatim forwarding (the signature covers Host), relay, log line
S3_BODY_FILE=$(put_body one) px PUT "$b/pass.tflock" -H 'If-None-Match: *' >"$TEST_TMP/out"
is 200 "$(tail -n 1 "$TEST_TMP/out")" "pass: a signed conditional PUT through the proxy succeeds"
is "one
200" "$(s3 GET "$b/pass.tflock")" "pass: the server has the object"
line=$(last_log "$b/pass.tflock" 1)
like "$line" "^[0-9]+ [0-9]+ PUT $b/pass.tflock if-match=- if-none-match=\\* action=pass upstream=200 client=200\$" \
	"pass: the log line names method, target, If-None-Match, action and both statuses"
out=$(S3_BODY_FILE=$(put_body two) px PUT "$b/pass.tflock" -H 'If-None-Match: *')
is 412 "$(printf '%s' "$out" | tail -n 1)" "pass: the server's own 412 is relayed"
like "$out" '<Code>PreconditionFailed</Code>' "pass: with the server's error body"
is "upstream=412 client=412" "$(last_log "$b/pass.tflock" 2 | cut -d' ' -f8-)" "pass: logged as 412 from the server"

out=$(px GET "$b")
like "$out" '<Key>pass.tflock</Key>' "a chunked listing from the server is relayed whole"
is 200 "$(printf '%s' "$out" | tail -n 1)" "with its status"
out=$(px HEAD "$b/pass.tflock" -I 2>/dev/null)
like "$out" '[Cc]ontent-[Ll]ength: 3' "HEAD: the object's Content-Length is relayed unchanged"
is 200 "$(printf '%s' "$out" | tail -n 1)" "HEAD: 200"

etag=$(s3 HEAD "$b/pass.tflock" -I | tr -d '\r' | sed -n 's/^[Ee][Tt]ag: "\(.*\)"$/\1/p')
like "$etag" '^[0-9a-f]{32}$' "the server gives the object an ETag"
since "$b/pass.tflock"
is 200 "$(S3_BODY_FILE=$(put_body three) px_status PUT "$b/pass.tflock" -H "If-Match: $etag")" \
	"If-Match PUT through the proxy (unquoted ETag, as RGW wants)"
like "$(next_line "$b/pass.tflock")" "if-match=$etag if-none-match=- action=pass upstream=200 client=200\$" \
	"the log shows the If-Match value"

# keep-alive: two requests in one curl run share a client connection
since "$b/pass.tflock"
px GET "$b/pass.tflock" "$proxy$b/pass.tflock" >/dev/null
next_line "$b/pass.tflock" 2 >/dev/null
ids=$(log_for "$b/pass.tflock" | tail -n 2 | cut -d' ' -f2 | sort -u | wc -l)
is 1 "$ids" "keep-alive: two requests on one connection carry the same connection number"

# --- status N: answered by the proxy, the server never sees the request
set_rules 'PUT /inj.tflock status 412' 'PUT /c409 status 409' 'PUT /c503 status 503' 'PUT /c500 status 500'
out=$(S3_BODY_FILE=$(put_body four) px PUT "$b/inj.tflock" -H 'If-None-Match: *')
is 412 "$(printf '%s' "$out" | tail -n 1)" "status 412: the client gets 412"
like "$out" '<Code>Injected412</Code><Message>injected by faultproxy</Message>' "status 412: with the injected error body"
is 404 "$(s3_status GET "$b/inj.tflock")" "status 412: the server never saw the PUT"
is "if-none-match=* action=status:412 upstream=- client=412" "$(tail_of "$(last_log "$b/inj.tflock" 1)" | cut -d' ' -f2-)" \
	"status 412: logged as not forwarded"
like "$(S3_BODY_FILE=$(put_body four) px PUT "$b/c409" | tr -d '\n')" '<Code>ConditionalRequestConflict</Code>.*409$' \
	"status 409 carries ConditionalRequestConflict"
like "$(S3_BODY_FILE=$(put_body four) px PUT "$b/c503" | tr -d '\n')" '<Code>SlowDown</Code>.*503$' "status 503 carries SlowDown"
like "$(S3_BODY_FILE=$(put_body four) px PUT "$b/c500" | tr -d '\n')" '<Code>InternalError</Code>.*500$' "status 500 carries InternalError"
is 200 "$(px_status GET "$b/pass.tflock")" "a request no rule matches passes"
is 404 "$(px_status GET "$b/inj.tflock")" "a rule for PUT leaves GET of the same key alone"

# --- drop: connection closed, nothing forwarded
set_rules 'PUT /drop.tflock drop'
out=$(S3_BODY_FILE=$(put_body five) px PUT "$b/drop.tflock" 2>/dev/null)
is 52 $? "drop: the client sees an empty reply (curl exit 52)"
is 404 "$(s3_status GET "$b/drop.tflock")" "drop: the server never saw the PUT"
like "$(last_log "$b/drop.tflock" 1)" ' action=drop upstream=- client=dropped$' "drop: logged"

# --- drop-after: the server commits, the response is lost
set_rules 'PUT /lost.tflock drop-after'
out=$(S3_BODY_FILE=$(put_body six) px PUT "$b/lost.tflock" -H 'If-None-Match: *' 2>/dev/null)
is 52 $? "drop-after: the client sees an empty reply"
is "six
200" "$(s3 GET "$b/lost.tflock")" "drop-after: yet the server committed the write"
like "$(last_log "$b/lost.tflock" 1)" ' action=drop-after upstream=200 client=dropped$' "drop-after: logged with the server's 200"

# --- status-after: the server commits, the client gets an error
set_rules 'PUT /sa.tflock status-after 503'
out=$(S3_BODY_FILE=$(put_body seven) px PUT "$b/sa.tflock" | tr -d '\n')
like "$out" '<Code>SlowDown</Code>.*503$' "status-after 503: the client gets SlowDown"
is "seven
200" "$(s3 GET "$b/sa.tflock")" "status-after 503: the server committed the write"
like "$(last_log "$b/sa.tflock" 1)" ' action=status-after:503 upstream=200 client=503$' "status-after: logged"

# --- reset: TCP RST, nothing forwarded
set_rules 'PUT /rst.tflock reset'
out=$(S3_BODY_FILE=$(put_body eight) px PUT "$b/rst.tflock" 2>"$TEST_TMP/curl.err")
rc=$?
like "$rc" '^(55|56)$' "reset: curl fails with a send/receive error"
like "$(cat "$TEST_TMP/curl.err")" '[Rr]eset by peer' "reset: the client sees a connection reset"
is 404 "$(s3_status GET "$b/rst.tflock")" "reset: the server never saw the PUT"
like "$(last_log "$b/rst.tflock" 1)" ' action=reset upstream=- client=reset$' "reset: logged"

# --- stall: delayed, then forwarded (even when the client gave up)
set_rules 'GET /pass.tflock stall 300' 'PUT /late.tflock stall 4000'
since "$b/pass.tflock"
is "three
200" "$(px GET "$b/pass.tflock")" "stall 300: the answer still comes"
like "$(next_line "$b/pass.tflock")" ' action=stall:300 upstream=200 client=200$' "stall: logged"
out=$(S3_BODY_FILE=$(put_body nine) px PUT "$b/late.tflock" --max-time 1 2>/dev/null)
is 28 $? "stall 4000: a client with a 1 s timeout gives up"
ok "stall: the delayed write reaches the server afterwards" wait_for obj_exists "$b/late.tflock"
like "$(last_log "$b/late.tflock" 1)" ' action=stall:4000 upstream=200 client=gone$' \
	"stall: logged as forwarded, with the client gone"

# --- stall-after: forwarded at once, the answer held back
set_rules 'PUT /held.tflock stall-after 4000'
out=$(S3_BODY_FILE=$(put_body ten) px PUT "$b/held.tflock" --max-time 1 2>/dev/null)
is 28 $? "stall-after 4000: a client with a 1 s timeout gives up"
ok "stall-after: the server committed the write" wait_for obj_exists "$b/held.tflock"
like "$(last_log "$b/held.tflock" 1)" ' action=stall-after:4000 upstream=200 client=gone$' "stall-after: logged"

# --- hang: nothing forwarded, the connection held until the client leaves
set_rules 'GET /hang.tflock hang'
out=$(px GET "$b/hang.tflock" --max-time 1 2>/dev/null)
is 28 $? "hang: the client times out"
like "$(last_log "$b/hang.tflock" 1)" ' action=hang upstream=- client=hung$' "hang: logged once the client left"

# --- count= and after=, kept across re-reading, keyed by the rule's text
set_rules 'PUT /ca.tflock status 500 count=2 after=1'
seen=
for i in 1 2 3 4 5; do
	seen="$seen $(S3_BODY_FILE=$(put_body "ca$i") px_status PUT "$b/ca.tflock")"
done
is " 200 500 500 200 200" "$seen" "count=2 after=1: one passes, two fail, then all pass"
wait_for log_has "$b/ca.tflock" 5
is "pass status:500 status:500 pass pass" "$(log_for "$b/ca.tflock" | sed 's/.* action=\([^ ]*\) .*/\1/' | xargs)" \
	"count/after: the log shows the actions in order"
set_rules 'GET /cnt.tflock status 503 count=1'
is 503 "$(px_status GET "$b/cnt.tflock")" "count=1: the first GET gets 503"
set_rules '# rewritten' 'GET  /cnt.tflock  status 503  count=1   # same rule, other spacing'
is 404 "$(px_status GET "$b/cnt.tflock")" "count=1: used up, even after the file is rewritten"
set_rules 'GET /cnt.tflock status 500 count=1'
is 500 "$(px_status GET "$b/cnt.tflock")" "a changed rule starts afresh"
set_rules 'ANY /first.tflock status 418' 'ANY * status 503' 'ANY /first.tflock status 500'
is 418 "$(px_status GET "$b/first.tflock")" "the first matching rule decides"
is 503 "$(px_status DELETE "$b/other.tflock")" "ANY and * match every method and target"
set_rules 'PUT * status 500 count=1' 'PUT * status 500 count=1' 'PUT * status 409'
seen=
for i in 1 2 3; do seen="$seen $(S3_BODY_FILE=$(put_body "d$i") px_status PUT "$b/dup.tflock")"; done
is " 500 500 409" "$seen" "identical lines keep separate counters"

# --- malformed input
set_rules '# nothing injected'
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'garbage\r\n\r\n' >&3
IFS= read -r -t 10 reply <&3
exec 3>&-
like "$reply" '^HTTP/1.1 400 ' "a request line it cannot parse gets 400"
like "$(last_log - 1)" '^[0-9]+ [0-9]+ - - if-match=- if-none-match=- action=reject upstream=- client=400$' \
	"and is logged as refused by the proxy"
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'PUT %s/partial HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc' "$b" >&3
exec 3>&-
like "$(last_log "$b/partial" 1)" ' action=pass upstream=- client=gone$' "a client vanishing mid-body is logged as gone"
is 404 "$(s3_status GET "$b/partial")" "and nothing reaches the server"
pad=$(head -c 70000 /dev/zero | tr '\0' a)
is 431 "$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 -H "X-Pad: $pad" "$proxy$b/big")" \
	"a head over 64 KiB gets 431"
like "$(last_log "$b/big" 1)" ' action=reject upstream=- client=431$' "refused by the proxy itself, not forwarded"
is 501 "$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 -X PUT -H 'Transfer-Encoding: chunked' \
	--data-binary @"$(put_body chunky)" "$proxy$b/chunked")" "a chunked request body gets 501"
like "$(last_log "$b/chunked" 1)" ' action=reject upstream=- client=501$' "logged as refused"
is 404 "$(s3_status GET "$b/chunked")" "and is not forwarded"
ok "the proxy is still running" kill -0 "$proxy_pid"

# --- many clients at once
set_rules '# nothing injected'
race_pids=()
for i in $(seq 20); do
	S3_BODY_FILE=$(put_body "race$i") px_status PUT "$b/race.tflock" -H 'If-None-Match: *' >"$TEST_TMP/race.$i" &
	race_pids+=("$!")
done
wait "${race_pids[@]}" # each curl is bounded by --max-time
wait_for log_has "$b/race.tflock" 20
is "1 200,19 412" "$(awk 1 "$TEST_TMP"/race.* | sort | uniq -c | awk '{print $1, $2}' | paste -sd,)" \
	"20 racing conditional PUTs through the proxy: exactly one wins"
is 20 "$(log_for "$b/race.tflock" | grep -c ' upstream=\(200\|412\) client=\(200\|412\)$')" "each has its log line"

# --- the log as a whole
# --- absolute form (faultproxy as a forward proxy): the path goes to the upstream,
# whatever host the target names (here a loopback port nothing listens on; the
# gateway would take another host name for a bucket name)
abs=http://127.0.0.1:9
set_rules 'PUT abs.tflock status 503 count=1'
out=$(S3_BODY_FILE=$(put_body abs) TFLOCK_TEST_S3_ENDPOINT=$abs s3 PUT "$b/abs.tflock" -x "$proxy" 2>&1)
is 503 "$(printf '%s' "$out" | tail -n 1)" "absolute form: the rules match the target as sent"
out=$(S3_BODY_FILE=$(put_body abs) TFLOCK_TEST_S3_ENDPOINT=$abs s3 PUT "$b/abs.tflock" -x "$proxy" 2>&1)
is 200 "$(printf '%s' "$out" | tail -n 1)" "absolute form: a signed PUT for a closed port reaches the server"
is "abs
200" "$(s3 GET "$b/abs.tflock")" "absolute form: the server has the object"
like "$(last_log "$abs$b/abs.tflock" 2)" "^[0-9]+ [0-9]+ PUT $abs$b/abs.tflock .* action=pass upstream=200 client=200\$" \
	"absolute form: the log has the target as sent"
set_rules '# nothing injected'

# --- err= on an S3 request; target= rules leave S3 requests (no X-Amz-Target) alone
set_rules 'PUT /e403 status 403 err=AccessDenied' 'PUT /t500 status 500 target=PutItem'
like "$(S3_BODY_FILE=$(put_body e403) px PUT "$b/e403" | tr -d '\n')" '<Code>AccessDenied</Code>.*403$' \
	"err=NAME names the S3 error's Code"
is 200 "$(S3_BODY_FILE=$(put_body t500) px_status PUT "$b/t500")" "a target= rule does not match a request without X-Amz-Target"
set_rules '# nothing injected'

# --- DynamoDB's protocol (every request "POST /"), in front of dynalite
if [ -n "$ddb" ]; then
	drules=$TEST_TMP/drules
	dlog=$TEST_TMP/dlog
	printf '# nothing injected\n' >"$drules"
	"$FAULTPROXY" --upstream "$TFLOCK_TEST_DDB_ENDPOINT" --port-file "$TEST_TMP/dport" --log "$dlog" \
		--rules "$drules" --idle-exit 300 2>"$TEST_TMP/dproxy.err" &
	proxy_pids+=("$!")
	ok "a second proxy, in front of dynalite, starts" wait_for test -s "$TEST_TMP/dport"
	dproxy=http://127.0.0.1:$(cat "$TEST_TMP/dport")
	dset_rules() { printf '%s\n' "$@" >"$drules.new" && mv "$drules.new" "$drules"; }
	# dlast N: wait for N lines in the log, print the last
	dlog_has() { [ "$(wc -l <"$dlog")" -ge "$1" ]; }
	dlast() { wait_for dlog_has "$1" && tail -n 1 "$dlog"; }
	dlines=0
	# dreq OP JSON — through the proxy: sets dbody, dcode; dlines counts the requests sent
	dreq() {
		local out
		dlines=$((dlines + 1))
		out=$("$top_srcdir/tests/helpers/ddb-table" "$dproxy" raw "$1" "$2" 2>"$TEST_TMP/dreq.err")
		drc=$?
		dcode=${out##*$'\n'}
		dbody=${out%$'\n'*}
	}
	dtab=tfl-fp-$$
	ddb_table create "$dtab" >/dev/null || bail "cannot create table $dtab"
	dput() { # dput KEY — create-if-absent PutItem of KEY
		dreq PutItem "{\"TableName\":\"$dtab\",\"Item\":{\"LockID\":{\"S\":\"$1\"},\"Info\":{\"S\":\"i\"}},\"ConditionExpression\":\"attribute_not_exists(LockID)\"}"
	}
	dget() { dreq GetItem "{\"TableName\":\"$dtab\",\"Key\":{\"LockID\":{\"S\":\"$1\"}},\"ConsistentRead\":true}"; }
	has_item() { [ "$(ddb_table get "$dtab" "$1")" != "{}" ]; }
	inj() { printf '{"__type":"com.amazonaws.dynamodb.v20120810#%s","message":"injected by faultproxy"}' "$1"; }

	dput pass
	is 200 "$dcode" "ddb pass: a PutItem through the proxy succeeds"
	like "$(dlast $dlines)" '^[0-9]+ [0-9]+ POST / if-match=- if-none-match=- action=pass upstream=200 client=200 target=PutItem$' \
		"ddb pass: the log line ends with the operation (target=PutItem)"

	dset_rules 'POST * drop-after target=PutItem'
	dput lost
	is 2 "$drc" "drop-after target=PutItem: the client gets no answer"
	like "$(cat "$TEST_TMP/dreq.err")" 'Empty reply' "... an empty reply"
	ok "drop-after target=PutItem: yet dynalite applied the PutItem" has_item lost
	like "$(dlast $dlines)" ' action=drop-after upstream=200 client=dropped target=PutItem$' "... logged"
	dget lost
	is 200 "$dcode" "a GetItem is not matched by target=PutItem"

	dset_rules 'POST * status 500 target=PutItem'
	dput s500
	is "500 $(inj InternalServerError)" "$dcode $dbody" "status 500 target=PutItem: DynamoDB's InternalServerError"
	ok_not "status 500: dynalite never saw the PutItem" has_item s500
	like "$(dlast $dlines)" ' action=status:500 upstream=- client=500 target=PutItem$' "... logged as not forwarded"
	is "application/x-amz-json-1.0" "$(curl -s -o /dev/null -w '%{content_type}' --max-time 20 -X POST \
		-H 'X-Amz-Target: DynamoDB_20120810.PutItem' -H 'Content-Type: application/x-amz-json-1.0' -d '{}' "$dproxy/")" \
		"... with DynamoDB's Content-Type"
	dlines=$((dlines + 1))

	dset_rules 'POST * status 400 err=ProvisionedThroughputExceededException target=PutItem' \
		'POST * status 400 err=com.amazon.coral.service#ThrottlingException target=DynamoDB_20120810.GetItem' \
		'POST * status 503 target=DescribeTable'
	dput thr
	is "400 $(inj ProvisionedThroughputExceededException)" "$dcode $dbody" "err=ProvisionedThroughputExceededException names the __type"
	dget thr
	is '400 {"__type":"com.amazon.coral.service#ThrottlingException","message":"injected by faultproxy"}' "$dcode $dbody" \
		"err= with a '#' is sent as it is; target= matches the whole X-Amz-Target too"
	dreq DescribeTable "{\"TableName\":\"$dtab\"}"
	is "503 $(inj ServiceUnavailable)" "$dcode $dbody" "status 503 without err=: ServiceUnavailable"

	dset_rules 'POST * status-after 500 target=DeleteItem'
	dreq DeleteItem "{\"TableName\":\"$dtab\",\"Key\":{\"LockID\":{\"S\":\"pass\"}}}"
	is "500 $(inj InternalServerError)" "$dcode $dbody" "status-after 500 target=DeleteItem: the client gets the error"
	ok_not "status-after: yet dynalite deleted the item" has_item pass
	like "$(dlast $dlines)" ' action=status-after:500 upstream=200 client=500 target=DeleteItem$' "... logged with dynalite's 200"

	dset_rules 'POST * status 500 target=PutItem count=1'
	seen=
	for i in 1 2; do
		dput "cnt$i"
		seen="$seen $dcode"
	done
	is " 500 200" "$seen" "count=1 with target=: one injected, then passed"

	dset_rules '# nothing injected'
	wait_for dlog_has "$dlines"
	dbad=$(grep -Evc '^[0-9]+ [0-9]+ POST / if-match=- if-none-match=- action=[a-z0-9:-]+ upstream=([0-9]{3}|-|error|timeout) client=([0-9]{3}|dropped|reset|hung|gone) target=[A-Za-z]+$' "$dlog")
	is 0 "$dbad" "every DynamoDB log line has the documented format, target= last"
	is "$dlines" "$(wc -l <"$dlog")" "one log line per request"
	is 0 "$(grep -c ' target=' "$log")" "S3 requests' log lines have no target= field"
	ddb_table delete "$dtab" >/dev/null
else
	skip "dynalite is not installed: faultproxy's DynamoDB side not checked (tests/install-deps.sh installs it)"
fi

# --- bad target= and err= words are refused at start-up
for r in 'POST * status 500 target=' 'POST * status 500 err=a"b' 'POST * status 500 target=A target=B'; do
	printf '%s\n' "$r" >"$TEST_TMP/badrules"
	"$FAULTPROXY" --upstream "$TFLOCK_TEST_S3_ENDPOINT" --port-file "$TEST_TMP/p4" --log "$TEST_TMP/l4" \
		--rules "$TEST_TMP/badrules" 2>"$TEST_TMP/err4"
	like "$?: $(cat "$TEST_TMP/err4")" '^2: .*badrules:1: bad "(target|err)=' "refused at start-up: $r"
done

bad=$(grep -Evc '^[0-9]+ [0-9]+ [A-Z-]+ [^ ]+ if-match=[^ ]+ if-none-match=[^ ]+ action=[a-z0-9:-]+ upstream=([0-9]{3}|-|error|timeout) client=([0-9]{3}|dropped|reset|hung|gone)$' "$log")
is 0 "$bad" "every log line has the documented format"
is "" "$(awk 'NR > 1 && $1 < prev { print NR } { prev = $1 }' "$log")" "log times never go backwards"

# --- start-up checks and exits
"$FAULTPROXY" --upstream 192.0.2.1:80 --port-file "$TEST_TMP/p2" --log "$TEST_TMP/l2" --rules "$rules" 2>"$TEST_TMP/err2"
is 2 $? "a non-loopback upstream is refused (exit 2)"
like "$(cat "$TEST_TMP/err2")" 'loopback only' "saying why"
set_rules 'PUT /x explode'
"$FAULTPROXY" --upstream "$TFLOCK_TEST_S3_ENDPOINT" --port-file "$TEST_TMP/p2" --log "$TEST_TMP/l2" --rules "$rules" 2>"$TEST_TMP/err2"
is 2 $? "a bad rules file is refused at start-up"
like "$(cat "$TEST_TMP/err2")" 'rules:1: unknown action "explode"' "naming the line"
ok "and it never listened" test ! -e "$TEST_TMP/p2"

kill -TERM "$proxy_pid"
ok "SIGTERM: the proxy exits promptly" wait_for proc_gone "$proxy_pid"
wait "$proxy_pid"
is 0 $? "SIGTERM: with status 0"

set_rules '# nothing injected'
"$FAULTPROXY" --upstream "$TFLOCK_TEST_S3_ENDPOINT" --port-file "$TEST_TMP/p3" --log "$TEST_TMP/l3" \
	--rules "$rules" --idle-exit 1 2>"$TEST_TMP/err3" &
idle_pid=$!
proxy_pids+=("$idle_pid")
ok "--idle-exit 1: started" wait_for test -s "$TEST_TMP/p3"
ok "--idle-exit 1: exits by itself" wait_for proc_gone "$idle_pid"
wait "$idle_pid"
is 0 $? "--idle-exit: with status 0"
like "$(cat "$TEST_TMP/err3")" 'no request for 1 s' "--idle-exit: and says why"
done_testing
