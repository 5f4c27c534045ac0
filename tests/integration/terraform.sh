#!/bin/bash
# Zero configuration from `terraform init`: with no options, in a directory
# holding the .terraform/terraform.tfstate terraform init writes, tflock locks
# the very object terraform would, and a stand-in terraform on PATH receives
# -lock=false through TF_CLI_ARGS_<sub> (only for subcommands that define -lock)
# and finds the lock held. Also -chdir, TF_DATA_DIR, workspaces, tofu, and the
# clear errors: no .terraform, a non-s3 backend, use_lockfile unset, a
# contradicting --bucket, the new-workspace trap; -lock-timeout read as terraform reads it.
. "$top_srcdir/tests/integration/lib.sh"
plan_lazy
rgw_require
ddb_require
bucket=$(new_bucket)
tflock_env "$bucket"
unset TFLOCK_BUCKET TFLOCK_ENDPOINT TFLOCK_KEY
corpus=$top_srcdir/tests/corpus/backend
proj=$TEST_TMP/proj
mkbackend "$proj/.terraform"
ok "the backend file names the local gateway" grep -q "$TFLOCK_TEST_S3_ENDPOINT" "$proj/.terraform/terraform.tfstate"

# a stand-in terraform: records its arguments, TF_CLI_ARGS_*, and what it sees in the store
mkdir -p "$TEST_TMP/bin"
cat >"$TEST_TMP/bin/terraform" <<SH
#!/bin/bash
. "$top_srcdir/tests/integration/lib.sh" >/dev/null
trap - EXIT
{
	echo "args \$*"
	env | grep '^TF_CLI_ARGS' | sort | sed 's/^/env /'
	k=\${STANDIN_KEY:-network/terraform.tfstate}
	echo "lock \$(s3_status GET "/$bucket/\${k//:/%3A}.tflock")"
} >>"$TEST_TMP/tf.log"
SH
chmod +x "$TEST_TMP/bin/terraform"
cp "$TEST_TMP/bin/terraform" "$TEST_TMP/bin/tofu"
export PATH=$TEST_TMP/bin:$PATH

cd "$proj" || bail "no project dir"
"$TFLOCK" -- terraform apply -auto-approve 2>"$TEST_TMP/e1"
is 0 $? "tflock -- terraform apply with no options"
like "$(cat "$TEST_TMP/tf.log")" "env TF_CLI_ARGS_apply=-lock=false" "terraform got -lock=false for apply"
like "$(cat "$TEST_TMP/tf.log")" "lock 200" "and found the lock held at network/terraform.tfstate.tflock"
is 404 "$(s3_status GET "/$bucket/network/terraform.tfstate.tflock")" "released afterwards"

: >"$TEST_TMP/tf.log"
TF_CLI_ARGS_plan="-refresh=false" "$TFLOCK" -- terraform plan 2>/dev/null
like "$(cat "$TEST_TMP/tf.log")" "env TF_CLI_ARGS_plan=-refresh=false -lock=false" "appended to the user's TF_CLI_ARGS_plan"
: >"$TEST_TMP/tf.log"
"$TFLOCK" -- terraform state mv a b 2>/dev/null
like "$(cat "$TEST_TMP/tf.log")" "env TF_CLI_ARGS_state_mv=-lock=false" "nested subcommand: TF_CLI_ARGS_state_mv"
: >"$TEST_TMP/tf.log"
"$TFLOCK" -- terraform output 2>/dev/null
ok "no injection for a subcommand without -lock (output)" bash -c "! grep -q '^env TF_CLI_ARGS' '$TEST_TMP/tf.log'"
: >"$TEST_TMP/tf.log"
"$TFLOCK" -- terraform workspace select prod 2>/dev/null
ok "never for workspace select" bash -c "! grep -q '^env TF_CLI_ARGS' '$TEST_TMP/tf.log'"
: >"$TEST_TMP/tf.log"
"$TFLOCK" -- tofu apply 2>/dev/null
like "$(cat "$TEST_TMP/tf.log")" "env TF_CLI_ARGS_apply=-lock=false" "works the same with tofu"
: >"$TEST_TMP/tf.log"
"$TFLOCK" -- bash -c 'terraform apply' 2>/dev/null
ok "a script gets no injection (an inner unwrapped terraform would fail loudly)" bash -c "! grep -q '^env TF_CLI_ARGS' '$TEST_TMP/tf.log'"
"$TFLOCK" -- sh -c 'echo "$TFLOCK_HELD_LOCK"' >"$TEST_TMP/held" 2>/dev/null
is "s3://$bucket/network/terraform.tfstate.tflock" "$(cat "$TEST_TMP/held")" "a script locks the backend's object too"

# the Operation comes from the command line
"$TFLOCK" -- terraform apply 2>/dev/null
"$TFLOCK" -- "$TESTCHILD" --log "$TEST_TMP/op.log" touch="$TEST_TMP/op.run" wait-file="$TEST_TMP/op.go" 2>/dev/null &
h=$!
wait_for "holder" 20 test -e "$TEST_TMP/op.run"
like "$(lock_body "$bucket" network/terraform.tfstate)" '"Operation":"OperationTypeApply \(testchild\)"' "a script's Operation names it"
touch "$TEST_TMP/op.go"
wait "$h"

# a named workspace from .terraform/environment, and TF_WORKSPACE over it
printf 'prod' >"$proj/.terraform/environment"
printf '{}' >"$TEST_TMP/state"
# (curl signs ':' differently from S3: write it as %3A in raw requests)
S3_BODY_FILE=$TEST_TMP/state s3_status PUT "/$bucket/env%3A/prod/network/terraform.tfstate" >/dev/null
: >"$TEST_TMP/tf.log"
STANDIN_KEY=env:/prod/network/terraform.tfstate "$TFLOCK" -- terraform apply 2>/dev/null
is 0 $? "workspace prod from .terraform/environment"
like "$(cat "$TEST_TMP/tf.log")" "lock 200" "the lock is env:/prod/network/terraform.tfstate.tflock, as terraform's"
"$TFLOCK" -- terraform apply 2>"$TEST_TMP/e2" </dev/null
TF_WORKSPACE=staging "$TFLOCK" -- terraform apply 2>"$TEST_TMP/e3"
is 64 $? "TF_WORKSPACE=staging with no state yet: the workspace trap is caught before locking"
like "$(cat "$TEST_TMP/e3")" "run 'terraform workspace new staging'" "with the one command to run first"
is 404 "$(s3_status GET "/$bucket/env%3A/staging/network/terraform.tfstate.tflock")" "and no lock was taken"
rm "$proj/.terraform/environment"

# -chdir and TF_DATA_DIR
other=$TEST_TMP/other
mkbackend "$other/.terraform" 's|"key": "network/terraform.tfstate"|"key": "other/terraform.tfstate"|'
cd "$TEST_TMP" || bail "cd"
: >"$TEST_TMP/tf.log"
STANDIN_KEY=other/terraform.tfstate "$TFLOCK" -- terraform -chdir=other apply 2>/dev/null
is 0 $? "-chdir=DIR: the backend is read from DIR"
like "$(cat "$TEST_TMP/tf.log")" "lock 200" "and the lock is DIR's state key"
mkbackend "$proj/tfdata" 's|"key": "network/terraform.tfstate"|"key": "datadir/terraform.tfstate"|'
cd "$proj" || bail "cd"
: >"$TEST_TMP/tf.log"
TF_DATA_DIR=tfdata STANDIN_KEY=datadir/terraform.tfstate "$TFLOCK" -- terraform apply 2>/dev/null
like "$(cat "$TEST_TMP/tf.log")" "lock 200" "TF_DATA_DIR is honoured"

# -lock-timeout, read as terraform reads it (Go durations), with or without '='
: >"$TEST_TMP/tf.log"
"$TFLOCK" -- terraform apply -lock-timeout=90 2>"$TEST_TMP/lt1"
is 64 $? "-lock-timeout=90 (terraform refuses a bare number): 64, before locking"
like "$(cat "$TEST_TMP/lt1")" "^tflock: terraform -lock-timeout: invalid duration \"90\": a number needs a unit" \
	"naming the flag and what terraform would say"
is "" "$(cat "$TEST_TMP/tf.log")" "terraform never ran"
"$TFLOCK" -- "$TESTCHILD" --log "$TEST_TMP/lt.log" touch="$TEST_TMP/lt.run" wait-file="$TEST_TMP/lt.go" 2>/dev/null &
h=$!
wait_for "holder" 20 test -e "$TEST_TMP/lt.run"
timeout 120 "$TFLOCK" -- terraform apply -lock-timeout 2s 2>"$TEST_TMP/lt2"
is 75 $? "'-lock-timeout 2s' while held: tflock stops waiting (75)"
is "" "$(cat "$TEST_TMP/tf.log")" "and terraform never ran"
touch "$TEST_TMP/lt.go"
wait "$h"

# doctor reaches the store as a run does: the backend's shared credentials file and profile
printf '[ci]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" >"$TEST_TMP/shared-creds"
mkdir -p "$TEST_TMP/credproj" && cd "$TEST_TMP/credproj" || bail "cd"
mkbackend .terraform "s|\"shared_credentials_files\": null|\"shared_credentials_files\": [\"$TEST_TMP/shared-creds\"]|; s|\"profile\": null|\"profile\": \"ci\"|"
env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY AWS_CONFIG_FILE=/nonexistent "$TFLOCK" doctor >"$TEST_TMP/doc" 2>&1
is 0 $? "doctor with only the backend's shared credentials file: exit 0"
like "$(cat "$TEST_TMP/doc")" "PASS +credentials: from .*ci" "the credentials come from the backend's file and profile"
env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY AWS_CONFIG_FILE=/nonexistent "$TFLOCK" -- true 2>/dev/null
is 0 $? "a run with the same backend works too"
cd "$proj" || bail "cd"

# errors
"$TFLOCK" --bucket someone-else -- terraform apply 2>"$TEST_TMP/e4"
is 64 $? "--bucket contradicting the backend, for a terraform child: 64"
like "$(cat "$TEST_TMP/e4")" "contradict the backend" "saying why"
cd "$TEST_TMP" || bail "cd"
mkdir -p empty && cd empty || bail "cd"
"$TFLOCK" -- terraform apply 2>"$TEST_TMP/e5"
is 64 $? "no .terraform and no --bucket/--key: 64"
like "$(cat "$TEST_TMP/e5")" "terraform init" "telling to run terraform init"
mkdir -p .terraform && cp "$corpus/gcs.tfstate" .terraform/terraform.tfstate
"$TFLOCK" -- terraform apply 2>"$TEST_TMP/e6"
is 64 $? "a non-s3 backend: 64"
like "$(cat "$TEST_TMP/e6")" "gcs" "naming it"
mkbackend .terraform 's|"use_lockfile": true|"use_lockfile": null|'
"$TFLOCK" -- terraform apply 2>"$TEST_TMP/e7"
is 64 $? "use_lockfile unset: 64"
like "$(cat "$TEST_TMP/e7")" "use_lockfile = true" "saying what to change"
: >"$TEST_TMP/tf.log"
"$TFLOCK" --no-lockfile-check -- terraform apply 2>/dev/null
is 0 $? "--no-lockfile-check runs anyway"
mkbackend .terraform 's|"dynamodb_table": null|"dynamodb_table": "tf-locks"|'
ddb_table create tf-locks >/dev/null || bail "cannot create table tf-locks"
"$TFLOCK" -- terraform apply 2>"$TEST_TMP/e8"
is 0 $? "dynamodb_table set as well: runs"
like "$(cat "$TEST_TMP/e8")" "acquired s3://$bucket/.*\.tflock and dynamodb://tf-locks/$bucket/" \
	"holding the lock file and the DynamoDB item, as terraform would (PROTOCOL B12)"
"$TFLOCK" -v -- terraform apply 2>"$TEST_TMP/e9"
like "$(cat "$TEST_TMP/e9")" "setting bucket = $bucket \(from terraform backend\)" "-v shows where each value came from"
"$TFLOCK" status >/dev/null 2>&1
is 0 $? "status with no options works from the backend too"
done_testing
