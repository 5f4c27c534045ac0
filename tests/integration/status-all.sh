#!/bin/bash
# `tflock status --all`: every lock in a bucket under a prefix (and every lock
# item of the DynamoDB table), found by a listing of every page, stalest first.
# Over 200 locks in mixed states: one held live by a running tflock (with two
# queue tickets and a tombstone), dead tflock bodies whose LastModified is
# older than their lease_ms (likely stale), tflock bodies within a long lease
# (held live), plain Terraform bodies, malformed bodies, a key with '+', a
# space and UTF-8, a body with terminal escapes; and the non-lock kinds of
# PROTOCOL C that must not be listed. Counts and orderings only, never timings.
. "$top_srcdir/tests/integration/lib.sh"
plan_lazy
rgw_require
bucket=$(new_bucket)
tflock_env "$bucket"
unset TFLOCK_KEY
JSONGET=$top_builddir/tests/helpers/jsonget

now_rfc() { date -u +%Y-%m-%dT%H:%M:%SZ; }
plain_body() { # ID WHO
	printf '{"ID":"%s","Operation":"OperationTypePlan","Info":"","Who":"%s","Version":"1.11.4","Created":"%s","Path":"%s/x"}' \
		"$1" "$2" "$(now_rfc)" "$bucket"
}
tflock_body() { # ID LEASE_S [LEASE_MS]
	printf '{"ID":"%s","Operation":"OperationTypeApply","Info":"","Who":"ci@runner","Version":"tflock-0","Created":"%s","Path":"%s/x","Tflock":{"v":1,"lease":%s,"seq":3,"pid":4242,"host":"elsewhere","boot":"00000000-0000-0000-0000-000000000000"%s}}' \
		"$1" "$(now_rfc)" "$bucket" "$2" "${3:+,\"lease_ms\":$3}"
}
# put PATH — PUT stdin as the object at PATH (URL-encoded as given)
put() {
	local f
	f=$(mktemp "$TEST_TMP/body.XXXXXX")
	cat >"$f"
	[ "$(S3_BODY_FILE=$f s3_status PUT "/$bucket/$1")" = 200 ] || echo "PUT $1 failed" >>"$TEST_TMP/put-failures"
	rm -f "$f"
}
id_of() { printf '%08d-0000-0000-0000-000000000000' "$1"; }

# the locks, written in parallel (8 at a time)
{
	for i in $(seq -w 1 60); do
		echo "tflock_body $(id_of "1$i") 5 1000 | put stale/s$i.tfstate.tflock"
		echo "tflock_body $(id_of "2$i") 3600 | put fresh/f$i.tfstate.tflock"
		echo "plain_body $(id_of "3$i") alice@host$i | put plain/p$i.tfstate.tflock"
	done
	for i in $(seq -w 1 20); do
		echo "printf 'not json %s' | put bad/m$i.tfstate.tflock"
	done
} >"$TEST_TMP/jobs"
export -f put plain_body tflock_body now_rfc id_of s3 s3_status _sha256_file
export bucket TEST_TMP TFLOCK_TEST_ACCESS_KEY TFLOCK_TEST_SECRET_KEY TFLOCK_TEST_S3_ENDPOINT
xargs -P 8 -I{} bash -c '{}' <"$TEST_TMP/jobs"
is "" "$(cat "$TEST_TMP/put-failures" 2>/dev/null)" "200 lock bodies uploaded"
# a key with '+', a space and UTF-8; a body with terminal escapes in Who
plain_body "$(id_of 401)" "uni@host" | put "odd/a%2Bb%20c%C3%A9.tfstate.tflock"
printf '{"ID":"%s","Operation":"OperationTypeApply","Info":"","Who":"\\u001b]0;pwned\\u0007\\u001b[2Jevil","Version":"1.11.4","Created":"%s","Path":"x"}' \
	"$(id_of 402)" "$(now_rfc)" | put odd/hostile.tfstate.tflock
# the non-lock kinds of PROTOCOL C, and state objects: never listed
for k in stale/s01.tfstate.applied.tflock stale/s01.tfstate.1a2b3c4d.selftest.tflock \
	live/terraform.tfstate.queue.next.tflock stale/s01.tfstate stale/s01.tfstate.queue.0000000000000009.tflock; do
	printf '{"v":1}' | put "$k"
done
# the queue of the live lock: two tickets and a tombstone (size 0: gone)
printf '{"v":1,"ID":"a","seq":1,"lease_ms":40000}' | put live/terraform.tfstate.queue.0000000000000001.tflock
printf '{"v":1,"ID":"b","seq":1,"lease_ms":40000}' | put live/terraform.tfstate.queue.0000000000000002.tflock
: | put live/terraform.tfstate.queue.0000000000000003.tflock
is "" "$(cat "$TEST_TMP/put-failures" 2>/dev/null)" "the odd keys, the non-lock kinds and the tickets uploaded"

# one lock held live by a running tflock (lease 12 s scaled, renewed every 3 s)
TFLOCK_KEY=live/terraform.tfstate "$TFLOCK" --no-queue -- "$TESTCHILD" --log "$TEST_TMP/live.log" touch="$TEST_TMP/live.run" \
	wait-file="$TEST_TMP/live.go" 2>"$TEST_TMP/live.err" &
holder=$!
wait_for "the live holder" 30 test -e "$TEST_TMP/live.run" || bail "the live holder did not start"
total=203 # 60 stale + 60 fresh + 60 plain + 20 malformed + 2 odd + 1 live

# the dead bodies' lease_ms (1 s) passes: wait until every one is likely stale
stale_count() {
	"$TFLOCK" status --all --prefix stale/ 2>/dev/null | grep -c '^likely stale '
}
wait_for "the dead locks to be likely stale" 30 test "$(stale_count)" = 60

# the whole bucket, text, listed 7 keys a page (30+ pages: more than the queue's 20)
TFLOCK_LIST_PAGE_KEYS=7 "$TFLOCK" status --all -v >"$TEST_TMP/all.txt" 2>"$TEST_TMP/all.err"
is 78 $? "likely stale and malformed locks: exit 78"
pages=$(grep -c '^tflock: > GET .*list-type=2&max-keys=7' "$TEST_TMP/all.err")
ok "listed in pages of 7 keys ($pages pages)" test "$pages" -ge 31
is "$total" "$(wc -l <"$TEST_TMP/all.txt")" "one line per lock: $total"
is 60 "$(grep -c '^likely stale ' "$TEST_TMP/all.txt")" "60 likely stale"
is 20 "$(grep -c '^malformed ' "$TEST_TMP/all.txt")" "20 malformed"
is 62 "$(grep -c '^plain terraform ' "$TEST_TMP/all.txt")" "62 plain terraform"
is 61 "$(grep -c '^held live ' "$TEST_TMP/all.txt")" "61 held live"
is 0 "$(grep -c '^stale \|applied\|selftest\|queue\.' "$TEST_TMP/all.txt")" \
	"no marker, scratch key, counter or ticket is listed as a lock, nothing is just 'stale'"
is 0 "$(grep -c 's3://[^ ]*/stale/s01.tfstate ' "$TEST_TMP/all.txt")" "nor a state object"
# stalest first: the states in rank order
is "likely stale,malformed,plain terraform,held live" \
	"$(sed -E 's/^(likely stale|malformed|plain terraform|held live) .*/\1/' "$TEST_TMP/all.txt" | uniq | paste -sd, -)" \
	"sorted stalest first: likely stale, malformed, plain terraform, held live"
like "$(grep 'live/terraform.tfstate.tflock' "$TEST_TMP/all.txt")" "^held live .*lease left [0-9].* queue 2$" \
	"the running tflock's lock: held live, lease left, 2 tickets in its queue (the tombstone not counted)"
like "$(grep 'stale/s01.tfstate.tflock' "$TEST_TMP/all.txt")" "Who: ci@runner  Operation: OperationTypeApply  age .*lease left 0s \\(expired .* queue 1$" \
	"a dead tflock lock: holder, operation, expired lease, its one ticket"
ok "the key with '+', a space and UTF-8 is decoded" grep -q "s3://$bucket/odd/a+b cé.tfstate.tflock  Who: uni@host" "$TEST_TMP/all.txt"
# raw_ctl FILE — FILE holds a raw ESC or BEL
raw_ctl() { LC_ALL=C grep -q "$(printf '[\033\007]')" "$1"; }
ok_not "no raw ESC or BEL reaches stdout" raw_ctl "$TEST_TMP/all.txt"
ok "the hostile Who is shown escaped" grep -q 'Who: \\x1b\]0;pwned\\x07\\x1b\[2Jevil' "$TEST_TMP/all.txt"
like "$(tail -n 1 "$TEST_TMP/all.err")" "$total lock\\(s\\) under s3://$bucket/: 60 likely stale, 20 malformed, 62 plain terraform, 0 held \\(age unknown\\), 0 parked, 61 held live" \
	"a summary on stderr"

# the same as JSON, with the store's own page size
"$TFLOCK" status --all --json >"$TEST_TMP/all.json" 2>/dev/null
is 78 $? "--json: exit 78 too"
ok "--json is one valid JSON document" bash -c '"$1" "$2" >/dev/null' _ "$JSONGET" "$TEST_TMP/all.json"
is "$bucket" "$("$JSONGET" "$TEST_TMP/all.json" bucket)" "it names the bucket"
is null "$("$JSONGET" "$TEST_TMP/all.json" table)" "and no table"
"$JSONGET" "$TEST_TMP/all.json" "locks.$total" >/dev/null 2>&1
is 2 $? "$total locks in the array, no more"
"$JSONGET" "$TEST_TMP/all.json" "locks.$((total - 1)).state" >/dev/null
is 0 $? "and no fewer"
prev_rank=0 prev_over= unsorted=0 hostile= uni=
for ((i = 0; i < total; i++)); do
	st=$("$JSONGET" "$TEST_TMP/all.json" "locks.$i.state")
	case $st in likely_stale) r=0 ;; malformed) r=1 ;; plain) r=2 ;; held_age_unknown) r=3 ;; live) r=4 ;; *) r=9 ;; esac
	[ "$r" -ge "$prev_rank" ] || unsorted=$((unsorted + 1))
	if [ "$r" = 0 ]; then
		over=$(($("$JSONGET" "$TEST_TMP/all.json" "locks.$i.age_ms") - $("$JSONGET" "$TEST_TMP/all.json" "locks.$i.lease_ms")))
		[ -z "$prev_over" ] || [ "$over" -le "$prev_over" ] || unsorted=$((unsorted + 1))
		prev_over=$over
	fi
	prev_rank=$r
	case $("$JSONGET" "$TEST_TMP/all.json" "locks.$i.state_key") in
	odd/hostile.tfstate) hostile=$i ;;
	"odd/a+b cé.tfstate") uni=$i ;;
	live/terraform.tfstate) live=$i ;;
	esac
done
is 0 "$unsorted" "--json is sorted stalest first (likely stale by how far past the lease)"
is "$(printf '\033]0;pwned\007\033[2Jevil')" "$("$JSONGET" "$TEST_TMP/all.json" "locks.$hostile.who")" \
	"--json carries the hostile Who exactly"
ok_not "escaped in the JSON text, not raw" raw_ctl "$TEST_TMP/all.json"
is "s3://$bucket/odd/a+b cé.tfstate.tflock" "$("$JSONGET" "$TEST_TMP/all.json" "locks.$uni.lock")" "the decoded key in --json"
is 2 "$("$JSONGET" "$TEST_TMP/all.json" "locks.$live.queue")" "the live lock's queue: 2"
is tflock "$("$JSONGET" "$TEST_TMP/all.json" "locks.$live.kind")" "a tflock lock"
ok "its lease_left_ms is positive" test "$("$JSONGET" "$TEST_TMP/all.json" "locks.$live.lease_left_ms")" -gt 0

# --prefix: only the live lock: exit 0
"$TFLOCK" status --all --prefix live/ >"$TEST_TMP/live.txt" 2>/dev/null
is 0 $? "--prefix live/: nothing likely stale or malformed, exit 0"
is 1 "$(wc -l <"$TEST_TMP/live.txt")" "one lock under live/"
"$TFLOCK" status --all --prefix bad/ --json >/dev/null 2>&1
is 78 $? "--prefix bad/: malformed, exit 78"
"$TFLOCK" status --all --prefix nothing-here/ >"$TEST_TMP/none.txt" 2>/dev/null
is 0 $? "an empty prefix: exit 0"
is 0 "$(wc -c <"$TEST_TMP/none.txt")" "and nothing on stdout"
"$TFLOCK" status --prefix live/ 2>"$TEST_TMP/e"
is 64 $? "--prefix without --all: usage error"
"$TFLOCK" status --all --watch 2>"$TEST_TMP/e"
is 64 $? "--all with --watch: usage error"

touch "$TEST_TMP/live.go"
wait "$holder"
is 0 $? "the live holder ended and released"

# s3:ListBucket refused (a proxy answers the listing 403, as an IAM policy
# without it would): one clear line, exit 69
proxy_start
proxy_rules "GET list-type=2 status 403 err=AccessDenied"
TFLOCK_ENDPOINT=$PROXY_URL "$TFLOCK" status --all >"$TEST_TMP/o" 2>"$TEST_TMP/e"
is 69 $? "a listing refused with 403: exit 69"
is 1 "$(wc -l <"$TEST_TMP/e")" "one line"
like "$(cat "$TEST_TMP/e")" "s3:ListBucket" "naming the missing permission"
is 0 "$(wc -c <"$TEST_TMP/o")" "nothing on stdout"

# DynamoDB: the table's lock items under BUCKET/prefix, without digest and
# scratch items; an item has no modification time: never called stale
if need_ddb --optional; then
	table=locks-$$
	ddb_table create "$table" >/dev/null || bail "cannot create table $table"
	info=$(plain_body "$(id_of 501)" bob@host | sed 's/"/\\"/g')
	tinfo=$(tflock_body "$(id_of 502)" 5 1000 | sed 's/,"Tflock".*/}/; s/"/\\"/g')
	tf='{\"v\":1,\"lease\":5,\"seq\":3,\"pid\":4242,\"host\":\"elsewhere\",\"boot\":\"00000000-0000-0000-0000-000000000000\",\"lease_ms\":1000}'
	ddb_table put "$table" "{\"LockID\":{\"S\":\"$bucket/ddb/plain.tfstate\"},\"Info\":{\"S\":\"$info\"}}" >/dev/null
	ddb_table put "$table" "{\"LockID\":{\"S\":\"$bucket/ddb/tf.tfstate\"},\"Info\":{\"S\":\"$tinfo\"},\"Tflock\":{\"S\":\"$tf\"},\"TflockSeq\":{\"N\":\"3\"}}" >/dev/null
	ddb_table put "$table" "{\"LockID\":{\"S\":\"$bucket/ddb/tf.tfstate-md5\"},\"Digest\":{\"S\":\"abc\"}}" >/dev/null
	ddb_table put "$table" "{\"LockID\":{\"S\":\"$bucket/ddb/tf.tfstate.1a2b3c4d.selftest.tflock\"},\"Info\":{\"S\":\"$info\"}}" >/dev/null
	ddb_table put "$table" "{\"LockID\":{\"S\":\"other-bucket/ddb/x.tfstate\"},\"Info\":{\"S\":\"$info\"}}" >/dev/null
	ddb_table put "$table" "{\"LockID\":{\"S\":\"$bucket/elsewhere/y.tfstate\"},\"Info\":{\"S\":\"$info\"}}" >/dev/null
	"$TFLOCK" status --all --prefix ddb/ --dynamodb-table "$table" --dynamodb-endpoint "$TFLOCK_TEST_DDB_ENDPOINT" \
		>"$TEST_TMP/ddb.txt" 2>"$TEST_TMP/ddb.err"
	is 0 $? "items only, none with evidence of staleness: exit 0"
	is 2 "$(wc -l <"$TEST_TMP/ddb.txt")" "two lock items under $bucket/ddb/ (no digest, no scratch item, no other bucket or prefix)"
	like "$(sed -n 1p "$TEST_TMP/ddb.txt")" "^plain terraform +dynamodb://$table/$bucket/ddb/plain.tfstate  Who: bob@host .*age \\?" "the plain item, age unknown"
	like "$(sed -n 2p "$TEST_TMP/ddb.txt")" "^held, age unknown +dynamodb://$table/$bucket/ddb/tf.tfstate .*lease left \\?" \
		"the tflock item: held, age unknown, never 'likely stale'"
	"$TFLOCK" status --all --prefix ddb/ --json --dynamodb-table "$table" --dynamodb-endpoint "$TFLOCK_TEST_DDB_ENDPOINT" \
		>"$TEST_TMP/ddb.json" 2>/dev/null
	is "$table" "$("$JSONGET" "$TEST_TMP/ddb.json" table)" "--json names the table"
	is dynamodb "$("$JSONGET" "$TEST_TMP/ddb.json" locks.1.record)" "an item's record"
	is null "$("$JSONGET" "$TEST_TMP/ddb.json" locks.1.age_ms)" "its age: null"
	is held_age_unknown "$("$JSONGET" "$TEST_TMP/ddb.json" locks.1.state)" "its state"
	# with the files too: the files first in rank, the items after theirs
	"$TFLOCK" status --all --prefix stale/s01 --dynamodb-table "$table" --dynamodb-endpoint "$TFLOCK_TEST_DDB_ENDPOINT" \
		>"$TEST_TMP/both.txt" 2>/dev/null
	is 78 $? "files and items together: the stale file gives 78"
	is 1 "$(wc -l <"$TEST_TMP/both.txt")" "the one file lock under stale/s01 (no item there)"
	# dynamodb:Scan refused: one clear line, exit 69 (dynalite checks no
	# permission: a stub answers as DynamoDB would)
	printf '{"__type":"com.amazon.coral.service#AccessDeniedException","message":"User is not authorized to perform: dynamodb:Scan"}' >"$TEST_TMP/denied.json"
	stub_http ddb "POST / 400 $TEST_TMP/denied.json"
	"$TFLOCK" status --all --prefix live/ --dynamodb-table "$table" --dynamodb-endpoint "$STUB_URL" \
		>"$TEST_TMP/o" 2>"$TEST_TMP/e"
	is 69 $? "Scan refused: exit 69"
	is 1 "$(wc -l <"$TEST_TMP/e")" "one line"
	like "$(cat "$TEST_TMP/e")" "dynamodb:Scan on table '$table'" "naming dynamodb:Scan and the table"
else
	skip "dynalite is not installed: no DynamoDB items listed"
fi
done_testing
