#!/bin/bash
# ci-templates.sh — the GitHub Action and the GitLab template, run for real
# against the local S3 server.
#
# GitHub: action.yml and the example workflow pass action-validator; a small
# stand-in for the runner (below, in node) runs the action's own steps with a
# faked GITHUB_* environment, actions/cache standing in as a restore hit, and
# the already-built tflock placed where the install step expects its cached
# build. It checks that the last step execs tflock (the command's parent is the
# step's own process, which is tflock), that a cancel's SIGINT reaches the
# command once, that two "jobs" take turns, that inputs, quoting and timeouts
# work, and that the installer's cache and build paths do what they say.
# GitLab: gitlab-ci-local runs the example pipeline's two deploy jobs in shell
# mode (when rsync, which it needs, is missing: the jobs' script lines from its
# --preview are run by hand, and the test says so).
#
# Needs node and npm; @action-validator/cli, yaml and gitlab-ci-local are
# installed once into $top_builddir/tests/npm-cache (or TFLOCK_TEST_NPM_PREFIX).
# TFLOCK_TEST_SKIP_BUILD=1 skips the one real build of tflock by the installer;
# TFLOCK_TEST_GITLAB_BY_HAND=1 runs the GitLab jobs' script lines by hand even
# when gitlab-ci-local could run them.
. "$top_srcdir/tests/integration/lib.sh"
plan_lazy

ci_tools_require

CT=$top_srcdir/ci-templates
ACTION=$CT/github/action.yml
INSTALLER=$CT/install-tflock.sh
# YAML queries and the runner stand-in (see its head)
CITOOL=$top_srcdir/tests/helpers/citool.cjs
yq_eval() { node "$CITOOL" eval "$@"; }

# ---- 1. static checks -------------------------------------------------------
# validate FILE: action-validator, its findings as TAP diagnostics
validate() {
	local out
	out=$("$AV" "$1" 2>&1) || { printf '%s\n' "$out" | sed 's/^/# /'; return 1; }
}
ok "action.yml passes action-validator" validate "$ACTION"
ok "example-workflow.yml passes action-validator" validate "$CT/github/example-workflow.yml"
ok "example-plan-apply.yml passes action-validator" validate "$CT/github/example-plan-apply.yml"
PA=$CT/github/example-plan-apply.yml
is "4h" "$(yq_eval "$PA" 'd => d.jobs.plan.steps.find(s => s.id === "plan").with["hold-for"]')" \
	"plan-apply: the plan step parks the lock (hold-for)"
like "$(yq_eval "$PA" 'd => d.jobs.plan.steps.find(s => s.id === "plan").with.command')" "-detailed-exitcode" \
	"plan-apply: with terraform's -detailed-exitcode (2: changes)"
is '${{ steps.plan.outputs.handle }}' "$(yq_eval "$PA" 'd => d.jobs.plan.outputs.handle')" \
	"plan-apply: the plan job's output handle is the action's"
is "plan production" "$(yq_eval "$PA" 'd => d.jobs.apply.needs + " " + d.jobs.apply.environment')" \
	"plan-apply: the apply job needs the plan and waits for the production environment's reviewers"
is '${{ needs.plan.outputs.handle }}' "$(yq_eval "$PA" 'd => d.jobs.apply.steps.find(s => /\/ci-templates\/github@/.test(s.uses || "")).with.resume')" \
	"plan-apply: the apply resumes with the plan's handle"
is read "$(yq_eval "$PA" 'd => d.permissions.actions')" "plan-apply: actions: read (a finished run ends its parking)"
mkdir -p "$TEST_TMP/bad"
sed 's/^    - id: run$/    - idd: run/' "$ACTION" >"$TEST_TMP/bad/action.yml"
ok_not "action-validator rejects a broken copy (the validator really checks)" \
	bash -c '"$1" "$2" >/dev/null 2>&1' - "$AV" "$TEST_TMP/bad/action.yml"

is composite "$(yq_eval "$ACTION" 'd => d.runs.using')" "the action is a composite action"
is "command,working-directory,bucket,key,region,endpoint,lease,timeout,extra-args,hold-for,note,resume,version,ref,repository,github-token" \
	"$(yq_eval "$ACTION" 'd => Object.keys(d.inputs).join(",")')" "it declares the documented inputs"
is true "$(yq_eval "$ACTION" 'd => d.inputs.command.required')" "command is required"
is "" "$(yq_eval "$ACTION" 'd => d.runs.steps.filter(s => s.run && s.run.includes("${{")).map(s => s.id).join(",")')" \
	"no run: script contains \${{ }} (inputs reach scripts through env only: no script injection)"
is run "$(yq_eval "$ACTION" 'd => d.runs.steps[d.runs.steps.length - 1].id')" "the last step runs the command"
like "$(yq_eval "$ACTION" 'd => d.runs.steps[d.runs.steps.length - 1].run.trim().split("\n").pop()')" \
	'^exec "\$TFLOCK_ACTION_BIN" ' "and its last line execs tflock"
is "release-cache:actions/cache/restore@v4 release-save:actions/cache/save@v4 cache:actions/cache/restore@v4 save:actions/cache/save@v4" \
	"$(yq_eval "$ACTION" 'd => d.runs.steps.filter(s => s.uses).map(s => s.id + ":" + s.uses).join(" ")')" \
	"the release and the build are restored from and saved to the actions cache"
is "steps.source.outputs.key != '' && steps.cache.outputs.cache-hit != 'true'" \
	"$(yq_eval "$ACTION" 'd => d.runs.steps.find(s => s.id === "save").if')" \
	"the build is saved only after a miss"
like "$(yq_eval "$ACTION" 'd => d.runs.steps.find(s => s.id === "cache").with.key')" \
	'steps\.source\.outputs\.key' "the cache key is the installer's source hash"

# outputs are those of the run step, as the runner stand-in evaluates them
printf '%s\n' '{"run":{"outputs":{"lock-id":"0123abcd-0000-1111-2222-333344445555","waited-seconds":"1.25",' \
	'"held-seconds":"4","outcome":"released","outcome-kind":"released"}}}' >"$TEST_TMP/seed.json"
printf '{"command":"true"}\n' >"$TEST_TMP/in0.json"
node "$CITOOL" gh-run --action "$ACTION" --inputs "$TEST_TMP/in0.json" --seed "$TEST_TMP/seed.json" \
	--steps '' --dir "$TEST_TMP/gh0" >/dev/null 2>&1
is "0123abcd-0000-1111-2222-333344445555|1.25|4|released|released" \
	"$(yq_eval "$TEST_TMP/gh0/outputs.json" 'd => [d["lock-id"], d["waited-seconds"], d["held-seconds"], d.outcome, d["outcome-kind"]].join("|")')" \
	"the action's outputs map the run step's lock-id, waited-seconds, held-seconds, outcome, outcome-kind"

W=$CT/github/example-workflow.yml
is "staging production" "$(yq_eval "$W" 'd => Object.keys(d.jobs).map(j => d.jobs[j].environment).join(" ")')" \
	"the example has a staging and a production job"
is 2 "$(yq_eval "$W" 'd => Object.values(d.jobs).filter(j => j.steps.some(s => /\/ci-templates\/github@/.test(s.uses || ""))).length')" \
	"both use the action"
is "infra infra" "$(yq_eval "$W" 'd => Object.values(d.jobs).map(j => j.steps.find(s => /\/ci-templates\/github@/.test(s.uses || "")).with["working-directory"]).join(" ")')" \
	"both apply the same configuration, so they contend for the same state"
is 2 "$(yq_eval "$W" 'd => Object.values(d.jobs).filter(j => j.steps.some(s => /aws-actions\/configure-aws-credentials/.test(s.uses || ""))).length')" \
	"credentials come from aws-actions/configure-aws-credentials in each job"
is write "$(yq_eval "$W" 'd => d.permissions["id-token"]')" "with OIDC (id-token: write)"
ok "an if: always() cleanup step runs tflock release" test -n "$(yq_eval "$W" 'd => Object.values(d.jobs).some(j => j.steps.some(s => s.if === "always()" && /cleanup/i.test(s.name || "") && /tflock release/.test(s.run)))||""')"
is true "$(yq_eval "$W" 'd => Object.values(d.jobs).every(j => j.steps.find(s => /setup-terraform/.test(s.uses || "")).with.terraform_wrapper === false)')" \
	"setup-terraform's wrapper is off (it would stand between tflock and terraform)"

# ---- 2. the installer -------------------------------------------------------
mkdir -p "$TEST_TMP/stubs"
for s in apt-get sudo; do
	printf '#!/bin/sh\necho "%s $*" >>"%s/stub-calls"\nexit 1\n' "$s" "$TEST_TMP" >"$TEST_TMP/stubs/$s"
	chmod +x "$TEST_TMP/stubs/$s"
done
src_tree() { # src_tree DIR: the files the build reads (and the hash of them), copied from the source
	mkdir -p "$1"
	(cd "$top_srcdir" && tar -cf - configure.ac Makefile.am bootstrap wrapper ci-templates/install-tflock.sh \
		ci-templates/install-release.sh) |
		tar -C "$1" -xf -
}
keyof() { TFLOCK_SRC=$1 TFLOCK_REF= bash "$INSTALLER" source 2>/dev/null | sed -n 's/^key=//p'; }
k1=$(keyof "$top_srcdir")
like "$k1" '^[a-z0-9._-]+-[0-9a-f]{24}$' "installer: the key names the distribution and hashes the sources"
is "$k1" "$(keyof "$top_srcdir")" "the key is stable"
src_tree "$TEST_TMP/src1"
is "$k1" "$(keyof "$TEST_TMP/src1")" "a copy of the same sources has the same key"
echo '/* changed */' >>"$TEST_TMP/src1/wrapper/main.c"
ok "changing a source file changes the key" test "$(keyof "$TEST_TMP/src1")" != "$k1"
TFLOCK_SRC=/nonexistent bash "$INSTALLER" source >/dev/null 2>"$TEST_TMP/i.err"
ok "a missing source tree fails" test $? != 0
bash "$INSTALLER" bogus >/dev/null 2>&1
is 64 $? "an unknown mode is a usage error"

# cache hit: a prefix holding a build with the right key is used as it is
seed_build "$TEST_TMP/cache" "$k1"
: >"$TEST_TMP/i.out"
: >"$TEST_TMP/i.path"
PATH=$TEST_TMP/stubs:$PATH TFLOCK_SRC=$top_srcdir TFLOCK_CACHE_ROOT=$TEST_TMP/cache \
	GITHUB_OUTPUT=$TEST_TMP/i.out GITHUB_PATH=$TEST_TMP/i.path bash "$INSTALLER" install >/dev/null 2>"$TEST_TMP/i.err"
is 0 $? "install with a cached build succeeds"
like "$(cat "$TEST_TMP/i.err")" "found in the cache: not building" "and does not build"
is "bin=$TEST_TMP/cache/$k1/bin/tflock" "$(cat "$TEST_TMP/i.out")" "it names the binary in \$GITHUB_OUTPUT"
is "$TEST_TMP/cache/$k1/bin" "$(cat "$TEST_TMP/i.path")" "and puts it on later steps' PATH (\$GITHUB_PATH)"
ok "it ran neither apt-get nor sudo" test ! -e "$TEST_TMP/stub-calls"

# cache miss: a real build from a copy of the sources (never written to), then a hit
if [ "${TFLOCK_TEST_SKIP_BUILD:-0}" = 1 ]; then
	for i in 1 2 3 4 5; do skip "TFLOCK_TEST_SKIP_BUILD=1"; done
else
	src_tree "$TEST_TMP/src2"
	cp -p "$top_srcdir/tflock.1" "$TEST_TMP/src2/" 2>/dev/null
	chmod -R a-w "$TEST_TMP/src2"
	k2=$(keyof "$TEST_TMP/src2")
	mkdir -p "$TEST_TMP/cache2/$k2/bin"
	echo stale >"$TEST_TMP/cache2/$k2/.key"
	PATH=$TEST_TMP/stubs:$PATH TFLOCK_NO_APT=1 TFLOCK_SRC=$TEST_TMP/src2 TFLOCK_CACHE_ROOT=$TEST_TMP/cache2 \
		bash "$INSTALLER" install >"$TEST_TMP/b.out" 2>"$TEST_TMP/b.err"
	rc=$?
	is 0 $rc "a cache miss builds tflock (read-only sources, built in a scratch copy)"
	[ $rc = 0 ] || tail -n 30 "$TEST_TMP/b.err" | sed 's/^/# /'
	like "$(cat "$TEST_TMP/b.err")" "building tflock \($k2\)" "it says it builds"
	ok "the built binary runs" "$TEST_TMP/cache2/$k2/bin/tflock" --version
	PATH=$TEST_TMP/stubs:$PATH TFLOCK_NO_APT=1 TFLOCK_SRC=$TEST_TMP/src2 TFLOCK_CACHE_ROOT=$TEST_TMP/cache2 \
		TFLOCK_PRUNE=1 bash "$INSTALLER" install >/dev/null 2>"$TEST_TMP/b2.err"
	like "$(cat "$TEST_TMP/b2.err")" "found in the cache: not building" "the next job reuses the build"
	ok "apt-get was never needed (all packages present)" test ! -e "$TEST_TMP/stub-calls"
	chmod -R u+w "$TEST_TMP/src2"
fi

# ref: fetch a tag of the action's repository instead of its own checkout
src_tree "$TEST_TMP/srv-work"
(
	cd "$TEST_TMP/srv-work" && git init -q . && git add -A &&
		git -c user.email=t@example.invalid -c user.name=t commit -qm src && git tag v9.9.9 &&
		mkdir -p "$TEST_TMP/srv/owner" && git clone -q --bare . "$TEST_TMP/srv/owner/tflock.git"
) || bail "cannot make the test git repository"
kref=$(keyof "$TEST_TMP/srv-work")
printf '{"command":"true","ref":"v9.9.9","repository":"owner/tflock"}\n' >"$TEST_TMP/in-ref.json"
GITHUB_SERVER_URL=file://$TEST_TMP/srv RUNNER_TEMP=$TEST_TMP/rt-ref node "$CITOOL" gh-run --action "$ACTION" \
	--inputs "$TEST_TMP/in-ref.json" --steps source --dir "$TEST_TMP/gh-ref" >"$TEST_TMP/gh-ref.out" 2>&1
mkdir -p "$TEST_TMP/rt-ref"
is "$TEST_TMP/rt-ref/tflock-src|$kref" \
	"$(yq_eval "$TEST_TMP/gh-ref/steps.json" 'd => d.source.outputs.src + "|" + d.source.outputs.key')" \
	"with ref: and repository: the action fetches that tag and keys the cache on its sources"
# ref: without repository: the action's own repository, read from its path
# (github.action_repository is empty inside a composite action)
mkdir -p "$TEST_TMP/rt-ref2"
GITHUB_OUTPUT=$TEST_TMP/ref2.out GITHUB_SERVER_URL=file://$TEST_TMP/srv RUNNER_TEMP=$TEST_TMP/rt-ref2 \
	GITHUB_ACTION_PATH=$TEST_TMP/runner/_actions/owner/tflock/v1/ci-templates/github \
	TFLOCK_REF=v9.9.9 TFLOCK_REPOSITORY="" bash "$CT/install-tflock.sh" source >"$TEST_TMP/ref2.log" 2>&1
is 0 $? "ref: alone fetches from the action's own repository (owner/tflock, from its path)"
like "$(cat "$TEST_TMP/ref2.log")" "fetching v9.9.9 from file://$TEST_TMP/srv/owner/tflock.git" "(said)"

# ---- 3. the action's steps, run against the local S3 server -----------------
rgw_require
bucket=$(new_bucket)
tflock_env "$bucket"
unset TFLOCK_BUCKET TFLOCK_ENDPOINT # the inputs must carry them
export GITHUB_ACTIONS=true GITHUB_SERVER_URL=https://github.example GITHUB_REPOSITORY=owner/infra
export GITHUB_RUN_ID=4242 GITHUB_RUN_ATTEMPT=1 GITHUB_JOB=deploy GITHUB_ACTOR=tester
export RUNNER_TEMP=$TEST_TMP/runner-temp RUNNER_TOOL_CACHE=$TEST_TMP/toolcache
mkdir -p "$RUNNER_TEMP"
k1=$(keyof "$top_srcdir") # again: the sources may have changed since (a developer's tree)
seed_build "$RUNNER_TOOL_CACHE/tflock" "$k1"
printf '%s\n' '{"actions/cache/restore@v4":{"outputs":{"cache-hit":"true"}},"actions/cache/save@v4":{}}' \
	>"$TEST_TMP/fake.json"
KEY=gh/network/terraform.tfstate
lockst() { s3_status GET "/$bucket/$KEY.tflock"; }
ready() { grep -q '^state ' "$1" 2>/dev/null; }
nsig() { awk -v s="$2" '$1 == "signal" && $3 == s { n++ } END { print n + 0 }' "$1"; }
jstr() { node -e 'process.stdout.write(JSON.stringify(process.argv[1]))' "$1"; }

# gh_inputs NAME COMMAND [JSON-MEMBERS]: the inputs file for a run
gh_inputs() {
	printf '{"command":%s,"bucket":%s,"key":%s,"endpoint":%s%s}\n' "$(jstr "$2")" "$(jstr "$bucket")" \
		"$(jstr "$KEY")" "$(jstr "$TFLOCK_TEST_S3_ENDPOINT")" "${3:+,$3}" >"$TEST_TMP/$1.in.json"
}
# gh_run NAME: run the action with NAME's inputs; output in $TEST_TMP/NAME.out
gh_run() {
	PATH=$TEST_TMP/stubs:$PATH node "$CITOOL" gh-run --action "$ACTION" --inputs "$TEST_TMP/$1.in.json" \
		--fake-uses "$TEST_TMP/fake.json" --dir "$TEST_TMP/$1" >"$TEST_TMP/$1.out" 2>&1
}
step_pid() { awk -v s="$2" '$1 == s { print $2 }' "$TEST_TMP/$1/pids"; }
# the command's parent, or the parent's parent when the parent is tflock's guardian
child_ppid() {
	awk '/^start / { sub("ppid=", "", $5); p = $5 }
		/^parent / { if ($2 ~ /guardian/) { sub("ppid=", "", $3); p = $3 } print p; exit }' "$1"
}

# mk_standin DIR LOG [KEY]: a stand-in terraform. `init` writes the backend file
# terraform init would (tests/corpus/backend, pointed at this test's bucket and
# key on the local server); every call logs its arguments and the
# TF_CLI_ARGS_* tflock passed; an exclusive mkdir catches two applies at once.
mk_standin() {
	mkdir -p "$1"
	cat >"$1/terraform" <<SH
#!/bin/sh
echo "terraform \$* TF_CLI_ARGS_apply=\${TF_CLI_ARGS_apply-unset} TF_CLI_ARGS_plan=\${TF_CLI_ARGS_plan-unset}" >>"$2"
case \$1 in
init)
	mkdir -p .terraform
	sed -e 's|"bucket": "acme-tfstate"|"bucket": "$bucket"|' \\
		-e 's|"key": "network/terraform.tfstate"|"key": "${3:-$KEY}"|' \\
		-e 's|"region": "eu-west-1"|"region": "us-east-1"|' \\
		-e 's|"use_path_style": null|"use_path_style": true|' \\
		-e 's|"endpoints": null|"endpoints": {"s3": "$TFLOCK_TEST_S3_ENDPOINT"}|' \\
		"$top_srcdir/tests/corpus/backend/tf111-minimal.tfstate" >.terraform/terraform.tfstate.\$\$
	mv .terraform/terraform.tfstate.\$\$ .terraform/terraform.tfstate ;;
plan)
	case " \$* " in *" -detailed-exitcode "*) : >tfplan; exit 2 ;; esac ;;
apply)
	mkdir "$2.applying" 2>/dev/null || { echo OVERLAP >>"$2"; exit 1; }
	sleep 0.3
	rmdir "$2.applying" ;;
esac
SH
	chmod +x "$1/terraform"
}

# 3a. a plain run
gh_inputs a "$TESTCHILD --log $TEST_TMP/a.log 'echo=hello world' exit=0" '"lease":"30s"'
gh_run a
rc=$?
is 0 $rc "action: the run succeeds"
[ $rc = 0 ] || sed 's/^/# /' "$TEST_TMP/a.out"
is "run release exit=0|skip release-cache|skip release-install|skip release-save|run source exit=0|uses cache|run install exit=0|skip save|run run exit=0" \
	"$(awk '{ print $1, $2, $3 }' "$TEST_TMP/a/log" | sed 's/ actions.*//; s/ $//' | paste -sd'|')" \
	"no release pinned: source, cache restore, install (a hit), save skipped, run"
like "$(grep '^uses cache' "$TEST_TMP/a/log")" "\"path\":\"$RUNNER_TOOL_CACHE/tflock/$k1\",\"key\":\"tflock-Linux-X64-$k1\"" \
	"the cache step restores the installer's prefix under the source-hash key"
like "$(cat "$TEST_TMP/a.out")" "found in the cache: not building" "the install step used the cached build"
ok "no apt-get or sudo on a cache hit" test ! -e "$TEST_TMP/stub-calls"
is "$(step_pid a run)" "$(child_ppid "$TEST_TMP/a.log")" \
	"the command's parent (through tflock's guardian) is the run step's own process: the step execs tflock"
ok "the command got its words, quotes grouping" grep -qx 'argv 3 echo=hello world' "$TEST_TMP/a.log"
ok "it ran under the lock (TFLOCK_HELD_ID set)" grep -q '^env TFLOCK_HELD_ID=' "$TEST_TMP/a.log"
ok "the action's TFLOCK_ACTION_* variables do not reach the command" \
	bash -c "! grep -q '^env TFLOCK_ACTION_' '$TEST_TMP/a.log'"
is 404 "$(lockst)" "the lock is released"
# tflock writes the run step's outputs ($GITHUB_OUTPUT) and the job summary: a
# run without them is a regression, and fails here
held=$(awk '/^env TFLOCK_HELD_ID=/ { sub("env TFLOCK_HELD_ID=", ""); print }' "$TEST_TMP/a.log")
like "$held" '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' "the command saw its lock ID"
is "$held" "$(yq_eval "$TEST_TMP/a/steps.json" 'd => d.run.outputs["lock-id"]')" \
	"the run step wrote lock-id to \$GITHUB_OUTPUT"
is "$held" "$(yq_eval "$TEST_TMP/a/outputs.json" 'd => d["lock-id"]')" "output lock-id is the lock's ID"
like "$(yq_eval "$TEST_TMP/a/outputs.json" 'd => d["waited-seconds"] + " " + d["held-seconds"]')" \
	'^[0-9]+(\.[0-9]+)? [0-9]+(\.[0-9]+)?$' "outputs waited-seconds and held-seconds are numbers"
like "$(yq_eval "$TEST_TMP/a/outputs.json" 'd => d.outcome')" "released" "output outcome says released"
like "$(cat "$TEST_TMP/a/run.summary" 2>/dev/null)" "$held" \
	"tflock wrote the job summary (\$GITHUB_STEP_SUMMARY) naming the lock"

# 3b. the command's exit status is the step's
gh_inputs b "$TESTCHILD exit=3"
gh_run b
is 3 $? "a failing command fails the step with its own status"
is 404 "$(lockst)" "the lock is released"

# 3p. parked: hold-for parks on exit 2 and outputs the handle; resume takes it back
gh_inputs p "$TESTCHILD exit=2" '"hold-for":"1h","note":"PR 7"'
gh_run p
rc=$?
is 0 $rc "action hold-for: the command's exit 2 parks the lock and the step succeeds"
[ $rc = 0 ] || sed 's/^/# /' "$TEST_TMP/p.out"
handle=$(yq_eval "$TEST_TMP/p/outputs.json" 'd => d.handle')
like "$handle" "^\{\"v\":1,\"lock\":\"s3://$bucket/$KEY.tflock\",\"id\":\"[0-9a-f-]{36}\",\"versions\":\[\"[^\"]+\"\],\"run\":\"4242\"\}$" \
	"the output handle names the parked lock, its version and the run"
like "$(lock_body "$bucket" "$KEY")" '"v":2,.*"note":"PR 7".*"tie":"run"' "the lock is parked, tied to the run"
gh_inputs q "$TESTCHILD --log $TEST_TMP/q.log exit=0" "\"resume\":$(jstr "$handle")"
gh_run q
rc=$?
is 0 $rc "action resume: the command runs under the parked lock, the step succeeds"
[ $rc = 0 ] || sed 's/^/# /' "$TEST_TMP/q.out"
ok "the command ran" grep -q '^start ' "$TEST_TMP/q.log"
like "$(cat "$TEST_TMP/q.out")" "resumed s3://$bucket/$KEY.tflock, parked as ID" "it resumed the parked lock"
is 404 "$(lockst)" "and released it"
gh_run q
is 76 $? "resuming a handle again once released: 76"

# 3c. cancel: the runner sends SIGINT to the step's process, which is tflock
gh_inputs c "$TESTCHILD --log $TEST_TMP/c.log tf-like graceful=300 run=600000"
gh_run c &
runner=$!
wait_for "command ready" 30 ready "$TEST_TMP/c.log"
pid=$(step_pid c run)
is "$(readlink -f "$(sed -n 's/^bin=//p' "$TEST_TMP/c/install.output")")" "$(readlink -f "/proc/$pid/exe")" \
	"the run step's process is tflock itself (the binary the install step named)"
kill -INT "$pid"
if ! wait_for "the step to end after SIGINT" 30 bash -c "! kill -0 $runner 2>/dev/null"; then
	# the signal went nowhere: end the command (by its pid) so the step ends
	kill -KILL "$(awk '/^start / { sub("pid=", "", $3); print $3; exit }' "$TEST_TMP/c.log")"
fi
wait "$runner"
is 1 $? "cancel: a terraform-like command stops gracefully and the step fails"
is 1 "$(nsig "$TEST_TMP/c.log" SIGINT)" "the command got the runner's SIGINT exactly once"
ok "never a second one (terraform's 'stop now')" bash -c "! grep -q '^immediate' '$TEST_TMP/c.log'"
is 404 "$(lockst)" "the lock is released after a cancel"

# 3d. two jobs contend: the second waits, then runs after the first is done
"$TFLOCK" --bucket "$bucket" --key "$KEY" --endpoint "$TFLOCK_TEST_S3_ENDPOINT" -- \
	"$TESTCHILD" --log "$TEST_TMP/h.log" touch="$TEST_TMP/h.run" wait-file="$TEST_TMP/h.go" 2>/dev/null &
holder=$!
wait_for "first job holds the lock" 30 test -e "$TEST_TMP/h.run"
gh_inputs d "$TESTCHILD --log $TEST_TMP/d.log"
gh_run d &
runner=$!
wait_for "second job waiting" 30 grep -q 'waiting for' "$TEST_TMP/d.out"
ok "the second job waits while the first holds the lock" test ! -e "$TEST_TMP/d.log"
# 3e. meanwhile: a timeout gives up with 75, extra-args reach tflock
gh_inputs e "$TESTCHILD --log $TEST_TMP/e.log" '"timeout":"3s"'
gh_run e
is 75 $? "timeout: a job that cannot get the lock in time fails with 75"
ok "without running its command" test ! -e "$TEST_TMP/e.log"
gh_inputs f "$TESTCHILD --log $TEST_TMP/f.log" '"extra-args":"--no-wait --conflict-exit-code 99"'
gh_run f
is 99 $? "extra-args reach tflock (--no-wait --conflict-exit-code 99)"
touch "$TEST_TMP/h.go"
wait "$holder"
wait "$runner"
is 0 $? "the second job succeeds once the first is done"
h_end=$(awk '$1 == "exit" { print $2 }' "$TEST_TMP/h.log")
d_start=$(awk '$1 == "start" { print $2 }' "$TEST_TMP/d.log")
ok "its command started after the first job's command ended" test "${d_start:-0}" -gt "${h_end:-9999999999999999999}"
is 404 "$(lockst)" "the lock is released"

# 3g. inputs that are refused before anything is locked
gh_inputs g1 "$TESTCHILD --log $TEST_TMP/g1.log && $TESTCHILD --log $TEST_TMP/g1.log"
gh_run g1
is 64 $? "a command with && is refused (64)"
like "$(cat "$TEST_TMP/g1.out")" "shell operators" "saying why"
ok "and nothing ran" test ! -e "$TEST_TMP/g1.log"
gh_inputs g2 "$TESTCHILD 'unbalanced"
gh_run g2
is 64 $? "unbalanced quotes are refused (64)"
gh_inputs g3 "$TESTCHILD
--log $TEST_TMP/g3.log
touch=$TEST_TMP/g3.ran
"
gh_run g3
is 0 $? "a folded or multi-line command (command: >) runs, its lines as words"
ok "(it ran with all its words)" test -e "$TEST_TMP/g3.ran"
gh_inputs g4 "   "
gh_run g4
is 64 $? "an empty command is refused (64)"
mkdir -p "$TEST_TMP/work dir/infra"
gh_inputs h "sh -c 'pwd >\"$TEST_TMP/h.pwd\"'" "\"working-directory\":$(jstr "$TEST_TMP/work dir/infra")"
gh_run h
is "0 $TEST_TMP/work dir/infra" "$? $(cat "$TEST_TMP/h.pwd" 2>/dev/null)" \
	"working-directory is where the command runs; a quoted '>' is an argument, not a redirection"

# 3h. github-token: the workflow's token reaches tflock alone, as
# TFLOCK_GITHUB_TOKEN; the command never sees it; never printed
# tokcase NAME [NAME=VALUE...]: run the action with a stand-in github.token and
# the job's environment plus these. The command records GITHUB_TOKEN and
# GH_TOKEN as it sees them, and TFLOCK_GITHUB_TOKEN as tflock has it (read from
# /proc: the command's parent is the guardian, whose parent is tflock)
tokcase() {
	(
		unset GITHUB_TOKEN GH_TOKEN TFLOCK_GITHUB_TOKEN
		export GHRUN_GITHUB_TOKEN=ghs_standin0token
		for v in "${@:2}"; do export "${v?}"; done
		gh_run "$1"
	)
}
cat >"$TEST_TMP/tok.sh" <<'TOK'
t=$(awk '/^PPid:/ { print $2 }' "/proc/$PPID/status")
printf '%s|%s|%s|%s' "${GITHUB_TOKEN-unset}" "${GH_TOKEN-unset}" "${TFLOCK_GITHUB_TOKEN-unset}" \
	"$(tr '\0' '\n' <"/proc/$t/environ" | sed -n 's/^TFLOCK_GITHUB_TOKEN=//p')" >"$1"
TOK
tokcmd() { printf 'sh %s %s' "$TEST_TMP/tok.sh" "$TEST_TMP/$1.tok"; }
gh_inputs t1 "$(tokcmd t1)"
tokcase t1
is "0 unset|unset|unset|ghs_standin0token" "$? $(cat "$TEST_TMP/t1.tok" 2>/dev/null)" \
	"github-token: by default tflock has the workflow's token, the command nothing"
ok_not "github-token: the step's output never shows it" grep -q ghs_standin0token "$TEST_TMP/t1.out"
gh_inputs t2 "$(tokcmd t2)"
tokcase t2 GITHUB_TOKEN=the-jobs-own
is "0 the-jobs-own|unset|unset|ghs_standin0token" "$? $(cat "$TEST_TMP/t2.tok" 2>/dev/null)" \
	"github-token: a GITHUB_TOKEN the job set reaches the command as before; tflock uses the input"
gh_inputs t3 "$(tokcmd t3)"
tokcase t3 GH_TOKEN=gh-cli-token
is "0 unset|gh-cli-token|unset|ghs_standin0token" "$? $(cat "$TEST_TMP/t3.tok" 2>/dev/null)" \
	"github-token: GH_TOKEN set by the job is left alone"
gh_inputs t4 "$(tokcmd t4)" '"github-token":""'
tokcase t4
is "0 unset|unset|unset|" "$? $(cat "$TEST_TMP/t4.tok" 2>/dev/null)" "github-token: \"\" passes none"
gh_inputs t5 "$(tokcmd t5)" '"github-token":"ghs_given"'
tokcase t5
is "0 unset|unset|unset|ghs_given" "$? $(cat "$TEST_TMP/t5.tok" 2>/dev/null)" "github-token: a token given as input is used"
is 404 "$(lockst)" "released"

# 3i. zero configuration: after terraform init, the backend names the lock
mk_standin "$TEST_TMP/standin-gh" "$TEST_TMP/gh-tf.log"
mkdir -p "$TEST_TMP/zc/infra"
(cd "$TEST_TMP/zc/infra" && "$TEST_TMP/standin-gh/terraform" init)
printf '{"command":"terraform apply -auto-approve","working-directory":%s}\n' "$(jstr "$TEST_TMP/zc/infra")" \
	>"$TEST_TMP/zc.in.json"
PATH=$TEST_TMP/standin-gh:$PATH gh_run zc
is 0 $? "zero-config: the action runs terraform apply with no lock inputs"
like "$(grep '^terraform apply' "$TEST_TMP/gh-tf.log")" "TF_CLI_ARGS_apply=-lock=false" \
	"terraform got -lock=false: tflock holds the lock the backend names"
like "$(cat "$TEST_TMP/zc.out")" "acquired s3://$bucket/$KEY.tflock" "the lock is the backend's bucket and key"
is 404 "$(lockst)" "released"

# ---- 4. GitLab: the example pipeline with the template ----------------------
G=$TEST_TMP/gl
export GIT_ALLOW_PROTOCOL=file # git fetches nothing but the test's own repository
mkdir -p "$G/proj/ci-templates/gitlab" "$G/proj/infra"
cp "$CT/gitlab/example.gitlab-ci.yml" "$G/proj/.gitlab-ci.yml"
cp "$CT/gitlab/tflock.gitlab-ci.yml" "$G/proj/ci-templates/gitlab/"
echo 'terraform {}' >"$G/proj/infra/main.tf"
printf '%s\n' '/.gitlab-ci-local/' '.terraform/' >"$G/proj/.gitignore"
(
	cd "$G/proj" && git init -q . && git remote add origin https://gitlab.example.invalid/group/infra.git &&
		git add -A && git -c user.email=t@example.invalid -c user.name=t commit -qm infra
) || bail "cannot make the GitLab test project"
mk_standin "$G/bin" "$G/tf.log"
# the build the template would make, "restored" from GitLab's cache
seed_build "$G/proj/.tflock-cache" "$kref"

is "plan deploy:staging deploy:production" \
	"$(cd "$G/proj" && "$GCL" --list-json 2>/dev/null | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).map(j=>j.name).join(" ")))')" \
	"gitlab-ci-local validates the example with the included template and lists its jobs"
(cd "$G/proj" && "$GCL" --preview >"$G/preview.yml" 2>"$G/preview.err")
ok "the deploy jobs get the template's before_script (extends: .tflock)" \
	test "$(yq_eval "$G/preview.yml" 'd => ["deploy:staging", "deploy:production"].every(j => d[j].before_script.join("\n").includes("install-tflock.sh"))')" = true
is "tflock-build .tflock-cache/" "$(yq_eval "$G/preview.yml" 'd => d["deploy:staging"].cache[0].key + " " + d["deploy:staging"].cache[0].paths[0]')" \
	"and its build cache"

glvars=(TFLOCK_REPO="$TEST_TMP/srv/owner/tflock.git" TFLOCK_REF=v9.9.9)
if [ "${TFLOCK_TEST_GITLAB_BY_HAND:-0}" != 1 ] && command -v rsync >/dev/null; then
	glmode="gitlab-ci-local"
	# gl_jobs OUT JOB... [-- NAME=VALUE...]: run jobs with gitlab-ci-local in shell mode
	gl_jobs() {
		local out=$1 args=() v
		shift
		while [ $# -gt 0 ] && [ "$1" != -- ]; do args+=("$1"); shift; done
		[ "${1:-}" = -- ] && shift
		for v in "${glvars[@]}" "$@"; do args+=(--variable "$v"); done
		(cd "$G/proj" && PATH=$G/bin:$PATH timeout 600 "$GCL" --force-shell-executor --no-color "${args[@]}") >"$out" 2>&1
	}
else
	glmode="script lines by hand"
	command -v rsync >/dev/null || glmode="$glmode (gitlab-ci-local needs rsync, which is not installed)"
	# the fallback: each job's before_script and script from the preview, run by bash
	gl_jobs() {
		local out=$1 jobs=() extra=() j rc=0 pids=()
		shift
		while [ $# -gt 0 ] && [ "$1" != -- ]; do jobs+=("$1"); shift; done
		[ "${1:-}" = -- ] && shift
		extra=("$@")
		: >"$out"
		rm -f "$G"/job-*
		for j in "${jobs[@]}"; do
			yq_eval "$G/preview.yml" "d => Object.entries(d[\"$j\"].variables || {}).map(([k, v]) => 'export ' + k + '=\"' + v + '\"').join('\n')" \
				>"$G/job-$j.vars"
			yq_eval "$G/preview.yml" "d => d[\"$j\"].before_script.concat(d[\"$j\"].script).join('\n')" \
				>"$G/job-$j.sh"
			yq_eval "$G/preview.yml" "d => (d[\"$j\"].after_script || []).join('\n')" >"$G/job-$j.after"
			(
				cd "$G/proj" && export CI_PROJECT_DIR=$G/proj CI_JOB_NAME=$j GITLAB_CI=true PATH=$G/bin:$PATH
				. "$G/job-$j.vars"
				for v in "${glvars[@]}" "${extra[@]}"; do export "${v?}"; done
				bash -eo pipefail "$G/job-$j.sh"
				rc=$?
				bash "$G/job-$j.after"
				exit $rc
			) >"$G/job-$j.out" 2>&1 &
			pids+=($!)
		done
		for j in "${!pids[@]}"; do
			if wait "${pids[$j]}"; then echo "PASS ${jobs[$j]}" >>"$out"; else rc=1; echo "FAIL ${jobs[$j]}" >>"$out"; fi
		done
		cat "$G"/job-*.out >>"$out"
		return $rc
	}
fi
diag "GitLab jobs run with: $glmode"

# both deploy jobs at once, while someone else holds the lock
"$TFLOCK" --bucket "$bucket" --key "$KEY" --endpoint "$TFLOCK_TEST_S3_ENDPOINT" -- \
	"$TESTCHILD" --log "$TEST_TMP/gh.log" touch="$TEST_TMP/gh.run" wait-file="$TEST_TMP/gh.go" 2>/dev/null &
holder=$!
wait_for "the lock held" 30 test -e "$TEST_TMP/gh.run"
gl_jobs "$G/deploy.out" deploy:staging deploy:production &
gl=$!
waiting() { # both jobs have said they wait (gitlab-ci-local prefixes lines with the job)
	local j
	for j in deploy:staging deploy:production; do
		grep -q "^$j *> tflock: waiting for" "$G/deploy.out" 2>/dev/null ||
			grep -q 'waiting for' "$G/job-$j.out" 2>/dev/null || return 1
	done
}
wait_for "both jobs waiting" 60 waiting
ok "GitLab ($glmode): both deploy jobs wait for the lock" waiting
ok "neither applied while it was held" bash -c "! grep -q '^terraform apply' '$G/tf.log' 2>/dev/null"
touch "$TEST_TMP/gh.go"
wait "$holder"
wait "$gl"
rc=$?
is 0 $rc "both jobs pass once it is released"
[ $rc = 0 ] || tail -n 40 "$G/deploy.out" | sed 's/^/# /'
is 2 "$(grep -c '^terraform apply -input=false -auto-approve -var-file=\(staging\|production\).tfvars ' "$G/tf.log")" \
	"each applied once, with its own var file"
ok "one after the other, never at once" bash -c "! grep -q OVERLAP '$G/tf.log'"
ok "the template found tflock in its build cache (no build)" \
	grep -q 'found in the cache: not building' "$G/deploy.out"
ok "the cache directory does not make the checkout dirty for tflock's git check" \
	bash -c "cd '$G/proj' && test -z \"\$(git status --porcelain)\""
is 404 "$(lockst)" "the lock is released"
is 2 "$(grep -c '^terraform apply .*TF_CLI_ARGS_apply=-lock=false' "$G/tf.log")" \
	"terraform ran with -lock=false: tflock read the backend terraform init set up"
is 2 "$(grep -cE "tflock: (error: )?'?s3://$bucket/$KEY.tflock'? is (free|held)" "$G/deploy.out")" \
	"after_script ran tflock release in TF_ROOT, once per job"

gl_jobs "$G/norepo.out" deploy:staging -- TFLOCK_REPO=
ok_not "without TFLOCK_REPO, TFLOCK_SRC or TFLOCK_BIN the job fails" test $? = 0
like "$(cat "$G/norepo.out")" "set TFLOCK_PROJECT, TFLOCK_REPO" "saying what to set"

# after_script is a shell of its own: it must release with the binary
# before_script chose, whichever way it came. A decoy build that sorts first in
# the cache (no .key, so never pruned) and loggers in place of tflock tell which
# binary ran.
mk_logger() { # mk_logger PATH LOG: a tflock that logs its arguments, then runs the real one
	mkdir -p "$(dirname "$1")"
	rm -f "$1" # never write through a seeded build's symlink to the tflock under test
	printf '#!/bin/sh\necho "$*" >>"%s"\nexec "%s" "$@"\n' "$2" "$TFLOCK" >"$1"
	chmod +x "$1"
}
mk_logger "$G/proj/.tflock-cache/0-decoy/bin/tflock" "$G/decoy.log"
# TFLOCK_BIN: a binary of the image's, nowhere in the cache
mk_logger "$G/image-bin/tflock" "$G/image-bin.log"
gl_jobs "$G/bin.out" deploy:staging -- TFLOCK_REPO= TFLOCK_BIN="$G/image-bin/tflock"
rc=$?
is 0 $rc "TFLOCK_BIN: the job passes"
[ $rc = 0 ] || tail -n 30 "$G/bin.out" | sed 's/^/# /'
is 1 "$(grep -c '^release$' "$G/image-bin.log" 2>/dev/null)" \
	"TFLOCK_BIN: after_script ran tflock release with TFLOCK_BIN's binary"
like "$(cat "$G/bin.out")" "tflock: (error: )?'?s3://$bucket/$KEY.tflock'? is (free|held)" \
	"TFLOCK_BIN: and release reported on the lock"
# TFLOCK_SRC: a source tree, its build found in the cache (a key of its own:
# gitlab-ci-local's cache of the jobs above holds the same sources' build)
src_tree "$G/src"
echo '# a tree of its own' >>"$G/src/Makefile.am"
ksrc=$(keyof "$G/src")
mk_logger "$G/proj/.tflock-cache/$ksrc/bin/tflock" "$G/src-bin.log"
printf '%s\n' "$ksrc" >"$G/proj/.tflock-cache/$ksrc/.key"
gl_jobs "$G/src.out" deploy:staging -- TFLOCK_REPO= TFLOCK_SRC="$G/src"
rc=$?
is 0 $rc "TFLOCK_SRC: the job passes"
[ $rc = 0 ] || tail -n 30 "$G/src.out" | sed 's/^/# /'
like "$(cat "$G/src.out")" "found in the cache: not building" "TFLOCK_SRC: the build came from the cache"
is 1 "$(grep -c '^release$' "$G/src-bin.log" 2>/dev/null)" \
	"TFLOCK_SRC: after_script ran tflock release with that build"
is 0 "$(cat "$G/decoy.log" 2>/dev/null | grep -c '^release$')" \
	"neither after_script took the decoy that sorts first in the cache"
is 404 "$(lockst)" "the lock is released"

# the plan/apply example: the plan job parks, the manual apply job resumes
if [ "$glmode" = gitlab-ci-local ]; then
	cp "$CT/gitlab/example-plan-apply.gitlab-ci.yml" "$G/proj/.gitlab-ci.yml"
	# as the example says: the artifacts are ignored, or the pre-apply check refuses
	printf '%s\n' tfplan tflock-handle.json tflock.env >>"$G/proj/.gitignore"
	(cd "$G/proj" && git add -A && git -c user.email=t@example.invalid -c user.name=t commit -qm plan-apply) ||
		bail "cannot commit the plan/apply example"
	(cd "$G/proj" && "$GCL" --preview >"$G/pa-preview.yml" 2>/dev/null)
	is "manual false" "$(yq_eval "$G/pa-preview.yml" 'd => d.apply.when + " " + d.apply.allow_failure')" \
		"plan-apply: the apply job is manual and blocks the pipeline (allow_failure: false)"
	: >"$G/tf.log"
	# one pipeline: the plan job, then the manual apply job played (--manual)
	gl_jobs "$G/pa-apply.out" --needs --manual apply apply
	rc=$?
	is 0 $rc "plan-apply: the plan job and the manual apply job pass"
	if [ $rc != 0 ]; then
		tail -n 40 "$G/pa-apply.out" | sed 's/^/# /'
		for f in "$G/proj/.gitlab-ci-local/output"/*.log; do
			[ -f "$f" ] && { diag "--- ${f##*/}"; tail -n 30 "$f" | sed 's/^/# /'; }
		done
	fi
	like "$(cat "$G/pa-apply.out")" "plan .*parked s3://$bucket/$KEY.tflock until" \
		"plan-apply: terraform plan exited 2 (changes): the plan job parked the lock"
	like "$(cat "$G/pa-apply.out")" "plan .*leaves a parked lock alone" \
		"plan-apply: the plan job's after_script release left it parked"
	like "$(cat "$G/pa-apply.out")" "resumed s3://$bucket/$KEY.tflock, parked as ID" \
		"plan-apply: it resumed the parked lock from the dotenv handle"
	ok "plan-apply: terraform applied the saved plan" grep -q '^terraform apply -input=false tfplan ' "$G/tf.log"
	is 404 "$(lockst)" "plan-apply: released after the apply"
else
	skip "the plan/apply example needs gitlab-ci-local (its dotenv artifacts, --needs and --manual): $glmode"
fi

# ---- 5. the pre-apply hook and its installer ----------------------------------
HK=$top_srcdir/hooks
R=$TEST_TMP/hookrepo
mkdir -p "$R/infra"
printf '%s\n' '.terraform/' >"$R/.gitignore"
echo 'terraform {}' >"$R/infra/main.tf"
(cd "$R" && git init -q -b main . && git add -A && git -c user.email=t@example.invalid -c user.name=t commit -qm infra) ||
	bail "cannot make the hook test repository"
sh "$HK/install.sh" "$R" 2>"$TEST_TMP/hi.err"
is 0 $? "hooks/install.sh installs into a repository"
ok "as .git/hooks/pre-apply, executable, the same file" \
	bash -c "test -x '$R/.git/hooks/pre-apply' && cmp -s '$HK/pre-apply' '$R/.git/hooks/pre-apply'"
sh "$HK/install.sh" "$R" 2>"$TEST_TMP/hi.err"
is "0 install.sh: already installed: $R/.git/hooks/pre-apply" "$? $(cat "$TEST_TMP/hi.err")" "running it again is harmless"
mkdir -p "$TEST_TMP/other" && (cd "$TEST_TMP/other" && git init -q .)
printf '#!/bin/sh\nexit 0\n' >"$TEST_TMP/other/.git/hooks/pre-apply"
sh "$HK/install.sh" "$TEST_TMP/other" 2>/dev/null
is 1 $? "an existing, different hook is not replaced"
sh "$HK/install.sh" --force "$TEST_TMP/other" 2>/dev/null
ok "--force replaces it and keeps the old one" \
	bash -c "cmp -s '$HK/pre-apply' '$TEST_TMP/other/.git/hooks/pre-apply' && test -f '$TEST_TMP/other/.git/hooks/pre-apply.orig'"
(cd "$TEST_TMP/other" && git config core.hooksPath ci/hooks && mkdir -p sub)
sh "$HK/install.sh" --link "$TEST_TMP/other/sub" 2>/dev/null
ok "core.hooksPath is honoured (relative to the work tree), --link symlinks" \
	bash -c "test -L '$TEST_TMP/other/ci/hooks/pre-apply' && test \"\$(readlink -f '$TEST_TMP/other/ci/hooks/pre-apply')\" = \"\$(readlink -f '$HK/pre-apply')\""
sh "$HK/install.sh" "$TEST_TMP/gh0" 2>/dev/null
is 1 $? "outside a git work tree it fails"
sh "$HK/install.sh" --bogus 2>/dev/null
is 64 $? "an unknown option is a usage error"

HKEY=hook/terraform.tfstate # its own state: no applied-commit record from the jobs above
mk_standin "$TEST_TMP/standin-hook" "$TEST_TMP/hook-tf.log" "$HKEY"
(cd "$R/infra" && "$TEST_TMP/standin-hook/terraform" init)
ok "the hook test repository is clean" test -z "$(cd "$R" && git status --porcelain)"
export PRE_APPLY_TFLOCK=$TFLOCK
hook_apply() { # hook_apply NAME [tflock options]: tflock -- terraform apply in infra/
	local name=$1
	shift
	(cd "$R/infra" && PATH=$TEST_TMP/standin-hook:$PATH "$TFLOCK" "$@" -- terraform apply -auto-approve) \
		>"$TEST_TMP/$name.out" 2>&1
}
: >"$TEST_TMP/hook-tf.log"
hook_apply hk1
is 0 $? "hook: on a clean tree the apply runs"
like "$(cat "$TEST_TMP/hk1.out")" "git checks pass" "the hook ran tflock check-git"
is 1 "$(grep -c '^terraform apply' "$TEST_TMP/hook-tf.log")" "terraform applied once"
PRE_APPLY_BRANCHES="release/* prod" hook_apply hk2
is 77 $? "PRE_APPLY_BRANCHES without the current branch: refused (77)"
like "$(cat "$TEST_TMP/hk2.out")" "branch 'main' is not one of PRE_APPLY_BRANCHES" "the hook says why"
is 1 "$(grep -c '^terraform apply' "$TEST_TMP/hook-tf.log")" "terraform did not run"
is 404 "$(s3_status GET "/$bucket/$HKEY.tflock")" "the lock is released after a refusal"
PRE_APPLY_BRANCHES="release/* ma*" hook_apply hk3
is 0 $? "a matching pattern lets it run"
echo scratch >"$R/infra/untracked.txt"
hook_apply hk4
is 77 $? "a dirty tree is refused"
hook_apply hk4b --allow-dirty
is 0 $? "the --allow-dirty given to tflock reaches the hook's check-git: the apply runs"
like "$(cat "$TEST_TMP/hk4b.out")" "git checks pass" "(the hook's check ran, with the override)"
PRE_APPLY_BRANCHES="release/*" hook_apply hk4c --allow-dirty
is 77 $? "the hook's own policy still refuses"
like "$(cat "$TEST_TMP/hk4c.out")" "pre-apply hook .* refused" "tflock names the hook as the refuser"
rm -f "$R/infra/untracked.txt"
# no initialised backend where the hook runs: the store comes from TFLOCK_HELD_LOCK
mkdir -p "$R/elsewhere"
echo '*' >"$R/elsewhere/.gitignore"
(cd "$R/elsewhere" && PATH=$TEST_TMP/standin-hook:$PATH PRE_APPLY_ENDPOINT=$TFLOCK_TEST_S3_ENDPOINT \
	"$TFLOCK" --bucket "$bucket" --key "$HKEY" --endpoint "$TFLOCK_TEST_S3_ENDPOINT" -- terraform apply -auto-approve) \
	>"$TEST_TMP/hk5.out" 2>&1
is 0 $? "the hook finds bucket and key in TFLOCK_HELD_LOCK when there is no backend in its directory"
like "$(cat "$TEST_TMP/hk5.out")" "git checks pass" "and checks that state"
# ... and the endpoint, region and addressing in TFLOCK_HELD_S3_ENDPOINT/_REGION/_PATH_STYLE
# (the test environment's AWS_ENDPOINT_URL points at a dead port: a hook that did not
# get the endpoint from tflock would fail to reach the store)
held_store() { "$TFLOCK" --bucket "$bucket" --key "$HKEY" --endpoint "$TFLOCK_TEST_S3_ENDPOINT" --path-style --region us-east-1 "$@"; }
(cd "$R/elsewhere" && PATH=$TEST_TMP/standin-hook:$PATH held_store -- terraform apply -auto-approve) >"$TEST_TMP/hk5b.out" 2>&1
is 0 $? "without PRE_APPLY_ENDPOINT the hook reaches the store tflock named to it"
like "$(cat "$TEST_TMP/hk5b.out")" "git checks pass" "and checks that state"
held_store -- sh -c 'env | grep "^TFLOCK_HELD_[RSP]" | sort' >"$TEST_TMP/hk5c.out" 2>/dev/null
is "$(cat "$TEST_TMP/hk5c.out")" "TFLOCK_HELD_PATH_STYLE=true
TFLOCK_HELD_REGION=us-east-1
TFLOCK_HELD_S3_ENDPOINT=$TFLOCK_TEST_S3_ENDPOINT" "the command gets the same three variables"
(cd "$R/infra" && TFLOCK_HELD_LOCK=not-a-lock-url "$HK/pre-apply") 2>"$TEST_TMP/hk6.err"
is 64 $? "a malformed TFLOCK_HELD_LOCK is refused (64)"
(cd "$R/infra" && "$HK/pre-apply") 2>"$TEST_TMP/hk7.err"
is 0 $? "run by hand, the hook checks the backend of its directory"

done_testing
