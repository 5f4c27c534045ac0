#!/bin/bash
# Terraform compatibility both ways, against the real gateway, with a helper
# that acts exactly like Terraform's S3 lock client (tests/helpers/tf-lockclient)
# and Go's own encoding/json parsing Terraform's LockInfo (tests/helpers/tfcompat).
. "$top_srcdir/tests/integration/lib.sh"
if [ ! -x "$TFCOMPAT" ] && ! command -v go >/dev/null 2>&1; then
	skip_all "no Go toolchain on PATH: the Go LockInfo checker (tests/helpers/tfcompat) is not built"
fi
plan_lazy
rgw_require
bucket=$(new_bucket)
tflock_env "$bucket"
export TFLOCK_KEY=net/terraform.tfstate
ok "the Go LockInfo checker is built" test -x "$TFCOMPAT"

# --- tflock holds; Terraform's client must be refused and able to read the lock
"$TFLOCK" --lease 30s -- "$TESTCHILD" --log "$TEST_TMP/c1.log" touch="$TEST_TMP/r1" \
	wait-file="$TEST_TMP/go1" 2>"$TEST_TMP/h1.err" &
h1=$!
wait_for "holder 1" 20 test -e "$TEST_TMP/r1"
body=$(lock_body "$bucket" "$TFLOCK_KEY")
id=$(printf '%s' "$body" | sed 's/^{"ID":"\([^"]*\)".*/\1/')
out=$(printf '%s' "$body" | "$TFCOMPAT" parse)
is 0 $? "Go's json.Unmarshal into Terraform's LockInfo accepts tflock's body"
like "$out" "ID: +$id" "and reads tflock's ID"
like "$out" "Path: +$bucket/$TFLOCK_KEY" "and the state path"
like "$out" "Info: +held by tflock for" "Info tells a plain terraform user who and how to learn more"
like "$out" "Info: .*tflock status" "and names tflock status"
"$TF_LOCKCLIENT" lock "$bucket" "$TFLOCK_KEY" >"$TEST_TMP/tf.out" 2>"$TEST_TMP/tf.err"
is 1 $? "Terraform's lock attempt on a tflock lock fails"
like "$(cat "$TEST_TMP/tf.err")" "Error acquiring the state lock" "with Terraform's error"
like "$(tr '\n' ' ' <"$TEST_TMP/tf.err")" "Lock Info:.*ID: +$id" "showing tflock's lock info"
is "$id" "$(lock_body "$bucket" "$TFLOCK_KEY" | sed 's/^{"ID":"\([^"]*\)".*/\1/')" "Terraform's failed attempt left tflock's lock (same ID) in place"
touch "$TEST_TMP/go1"
wait "$h1"
is 0 $? "tflock released normally"

# --- Terraform holds; tflock must wait, never take over, and name the unlock commands
tfid=$("$TF_LOCKCLIENT" lock "$bucket" "$TFLOCK_KEY" --who alice@laptop --operation OperationTypeApply 2>"$TEST_TMP/tf.err")
is 0 $? "Terraform's client takes the free lock"
tfbody=$(lock_body "$bucket" "$TFLOCK_KEY")
"$TFLOCK" --no-wait -- true 2>"$TEST_TMP/e2"
is 75 $? "tflock --no-wait on Terraform's lock exits 75"
like "$(cat "$TEST_TMP/e2")" "alice@laptop" "naming Terraform's holder"
like "$(cat "$TEST_TMP/e2")" "terraform force-unlock $tfid" "with the exact force-unlock command"
like "$(cat "$TEST_TMP/e2")" "tflock unlock $tfid" "and the tflock unlock command"
# watch it for well over a lease: a lock without a lease is never taken over
"$TFLOCK" --lease 20s --timeout 60s -- true 2>"$TEST_TMP/e3"
is 75 $? "tflock waiting 3 leases on a plain Terraform lock gives up with 75"
is "$tfbody" "$(lock_body "$bucket" "$TFLOCK_KEY")" "and never took the plain Terraform lock over"
"$TFLOCK" status >"$TEST_TMP/st" 2>&1
like "$(cat "$TEST_TMP/st")" "not a tflock lock" "status says it is a plain lock"
"$TFLOCK" unlock 11111111-2222-3333-4444-555555555555 2>/dev/null
is 75 $? "tflock unlock with the wrong ID refuses"
"$TFLOCK" unlock "$tfid" 2>"$TEST_TMP/e4"
is 0 $? "tflock unlock with Terraform's ID removes it"
is 404 "$(s3_status GET "/$bucket/$TFLOCK_KEY.tflock")" "the lock is gone"

# --- terraform force-unlock on a tflock lock: the holder sees it lost (76)
"$TFLOCK" --lease 20s -- "$TESTCHILD" --log "$TEST_TMP/c5.log" tf-like touch="$TEST_TMP/r5" \
	wait-file="$TEST_TMP/never" 2>"$TEST_TMP/h5.err" &
h5=$!
wait_for "holder 5" 20 test -e "$TEST_TMP/r5"
id5=$(lock_body "$bucket" "$TFLOCK_KEY" | sed 's/^{"ID":"\([^"]*\)".*/\1/')
"$TF_LOCKCLIENT" unlock "$bucket" "$TFLOCK_KEY" "$id5" >/dev/null 2>&1
is 0 $? "terraform force-unlock (GET, compare ID, DELETE) removes a tflock lock"
# RGW does not order an unconditional DELETE against a conditional PUT already
# under way: a renewal in flight can put the lock back. Unlock again (as a second
# force-unlock would) until the holder notices, bounded (as stale.sh does).
for i in $(seq 1 50); do
	kill -0 "$h5" 2>/dev/null || break
	sleep 0.2
	"$TF_LOCKCLIENT" unlock "$bucket" "$TFLOCK_KEY" "$id5" >/dev/null 2>&1
done
wait "$h5"
is 76 $? "the tflock holder notices at its next heartbeat and exits 76 (lost)"
like "$(cat "$TEST_TMP/h5.err")" "LOST" "loudly"
ok "its command got one SIGINT (--on-lost=interrupt)" \
	test "$(grep -c '^signal .* SIGINT' "$TEST_TMP/c5.log")" = 1
done_testing
