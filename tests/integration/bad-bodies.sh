#!/bin/bash
# Malformed and foreign lock bodies placed in the bucket (tests/corpus/lockinfo):
# each is reported, treated as someone else's lock, and never deleted or
# overwritten automatically — not by acquire, not by a waiter that watches it for
# several leases, not by `unlock --force`; and `status --json` stays valid JSON.
. "$top_srcdir/tests/integration/lib.sh"
plan_lazy
rgw_require
bucket=$(new_bucket)
tflock_env "$bucket"
corpus=$top_srcdir/tests/corpus/lockinfo
J=$top_builddir/tests/helpers/jsonget
n=0
json_bad=
while read -r file class; do
	case $file in '#'* | '') continue ;; esac
	[ "$class" = TFLOCK ] && continue
	[ -f "$corpus/$file" ] || continue
	n=$((n + 1))
	key="bad/$n/terraform.tfstate"
	S3_BODY_FILE=$corpus/$file s3_status PUT "/$bucket/$key.tflock" >/dev/null
	before=$(s3 GET "/$bucket/$key.tflock" | sha256sum)
	TFLOCK_KEY=$key "$TFLOCK" --no-wait -- true >/dev/null 2>"$TEST_TMP/err"
	rc=$?
	TFLOCK_KEY=$key "$TFLOCK" status >"$TEST_TMP/status" 2>&1
	src=$?
	# status --json must stay one valid JSON document, in valid UTF-8, whatever the body holds
	TFLOCK_KEY=$key "$TFLOCK" status --json >"$TEST_TMP/status.json" 2>/dev/null
	{ [ "$("$J" "$TEST_TMP/status.json" held)" = true ] &&
		iconv -f UTF-8 -t UTF-8 "$TEST_TMP/status.json" >/dev/null 2>&1; } || json_bad="$json_bad $file"
	after=$(s3 GET "/$bucket/$key.tflock" | sha256sum)
	if [ "$rc" = 75 ] && [ "$src" = 75 ] && [ "$before" = "$after" ] &&
		grep -q "held by\|holds a body" "$TEST_TMP/err" &&
		grep -q "$([ "$class" = MALFORMED ] && echo MALFORMED || echo 'not a tflock lock')" "$TEST_TMP/status"; then
		ok "$class $file: refused with 75, reported, left untouched" true
	else
		ok "$class $file: refused with 75, reported, left untouched" false
		diag "rc=$rc status=$src $(head -c 300 "$TEST_TMP/err") $(head -c 300 "$TEST_TMP/status")"
	fi
done <"$corpus/EXPECTED"
ok "at least 20 bad bodies were tried ($n)" test "$n" -ge 20
is "" "$json_bad" "status --json gave valid JSON in valid UTF-8 for every one of them"

# watched for two of our leases (the store ignores conditional DELETE: at least
# 20s, B5), still never taken over or removed; the five waiters run side by side
watched="tflock-unknown-version.json tflock-lease-999999.json tflock-lease-zero.json
	not-json.txt terraform-plain.json"
for file in $watched; do
	key="watch/$file/terraform.tfstate"
	S3_BODY_FILE=$corpus/$file s3_status PUT "/$bucket/$key.tflock" >/dev/null
	s3 GET "/$bucket/$key.tflock" | sha256sum >"$TEST_TMP/$file.before"
	(
		TFLOCK_KEY=$key "$TFLOCK" --lease 20s --timeout 40s -- true >/dev/null 2>&1
		echo $? >"$TEST_TMP/$file.rc"
	) &
done
wait
for file in $watched; do
	key="watch/$file/terraform.tfstate"
	is "75 $(cat "$TEST_TMP/$file.before")" \
		"$(cat "$TEST_TMP/$file.rc") $(s3 GET "/$bucket/$key.tflock" | sha256sum)" \
		"$file: a waiter watching it for 2 of its leases gives up (75) and leaves it as it was"
done
key="watch/tflock-unknown-version.json/terraform.tfstate"
TFLOCK_KEY=$key "$TFLOCK" unlock --force >/dev/null 2>"$TEST_TMP/err"
is 75 $? "unlock --force refuses a lock it cannot prove stale"
like "$(cat "$TEST_TMP/err")" "cannot prove it stale" "and says why"
is 200 "$(s3_status GET "/$bucket/$key.tflock")" "the lock is still there"
done_testing
