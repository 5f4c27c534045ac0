#!/bin/bash
# With the real terraform binary (when this machine has one): terraform init
# against the local gateway, then `tflock -- terraform apply` with no options;
# a plain `terraform plan` fails on tflock's lock and shows its Lock Info; a
# plain terraform holding the lock (console) makes tflock wait and never take
# it over. CHECKPOINT_DISABLE keeps terraform off the network.
. "$top_srcdir/tests/integration/lib.sh"
command -v terraform >/dev/null || skip_all "no terraform binary on this machine (the stand-in tests in terraform.sh still run)"
plan_lazy
rgw_require
bucket=$(new_bucket)
tflock_env "$bucket"
unset TFLOCK_BUCKET TFLOCK_ENDPOINT TFLOCK_KEY
export CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1 TF_INPUT=0
: >"$TEST_TMP/terraformrc"
export TF_CLI_CONFIG_FILE=$TEST_TMP/terraformrc
diag "$(terraform version 2>&1 | head -1)"
proj=$TEST_TMP/proj
mkdir -p "$proj" && cd "$proj" || bail "cd"
real_tf_main real/terraform.tfstate
terraform init -input=false >"$TEST_TMP/init.out" 2>&1
is 0 $? "terraform init against the local gateway"

"$TFLOCK" -- terraform apply -auto-approve >"$TEST_TMP/apply.out" 2>&1
is 0 $? "tflock -- terraform apply -auto-approve, no options"
like "$(cat "$TEST_TMP/apply.out")" 'x = "hello"' "terraform applied"
is 200 "$(s3_status GET "/$bucket/real/terraform.tfstate")" "the state object was written"
is 404 "$(s3_status GET "/$bucket/real/terraform.tfstate.tflock")" "the lock was released"

"$TFLOCK" -- "$TESTCHILD" --log "$TEST_TMP/h.log" touch="$TEST_TMP/h.run" wait-file="$TEST_TMP/h.go" 2>/dev/null &
h=$!
wait_for "holder" 20 test -e "$TEST_TMP/h.run"
id=$(awk '/^env TFLOCK_HELD_ID=/ { sub("env TFLOCK_HELD_ID=", ""); print }' "$TEST_TMP/h.log")
terraform plan -input=false -no-color >"$TEST_TMP/plan.out" 2>&1
is 1 $? "a plain terraform plan fails on tflock's lock"
like "$(cat "$TEST_TMP/plan.out")" "Error acquiring the state lock" "with terraform's own error"
like "$(tr '\n' ' ' <"$TEST_TMP/plan.out")" "ID: +$id" "showing tflock's lock ID"
like "$(tr '\n' ' ' <"$TEST_TMP/plan.out")" "Info: +held by tflock for" "and tflock's Info sentence"
touch "$TEST_TMP/h.go"
wait "$h"

# a parked lock (PROTOCOL B14.4): plain terraform is refused and its Lock Info
# says parked; the apply resumes it and runs real terraform under it
"$TFLOCK" hold --for 1h --note "approval 9" --handle-file "$TEST_TMP/h.json" 2>"$TEST_TMP/hold.err"
is 0 $? "tflock hold parks the lock"
terraform plan -input=false -no-color >"$TEST_TMP/pplan.out" 2>&1
is 1 $? "a plain terraform plan fails on the parked lock"
like "$(tr '\n' ' ' <"$TEST_TMP/pplan.out")" "Info: +parked by tflock hold for .* until [0-9T:-]+Z \(note: approval 9\)" \
	"its Lock Info says parked, until when, with the note"
"$TFLOCK" run --resume "$TEST_TMP/h.json" -- terraform apply -auto-approve >"$TEST_TMP/rapply.out" 2>&1
is 0 $? "tflock run --resume -- terraform apply: terraform applies under the resumed lock"
like "$(cat "$TEST_TMP/rapply.out")" "resumed s3://$bucket/real/terraform.tfstate.tflock" "(resumed)"
is 404 "$(s3_status GET "/$bucket/real/terraform.tfstate.tflock")" "released after"

# a plain terraform holds the lock (console keeps it while it reads stdin)
mkfifo "$TEST_TMP/console.in"
terraform console <"$TEST_TMP/console.in" >"$TEST_TMP/console.out" 2>&1 &
c=$!
exec 3>"$TEST_TMP/console.in"
has_lock() { [ "$(s3_status GET "/$bucket/real/terraform.tfstate.tflock")" = 200 ]; }
wait_for "terraform console holds the lock" 60 has_lock
ok "terraform console holds the state lock" has_lock
"$TFLOCK" --lease 20s --timeout 60s -- true 2>"$TEST_TMP/w.err"
is 75 $? "tflock waits on terraform's lock and gives up at --timeout (never takes it over)"
like "$(cat "$TEST_TMP/w.err")" "terraform force-unlock" "naming the force-unlock command"
ok "terraform's lock is still there after 3 of tflock's leases" has_lock
exec 3>&-
wait "$c"
"$TFLOCK" -- terraform apply -auto-approve >/dev/null 2>&1
is 0 $? "once terraform is done, tflock gets the lock"
done_testing
