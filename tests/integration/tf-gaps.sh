#!/bin/bash
# Real-terraform gaps (issue 13): a nested `tflock -- terraform ...` under a
# script behaves as a direct one (injection, git checks), serial and under
# make -j; commands in front of terraform (env, timeout, nice, ionice, stdbuf,
# time, setsid, nohup); console, which locks without a -lock flag; TF_CLI_ARGS
# and TF_CLI_ARGS_<sub> read as terraform reads them; a store that cannot be
# reached; a force-unlock noticed between heartbeats. A stand-in terraform that
# fails on a held lock as terraform does, and the real binary where there is one.
. "$top_srcdir/tests/integration/lib.sh"
plan_lazy
rgw_require
bucket=$(new_bucket)
tflock_env "$bucket"
unset TFLOCK_BUCKET TFLOCK_ENDPOINT TFLOCK_KEY
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.com GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.com
unset GITHUB_SHA CI_COMMIT_SHA

proj=$TEST_TMP/proj
mkbackend "$proj/.terraform"
LK=network/terraform.tfstate.tflock
lockst() { s3_status GET "/$bucket/$LK"; }

# a stand-in terraform: like terraform, it fails on a held lock unless told
# -lock=false (by TF_CLI_ARGS_<sub>, TF_CLI_ARGS or its arguments); it logs
# enter/exit with CLOCK_BOOTTIME so overlaps can be found
mkdir -p "$TEST_TMP/bin"
cat >"$TEST_TMP/bin/terraform" <<SH
#!/bin/bash
. "$top_srcdir/tests/integration/lib.sh" >/dev/null
trap - EXIT
sub=\$1
var=TF_CLI_ARGS_\$sub
all="\${!var} \${TF_CLI_ARGS:-} \$*"
echo "call \$* | \$var=\${!var}" >>"$TEST_TMP/tf.log"
case \$sub in apply|plan|console)
	case " \$all " in *" -lock=false "*) ;; *)
		if [ "\$(s3_status GET "/$bucket/$LK")" = 200 ]; then
			echo "Error acquiring the state lock" >&2
			echo "refused \$*" >>"$TEST_TMP/tf.log"
			exit 1
		fi ;;
	esac ;;
esac
echo "enter \$("$NOW") \$\$" >>"$TEST_TMP/tf.ivl"
sleep 0.2
echo "exit \$("$NOW") \$\$" >>"$TEST_TMP/tf.ivl"
SH
chmod +x "$TEST_TMP/bin/terraform"
export PATH=$TEST_TMP/bin:$PATH
overlaps() { sort -k2,2n "$TEST_TMP/tf.ivl" | awk '$1 == "enter" { if (inside) bad++; inside = 1 } $1 == "exit" { inside = 0 } END { print bad + 0 }'; }
git init -q -b main "$proj" &&
	(cd "$proj" && echo 'x' >main.tf && printf '.terraform/\nnohup.out\n' >.gitignore &&
		git add main.tf .gitignore && git commit -qm one) ||
	bail "no repository"
cd "$proj" || bail "no project dir"

# --- 1. re-entry: a script whose terraform calls are wrapped in tflock
# (scripts and makefiles live outside the repository: they would make it dirty)
cat >"$TEST_TMP/deploy.sh" <<SH
#!/bin/bash
"$TFLOCK" -- terraform apply -auto-approve || exit 11
"$TFLOCK" -- terraform plan || exit 12
SH
chmod +x "$TEST_TMP/deploy.sh"
: >"$TEST_TMP/tf.log"
"$TFLOCK" -- "$TEST_TMP/deploy.sh" 2>"$TEST_TMP/n1.err"
is 0 $? "nested: tflock -- ./deploy.sh with tflock -- terraform apply inside succeeds"
is 2 "$(grep -c 'TF_CLI_ARGS_\(apply\|plan\)=-lock=false' "$TEST_TMP/tf.log")" \
	"nested: both inner terraform calls got -lock=false"
ok_not "nested: no inner call hit the outer lock" grep -q '^refused' "$TEST_TMP/tf.log"
is 404 "$(lockst)" "nested: released at the end"
ok "nested: the applied commit was recorded (as a direct apply does)" \
	test "$(s3_status GET "/$bucket/network/terraform.tfstate.applied.tflock")" = 200

# the inner run's git checks: a dirty tree is refused (77), as directly
echo dirty >>main.tf
: >"$TEST_TMP/tf.log"
"$TFLOCK" -- "$TEST_TMP/deploy.sh" 2>"$TEST_TMP/n2.err"
is 11 $? "nested: a dirty tree makes the inner apply refuse (the script exits 11)"
like "$(cat "$TEST_TMP/n2.err")" "dirty" "nested: the inner refusal says why"
ok_not "nested: terraform apply never ran" grep -q '^call apply' "$TEST_TMP/tf.log"
git checkout -q main.tf

# make -j: sibling inner runs take turns under the outer lock
cat >"$TEST_TMP/Makefile" <<MK
all: a b c
a b c:
	"$TFLOCK" -- terraform apply -auto-approve
MK
: >"$TEST_TMP/tf.log"
: >"$TEST_TMP/tf.ivl"
"$TFLOCK" -- make -s -j3 -f "$TEST_TMP/Makefile" 2>"$TEST_TMP/n3.err"
is 0 $? "nested under make -j3: all three inner applies succeed"
is 3 "$(grep -c '^enter' "$TEST_TMP/tf.ivl")" "make -j3: three applies ran"
is 0 "$(overlaps)" "make -j3: never two at once"

# --- 2. commands in front of terraform
prefix_case() { # DESC WORDS...
	local desc=$1
	shift
	: >"$TEST_TMP/tf.log"
	"$TFLOCK" -- "$@" terraform apply -auto-approve 2>"$TEST_TMP/p.err"
	is 0 $? "prefix $desc: succeeds"
	like "$(cat "$TEST_TMP/tf.log")" "TF_CLI_ARGS_apply=-lock=false" "prefix $desc: terraform got -lock=false"
}
prefix_case "timeout 30m" timeout 30m
prefix_case "timeout -k 5 -s INT 30m" timeout -k 5 -s INT 30m
prefix_case "env X=1" env X=1
prefix_case "nice -n 5" nice -n 5
prefix_case "nice -5" nice -5
prefix_case "ionice -c 2 -n 7" ionice -c 2 -n 7
prefix_case "stdbuf -oL" stdbuf -oL
prefix_case "nohup" nohup
prefix_case "setsid -w" setsid -w
prefix_case "chained: env X=1 timeout 5m nice" env X=1 timeout 5m nice
if [ -x /usr/bin/time ]; then
	prefix_case "/usr/bin/time -p" /usr/bin/time -p
else
	skip "/usr/bin/time is not installed (package time)"
	skip "/usr/bin/time is not installed (package time)"
fi
rm -f nohup.out
"$TFLOCK" -- setsid terraform apply -auto-approve 2>"$TEST_TMP/p.err"
is 64 $? "prefix setsid without -w: refused (it would return before terraform ends)"
like "$(cat "$TEST_TMP/p.err")" "setsid -w" "... saying to use setsid -w"
"$TFLOCK" -- env -i PATH="$PATH" terraform apply -auto-approve 2>"$TEST_TMP/p.err"
is 64 $? "prefix env -i: refused (the injection cannot reach terraform)"
like "$(cat "$TEST_TMP/p.err")" "env -i.*clears the environment" "... saying why"
"$TFLOCK" -- env TF_CLI_ARGS_apply=-refresh=false terraform apply 2>"$TEST_TMP/p.err"
is 64 $? "prefix env TF_CLI_ARGS_apply=...: refused (it replaces tflock's)"
like "$(cat "$TEST_TMP/p.err")" "add -lock=false to that value" "... saying what to do"
: >"$TEST_TMP/tf.log"
"$TFLOCK" -- env TF_CLI_ARGS_apply=-lock=false terraform apply 2>"$TEST_TMP/p.err"
is 0 $? "prefix env TF_CLI_ARGS_apply=-lock=false: fine"

# --- 3. console locks without a -lock flag
"$TFLOCK" -- terraform console 2>"$TEST_TMP/c.err" </dev/null
is 64 $? "console: refused before anything is taken"
like "$(cat "$TEST_TMP/c.err")" "takes the state lock itself and has no -lock flag" "console: says why"
is 404 "$(lockst)" "console: no lock taken"

# --- 4. TF_CLI_ARGS and TF_CLI_ARGS_<sub> as terraform reads them
"$TFLOCK" -- "$TESTCHILD" --log "$TEST_TMP/h.log" touch="$TEST_TMP/h.run" wait-file="$TEST_TMP/h.go" 2>/dev/null &
h=$!
wait_for "holder" 20 test -e "$TEST_TMP/h.run"
TF_CLI_ARGS_apply=-lock-timeout=20s "$TFLOCK" -- terraform apply 2>"$TEST_TMP/t1.err"
is 75 $? "TF_CLI_ARGS_apply=-lock-timeout=20s bounds the wait (75), as terraform would"
TF_CLI_ARGS="-lock-timeout 20s" "$TFLOCK" -- terraform apply 2>"$TEST_TMP/t2.err"
is 75 $? "TF_CLI_ARGS='-lock-timeout 20s' bounds it too"
TF_CLI_ARGS_apply=-lock-timeout=1h timeout 60 "$TFLOCK" -- terraform apply -lock-timeout=20s 2>"$TEST_TMP/t3.err"
is 75 $? "the command line's -lock-timeout wins over TF_CLI_ARGS_apply's"
touch "$TEST_TMP/h.go"
wait "$h"
: >"$TEST_TMP/tf.log"
TF_CLI_ARGS=-lock=true "$TFLOCK" -- terraform apply 2>"$TEST_TMP/t4.err"
like "$(cat "$TEST_TMP/t4.err")" "TF_CLI_ARGS passes -lock=true" "TF_CLI_ARGS=-lock=true: warned, as -lock=true on the command line is"
TF_CLI_ARGS=-lock=false "$TFLOCK" -v -- terraform apply 2>"$TEST_TMP/t5.err"
is 0 $? "TF_CLI_ARGS=-lock=false: runs"
ok_not "TF_CLI_ARGS=-lock=false: nothing injected (not needed)" grep -q 'passing TF_CLI_ARGS_apply' "$TEST_TMP/t5.err"
TF_CLI_ARGS_apply="-lock-timeout='unclosed" "$TFLOCK" -- terraform apply 2>"$TEST_TMP/t6.err"
is 64 $? "a TF_CLI_ARGS_apply terraform cannot parse: usage error"

# --- 5. a store that cannot be reached: bounded, said, 69 naming the endpoint
TFLOCK_BUCKET=$bucket TFLOCK_KEY=u/terraform.tfstate TFLOCK_ENDPOINT=http://127.0.0.1:9 \
	"$TFLOCK" -- true 2>"$TEST_TMP/u.err" </dev/null
is 69 $? "unreachable store: exit 69 after a bounded number of attempts"
like "$(tail -n 1 "$TEST_TMP/u.err")" "127.0.0.1:9" "unreachable store: the last line names the endpoint"
like "$(cat "$TEST_TMP/u.err")" "retrying" "unreachable store: progress while retrying"

# --- 6. a force-unlock is noticed between heartbeats (lease 2m scaled: renewals
# every 3 s, checks every 0.3 s)
TFLOCK_EVENT_LOG=$TEST_TMP/fu.events "$TFLOCK" --bucket "$bucket" --key fu/terraform.tfstate \
	--endpoint "$TFLOCK_TEST_S3_ENDPOINT" -- \
	"$TESTCHILD" --log "$TEST_TMP/fu.log" touch="$TEST_TMP/fu.run" tf-like 2>"$TEST_TMP/fu.err" &
fu=$!
wait_for "fu holder" 20 test -e "$TEST_TMP/fu.run"
t_del=$("$NOW")
s3_status DELETE "/$bucket/fu/terraform.tfstate.tflock" >/dev/null
wait "$fu"
is 76 $? "force-unlock while held: the holder exits 76 (lost)"
like "$(cat "$TEST_TMP/fu.err")" "deleted by someone else" "force-unlock: said"
renews=$(grep -c ' renewed ' "$TEST_TMP/fu.events" || true)
lost_ns=$(awk '$3 == "lost" { print $1; exit }' "$TEST_TMP/fu.events")
last_send=$(awk '$3 == "acquired" { sub(/.*renew_send=/, ""); s = $0 } $3 == "renewed" { sub(/.*send=/, ""); s = $0 } END { print s }' "$TEST_TMP/fu.events")
hb_ns=$(awk -v s="$TFLOCK_TIME_SCALE" 'BEGIN { printf "%d", 120000 * s / 4 * 1000000 }')
ok "force-unlock: noticed after the delete" test "$lost_ns" -gt "$t_del"
ok "force-unlock: noticed before the next renewal was due (between heartbeats)" \
	test "$lost_ns" -lt $((last_send + hb_ns))
diag "force-unlock noticed $(((lost_ns - t_del) / 1000000)) ms after the delete ($renews renewals before)"

# --- 7. a signal to the whole process tree reaches the command once
# (systemd's control-group kill, some runners: every process gets it)
tree_pids() {
	local c
	echo "$1"
	for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do tree_pids "$c"; done
}
tree_run() { # NAME — a tf-like command under tflock, in the background (sets tp)
	TFLOCK_EVENT_LOG=$TEST_TMP/$1.events "$TFLOCK" --bucket "$bucket" --key "$1/terraform.tfstate" \
		--endpoint "$TFLOCK_TEST_S3_ENDPOINT" -- \
		"$TESTCHILD" --log "$TEST_TMP/$1.log" touch="$TEST_TMP/$1.run" tf-like 2>"$TEST_TMP/$1.err" &
	tp=$!
	wait_for "$1 command" 20 grep -q '^state ' "$TEST_TMP/$1.log"
}
tree_run tw
# every process of the tree, the command first (so its first SIGTERM is handled
# before the others go out: a second one could not merge with it while pending)
cpid=$(awk '/^start / { sub("pid=", "", $3); print $3; exit }' "$TEST_TMP/tw.log")
kill -TERM "$cpid"
wait_for "the command got SIGTERM" 20 grep -q '^signal .* SIGTERM' "$TEST_TMP/tw.log"
kill -TERM $(tree_pids "$tp" | grep -vx "$cpid")
wait "$tp"
is 1 $? "whole-tree SIGTERM: tflock exits with the command's graceful status (1)"
is 1 "$(grep -c '^signal .* SIGTERM' "$TEST_TMP/tw.log")" "whole-tree SIGTERM: the command got it exactly once"
ok_not "whole-tree SIGTERM: no second interrupt (terraform's 'exit at once')" grep -q '^immediate' "$TEST_TMP/tw.log"
ok_not "whole-tree SIGTERM: tflock did not forward it (the tree had it)" grep -q ' forward signal=15' "$TEST_TMP/tw.events"
tree_run t1
kill -TERM "$tp"
wait "$tp"
is 1 $? "SIGTERM to tflock alone: forwarded, the command stops gracefully"
is 1 "$(grep -c '^signal .* SIGTERM' "$TEST_TMP/t1.log")" "SIGTERM to tflock alone: the command got it once (forwarded)"
tree_run tg
kill -TERM -- -"$(awk '/^start / { sub("pgid=", "", $4); print $4; exit }' "$TEST_TMP/tg.log")" "$tp"
wait "$tp"
is 1 "$(grep -c '^signal .* SIGTERM' "$TEST_TMP/tg.log")" "SIGTERM to tflock and the command's process group: once"

# --- 8. the real terraform binary, where there is one
if ! command -v /usr/local/bin/terraform >/dev/null && ! command -v /usr/bin/terraform >/dev/null; then
	skip "no terraform binary on this machine: real re-entry not run"
	done_testing
	exit 0
fi
realtf=$(PATH=${PATH#"$TEST_TMP/bin:"} command -v terraform)
export CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1 TF_INPUT=0
: >"$TEST_TMP/terraformrc"
export TF_CLI_CONFIG_FILE=$TEST_TMP/terraformrc
real=$TEST_TMP/real
mkdir -p "$real/bin" && ln -s "$realtf" "$real/bin/terraform"
cd "$real" || bail "cd"
real_tf_main real/terraform.tfstate 'resource "terraform_data" "n" { input = "x" }'
export PATH=$real/bin:$PATH
terraform init -input=false >"$TEST_TMP/init.out" 2>&1
is 0 $? "real: terraform init against the local gateway"
cat >deploy.sh <<SH
#!/bin/bash
"$TFLOCK" -- terraform apply -auto-approve -input=false -no-color || exit 11
"$TFLOCK" -- terraform plan -input=false -no-color -detailed-exitcode; rc=\$?; [ \$rc = 0 ] || exit 12
SH
chmod +x deploy.sh
"$TFLOCK" --git-check off -- ./deploy.sh >"$TEST_TMP/r1.out" 2>&1
is 0 $? "real: tflock -- ./deploy.sh with tflock -- terraform apply and plan inside"
ok_not "real: never 'Error acquiring the state lock'" grep -q 'Error acquiring the state lock' "$TEST_TMP/r1.out"
is 404 "$(s3_status GET "/$bucket/real/terraform.tfstate.tflock")" "real: released"
printf 'all: a b\na b:\n\t"%s" --git-check off -- terraform apply -auto-approve -input=false -no-color\n' "$TFLOCK" >Makefile
"$TFLOCK" --git-check off -- make -s -j2 >"$TEST_TMP/r2.out" 2>&1
is 0 $? "real: make -j2 of two nested terraform applies under one tflock"
ok_not "real: make -j2: never 'Error acquiring the state lock'" grep -q 'Error acquiring the state lock' "$TEST_TMP/r2.out"
"$TFLOCK" --git-check off -- timeout 5m terraform apply -auto-approve -input=false -no-color >"$TEST_TMP/r3.out" 2>&1
is 0 $? "real: tflock -- timeout 5m terraform apply"
"$TFLOCK" --git-check off -- terraform console </dev/null >"$TEST_TMP/r4.out" 2>&1
is 64 $? "real: tflock -- terraform console is refused with a reason"
done_testing
