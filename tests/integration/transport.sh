#!/bin/bash
# What tflock does with hostile transport conditions of its own: a reply body
# larger than it reads, and standard descriptors closed at start (their numbers
# must not be reused by libcurl's sockets, or log lines and the command's output
# would go onto a connection to the store).
. "$top_srcdir/tests/integration/lib.sh"
plan_lazy
rgw_require
bucket=$(new_bucket)
tflock_env "$bucket"

# 1. a 10 MB lock object: reported as more than the 1 MB tflock reads, not as 1 MB
head -c 10485760 /dev/zero | tr '\0' x >"$TEST_TMP/big"
stub_http big "GET /$bucket/big/state.tflock 200 $TEST_TMP/big
  ETag: \"0123\""
TFLOCK_ENDPOINT=$STUB_URL "$TFLOCK" status --key big/state >"$TEST_TMP/big.out" 2>"$TEST_TMP/big.err"
rc=$?
ok "status on a 10 MB lock object fails (exit $rc), it does not show a cut body" \
	test "$rc" != 0 -a "$rc" != 75
like "$(cat "$TEST_TMP/big.out" "$TEST_TMP/big.err")" \
	"GET [^ ]*/big/state\.tflock: the reply body is more than 1048576 bytes" \
	"the message says the body was larger than the 1048576 bytes tflock reads"
ok_not "it does not give the cap as the body's size" \
	grep -q "is 1048576 bytes" "$TEST_TMP/big.out" "$TEST_TMP/big.err"

# 2. closed descriptors at start: the run and the release still work, the
#    command gets /dev/null there, not one of tflock's sockets, and what it
#    writes never reaches the store (through the proxy, which logs every request)
proxy_start
export TFLOCK_ENDPOINT=$PROXY_URL
# the command: record where its 0, 1 and 2 point in FILE, then write a whole
# request head on stdout and stderr
fds_cmd='exec 3>"$1"; a=$(readlink /proc/$$/fd/0); b=$(readlink /proc/$$/fd/1)
c=$(readlink /proc/$$/fd/2); printf "%s\n" "$a" "$b" "$c" >&3
printf "GARBAGE /garbage HTTP/1.1\r\nHost: x\r\n\r\n"
printf "GARBAGE /garbage HTTP/1.1\r\nHost: x\r\n\r\n" >&2'
run_closed() { # NAME REDIRECTIONS: a run of that command with those redirections
	eval "TFLOCK_KEY=fd/$1 \"\$TFLOCK\" -v -- sh -c \"\$fds_cmd\" sh \"\$TEST_TMP/$1.fds\" $2"
}
run_closed err '>"$TEST_TMP/err.out" 2>&-'
is 0 $? "a run with stderr closed (2>&-) succeeds"
is 404 "$(s3_status GET "/$bucket/fd/err.tflock")" "and released the lock"
is "/dev/null" "$(sed -n 3p "$TEST_TMP/err.fds")" "the command's stderr is /dev/null, not a socket"
run_closed inout '<&- >&- 2>"$TEST_TMP/inout.err"'
is 0 $? "a run with stdin and stdout closed (<&- >&-) succeeds"
is 404 "$(s3_status GET "/$bucket/fd/inout.tflock")" "and released the lock"
is "/dev/null
/dev/null" "$(sed -n 1,2p "$TEST_TMP/inout.fds")" "the command's stdin and stdout are /dev/null"
like "$(cat "$TEST_TMP/inout.err")" "released" "the log still reaches stderr"
run_closed all '<&- >&- 2>&-'
is 0 $? "a run with all three closed succeeds"
is 404 "$(s3_status GET "/$bucket/fd/all.tflock")" "and released the lock"
is "/dev/null
/dev/null
/dev/null" "$(cat "$TEST_TMP/all.fds" 2>&1)" "the command's 0, 1 and 2 are /dev/null"
TFLOCK_KEY=fd/all "$TFLOCK" status -v <&- >&- 2>&-
is 0 $? "status -v with all three closed: free, exit 0"
ok "requests went through the proxy" grep -q ' PUT /[^ ]*/fd/all\.tflock ' "$PROXY_LOG"
is 0 "$(grep -c GARBAGE "$PROXY_LOG")" "the store never got the command's output as a request"
done_testing
