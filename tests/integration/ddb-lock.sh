#!/bin/bash
# The DynamoDB lock item (PROTOCOL A5, B11, B12) against dynalite, DynamoDB's API
# on a real server (booted by the tests' scripts) next to the local gateway:
#  - the item tflock writes: LockID = BUCKET/P, Info = the seven LockInfo keys
#    exactly (no Tflock), Tflock and TflockSeq beside it; Info never changes
#    during a hold (renewals change TflockSeq only);
#  - with a table and the file both held: a second tflock (both, or table only)
#    is excluded; the file is taken first and released last (event order);
#  - a plain Terraform item (Info alone) is waited on and never taken over;
#  - a SIGKILLed holder's item is taken over after its lease, never before the
#    holder's last renewal + one lease (a lower bound from logged times);
#  - an item deleted under a holder (terraform force-unlock) → the holder exits
#    76 and gives the file back; unlock ID removes both; status shows both;
#  - a missing table, a wrong key schema: 69, naming what is wrong;
#  - a table-only backend holds the item alone, and A3's new-workspace trap is
#    caught for it too.
. "$top_srcdir/tests/integration/lib.sh"
plan_lazy
rgw_require
ddb_require
bucket=$(new_bucket)
tflock_env "$bucket"
diag "DynamoDB test server: $TFLOCK_TEST_DDB_VERSION at $TFLOCK_TEST_DDB_ENDPOINT"
table=tfl-locks-$$
ddb_table create "$table" >/dev/null || bail "cannot create table $table"
export TFLOCK_KEY=dd/terraform.tfstate TFLOCK_DYNAMODB_TABLE=$table
lockid="$bucket/dd/terraform.tfstate"
item() { ddb_table get "$table" "$lockid"; }
# attr NAME [TYPE] — an attribute of the item JSON on stdin (node reads the JSON)
attr() {
	node -e 'let d="";process.stdin.on("data",c=>d+=c).on("end",()=>{const i=(JSON.parse(d).Item||{})[process.argv[1]];process.stdout.write(i&&i[process.argv[2]]!==undefined?String(i[process.argv[2]]):"")})' "$1" "${2:-S}"
}

# 1. the item as written, read while the hold lasts
"$TFLOCK" --lease 20s -- sh -c '"$0" "$1" get "$2" "$3" >"$4/i1"; sleep 1.2; "$0" "$1" get "$2" "$3" >"$4/i2"' \
	"$top_srcdir/tests/helpers/ddb-table" "$TFLOCK_TEST_DDB_ENDPOINT" "$table" "$lockid" "$TEST_TMP" 2>"$TEST_TMP/h1.err"
is 0 $? "a run holding the file and the item exits 0"
info1=$(attr Info <"$TEST_TMP/i1")
info2=$(attr Info <"$TEST_TMP/i2")
like "$info1" '^\{"ID":"[0-9a-f-]{36}","Operation":"[^"]*","Info":"[^"]*","Who":"[^"]*","Version":"tflock-[^"]*","Created":"[0-9T:.Z-]+","Path":"'"$bucket"'/dd/terraform.tfstate"\}$' \
	"Info is the seven LockInfo keys in Terraform's order, Path = BUCKET/P"
ok "Info carries no Tflock key" bash -c "! printf '%s' '$info1' | grep -q Tflock"
like "$(attr Tflock <"$TEST_TMP/i1")" '^\{"v":1,"lease":20,"seq":1,' "the Tflock attribute holds the lease part, seq 1"
is 1 "$(attr TflockSeq N <"$TEST_TMP/i1")" "TflockSeq = 1 after the create"
is "$info2" "$info1" "Info is unchanged after renewals"
ok "TflockSeq grew with the renewals" test "$(attr TflockSeq N <"$TEST_TMP/i2")" -gt 1
like "$(cat "$TEST_TMP/h1.err")" "acquired s3://$bucket/dd/terraform.tfstate.tflock and dynamodb://$table/$lockid" \
	"the run names both records"
is "$(item)" "{}" "the item is gone after the run"
is 404 "$(s3_status GET "/$bucket/dd/terraform.tfstate.tflock")" "the file is gone after the run"
if [ -x "$TFCOMPAT" ]; then
	printf '%s' "$info1" >"$TEST_TMP/info.json"
	is ok "$("$TFCOMPAT" parse "$TEST_TMP/info.json" 2>&1 | head -n 1)" "Terraform's own decoding reads Info"
else
	skip "Go is not installed: Info's decoding by Go not checked"
fi

# 2. exclusion, and the order of the two records
TFLOCK_EVENT_LOG=$TEST_TMP/h2.events "$TFLOCK" -- "$TESTCHILD" touch="$TEST_TMP/h2.run" \
	wait-file="$TEST_TMP/h2.go" exit=0 2>"$TEST_TMP/h2.err" &
h2=$!
wait_for "holder running" 20 test -e "$TEST_TMP/h2.run"
"$TFLOCK" --no-wait -- true 2>"$TEST_TMP/w2.err"
is 75 $? "a second tflock holding both: excluded (75)"
like "$(cat "$TEST_TMP/w2.err")" "held by" "saying who holds it"
TFLOCK_KEY=dd/other.tfstate "$TFLOCK" --no-wait -- true 2>/dev/null
is 0 $? "another state key in the same table is not excluded"
ddb_table put "$table" '{"LockID":{"S":"x"}}' >/dev/null # the table stays usable meanwhile
touch "$TEST_TMP/h2.go"
wait "$h2"
is 0 $? "the holder exits 0"
order=$(awk '/ acquired | released / { print $3, $4 }' "$TEST_TMP/h2.events" | sed 's/ s3:.*/ file/; s/ dynamodb:.*/ item/' | paste -sd,)
is "$order" "acquired file,acquired item,released item,released file" \
	"the file is acquired first and released last (PROTOCOL B12)"

# 3. a plain Terraform item (Info alone): waited on, never taken over
plain='{"ID":"11111111-2222-3333-4444-555555555555","Operation":"OperationTypeApply","Info":"","Who":"bob@laptop","Version":"1.5.7","Created":"2020-01-01T00:00:00Z","Path":"'"$bucket"'/dd/terraform.tfstate"}'
jq_item=$(node -e 'process.stdout.write(JSON.stringify({LockID:{S:process.argv[1]},Info:{S:process.argv[2]}}))' "$lockid" "$plain")
ddb_table put "$table" "$jq_item" >/dev/null || bail "cannot plant a plain item"
"$TFLOCK" --lease 20s --timeout 6s -- true 2>"$TEST_TMP/w3.err"
is 75 $? "a plain Terraform item: tflock gives up at --timeout (75), after several leases"
like "$(cat "$TEST_TMP/w3.err")" "bob@laptop" "naming its holder"
like "$(cat "$TEST_TMP/w3.err")" "never taken over" "saying it is never taken over"
is "$(item | attr Info)" "$plain" "the plain item is untouched"
is 404 "$(s3_status GET "/$bucket/dd/terraform.tfstate.tflock")" "and the file was given back while waiting on the item"
"$TFLOCK" unlock 11111111-2222-3333-4444-555555555555 2>"$TEST_TMP/u3.err"
is 0 $? "tflock unlock ID removes the plain item (its ID)"
is "$(item)" "{}" "the item is gone"

# 4. a SIGKILLed holder: its item (and file) taken over after its lease
TFLOCK_EVENT_LOG=$TEST_TMP/h4.events "$TFLOCK" --lease 20s -- "$TESTCHILD" touch="$TEST_TMP/h4.run" \
	wait-file="$TEST_TMP/never" 2>/dev/null &
h4=$!
wait_for "holder running" 20 test -e "$TEST_TMP/h4.run"
kill -KILL "$h4"
wait "$h4" 2>/dev/null
TFLOCK_EVENT_LOG=$TEST_TMP/w4.events "$TFLOCK" --lease 20s -- true 2>"$TEST_TMP/w4.err"
is 0 $? "a waiter takes both over from a SIGKILLed holder and runs"
is 2 "$(grep -c ' takeover ' "$TEST_TMP/w4.events")" "it took over both records"
ok "the dead hold's item in the same round as its file (B12: never a second lease of waiting)" \
	bash -c "! grep -q ' hold: ' '$TEST_TMP/w4.events'"
lease_ms=$(awk -v s="$TFLOCK_TIME_SCALE" 'BEGIN { printf "%d", 20000 * s }')
last=$(awk '/ (acquired|renewed) / { for (i = 1; i <= NF; i++) if ($i ~ /^(send|renew_send)=/) { sub(/^[a-z_]*=/, "", $i); s = $i } } END { print s }' "$TEST_TMP/h4.events")
first_take=$(awk '/ takeover / { print $1; exit }' "$TEST_TMP/w4.events")
ok "no takeover before the holder's last renewal + one lease ($last + ${lease_ms}ms <= $first_take)" \
	test "$((last + lease_ms * 1000000))" -le "$first_take"

# 4b. cleanup by another process (PROTOCOL B8): `tflock release` removes a
# SIGKILLed holder's file and item; `tflock unlock --force` after one lease
for how in release force; do
	"$TFLOCK" --lease 20s -- "$TESTCHILD" touch="$TEST_TMP/c$how.run" wait-file="$TEST_TMP/never" 2>/dev/null &
	hc=$!
	wait_for "holder running" 20 test -e "$TEST_TMP/c$how.run"
	kill -KILL "$hc"
	wait "$hc" 2>/dev/null
	wait_for "the guardian gone" 20 bash -c "! pgrep -f 'c$how.run' >/dev/null"
	ok "$how: the SIGKILLed holder left its item" test "$(item)" != "{}"
	is 200 "$(s3_status GET "/$bucket/dd/terraform.tfstate.tflock")" "$how: and its file"
	if [ "$how" = release ]; then
		"$TFLOCK" release 2>"$TEST_TMP/c$how.err"
	else
		"$TFLOCK" unlock --force 2>"$TEST_TMP/c$how.err"
	fi
	is 0 $? "tflock $how on a dead holder's hold: exit 0"
	is "{}" "$(item)" "tflock $how: the item is gone"
	is 404 "$(s3_status GET "/$bucket/dd/terraform.tfstate.tflock")" "tflock $how: the file is gone"
done

# 5. the item deleted under a holder (terraform force-unlock): lost, 76
"$TFLOCK" --lease 20s -- "$TESTCHILD" touch="$TEST_TMP/h5.run" wait-file="$TEST_TMP/never" 2>"$TEST_TMP/h5.err" &
h5=$!
wait_for "holder running" 20 test -e "$TEST_TMP/h5.run"
"$TFLOCK" status >"$TEST_TMP/st5" 2>&1
is 75 $? "status while held: 75"
is "$(grep -c ': held by ' "$TEST_TMP/st5")" 2 "status shows both records held"
ddb_table del "$table" "$lockid" >/dev/null
wait "$h5"
is 76 $? "the item deleted under the holder: it exits 76 (lost)"
like "$(cat "$TEST_TMP/h5.err")" "deleted by someone else" "saying so"
is 404 "$(s3_status GET "/$bucket/dd/terraform.tfstate.tflock")" "and it gave the file back"

# 6. errors: a missing table, a wrong key schema
TFLOCK_DYNAMODB_TABLE=no-such-table-$$ "$TFLOCK" -- true 2>"$TEST_TMP/e1.err"
is 69 $? "a missing table: 69"
like "$(cat "$TEST_TMP/e1.err")" "table 'no-such-table-$$' does not exist in region us-east-1" "naming the table and region"
ddb_table create "wrong-$$" wrong >/dev/null || bail "cannot create a wrong table"
TFLOCK_DYNAMODB_TABLE=wrong-$$ "$TFLOCK" -- true 2>"$TEST_TMP/e2.err"
is 69 $? "a table with another key schema: 69"
like "$(cat "$TEST_TMP/e2.err")" "partition key LockID of type String" "saying what the table must look like"
is 404 "$(s3_status GET "/$bucket/dd/terraform.tfstate.tflock")" "no lock file left by the failed runs"

# 7. a table-only backend: the item alone
mkdir -p "$TEST_TMP/proj" && cd "$TEST_TMP/proj" || bail "cd"
mkbackend .terraform "s|\"use_lockfile\": true|\"use_lockfile\": null|; s|\"dynamodb_table\": null|\"dynamodb_table\": \"$table\"|"
key=$(awk -F'"' '/"key":/ { print $4; exit }' .terraform/terraform.tfstate)
env -u TFLOCK_KEY -u TFLOCK_DYNAMODB_TABLE -u TFLOCK_BUCKET "$TFLOCK" -- sh -c 'echo ok' >"$TEST_TMP/t7.out" 2>"$TEST_TMP/t7.err"
is 0 $? "a dynamodb_table-only backend is accepted"
like "$(cat "$TEST_TMP/t7.err")" "acquired dynamodb://$table/$bucket/$key\$" "and holds the item alone"
ok "no lock file" bash -c "! grep -q '\.tflock' '$TEST_TMP/t7.err'"
# A3's trap for a table-only backend too: terraform takes the item itself for a
# new workspace's state, even with -lock=false
mkdir -p "$TEST_TMP/bin"
printf '#!/bin/sh\necho ran >>"%s/tf.ran"\n' "$TEST_TMP" >"$TEST_TMP/bin/terraform"
chmod +x "$TEST_TMP/bin/terraform"
env -u TFLOCK_KEY -u TFLOCK_DYNAMODB_TABLE -u TFLOCK_BUCKET TF_WORKSPACE=staging PATH="$TEST_TMP/bin:$PATH" \
	"$TFLOCK" -- terraform plan 2>"$TEST_TMP/t8.err"
is 64 $? "table-only backend, a workspace without state: refused before anything is taken (64)"
like "$(cat "$TEST_TMP/t8.err")" "workspace 'staging' has no state yet" "naming the trap and the fix"
ok "terraform was not run" test ! -e "$TEST_TMP/tf.ran"
is "{}" "$(ddb_table get "$table" "$bucket/env:/staging/$key")" "and no item was written for it"
done_testing
