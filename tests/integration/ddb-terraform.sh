#!/bin/bash
# The DynamoDB lock item with the real terraform binary (when this machine has
# one): the s3 backend on the local gateway with its dynamodb_table on dynalite,
# (a) table only (no use_lockfile) and (b) use_lockfile = true and the table,
# both configurations on the same state, as during Terraform's migration:
#  1. `tflock -- terraform apply` with no options: the state is written, no file
#     and no lock item are left, and terraform's `-md5` digest item is there
#     with the state's checksum and nothing of tflock's;
#  2. a plain `terraform plan` (of either configuration) fails on tflock's hold
#     and prints tflock's ID and Info sentence;
#  3. a plain terraform holding the lock (console) is waited on, never taken
#     over: tflock gives up at --timeout (75) after at least one lease, the
#     plain item (and file) unchanged;
#  4. `terraform force-unlock -force ID` on tflock's hold: the holder exits 76
#     and nothing is left;
#  5. OpenTofu's unlock deletes the item on `Info = :info`, :info being its own
#     json.Marshal of the Info it parsed (tfcompat tofu-remarshal): tflock's
#     Info, with characters Go escapes, comes back byte-identical, and that
#     conditional delete takes tflock's item away (the holder exits 76).
# Both terraform and tflock are given a dead AWS_ENDPOINT_URL_DYNAMODB: the
# backend's endpoints.dynamodb is what both of them must use.
# CHECKPOINT_DISABLE keeps terraform off the network.
. "$top_srcdir/tests/integration/lib.sh"
command -v terraform >/dev/null || skip_all "no terraform binary on this machine (ddb-lock.sh checks the item without it)"
plan_lazy
rgw_require
ddb_require
bucket=$(new_bucket)
tflock_env "$bucket"
unset TFLOCK_BUCKET TFLOCK_ENDPOINT TFLOCK_KEY TFLOCK_DYNAMODB_TABLE
export AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:9
export CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1 TF_INPUT=0
: >"$TEST_TMP/terraformrc"
export TF_CLI_CONFIG_FILE=$TEST_TMP/terraformrc
diag "$(terraform version 2>&1 | head -1); dynalite $TFLOCK_TEST_DDB_VERSION at $TFLOCK_TEST_DDB_ENDPOINT"
table=tfl-tf-$$
ddb_table create "$table" >/dev/null || bail "cannot create table $table"
key=real/terraform.tfstate
lockid=$bucket/$key
lease_ns=$(awk -v s="$TFLOCK_TIME_SCALE" 'BEGIN { printf "%d", 20e9 * s }')

item() { ddb_table get "$table" "$1"; }
# attr NAME [TYPE] — an attribute of the item JSON on stdin, its bytes exactly
attr() {
	node -e 'let d="";process.stdin.on("data",c=>d+=c).on("end",()=>{const i=(JSON.parse(d).Item||{})[process.argv[1]];process.stdout.write(i&&i[process.argv[2]]!==undefined?String(i[process.argv[2]]):"")})' "$1" "${2:-S}"
}
# attr_names — the item's attribute names on stdin, sorted, comma-separated
attr_names() {
	node -e 'let d="";process.stdin.on("data",c=>d+=c).on("end",()=>process.stdout.write(Object.keys(JSON.parse(d).Item||{}).sort().join(",")))'
}
# reap PID — a holder's exit status; one still running after a bounded poll is
# stopped (SIGTERM: it releases what it holds), so a failed check never hangs
gone() { ! kill -0 "$1" 2>/dev/null; }
reap() {
	wait_for "holder $1 exits" 60 gone "$1" || kill -TERM "$1" 2>/dev/null
	wait "$1"
}
has_item() { [ "$(item "$lockid")" != "{}" ]; }
file_status() { s3_status GET "/$bucket/$key.tflock"; }
# held_id LOG — the lock ID the holder's testchild was given
held_id() { awk '/^env TFLOCK_HELD_ID=/ { sub("env TFLOCK_HELD_ID=", ""); print }' "$1"; }
# cond_delete INFO-FILE — OpenTofu's unlock: DeleteItem on `Info = :info`
cond_delete() {
	ddb_table call DeleteItem "$(node -e 'process.stdout.write(JSON.stringify({TableName:process.argv[1],
		Key:{LockID:{S:process.argv[2]}},ConditionExpression:"Info = :info",
		ExpressionAttributeValues:{":info":{S:require("fs").readFileSync(process.argv[3],"utf8")}}}))' \
		"$table" "$lockid" "$1")"
}

# tf_project DIR OUTPUT [EXTRA] — a main.tf like real_tf_main's, for $bucket/$key,
# with the table on dynalite and EXTRA backend lines; terraform init in DIR
tf_project() {
	mkdir -p "$1"
	cat >"$1/main.tf" <<TF
terraform {
  backend "s3" {
    bucket                      = "$bucket"
    key                         = "$key"
    region                      = "us-east-1"
    endpoints                   = { s3 = "$TFLOCK_TEST_S3_ENDPOINT", dynamodb = "$TFLOCK_TEST_DDB_ENDPOINT" }
    dynamodb_table              = "$table"
    use_path_style              = true
    skip_credentials_validation = true
    skip_region_validation      = true
    skip_requesting_account_id  = true
    skip_metadata_api_check     = true
${3:-}
  }
}
output "x" { value = "$2" }
TF
	(cd "$1" && terraform init -input=false -no-color >"$TEST_TMP/init.${1##*/}.out" 2>&1)
}
A=$TEST_TMP/a
B=$TEST_TMP/b
tf_project "$A" hello-a
is 0 $? "terraform init, (a) dynamodb_table only"
tf_project "$B" hello-b "    use_lockfile                = true"
is 0 $? "terraform init, (b) use_lockfile and dynamodb_table"

for cfg in a b; do
	if [ $cfg = a ]; then dir=$A other=$B; else dir=$B other=$A; fi
	cd "$dir" || bail "cd $dir"
	# 1. tflock -- terraform apply, no options
	"$TFLOCK" -- terraform apply -auto-approve -no-color >"$TEST_TMP/apply.$cfg.out" 2>"$TEST_TMP/apply.$cfg.err"
	is 0 $? "$cfg: tflock -- terraform apply -auto-approve, no options"
	like "$(cat "$TEST_TMP/apply.$cfg.out")" "x = \"hello-$cfg\"" "$cfg: terraform applied"
	if [ $cfg = a ]; then
		like "$(cat "$TEST_TMP/apply.$cfg.err")" "acquired dynamodb://$table/$lockid\$" "$cfg: tflock held the item alone"
	else
		like "$(cat "$TEST_TMP/apply.$cfg.err")" "acquired s3://$bucket/$key.tflock and dynamodb://$table/$lockid\$" \
			"$cfg: tflock held the file and the item"
	fi
	is 200 "$(s3_status GET "/$bucket/$key" -o "$TEST_TMP/state.$cfg")" "$cfg: the state object was written"
	ok "$cfg: with this configuration's output" grep -q "hello-$cfg" "$TEST_TMP/state.$cfg"
	is 404 "$(file_status)" "$cfg: no lock file afterwards"
	is "{}" "$(item "$lockid")" "$cfg: no lock item afterwards"
	item "$lockid-md5" >"$TEST_TMP/md5.$cfg"
	is "Digest,LockID" "$(attr_names <"$TEST_TMP/md5.$cfg")" "$cfg: terraform's -md5 item is there, Digest only (no tflock attribute)"
	is "$(md5sum <"$TEST_TMP/state.$cfg" | cut -d' ' -f1)" "$(attr Digest <"$TEST_TMP/md5.$cfg")" \
		"$cfg: its Digest is the checksum of the state written under tflock's hold"

	# 2. tflock holds: a plain terraform plan fails on it, either configuration
	rm -f "$TEST_TMP/h.log" "$TEST_TMP/h.run" "$TEST_TMP/h.go"
	"$TFLOCK" -- "$TESTCHILD" --log "$TEST_TMP/h.log" touch="$TEST_TMP/h.run" wait-file="$TEST_TMP/h.go" 2>"$TEST_TMP/h2.$cfg.err" &
	h=$!
	wait_for "holder" 20 test -e "$TEST_TMP/h.run"
	id=$(held_id "$TEST_TMP/h.log")
	like "$(item "$lockid" | attr Info)" "\"ID\":\"$id\"" "$cfg: tflock's item carries the held ID"
	terraform plan -input=false -no-color >"$TEST_TMP/plan.$cfg.out" 2>&1
	is 1 $? "$cfg: a plain terraform plan fails on tflock's hold"
	like "$(cat "$TEST_TMP/plan.$cfg.out")" "Error acquiring the state lock" "$cfg: with terraform's own error"
	like "$(tr '\n' ' ' <"$TEST_TMP/plan.$cfg.out")" "ID: +$id " "$cfg: showing tflock's lock ID"
	like "$(tr '\n' ' ' <"$TEST_TMP/plan.$cfg.out")" "Info: +held by tflock for" "$cfg: and tflock's Info sentence"
	if [ $cfg = a ]; then
		like "$(cat "$TEST_TMP/plan.$cfg.out")" "DynamoDB: PutItem" "$cfg: the item stopped it"
	fi
	(cd "$other" && terraform plan -input=false -no-color >"$TEST_TMP/plan.$cfg-other.out" 2>&1)
	is 1 $? "$cfg: a plain terraform plan of the other configuration fails too"
	like "$(tr '\n' ' ' <"$TEST_TMP/plan.$cfg-other.out")" "Error acquiring the state lock.*ID: +$id .*Info: +held by tflock for" \
		"$cfg: showing tflock's ID and Info sentence"
	like "$(cat "$TEST_TMP/plan.$cfg-other.out")" "DynamoDB: PutItem" "$cfg: the item stopped it"
	if [ $cfg = a ]; then
		is 404 "$(file_status)" "$cfg: terraform gave its lock file back when the item failed"
	fi
	touch "$TEST_TMP/h.go"
	reap "$h"
	is 0 $? "$cfg: the holder exits 0"
	is 404 "$(file_status)" "$cfg: nothing left: no file"
	is "{}" "$(item "$lockid")" "$cfg: nothing left: no item"

	# 3. a plain terraform holds the lock (console keeps it while it reads stdin)
	rm -f "$TEST_TMP/console.in"
	mkfifo "$TEST_TMP/console.in"
	terraform console <"$TEST_TMP/console.in" >"$TEST_TMP/console.$cfg.out" 2>&1 &
	c=$!
	exec 3>"$TEST_TMP/console.in"
	wait_for "terraform console holds the item" 60 has_item
	ok "$cfg: terraform console holds the item" has_item
	item "$lockid" | attr Info >"$TEST_TMP/plain.$cfg"
	like "$(cat "$TEST_TMP/plain.$cfg")" '"Version":"1\.' "$cfg: terraform's own item (its version in Info)"
	if [ $cfg = b ]; then
		is 200 "$(file_status)" "$cfg: and the file"
		plain_file=$(lock_body "$bucket" "$key")
	fi
	t0=$($NOW)
	"$TFLOCK" --lease 20s --timeout 60s -- true 2>"$TEST_TMP/w3.$cfg.err"
	is 75 $? "$cfg: tflock waits on terraform's lock and gives up at --timeout (never takes it over)"
	t1=$($NOW)
	ok "$cfg: after at least one of tflock's leases of waiting ($(((t1 - t0) / 1000000)) ms >= $((lease_ns / 1000000)) ms)" \
		test $((t1 - t0)) -ge "$lease_ns"
	like "$(cat "$TEST_TMP/w3.$cfg.err")" "terraform force-unlock" "$cfg: naming the force-unlock command"
	is "$(cat "$TEST_TMP/plain.$cfg")" "$(item "$lockid" | attr Info)" "$cfg: terraform's item is still there, unchanged"
	is "Info,LockID" "$(item "$lockid" | attr_names)" "$cfg: with no tflock attribute added"
	if [ $cfg = b ]; then
		is "$plain_file" "$(lock_body "$bucket" "$key")" "$cfg: terraform's file is still there, unchanged"
	fi
	if [ -x "$TFCOMPAT" ]; then
		ok "$cfg: (control) terraform's own Info survives OpenTofu's re-marshalling" \
			cmp -s "$TEST_TMP/plain.$cfg" <("$TFCOMPAT" tofu-remarshal "$TEST_TMP/plain.$cfg")
	else
		skip "no Go toolchain: tfcompat is not built"
	fi
	exec 3>&-
	wait "$c"
	is 0 $? "$cfg: terraform console exits 0"
	is "{}" "$(item "$lockid")" "$cfg: and removed its item"

	# 4. terraform force-unlock -force ID on tflock's hold: lost (76), nothing left
	rm -f "$TEST_TMP/h.log" "$TEST_TMP/h.run"
	"$TFLOCK" --lease 20s -- "$TESTCHILD" --log "$TEST_TMP/h.log" touch="$TEST_TMP/h.run" \
		wait-file="$TEST_TMP/never" 2>"$TEST_TMP/h4.$cfg.err" &
	h=$!
	wait_for "holder" 20 test -e "$TEST_TMP/h.run"
	id=$(held_id "$TEST_TMP/h.log")
	terraform force-unlock -force -no-color "$id" >"$TEST_TMP/fu.$cfg.out" 2>&1
	is 0 $? "$cfg: terraform force-unlock -force ID on tflock's hold"
	like "$(cat "$TEST_TMP/fu.$cfg.out")" "successfully unlocked" "$cfg: terraform says so"
	reap "$h"
	is 76 $? "$cfg: the holder exits 76 (lost)"
	like "$(cat "$TEST_TMP/h4.$cfg.err")" "deleted by someone else" "$cfg: saying its lock was deleted"
	is 404 "$(file_status)" "$cfg: no file left"
	is "{}" "$(item "$lockid")" "$cfg: no item left"

	# 5. OpenTofu's unlock: DeleteItem on Info = its re-marshalling of Info
	if [ -x "$TFCOMPAT" ]; then
		rm -f "$TEST_TMP/h.run"
		"$TFLOCK" --lease 20s --operation 'plan <&> "q" \ é' -- "$TESTCHILD" touch="$TEST_TMP/h.run" \
			wait-file="$TEST_TMP/never" 2>"$TEST_TMP/h5.$cfg.err" &
		h=$!
		wait_for "holder" 20 test -e "$TEST_TMP/h.run"
		item "$lockid" | attr Info >"$TEST_TMP/info.$cfg"
		like "$(cat "$TEST_TMP/info.$cfg")" '"Operation":"plan \\u003c\\u0026\\u003e \\"q\\" \\\\ é"' \
			"$cfg: Info as written carries Go's escapes (\\u003c, \\u0026, \\u003e, \\\", \\\\)"
		"$TFCOMPAT" tofu-remarshal "$TEST_TMP/info.$cfg" >"$TEST_TMP/tofu.$cfg"
		is 0 $? "$cfg: OpenTofu's LockInfo decodes tflock's Info"
		ok "$cfg: and re-marshals it byte-identical" cmp "$TEST_TMP/info.$cfg" "$TEST_TMP/tofu.$cfg"
		sed 's/\\u003c/</' "$TEST_TMP/info.$cfg" >"$TEST_TMP/other.$cfg"
		cond_delete "$TEST_TMP/other.$cfg" >"$TEST_TMP/cd1.$cfg.out" 2>&1
		is 1 $? "$cfg: (control) a delete on Info with '<' unescaped does not match"
		like "$(cat "$TEST_TMP/cd1.$cfg.out")" "ConditionalCheckFailedException" "$cfg: the condition failed"
		is "$(cat "$TEST_TMP/info.$cfg")" "$(item "$lockid" | attr Info)" "$cfg: the item is still there"
		cond_delete "$TEST_TMP/tofu.$cfg" >"$TEST_TMP/cd2.$cfg.out" 2>&1
		is 0 $? "$cfg: OpenTofu's delete on Info = :info matches tflock's item"
		reap "$h"
		is 76 $? "$cfg: the holder exits 76 (lost)"
		is 404 "$(file_status)" "$cfg: no file left"
		is "{}" "$(item "$lockid")" "$cfg: no item left"
	else
		skip "no Go toolchain: tfcompat is not built, OpenTofu's re-marshalling not checked"
	fi

	is "$(cat "$TEST_TMP/md5.$cfg")" "$(item "$lockid-md5")" "$cfg: the -md5 item is as terraform's apply left it"
done
done_testing
