#!/bin/bash
# Release and unlock on a store that honours conditional DELETE (If-Match), as
# AWS S3 does. Ceph RGW 16 ignores If-Match on DELETE, so this behaviour cannot
# be shown by the real server alone: the fault proxy's cond-delete action adds
# it in front of RGW (it reads the object's ETag with a HEAD it signs itself
# and answers 412 or forwards the DELETE). The emulation is checked first, then
# tflock's self-test must find "honoured" and use the one-request release: a
# DELETE with the lock's ETag, no renewal first; a lock that changed under it
# answers 412 and is reported LOST (76), never deleted.
. "$top_srcdir/tests/integration/lib.sh"
plan_lazy
rgw_require
bucket=$(new_bucket)
tflock_env "$bucket"
proxy_start
L=terraform.tfstate.tflock
# proxied METHOD-REGEX PATH-REGEX [FIELD=VALUE] — how many logged requests match
proxied() {
	awk -v m="$1" -v p="$2" -v f="${3:-}" '$3 ~ ("^" m "$") && $4 ~ p && (f == "" || index($0 " ", " " f " ")) { n++ } END { print n + 0 }' "$PROXY_LOG"
}
etag_of() { # PATH — the object's ETag as the gateway gives it (quotes kept)
	curl -s -S -o /dev/null -D - --max-time 20 --aws-sigv4 "aws:amz:us-east-1:s3" \
		--user "$TFLOCK_TEST_ACCESS_KEY:$TFLOCK_TEST_SECRET_KEY" \
		-H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
		-I "$TFLOCK_TEST_S3_ENDPOINT$1" | tr -d '\r' | awk 'tolower($1) == "etag:" { print $2 }'
}
via_proxy() { TFLOCK_TEST_S3_ENDPOINT=$PROXY_URL s3_status "$@"; }

# --- the emulation itself, with raw signed requests through the proxy
proxy_rules "DELETE * cond-delete"
printf 'x' >"$TEST_TMP/x"
S3_BODY_FILE=$TEST_TMP/x s3_status PUT "/$bucket/emu" >/dev/null
etag=$(etag_of "/$bucket/emu")
ok "emulation: the gateway gives an ETag" test -n "$etag"
is 412 "$(via_proxy DELETE "/$bucket/emu" -H "If-Match: \"0123456789abcdef0123456789abcdef\"")" \
	"emulation: a DELETE with a wrong If-Match is answered 412"
is 200 "$(s3_status GET "/$bucket/emu")" "emulation: and the object is still there"
is 412 "$(awk '$3 == "DELETE" { s = $NF } END { sub("client=", "", s); print s }' "$PROXY_LOG")" \
	"emulation: the proxy logged 412 for it"
is 204 "$(via_proxy DELETE "/$bucket/emu" -H "If-Match: $etag")" "emulation: with the object's ETag the DELETE goes through"
is 404 "$(s3_status GET "/$bucket/emu")" "emulation: and the object is gone"
is 404 "$(via_proxy DELETE "/$bucket/emu" -H "If-Match: $etag")" "emulation: If-Match on an absent object: 404"
is 204 "$(via_proxy DELETE "/$bucket/emu")" "emulation: a DELETE without If-Match passes as it is"

export TFLOCK_ENDPOINT=$PROXY_URL

# --- the self-test finds conditional DELETE honoured; a run is two requests on the lock
export TFLOCK_KEY=c1/terraform.tfstate
: >"$PROXY_LOG"
# at full time: the holder's check between renewals comes every 3 s, not within
# the command's run (at the suite's 0.1 it came every 0.3 s, which a loaded machine
# can take to start `true`, and that GET made the count 3)
TFLOCK_TIME_SCALE=1 "$TFLOCK" --verbose --lease 3600s -- true 2>"$TEST_TMP/c1.err"
is 0 $? "c1: a run through the emulating proxy succeeds"
like "$(cat "$TEST_TMP/c1.err")" "conditional DELETE honoured" "c1: the self-test found conditional DELETE honoured"
is 404 "$(s3_status GET "/$bucket/$TFLOCK_KEY.tflock")" "c1: nothing is left behind"
is 2 "$(proxied '[A-Z]+' "^/$bucket/c1/$L\$")" \
	"c1: two requests on the lock object in all (acquire PUT, release DELETE)"
is 1 "$(proxied PUT "^/$bucket/c1/$L\$" if-none-match=*)" "c1: the one PUT is the create"
is 0 "$(proxied DELETE "^/$bucket/c1/$L\$" if-match=-)" "c1: no unconditional DELETE"
is 1 "$(proxied DELETE "^/$bucket/c1/$L\$" client=204)" "c1: one conditional DELETE, answered 204"

# the same run without the emulation (plain RGW): renewal first, then an unconditional DELETE
export TFLOCK_KEY=c2/terraform.tfstate
proxy_rules
TFLOCK_TIME_SCALE=1 "$TFLOCK" --verbose --lease 3600s -- true 2>"$TEST_TMP/c2.err"
is 0 $? "c2: control run on plain RGW succeeds"
like "$(cat "$TEST_TMP/c2.err")" "conditional DELETE ignored" "c2: the self-test found it ignored"
is 3 "$(proxied '[A-Z]+' "^/$bucket/c2/$L\$")" "c2: three requests on the lock (create, renew, DELETE)"
is 1 "$(proxied DELETE "^/$bucket/c2/$L\$" if-match=-)" "c2: the DELETE is unconditional"

# --- the lock changes under the holder: the release's DELETE gets 412 -> LOST, nothing deleted.
# The holder's checks between renewals (B4) would notice the change first on a
# slow machine; they are answered 304 here, as when the change lands after the
# last check, so the release is what meets it.
proxy_rules "GET /c3/$L status 304 cond=if-none-match" "DELETE * cond-delete"
export TFLOCK_KEY=c3/terraform.tfstate
"$TFLOCK" --lease 3600s -- "$TESTCHILD" --log "$TEST_TMP/c3h.log" touch="$TEST_TMP/c3.run" \
	wait-file="$TEST_TMP/c3.go" 2>"$TEST_TMP/c3.err" &
h=$!
wait_for "c3 holder" 20 test -e "$TEST_TMP/c3.run"
cat >"$TEST_TMP/other" <<EOF
{"ID":"2c9a1b7e-0000-4000-8000-000000000003","Operation":"OperationTypeApply","Info":"","Who":"other@elsewhere","Version":"1.11.4","Created":"2026-11-22T06:00:00.000000000Z","Path":"$bucket/$TFLOCK_KEY"}
EOF
S3_BODY_FILE=$TEST_TMP/other s3_status PUT "/$bucket/$TFLOCK_KEY.tflock" >/dev/null
# one check after the change, answered 304, before the command ends
checks=$(proxied GET "^/$bucket/c3/$L\$" action=status:304)
wait_for "a check after the change" 30 test "$(proxied GET "^/$bucket/c3/$L\$" action=status:304)" -gt "$checks"
touch "$TEST_TMP/c3.go"
wait "$h"
is 76 $? "c3: the lock was replaced during the run: LOST (76)"
like "$(cat "$TEST_TMP/c3.err")" "LOST.*other@elsewhere" "c3: names who holds it now"
ok "c3: the holder's checks after the change were answered 304 (by the proxy)" \
	test "$(proxied GET "^/$bucket/c3/$L\$" action=status:304)" -gt "$checks"
is 1 "$(proxied DELETE "^/$bucket/c3/$L\$" client=412)" "c3: the release's conditional DELETE was refused (412)"
is "$(cat "$TEST_TMP/other")" "$(lock_body "$bucket" "$TFLOCK_KEY")" "c3: the other holder's lock is untouched"

# --- unlock ID: one conditional DELETE, no takeover write
export TFLOCK_KEY=c4/terraform.tfstate
sed "s#c3/#c4/#" "$TEST_TMP/other" >"$TEST_TMP/other4"
S3_BODY_FILE=$TEST_TMP/other4 s3_status PUT "/$bucket/$TFLOCK_KEY.tflock" >/dev/null
"$TFLOCK" unlock 2c9a1b7e-0000-4000-8000-000000000003 2>"$TEST_TMP/c4.err"
is 0 $? "c4: unlock ID through the emulating proxy succeeds"
is 404 "$(s3_status GET "/$bucket/$TFLOCK_KEY.tflock")" "c4: the lock is gone"
is 0 "$(proxied PUT "^/$bucket/c4/$L\$")" "c4: no write to the lock before deleting it"
is 1 "$(proxied DELETE "^/$bucket/c4/$L\$" client=204)" "c4: one conditional DELETE"
is 0 "$(proxied DELETE "^/$bucket/c4/$L\$" if-match=-)" "c4: and no unconditional one"

done_testing
