#!/bin/bash
# --lock-tags / TFLOCK_LOCK_TAGS: the lock object carries the tags (x-amz-tagging)
# from its creation, and keeps them across heartbeats (each renewal replaces the
# object, so each must send them again). Bad tag lists are refused up front
# with exit 64 and a one-line message, before anything is written.
. "$top_srcdir/tests/integration/lib.sh"
plan_lazy
rgw_require
bucket=$(new_bucket)
tflock_env "$bucket"
export TFLOCK_KEY=tags/terraform.tfstate
tags_of() { s3 GET "/$bucket/$TFLOCK_KEY.tflock?tagging=" | sed '$d'; }
tagset() { # the Key=Value pairs of a Tagging document, sorted, one per line
	sed 's#<Tag><Key>\([^<]*\)</Key><Value>\([^<]*\)</Value></Tag>#\n\1=\2\n#g' | grep '=' | grep -v '^<' | sort
}

# the holder reads its own lock's tags right after acquiring, and again after two renewals
ev=$TEST_TMP/events
TFLOCK_EVENT_LOG=$ev "$TFLOCK" --lease 20s --lock-tags 'team=infra,purpose=tf lock,owner=ci@example.org' -- \
	bash -c ". '$top_srcdir/tests/integration/lib.sh' >/dev/null; trap - EXIT
		s3 GET '/$bucket/$TFLOCK_KEY.tflock?tagging=' | sed '\$d' >'$TEST_TMP/t0'
		for i in \$(seq 1 400); do [ \$(grep -c ' renewed ' '$ev' 2>/dev/null || true) -ge 2 ] && break; sleep 0.05; done
		s3 GET '/$bucket/$TFLOCK_KEY.tflock?tagging=' | sed '\$d' >'$TEST_TMP/t2'" 2>"$TEST_TMP/err"
is 0 $? "a run with --lock-tags succeeds"
want=$(printf 'owner=ci@example.org\npurpose=tf lock\nteam=infra')
is "$(tagset <"$TEST_TMP/t0")" "$want" "the created lock carries the three tags (a space and @ survive encoding)"
ok "two renewals happened while the command ran" test "$(grep -c ' renewed ' "$ev")" -ge 2
is "$(tagset <"$TEST_TMP/t2")" "$want" "after two renewals the lock still carries them"
is 404 "$(s3_status GET "/$bucket/$TFLOCK_KEY.tflock")" "released at the end"

# the same from the environment; without tags the lock has an empty tag set
TFLOCK_LOCK_TAGS='lifecycle=expire' "$TFLOCK" -- bash -c ". '$top_srcdir/tests/integration/lib.sh' >/dev/null; trap - EXIT
	s3 GET '/$bucket/$TFLOCK_KEY.tflock?tagging=' | sed '\$d' >'$TEST_TMP/t3'" 2>/dev/null
is "$(tagset <"$TEST_TMP/t3")" "lifecycle=expire" "TFLOCK_LOCK_TAGS works like the option"
"$TFLOCK" -- bash -c ". '$top_srcdir/tests/integration/lib.sh' >/dev/null; trap - EXIT
	s3 GET '/$bucket/$TFLOCK_KEY.tflock?tagging=' | sed '\$d' >'$TEST_TMP/t4'" 2>/dev/null
is "$(tagset <"$TEST_TMP/t4")" "" "without --lock-tags the lock has no tags"

# bad lists: 64, one line naming --lock-tags and what is wrong, nothing written
bad() { # LIST PATTERN DESC
	"$TFLOCK" --lock-tags "$1" -- touch "$TEST_TMP/ran" 2>"$TEST_TMP/bad"
	is 64 $? "$3: exit 64"
	like "$(cat "$TEST_TMP/bad")" "^tflock: --lock-tags: $2" "$3: says so"
	is 1 "$(wc -l <"$TEST_TMP/bad")" "$3: in one line"
}
bad 'team' "'team' is not KEY=VALUE" "no ="
bad 'a=1,,b=2' "'' is not KEY=VALUE" "an empty item"
bad '=x' "'=x' is not KEY=VALUE" "an empty key"
bad 'aws:created=1' "tag 'aws:created=1': keys starting with aws: are AWS's own" "a reserved key"
bad 'a=1,a=2' "tag key 'a' given twice" "a key twice"
bad 'a=<x>' "tag 'a=<x>': only letters, digits, spaces" "a character S3 refuses"
bad "k=$(printf 'v%.0s' $(seq 1 257))" "tag 'k=v+': the value is over 256 characters" "a value too long"
bad "$(printf 'k%s=1,' $(seq 1 11) | sed 's/,$//')" "more than 10 tags" "eleven tags"
ok "no bad list ran the command" test ! -e "$TEST_TMP/ran"
"$TFLOCK" unlock --lock-tags 'team' 0f0f0f0f-0000-4000-8000-000000000000 2>"$TEST_TMP/bad"
is 64 $? "unlock takes --lock-tags (its takeover writes the lock on RGW) and checks it too"
TFLOCK_LOCK_TAGS='x=1' "$TFLOCK" release 2>/dev/null
is 0 $? "release takes TFLOCK_LOCK_TAGS (nothing to release here: 0)"
is 404 "$(s3_status GET "/$bucket/$TFLOCK_KEY.tflock")" "and none left a lock"

done_testing
