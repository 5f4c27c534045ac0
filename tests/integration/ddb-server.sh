#!/bin/bash
# ddb-server.sh — the facts about the DynamoDB test server (dynalite) that the
# DynamoDB lock item's design and tests rely on, asked of dynalite itself with
# raw JSON 1.0 requests (tests/helpers/ddb-table raw), and the promises of the
# helpers that boot it and talk to it:
#  - tables are created asynchronously (CREATING, then ACTIVE); DescribeTable
#    shows the key schema; ddb-table create returns once ACTIVE;
#  - PutItem with attribute_not_exists(LockID) creates once, then fails with
#    ConditionalCheckFailedException, leaving the item as it was;
#  - Info = :info AND TflockSeq = :seq AND Tflock = :tf holds only when all
#    three match (not when TflockSeq is absent), for PutItem and DeleteItem;
#    a failed conditional write changes nothing; Info comes back byte for byte;
#  - Info = :info AND attribute_not_exists(Tflock) tells a plain Terraform
#    item from tflock's; OpenTofu's Info-only condition deletes either;
#  - numbers come back as strings; ResourceNotFoundException for a missing
#    table; ValidationException for a key of the wrong name or type;
#  - ReturnValuesOnConditionCheckFailure: accepted, and what it returns;
#  - ddb-start's watchdog, life limit and ddb-stop; ddb-table's exit codes.
. "$top_srcdir/tests/integration/lib.sh"
plan_lazy
need_ddb

JSONGET=$top_builddir/tests/helpers/jsonget
[ -x "$JSONGET" ] || bail "no jsonget at $JSONGET: build it first"
diag "dynalite $TFLOCK_TEST_DDB_VERSION at $TFLOCK_TEST_DDB_ENDPOINT (node $(node --version))"
like "$TFLOCK_TEST_DDB_ENDPOINT" '^http://127\.0\.0\.1:[0-9]+$' "the server is on loopback"
like "$TFLOCK_TEST_DDB_VERSION" '^[0-9]+\.[0-9]+\.[0-9]+$' "its exact version is known"

# req OP JSON — one request; sets body and code (the HTTP status)
req() {
	local out
	out=$(ddb_table raw "$1" "$2") || {
		body='' code=none
		return
	}
	code=${out##*$'\n'}
	body=${out%$'\n'*}
}
# val PATH — a value of the last reply (jsonget's PATH), empty when absent
val() { printf '%s' "$body" | "$JSONGET" - "$1" 2>/dev/null; }
# err — the last reply's HTTP status and error name (__type after its '#')
err() {
	local t
	t=$(val __type)
	printf '%s %s' "$code" "${t##*#}"
}
# S VALUE — an S attribute value, VALUE escaped for JSON
S() {
	local s=${1//\\/\\\\}
	s=${s//\"/\\\"}
	printf '{"S":"%s"}' "$s"
}
key() { printf '{"LockID":%s}' "$(S "$1")"; }
item() { # item KEY — the item (consistent read) into body
	req GetItem "{\"TableName\":\"$table\",\"Key\":$(key "$1"),\"ConsistentRead\":true}"
}

table=tfl-ddbsrv-$$-$RANDOM
lockdesc='{"AttributeName":"LockID","KeyType":"HASH"}'

# --- the table: created asynchronously, then ACTIVE, with its key schema
req CreateTable "{\"TableName\":\"$table\",\"BillingMode\":\"PAY_PER_REQUEST\",\"AttributeDefinitions\":[{\"AttributeName\":\"LockID\",\"AttributeType\":\"S\"}],\"KeySchema\":[$lockdesc]}"
is 200 "$code" "CreateTable: 200"
is CREATING "$(val TableDescription.TableStatus)" "CreateTable answers before the table is ready (CREATING)"
active() { req DescribeTable "{\"TableName\":\"$table\"}" && [ "$(val Table.TableStatus)" = ACTIVE ]; }
ok "the table goes ACTIVE" wait_for "table ACTIVE" 30 active
is "[$lockdesc]" "$(val Table.KeySchema)" "DescribeTable shows the key schema: LockID, HASH"
is '[{"AttributeName":"LockID","AttributeType":"S"}]' "$(val Table.AttributeDefinitions)" "... of type S"
is PAY_PER_REQUEST "$(val Table.BillingModeSummary.BillingMode)" "... billed per request"
t2=tfl-ddbsrv2-$$-$RANDOM
ok "ddb-table create makes a table" ddb_table create "$t2"
req DescribeTable "{\"TableName\":\"$t2\"}"
is ACTIVE "$(val Table.TableStatus)" "ddb-table create returns once the table is ACTIVE"
ok "ddb-table delete removes it" ddb_table delete "$t2"
req DescribeTable "{\"TableName\":\"$t2\"}"
is "400 ResourceNotFoundException" "$(err)" "... and returns once it is gone"

# --- create if absent
info='{"ID":"11111111-2222-3333-4444-555555555555","Operation":"OperationTypeApply","Info":"","Who":"ci\u003cx\u003e@host","Version":"1.11.4","Created":"2026-01-01T00:00:00.1Z","Path":"b/env/terraform.tfstate"}'
info_b=${info/5555\"/5556\"} # one byte differs
tf='{"v":1,"lease":20,"seq":1}'
k=b/env/terraform.tfstate
put_new() {
	req PutItem "{\"TableName\":\"$table\",\"Item\":{\"LockID\":$(S "$k"),\"Info\":$(S "$1"),\"Tflock\":$(S "$tf"),\"TflockSeq\":{\"N\":\"1\"}},\"ConditionExpression\":\"attribute_not_exists(LockID)\"}"
}
put_new "$info"
is 200 "$code" "PutItem with attribute_not_exists(LockID) creates the item"
put_new "$info_b"
is "400 ConditionalCheckFailedException" "$(err)" "the same again fails: ConditionalCheckFailedException"
is "The conditional request failed" "$(val message)" "... with DynamoDB's message"
item "$k"
is "$info" "$(val Item.Info.S)" "the item is the first writer's, Info byte for byte (\\u003c escapes kept as text)"

# --- a conditional whole-item PutItem (the heartbeat): Info, TflockSeq and Tflock must all match
cond='Info = :info AND TflockSeq = :seq AND Tflock = :tf'
# renew INFO SEQ TF NEWSEQ — PutItem of the whole item, seq NEWSEQ, conditioned on INFO, SEQ, TF
renew() {
	req PutItem "{\"TableName\":\"$table\",\"Item\":{\"LockID\":$(S "$k"),\"Info\":$(S "$info"),\"Tflock\":$(S "$tf"),\"TflockSeq\":{\"N\":\"$4\"}},\"ConditionExpression\":\"$cond\",\"ExpressionAttributeValues\":{\":info\":$(S "$1"),\":seq\":{\"N\":\"$2\"},\":tf\":$(S "$3")}}"
}
renew "$info" 1 "$tf" 2
is 200 "$code" "PutItem conditioned on Info, TflockSeq and Tflock succeeds when all match"
item "$k"
is 2 "$(val Item.TflockSeq.N)" "the new sequence is stored"
like "$body" '"TflockSeq":\{"N":"2"\}' "GetItem returns the number as a string"
renew "$info" 1 "$tf" 3
is "400 ConditionalCheckFailedException" "$(err)" "a stale TflockSeq fails the condition"
renew "$info_b" 2 "$tf" 3
is "400 ConditionalCheckFailedException" "$(err)" "an Info one byte off fails it"
renew "$info" 2 '{"v":1,"lease":20,"seq":2}' 3
is "400 ConditionalCheckFailedException" "$(err)" "a different Tflock fails it"
item "$k"
is "2 $info" "$(val Item.TflockSeq.N) $(val Item.Info.S)" "failed conditional PutItems changed nothing"

# --- conditional DeleteItem (the release)
del_cond() {
	req DeleteItem "{\"TableName\":\"$table\",\"Key\":$(key "$1"),\"ConditionExpression\":\"$cond\",\"ExpressionAttributeValues\":{\":info\":$(S "$info"),\":seq\":{\"N\":\"$2\"},\":tf\":$(S "$tf")}}"
}
del_cond "$k" 1
is "400 ConditionalCheckFailedException" "$(err)" "DeleteItem with a stale sequence fails its condition"
item "$k"
is 2 "$(val Item.TflockSeq.N)" "... and the item is still there"
del_cond "$k" 2
is 200 "$code" "DeleteItem whose condition holds deletes"
item "$k"
is "200 {}" "$code $body" "... the item is gone (GetItem: {})"
del_cond "$k" 2
is "400 ConditionalCheckFailedException" "$(err)" "a conditional DeleteItem of a missing item fails its condition"
req DeleteItem "{\"TableName\":\"$table\",\"Key\":$(key "$k")}"
is 200 "$code" "an unconditional DeleteItem of a missing item succeeds (Terraform's force-unlock)"

# --- a plain Terraform item (Info alone) against tflock's conditions
req PutItem "{\"TableName\":\"$table\",\"Item\":{\"LockID\":$(S "$k"),\"Info\":$(S "$info")},\"ConditionExpression\":\"attribute_not_exists(LockID)\"}"
is 200 "$code" "a plain item (Info alone) is planted"
renew "$info" 1 "$tf" 2
is "400 ConditionalCheckFailedException" "$(err)" "the three-part condition fails on it (TflockSeq absent)"
req PutItem "{\"TableName\":\"$table\",\"Item\":{\"LockID\":$(S "$k"),\"Info\":$(S "$info"),\"TflockSeq\":{\"N\":\"1\"}},\"ConditionExpression\":\"Info = :info AND attribute_exists(TflockSeq)\",\"ExpressionAttributeValues\":{\":info\":$(S "$info")}}"
is "400 ConditionalCheckFailedException" "$(err)" "so does attribute_exists(TflockSeq) (a takeover's guard)"
plain='Info = :info AND attribute_not_exists(Tflock)'
plain_put() {
	req PutItem "{\"TableName\":\"$table\",\"Item\":{\"LockID\":$(S "$k"),\"Info\":$(S "$info")},\"ConditionExpression\":\"$plain\",\"ExpressionAttributeValues\":{\":info\":$(S "$1")}}"
}
plain_put "$info"
is 200 "$code" "Info = :info AND attribute_not_exists(Tflock) holds on the plain item"
plain_put "$info_b"
is "400 ConditionalCheckFailedException" "$(err)" "... and not with another Info"
req PutItem "{\"TableName\":\"$table\",\"Item\":{\"LockID\":$(S "$k"),\"Info\":$(S "$info"),\"Tflock\":$(S "$tf"),\"TflockSeq\":{\"N\":\"1\"}}}"
plain_put "$info"
is "400 ConditionalCheckFailedException" "$(err)" "... nor on tflock's item (Tflock present)"
req DeleteItem "{\"TableName\":\"$table\",\"Key\":$(key "$k"),\"ConditionExpression\":\"Info = :info\",\"ExpressionAttributeValues\":{\":info\":$(S "$info")}}"
is 200 "$code" "OpenTofu's unlock (DeleteItem on Info = :info alone) deletes tflock's item"

# --- ReturnValuesOnConditionCheckFailure
put_new "$info"
req PutItem "{\"TableName\":\"$table\",\"Item\":{\"LockID\":$(S "$k"),\"Info\":$(S "$info_b")},\"ConditionExpression\":\"attribute_not_exists(LockID)\",\"ReturnValuesOnConditionCheckFailure\":\"ALL_OLD\"}"
is "400 ConditionalCheckFailedException" "$(err)" "ReturnValuesOnConditionCheckFailure=ALL_OLD is accepted; the condition still fails"
if [ -n "$(val Item)" ]; then rv=returned; else rv=ignored; fi
diag "dynalite $TFLOCK_TEST_DDB_VERSION: ReturnValuesOnConditionCheckFailure is $rv (the old item is ${rv/ignored/not} in the error)"
is ignored "$rv" "it is ignored: no old item in the error (clients must read the item back)"

# --- Scan: every item, the state's -md5 item too (a bucket-wide status skips it itself)
req PutItem "{\"TableName\":\"$table\",\"Item\":{\"LockID\":$(S "$k-md5"),\"Digest\":$(S 0123abcd)}}"
lines=$(ddb_table scan "$table" | while IFS= read -r l; do printf '%s\n' "$l" | "$JSONGET" - LockID.S; done | sort | paste -sd' ')
is "$k $k-md5" "$lines" "ddb-table scan prints every item, one a line"

# --- errors: a missing table, a key of the wrong name or type
nt=tfl-missing-$$
req GetItem "{\"TableName\":\"$nt\",\"Key\":$(key x),\"ConsistentRead\":true}"
is "400 ResourceNotFoundException" "$(err)" "GetItem on a missing table: ResourceNotFoundException"
req PutItem "{\"TableName\":\"$nt\",\"Item\":{\"LockID\":$(S x)},\"ConditionExpression\":\"attribute_not_exists(LockID)\"}"
is "400 ResourceNotFoundException" "$(err)" "PutItem on a missing table: ResourceNotFoundException"
req DescribeTable "{\"TableName\":\"$nt\"}"
is "400 ResourceNotFoundException" "$(err)" "DescribeTable of a missing table: ResourceNotFoundException"
wn=tfl-wrongname-$$
wt=tfl-wrongtype-$$
ok "a table keyed by another name is made (ddb-table create --schema wrong)" ddb_table create "$wn" --schema wrong
ok "a table keyed LockID of type N is made (wrong-type)" ddb_table create "$wt" wrong-type
req DescribeTable "{\"TableName\":\"$wn\"}"
is '[{"AttributeName":"id","KeyType":"HASH"}]' "$(val Table.KeySchema)" "DescribeTable shows the other key name"
req GetItem "{\"TableName\":\"$wn\",\"Key\":$(key x),\"ConsistentRead\":true}"
is "400 ValidationException" "$(err)" "GetItem by LockID on it: ValidationException"
like "$(val message)" 'key element does not match the schema' "... the key does not match the schema"
req PutItem "{\"TableName\":\"$wn\",\"Item\":{\"LockID\":$(S x),\"Info\":$(S "$info")},\"ConditionExpression\":\"attribute_not_exists(LockID)\"}"
is "400 ValidationException" "$(err)" "PutItem without its key attribute: ValidationException"
req GetItem "{\"TableName\":\"$wt\",\"Key\":$(key x),\"ConsistentRead\":true}"
is "400 ValidationException" "$(err)" "a string LockID against a number key: ValidationException"
req DescribeTable "{\"TableName\":\"$wt\"}"
is '[{"AttributeName":"LockID","AttributeType":"N"}]' "$(val Table.AttributeDefinitions)" "DescribeTable shows the key's type"

# --- ddb-table's own contract
is "{}" "$(ddb_table get "$table" no/such/key)" "ddb-table get of a missing item prints {} and succeeds"
ddb_table get "$nt" x >/dev/null 2>"$TEST_TMP/dt.err"
is 1 $? "ddb-table on a missing table exits 1"
is 1 "$(wc -l <"$TEST_TMP/dt.err")" "... with one line"
like "$(cat "$TEST_TMP/dt.err")" "^ddb-table: GetItem \"$nt\": HTTP 400 ResourceNotFoundException" "... naming the operation, status and error"
"$top_srcdir/tests/helpers/ddb-table" http://127.0.0.1:9 scan x >/dev/null 2>&1
is 2 $? "ddb-table with no server answering exits 2"
"$top_srcdir/tests/helpers/ddb-table" http://192.0.2.1:80 scan x >/dev/null 2>&1
is 64 $? "ddb-table refuses a non-loopback endpoint"

# --- ddb-start and ddb-stop: a second server of this test's own
DDB_START=$top_srcdir/tests/helpers/ddb-start
DDB_STOP=$top_srcdir/tests/helpers/ddb-stop
own=$TEST_TMP/own
# gone PID: exited (no process, or a zombie its new parent has not reaped yet)
gone() { [ ! -e "/proc/$1" ] || grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null; }
sleep 600 &
owner=$!
"$DDB_START" "$own" "$owner" 2>"$TEST_TMP/own.err"
is 0 $? "ddb-start boots a second server"
own_pid=$(sed -n 's/^export TFLOCK_TEST_DDB_PID=//p' "$own/env")
own_ep=$(sed -n 's/^export TFLOCK_TEST_DDB_ENDPOINT=//p' "$own/env")
isnt_same() { [ "$1" != "$2" ]; }
ok "on a port of its own" isnt_same "$own_ep" "$TFLOCK_TEST_DDB_ENDPOINT"
is "{\"TableNames\":[]}" "$("$top_srcdir/tests/helpers/ddb-table" "$own_ep" call ListTables '{}')" "it answers, empty (in memory)"
"$DDB_START" "$own" "$owner" 2>"$TEST_TMP/own2.err"
like "$?: $(cat "$TEST_TMP/own2.err")" '^0: .*already running' "ddb-start on a running DIR: already running"
kill "$owner"
wait "$owner" 2>/dev/null
ok "the server stops by itself once its owner is gone" wait_for "owner watchdog" 20 gone "$own_pid"
like "$(cat "$own/log")" 'owner [0-9]+ exited' "... saying why"
TFLOCK_TEST_DDB_LIFE=1 "$DDB_START" "$own" $$ 2>/dev/null
own_pid=$(sed -n 's/^export TFLOCK_TEST_DDB_PID=//p' "$own/env")
ok "TFLOCK_TEST_DDB_LIFE=1: the server stops by itself" wait_for "life limit" 20 gone "$own_pid"
like "$(cat "$own/log")" 'of life are over' "... saying why"
"$DDB_START" "$own" $$ 2>/dev/null
own_pid=$(sed -n 's/^export TFLOCK_TEST_DDB_PID=//p' "$own/env")
"$DDB_STOP" "$own"
is 0 $? "ddb-stop stops it"
ok "... the process is gone" gone "$own_pid"
ok "... and its env file" test ! -e "$own/env"
"$DDB_STOP" "$own"
is 0 $? "ddb-stop again: nothing to do, exit 0"
TFLOCK_TEST_DYNALITE_PREFIX=$TEST_TMP/none "$DDB_START" "$TEST_TMP/none-run" $$ 2>"$TEST_TMP/none.err"
is 2 $? "ddb-start without dynalite installed exits 2"
like "$(cat "$TEST_TMP/none.err")" 'not installed .*install-deps' "... saying what to run"

ddb_table delete "$table" >/dev/null
ddb_table delete "$wn" >/dev/null
ddb_table delete "$wt" >/dev/null
done_testing
