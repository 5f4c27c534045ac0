#!/bin/bash
# Temporary credentials during a long hold: tflock re-resolves them before a
# request once they are within 5 minutes of their Expiration. The source is a
# credential_process in a shared config file whose script logs each call and
# prints the gateway's keys with an Expiration set by the test (no SessionToken:
# the gateway would try to validate one). Cases:
#   ok       every call succeeds: refreshed on the way, renewals go on, released
#   once     later calls fail while the first keys are still valid: a warning,
#            and the run completes and releases
#   expired  the keys have expired and the refresh fails: the store is unusable
#            (exit 69) with a message that says so, before any lock is taken
#   short    the keys expire during the hold and cannot be refreshed: renewals
#            fail, the lease bound interrupts the command, the release fails
#            loudly and tflock exits with the command's status
. "$top_srcdir/tests/integration/lib.sh"
plan_lazy
rgw_require
bucket=$(new_bucket)
tflock_env "$bucket"
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY NO_PROXY no_proxy
L=terraform.tfstate.tflock

# seconds the "short" keys live: long enough for the self-test and the
# acquisition, scaled like every other duration of the suite
short_s=$(awk -v s="${TFLOCK_TEST_TIME_SCALE:-1}" 'BEGIN { printf "%d", 5 * s + 0.5 }')

# creds-process MODE CALLS: log the call to CALLS, then answer per MODE
cat >"$TEST_TMP/creds-process" <<EOF
#!/bin/bash
mode=\$1 calls=\$2
echo "call \$mode" >>"\$calls"
n=\$(wc -l <"\$calls")
if [ "\$mode" != ok ] && [ "\$n" -gt 1 ]; then
	echo "creds-process: refusing call \$n" >&2
	exit 1
fi
case \$mode in
ok | once) life=100 ;;
short) life=$short_s ;;
expired) life=-60 ;;
esac
exp=\$(date -u -d "@\$((\$(date +%s) + life))" +%Y-%m-%dT%H:%M:%SZ)
printf '{"Version":1,"AccessKeyId":"%s","SecretAccessKey":"%s","Expiration":"%s"}\n' \\
	'$TFLOCK_TEST_ACCESS_KEY' '$TFLOCK_TEST_SECRET_KEY' "\$exp"
EOF
chmod +x "$TEST_TMP/creds-process"
export AWS_CONFIG_FILE=$TEST_TMP/config
for m in ok once expired short; do
	printf '[profile %s]\ncredential_process = %s %s %s\n' \
		"$m" "$TEST_TMP/creds-process" "$m" "$TEST_TMP/$m.calls"
done >"$AWS_CONFIG_FILE"

calls() { wc -l <"$TEST_TMP/$1.calls" 2>/dev/null || echo 0; }
renewals() { awk '/ renewed / { n++ } END { print n + 0 }' "$TEST_TMP/$1.events" 2>/dev/null; }
lockst() { s3_status GET "/$bucket/$1/$L"; }

# hold KEY: run a command that lasts until KEY's holder has renewed 4 times
hold() {
	local key=$1
	export TFLOCK_KEY=$key/terraform.tfstate
	AWS_PROFILE=$key TFLOCK_EVENT_LOG=$TEST_TMP/$key.events "$TFLOCK" -v --lease 60s -- \
		bash -c "for i in \$(seq 1 400); do [ \$(grep -c ' renewed ' '$TEST_TMP/$key.events' 2>/dev/null || true) -ge 4 ] && exit 0; sleep 0.05; done; exit 9" \
		2>"$TEST_TMP/$key.err"
}

# --- ok: re-resolved before every request (within the 5-minute margin)
hold ok
is 0 $? "ok: the command ran through 4 renewals and tflock exited 0"
ok "ok: renewed at least 4 times" test "$(renewals ok)" -ge 4
ok "ok: credential_process ran more than once ($(calls ok) calls)" test "$(calls ok)" -gt 1
ok "ok: ... at least once per renewal, on top of the first resolution" \
	test "$(calls ok)" -gt "$(renewals ok)"
like "$(cat "$TEST_TMP/ok.err")" 'credentials refreshed from profile ok \(credential_process\)' \
	"ok: the refresh is reported in the verbose log"
ok_not "ok: no refresh warning" grep -q 'cannot refresh credentials' "$TEST_TMP/ok.err"
is 404 "$(lockst ok)" "ok: the lock was released"

# --- once: refreshing fails, the first keys are still valid for a while
hold once
is 0 $? "once: the run completes although refreshing fails"
ok "once: renewed at least 4 times with the first keys" test "$(renewals once)" -ge 4
ok "once: credential_process was asked again ($(calls once) calls)" test "$(calls once)" -gt 1
like "$(cat "$TEST_TMP/once.err")" \
	'^tflock: warning: cannot refresh credentials \(profile "once": credential_process: exited with status 1\); using the current ones until they expire$' \
	"once: each failed refresh is a warning naming the cause"
warned() { grep 'cannot refresh credentials' "$TEST_TMP/once.err"; }
ok "once: every renewal warned" test "$(warned | wc -l)" -ge "$(renewals once)"
is 0 "$(warned | grep -cv 'exited with status 1')" \
	"once: every warning has the helper's own exit status (the heartbeat thread's helper is not reaped by the child loop)"
ok "once: the stderr of credential_process reaches the user" \
	grep -q 'creds-process: refusing call 2' "$TEST_TMP/once.err"
is 404 "$(lockst once)" "once: the lock was released"

# --- expired: nothing usable from the start
export TFLOCK_KEY=expired/terraform.tfstate
AWS_PROFILE=expired "$TFLOCK" -- "$TESTCHILD" --log "$TEST_TMP/expired.log" exit=0 \
	2>"$TEST_TMP/expired.err"
is 69 $? "expired: the store is unusable: exit 69"
like "$(cat "$TEST_TMP/expired.err")" \
	'the credentials from profile expired \(credential_process\) expired and cannot be refreshed: profile "expired": credential_process: exited with status 1$' \
	"expired: the error says the credentials expired and why refreshing failed"
ok_not "expired: the command never ran" test -e "$TEST_TMP/expired.log"
is 404 "$(lockst expired)" "expired: no lock was taken"
is 2 "$(calls expired)" "expired: credential_process ran twice (resolve, then one refresh)"

# --- short: the keys expire during the hold
export TFLOCK_KEY=short/terraform.tfstate
AWS_PROFILE=short TFLOCK_EVENT_LOG=$TEST_TMP/short.events "$TFLOCK" --lease 20s -- \
	"$TESTCHILD" --log "$TEST_TMP/short.log" run=600000 </dev/null 2>"$TEST_TMP/short.err"
rc=$?
is 76 "$rc" "short: the lease cut the command short (interrupted): 76, not its own 130"
err=$(cat "$TEST_TMP/short.err")
like "$err" 'renewal of .* failed: the credentials from profile short \(credential_process\) expired and cannot be refreshed' \
	"short: renewals fail saying the credentials expired"
like "$err" 'no successful renewal of .*: (interrupting|the guardian interrupted)' "short: the lease bound interrupts the command"
ok "short: the command got SIGINT" grep -q '^signal .* SIGINT' "$TEST_TMP/short.log"
like "$err" 'release .*FAILED' "short: the failed release is reported"
ok "short: acquired before the keys expired" grep -q ' acquired ' "$TEST_TMP/short.events"
like "$err" 'cannot refresh credentials' "short: while the keys were valid, failed refreshes were warnings"
is 200 "$(lockst short)" "short: the lock is left for its lease to expire (no blind delete)"
done_testing
