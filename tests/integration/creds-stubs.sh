#!/bin/bash
# tests/helpers/stub-http, the loopback stand-in for STS, IMDS, ECS and SSO that
# tests/unit/creds.c drives: routes, turn-taking, logging, and that it always
# goes away (SIGTERM, idle limit). Loopback only; needs curl.
. "$top_srcdir/tests/integration/lib.sh"
plan_lazy

STUB=${top_builddir:?}/tests/helpers/stub-http
[ -x "$STUB" ] || skip_all "$STUB is not built"
command -v curl >/dev/null || skip_all "curl is not installed"

d=$TEST_TMP
stub_pid=

# stub_start ARGS...: start a stub, wait (bounded) for its port, set $base.
stub_start() {
	rm -f "$d/port" "$d/log"
	"$STUB" --port-file "$d/port" --log "$d/log" "$@" 2>"$d/stub.err" &
	stub_pid=$!
	for _ in $(seq 1 500); do
		[ -s "$d/port" ] && break
		kill -0 "$stub_pid" 2>/dev/null || break
		sleep 0.01
	done
	port=$(cat "$d/port" 2>/dev/null)
	base=http://127.0.0.1:$port
}

# wait_gone PID: bounded wait (5 s) for a process to exit; 0 if it did.
wait_gone() {
	for _ in $(seq 1 500); do
		kill -0 "$1" 2>/dev/null || { wait "$1" 2>/dev/null; return 0; }
		sleep 0.01
	done
	return 1
}

printf 'AQAEAToken==' >"$d/token"
printf '{"Code":"Success","AccessKeyId":"ASIA","SecretAccessKey":"s","Token":"t"}' >"$d/creds.json"
printf 'role-a' >"$d/role"
cat >"$d/routes" <<EOF
# IMDS
PUT /latest/api/token 200 $d/token
  X-Aws-Ec2-Metadata-Token-Ttl-Seconds: 21600
GET /latest/meta-data/iam/security-credentials/ 200 $d/role
GET /latest/meta-data/iam/security-credentials/role-a 200 $d/creds.json
  Content-Type: application/json
GET /exact\$ 200 $d/role
POST /sts 503 -
POST /sts 200 $d/token
* /drop close -
EOF

stub_start --routes "$d/routes" --idle 20
like "$port" '^[0-9]+$' "the stub writes its port"

out=$(curl -s -D "$d/h" -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 21600' "$base/latest/api/token")
is "AQAEAToken==" "$out" "a route serves its body file"
like "$(cat "$d/h")" 'X-Aws-Ec2-Metadata-Token-Ttl-Seconds: 21600' "... with its headers"
like "$(cat "$d/h")" 'Content-Length: 12' "... and a Content-Length"
is "role-a" "$(curl -s "$base/latest/meta-data/iam/security-credentials/")" "prefix route"
like "$(curl -s "$base/latest/meta-data/iam/security-credentials/role-a")" '"AccessKeyId":"ASIA"' \
	"the longest prefix wins"
is 200 "$(curl -s -o /dev/null -w '%{http_code}' "$base/exact?x=1")" "an exact route ignores the query"
is 404 "$(curl -s -o /dev/null -w '%{http_code}' "$base/exactly")" "... and nothing longer"
is "no route" "$(curl -s "$base/nothing/here")" "no route: 404 \"no route\""
codes=$(for _ in 1 2 3; do curl -s -o /dev/null -w '%{http_code} ' -d 'Action=X' "$base/sts"; done)
is "503 200 200 " "$codes" "same routes answer in turn, the last one repeating"
curl -s "$base/drop" >/dev/null 2>&1
is 52 $? "a close route drops the connection without a reply"

log=$(cat "$d/log")
like "$log" '=== 1 PUT /latest/api/token' "the log has the first request"
like "$log" 'X-aws-ec2-metadata-token-ttl-seconds: 21600' "... its headers as sent"
like "$log" '=== end 1 200' "... and its status"
like "$log" 'Action=X' "request bodies are logged"
like "$log" '=== end 7 503' "statuses are logged per request"
like "$log" 'close' "a dropped request is logged as close"
is 10 "$(grep -c '^=== end ' "$d/log")" "one log entry per request"

kill -TERM "$stub_pid"
ok "SIGTERM stops the stub" wait_gone "$stub_pid"

# routes as arguments, and the idle limit
printf 'x' >"$d/x"
stub_start --idle 1 "GET /a 201 $d/x
  X-Test: yes" "HEAD /a 200 $d/x"
is 201 "$(curl -s -o /dev/null -w '%{http_code}' "$base/a")" "routes given as arguments"
is "" "$(curl -s -I "$base/a" | tr -d '\r' | grep -i '^x-test')" "HEAD uses its own route"
ok "the idle limit stops the stub" wait_gone "$stub_pid"

# bad input
"$STUB" --port-file "$d/p2" --log "$d/l2" "GET /a notastatus -" 2>"$d/err"
is 2 $? "a bad route exits 2"
like "$(cat "$d/err")" 'bad status' "... saying what is wrong"
"$STUB" --log "$d/l2" 2>"$d/err"
is 2 $? "a missing --port-file exits 2"
like "$(cat "$d/err")" '^stub-http: usage' "... with the usage"
done_testing
