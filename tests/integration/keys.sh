#!/bin/bash
# State keys as S3 takes them: "." and ".." segments are part of the key (the
# request path goes out exactly as signed, and RGW stores it literally), and a
# lock key over S3's 1024-byte limit is a usage error before any request.
. "$top_srcdir/tests/integration/lib.sh"
plan_lazy
rgw_require
bucket=$(new_bucket)
tflock_env "$bucket"

# s3 with the path sent as written (curl removes dot segments otherwise)
s3_lit() { s3 "$1" "$2" --path-as-is; }
s3_lit_status() { s3_lit "$@" | tail -n 1; }
# the keys of the bucket under PREFIX (letters, digits, '.' and '/'), as
# ListObjectsV2 gives them
list_keys() {
	s3 GET "/$bucket?list-type=2&prefix=$(printf '%s' "$1" | sed 's|/|%2F|g')" | sed '$d' |
		grep -o '<Key>[^<]*</Key>' |
		sed 's/<Key>\(.*\)<\/Key>/\1/'
}

# 1. dot segments: locked, shown and released under the literal key
n=0
for key in 'a/../b/state' 'env/./x' 'c/./../d/terraform.tfstate' '../up/state'; do
	n=$((n + 1))
	rm -f "$TEST_TMP/go.$n" "$TEST_TMP/run.$n"
	TFLOCK_KEY=$key "$TFLOCK" --no-lockfile-check -- \
		"$TESTCHILD" --log "$TEST_TMP/child.$n" touch="$TEST_TMP/run.$n" \
		wait-file="$TEST_TMP/go.$n" 2>"$TEST_TMP/err.$n" &
	pid=$!
	if ! wait_for "holder of $key running" 30 test -e "$TEST_TMP/run.$n"; then
		ok "'$key': the command ran under the lock" false
		diag "$(cat "$TEST_TMP/err.$n")"
		touch "$TEST_TMP/go.$n"
		wait "$pid"
		continue
	fi
	ok "'$key': the command ran under the lock" true
	is 200 "$(s3_lit_status GET "/$bucket/$key.tflock")" \
		"'$key': the lock object exists under the literal key"
	prefix=${key%%/*}/
	is "$key.tflock" "$(list_keys "$prefix")" \
		"'$key': the bucket lists exactly that key (RGW does not normalise it)"
	TFLOCK_KEY=$key "$TFLOCK" status >"$TEST_TMP/status.$n" 2>&1
	is 75 $? "'$key': status says held"
	like "$(head -n 1 "$TEST_TMP/status.$n")" "^s3://$bucket/$(printf '%s' "$key" | sed 's/\./\\./g').tflock: held by " \
		"'$key': status names the literal key"
	touch "$TEST_TMP/go.$n"
	wait "$pid"
	is 0 $? "'$key': the run succeeded"
	is 404 "$(s3_lit_status GET "/$bucket/$key.tflock")" "'$key': released"
	is "" "$(list_keys "$prefix")" "'$key': nothing is left under '$prefix' (no self-test leftovers)"
	TFLOCK_KEY=$key "$TFLOCK" status >/dev/null 2>&1
	is 0 $? "'$key': status says free"
done

# a key with dot segments and its normalised twin are two different locks
TFLOCK_KEY='f/../g/state' "$TFLOCK" --no-lockfile-check -- \
	"$TESTCHILD" touch="$TEST_TMP/run.twin" wait-file="$TEST_TMP/go.twin" 2>/dev/null &
pid=$!
ok "'f/../g/state' is held" wait_for "holder of f/../g/state" 30 test -e "$TEST_TMP/run.twin"
TFLOCK_KEY='g/state' "$TFLOCK" --no-lockfile-check --no-wait -- true 2>"$TEST_TMP/twin.err"
is 0 $? "'g/state' is not held while 'f/../g/state' is (S3 keys are not paths)"
touch "$TEST_TMP/go.twin"
wait "$pid"

# 2. the lock key's length: at most 1024 bytes (UTF-8), checked before any request
stub_http keys # answers nothing useful: any request it logs is a failure
long() { head -c "$1" /dev/zero | tr '\0' "$2"; }
TFLOCK_ENDPOINT=$STUB_URL TFLOCK_KEY=$(long 1018 k) "$TFLOCK" --no-lockfile-check -- true \
	2>"$TEST_TMP/long.err"
is 64 $? "a lock key of 1025 bytes (state key 1018 + .tflock) is a usage error"
is 1 "$(wc -l <"$TEST_TMP/long.err")" "one line"
like "$(cat "$TEST_TMP/long.err")" "^tflock: TFLOCK_KEY: the lock key 'k+\.\.\.k+\.tflock' is 1025 bytes, over S3's limit of 1024 bytes" \
	"naming the variable, the key, its size and the limit"
# 'é' is two bytes: 509 of them are 1018 bytes, 516 characters with .tflock
TFLOCK_ENDPOINT=$STUB_URL TFLOCK_KEY=$(for ((i = 0; i < 509; i++)); do printf 'é'; done) \
	"$TFLOCK" status 2>"$TEST_TMP/utf8.err"
is 64 $? "the limit counts bytes, not characters (516 characters, 1025 bytes)"
like "$(cat "$TEST_TMP/utf8.err")" "is 1025 bytes" "and says so"
TFLOCK_ENDPOINT=$STUB_URL TFLOCK_KEY=$(long 1010 w) "$TFLOCK" --workspace ws status \
	2>"$TEST_TMP/ws.err"
is 64 $? "the workspace prefix counts: env:/ws/ + 1010 + .tflock is 1025 bytes"
like "$(cat "$TEST_TMP/ws.err")" "the lock key 'env:/ws/w+\.\.\.w+\.tflock' is 1025 bytes" \
	"the message shows the key as locked"
TFLOCK_ENDPOINT=$STUB_URL "$TFLOCK" unlock --force --key "$(long 1020 t)" 2>"$TEST_TMP/unlock.err"
is 64 $? "unlock checks it too"
like "$(cat "$TEST_TMP/unlock.err")" "^tflock: --key: the lock key 't+" "naming the flag"
is "" "$(stub_requests)" "none of these sent a request"

# the largest lock key S3 takes (1024 bytes) is looked at normally
TFLOCK_KEY=$(long 1017 m) "$TFLOCK" status >/dev/null 2>"$TEST_TMP/max.err"
is 0 $? "a lock key of exactly 1024 bytes is accepted (status: free)"
# and locked and released: the self-test's scratch key (25 bytes longer than the
# state key) is cut to fit
TFLOCK_KEY=$(long 1017 m) "$TFLOCK" -- true 2>"$TEST_TMP/maxrun.err"
is 0 $? "a run on a lock key of exactly 1024 bytes succeeds (self-test and all)"
is 404 "$(s3_status GET "/$bucket/$(long 1017 m).tflock")" "... and released it"
done_testing
