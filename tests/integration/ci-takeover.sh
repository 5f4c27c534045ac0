#!/bin/bash
# Early takeover when the holder's CI job has ended (PROTOCOL B14.2, B14.3),
# against the real gateway and a stand-in GitHub/GitLab API on loopback.
#  - A holder is a real tflock run with a CI's variables, SIGKILLed (its command
#    dies with it), so its lock body names its CI job as ci_detect() writes it.
#  - The waiter asks its own API base (never one from the body) with its token;
#    the stand-in answers with the documented JSON or an error.
#  - Taken over on the CI's word ("via=ci") only for a finished job on an
#    ephemeral runner (or --ci-takeover any), and never before H + m after the
#    answer's receipt (a lower bound from logged CLOCK_BOOTTIME stamps); every
#    error, and every other case, waits for the lease ("via=lease"), one warning.
#  - A live holder whose job the API calls finished is never taken over.
. "$top_srcdir/tests/integration/lib.sh"
plan_lazy
rgw_require
bucket=$(new_bucket)
tflock_env "$bucket"
J=$top_builddir/tests/helpers/jsonget
TOKEN=ghs_s3cr3tT0kenValue42
lease_ms=$(awk -v s="$TFLOCK_TIME_SCALE" 'BEGIN { printf "%d", 60000 * s }')
# H + T + m of a 60 s lease: 15 s + min(L/8, 10 s) + max(2 s, 6 s), scaled
hm_ms=$(awk -v s="$TFLOCK_TIME_SCALE" 'BEGIN { printf "%d", 28500 * s }')

# the stand-in's answers
job() { # FILE ID RUN STATUS [CONCLUSION]
	printf '{"id":%s,"run_id":%s,"run_attempt":1,"status":"%s","conclusion":%s,"completed_at":"2026-01-01T00:00:00Z","name":"apply"}' \
		"$2" "$3" "$4" "${5:-null}" >"$TEST_TMP/$1"
}
gljob() { # FILE ID PIPELINE STATUS
	printf '{"id":%s,"status":"%s","finished_at":"2026-01-01T00:00:00.000Z","pipeline":{"id":%s,"status":"%s"},"runner":{"runner_type":"instance_type"}}' \
		"$2" "$4" "$3" "$4" >"$TEST_TMP/$1"
}
job done.json 501 100 completed '"cancelled"'
job running.json 502 100 in_progress
job notmine.json 503 999 completed '"success"'
job done504.json 504 100 completed '"failure"'
job done505.json 505 100 completed '"cancelled"'
job done506.json 506 100 completed '"cancelled"'
job done507.json 507 100 completed '"cancelled"'
job done508.json 508 100 completed '"cancelled"'
job done509.json 509 100 completed '"cancelled"'
job done513.json 513 100 completed '"cancelled"'
job done514.json 514 100 completed '"cancelled"'
printf '{"id":510,"run_id":100,"status":' >"$TEST_TMP/truncated.json"
printf '{"message":"Bad credentials"}' >"$TEST_TMP/401.json"
printf '{"message":"API rate limit exceeded"}' >"$TEST_TMP/403.json"
printf '{"message":"Not Found"}' >"$TEST_TMP/404.json"
gljob gl-canceled.json 701 300 canceled
gljob gl-canceling.json 702 300 canceling
stub_http api "GET /repos/acme/infra/actions/jobs/501 200 $TEST_TMP/done.json
GET /repos/acme/infra/actions/jobs/502 200 $TEST_TMP/running.json
GET /repos/acme/infra/actions/jobs/503 200 $TEST_TMP/notmine.json
GET /repos/acme/infra/actions/jobs/504 200 $TEST_TMP/done504.json
GET /repos/acme/infra/actions/jobs/505 200 $TEST_TMP/done505.json
GET /repos/acme/infra/actions/jobs/506 401 $TEST_TMP/401.json
GET /repos/acme/infra/actions/jobs/507 403 $TEST_TMP/403.json
  x-ratelimit-remaining: 0
  x-ratelimit-reset: 9999999999
GET /repos/acme/infra/actions/jobs/508 404 $TEST_TMP/404.json
GET /repos/acme/infra/actions/jobs/509 close -
GET /repos/acme/infra/actions/jobs/510 200 $TEST_TMP/truncated.json
GET /repos/acme/infra/actions/jobs/511 200 $TEST_TMP/done.json
GET /repos/acme/infra/actions/jobs/512 200 $TEST_TMP/done.json
GET /repos/acme/infra/actions/jobs/513 200 $TEST_TMP/done513.json
GET /repos/acme/infra/actions/jobs/514 200 $TEST_TMP/done514.json
GET /api/v4/projects/42/jobs/701 200 $TEST_TMP/gl-canceled.json
GET /api/v4/projects/42/jobs/702 200 $TEST_TMP/gl-canceling.json"
api=$STUB_URL

# CI variables: ci_env github JOBID RUNNER_ENVIRONMENT | ci_env gitlab JOBID DESCRIPTION
ci_env() {
	local kind=$1 jid=$2 where=$3
	if [ "$kind" = github ]; then
		echo GITHUB_ACTIONS=true GITHUB_REPOSITORY=acme/infra GITHUB_RUN_ID=100 \
			GITHUB_RUN_ATTEMPT=1 GITHUB_JOB=apply RUNNER_NAME=r$jid \
			TFLOCK_GITHUB_JOB_ID=$jid RUNNER_ENVIRONMENT=$where GITHUB_API_URL=$api
	else
		echo GITLAB_CI=true CI_SERVER_URL=https://gitlab.com CI_PROJECT_ID=42 \
			CI_PIPELINE_ID=300 CI_JOB_ID=$jid CI_JOB_URL=https://gitlab.com/acme/infra/-/jobs/$jid \
			CI_RUNNER_DESCRIPTION=$where CI_API_V4_URL=$api/api/v4
	fi
}

# dead_holder NAME KEY ENV... — a holder that took the lock, then was SIGKILLed
dead_holder() {
	local name=$1 key=$2
	shift 2
	env "$@" TFLOCK_KEY="$key" TFLOCK_EVENT_LOG="$TEST_TMP/$name.hevents" \
		"$TFLOCK" --lease 60s --no-queue -- "$TESTCHILD" touch="$TEST_TMP/$name.run" \
		wait-file="$TEST_TMP/never" 2>"$TEST_TMP/$name.h.err" &
	local pid=$!
	wait_for "$name holding" 30 test -e "$TEST_TMP/$name.run" || return 1
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null
	return 0
}

# waiter NAME KEY [FLAGS] -- ENV... — in the background; pid in $wpid
waiter() {
	local name=$1 key=$2 flags=()
	shift 2
	while [ "$1" != -- ]; do flags+=("$1"); shift; done
	shift
	env "$@" TFLOCK_KEY="$key" TFLOCK_EVENT_LOG="$TEST_TMP/$name.events" \
		"$TFLOCK" --lease 60s --no-queue "${flags[@]}" --report "$TEST_TMP/$name.json" \
		-- true >"$TEST_TMP/$name.out" 2>"$TEST_TMP/$name.err" &
	wpid=$!
}

via() { awk '$3 == "takeover" { for (i = 4; i <= NF; i++) if ($i ~ /^via=/) { sub("via=", "", $i); print $i } }' "$TEST_TMP/$1.events"; }
field() { awk -v k="$2" '$3 == "takeover" { for (i = 4; i <= NF; i++) if (index($i, k "=") == 1) { sub(k "=", "", $i); print $i } }' "$TEST_TMP/$1.events"; }
asks() { stub_requests | grep -c "$1\$"; }

# --- A: an ephemeral GitHub-hosted holder whose job the API calls completed;
# the gateway (RGW) does not prove its If-Match atomic, so --ci-takeover any
# (auto refuses on such a store: case A2)
dead_holder a ci/a $(ci_env github 501 github-hosted) || bail "holder a did not start"
body=$(lock_body "$bucket" ci/a)
like "$body" '"cip":"github","srv":"https://github.com","proj":"acme/infra","run":"100","att":"1","jid":"501","eph":1' \
	"the holder's body names its CI job (B14.1)"
waiter a ci/a --ci-takeover any -- $(ci_env github 901 github-hosted) GITHUB_TOKEN=$TOKEN
wait "$wpid"
is 0 $? "A: the waiter took the lock and ran its command"
is ci "$(via a)" "A: taken over on the CI's word"
take=$(awk '$3 == "takeover" { print $1; exit }' "$TEST_TMP/a.events")
recv=$(field a ci_recv)
diag "answer received $recv, takeover $take, H+m $hm_ms ms, lease $lease_ms ms"
ok "A: the takeover came at least H + m after the answer's receipt" \
	test $((take - recv)) -ge $((hm_ms * 1000000))
ok "A: the answer came after the waiter first saw the lock's version" \
	test "$recv" -ge "$(field a first_seen)"
like "$(cat "$TEST_TMP/a.err")" "took over .* the CI says the holder's job 501 ended .*\(completed/cancelled\)" \
	"A: the takeover line says why"
like "$("$J" "$TEST_TMP/a.json" takeover_reason)" "job 501 ended" "A: the report says why"
ok "A: the API was asked about job 501" test "$(asks /actions/jobs/501)" -ge 1
like "$(awk '/^=== [0-9]* GET \/repos\/acme\/infra\/actions\/jobs\/501$/ { f = 1; next } f && /^Authorization:/ { print; exit }' "$STUB_LOG")" \
	"^Authorization: Bearer $TOKEN" "A: the token went to the waiter's own API base, as a bearer token"
ok "A: the token is in no output" bash -c "! grep -q '$TOKEN' '$TEST_TMP/a.err' '$TEST_TMP/a.out' '$TEST_TMP/a.json'"

# --- B..K: the rest at once, each on its own key (each waits a lease at most)
dead_holder a2 ci/a2 $(ci_env github 513 github-hosted) || bail "holder a2"
dead_holder m ci/m $(ci_env github 514 github-hosted) || bail "holder m"
dead_holder b ci/b $(ci_env github 502 github-hosted) || bail "holder b"
dead_holder c ci/c $(ci_env github 504 self-hosted) || bail "holder c"
dead_holder d ci/d $(ci_env github 505 self-hosted) || bail "holder d"
dead_holder e ci/e $(ci_env github 511 github-hosted) || bail "holder e"
dead_holder f ci/f $(ci_env github 512 github-hosted) || bail "holder f"
dead_holder g ci/g $(ci_env gitlab 701 3-blue.saas-linux-small-amd64.runners-manager.gitlab.com/default) || bail "holder g"
dead_holder h ci/h $(ci_env gitlab 702 3-blue.saas-linux-small-amd64.runners-manager.gitlab.com/default) || bail "holder h"
for n in 503 506 507 508 509 510; do
	dead_holder e$n ci/e$n $(ci_env github $n github-hosted) || bail "holder e$n"
done
# a forged body naming a path instead of a repository: never asked about
dead_holder k ci/k $(ci_env github 512 github-hosted) || bail "holder k"
lock_body "$bucket" ci/k | sed 's#"proj":"acme/infra"#"proj":"acme/../../admin"#' >"$TEST_TMP/k.body"
S3_BODY_FILE=$TEST_TMP/k.body s3_status PUT "/$bucket/ci/k.tflock" >/dev/null
before=$(stub_requests | wc -l)

declare -A W
# every case but A2 and C runs with --ci-takeover any, so that "the lease"
# shows the rule under test, not the store's refusal
waiter a2 ci/a2 -- $(ci_env github 913 github-hosted) GITHUB_TOKEN=$TOKEN; W[a2]=$wpid
waiter m ci/m --ci-takeover any -- $(ci_env github 914 github-hosted) GITHUB_REPOSITORY=acme/other GITHUB_TOKEN=$TOKEN; W[m]=$wpid
waiter b ci/b --ci-takeover any -- $(ci_env github 902 github-hosted) GITHUB_TOKEN=$TOKEN; W[b]=$wpid
waiter c ci/c -- $(ci_env github 903 github-hosted) GITHUB_TOKEN=$TOKEN; W[c]=$wpid
waiter d ci/d --ci-takeover any -- $(ci_env github 904 github-hosted) GITHUB_TOKEN=$TOKEN; W[d]=$wpid
waiter e ci/e --ci-takeover off -- $(ci_env github 905 github-hosted) GITHUB_TOKEN=$TOKEN; W[e]=$wpid
waiter f ci/f --ci-takeover any -- $(ci_env github 906 github-hosted) GITHUB_SERVER_URL=https://ghe.example.com GITHUB_TOKEN=$TOKEN; W[f]=$wpid
waiter g ci/g --ci-takeover any -- $(ci_env gitlab 801 my-runner) GITLAB_TOKEN=$TOKEN; W[g]=$wpid
waiter h ci/h --ci-takeover any -- $(ci_env gitlab 802 my-runner) GITLAB_TOKEN=$TOKEN; W[h]=$wpid
waiter k ci/k --ci-takeover any -- $(ci_env github 907 github-hosted) GITHUB_TOKEN=$TOKEN; W[k]=$wpid
for n in 503 506 507 508 509 510; do
	waiter e$n ci/e$n --ci-takeover any -- $(ci_env github 9$n github-hosted) GITHUB_TOKEN=$TOKEN; W[e$n]=$wpid
done
for n in "${!W[@]}"; do
	wait "${W[$n]}"
	is 0 $? "$n: the waiter took the lock and ran its command"
done

is lease "$(via a2)" "A2: --ci-takeover auto on a store without atomic If-Match: the lease"
like "$(cat "$TEST_TMP/a2.err")" "job 513 ended .*this store does not prove its conditional writes atomic" \
	"A2: says why it still waits"
is lease "$(via m)" "M: a holder in another repository: the lease"
is 0 "$(asks /actions/jobs/514)" "M: another repository's job is never asked about"
is lease "$(via b)" "B: a job in progress: the lease, not the CI"
ok "B: the API was asked about job 502" test "$(asks /actions/jobs/502)" -ge 1
ok "B: an answer 'in progress' is no warning" bash -c "! grep -q 'cannot tell' '$TEST_TMP/b.err'"

is lease "$(via c)" "C: a completed job on a self-hosted runner: the lease (--ci-takeover auto)"
like "$(cat "$TEST_TMP/c.err")" "job 504 ended .*may outlive its jobs: waiting for its lease" \
	"C: says the job ended and why it still waits"
is 1 "$(grep -c 'may outlive its jobs' "$TEST_TMP/c.err")" "C: says it once"

is ci "$(via d)" "D: --ci-takeover any takes a self-hosted runner's finished job over"

is lease "$(via e)" "E: --ci-takeover off: the lease"
is 0 "$(asks /actions/jobs/511)" "E: --ci-takeover off asks nothing"

is lease "$(via f)" "F: a holder on another GitHub server: the lease"
is 0 "$(asks /actions/jobs/512)" "F: no question (and no token) for another server's job"

is ci "$(via g)" "G: GitLab: a canceled job on a GitLab.com hosted runner is taken over"
like "$(awk '/^=== [0-9]* GET \/api\/v4\/projects\/42\/jobs\/701$/ { f = 1; next } f && /^PRIVATE-TOKEN:/ { print; exit }' "$STUB_LOG")" \
	"^PRIVATE-TOKEN: $TOKEN" "G: GitLab's token as PRIVATE-TOKEN"
like "$(cat "$TEST_TMP/g.err")" "job 701 ended .*\(canceled\)" "G: says why"

is lease "$(via h)" "H: GitLab 'canceling' is alive: the lease"

is lease "$(via k)" "K: a body whose proj is a path: the lease"
is 0 "$(stub_requests | grep -c -v -E '^GET /(repos/acme/infra/actions/jobs|api/v4/projects/42/jobs)/[0-9]+$')" \
	"K: no request but for a holder's job URL"

for n in 503:'another job or run' 506:'HTTP 401' 507:'HTTP 403, rate limited' 508:'HTTP 404' 509:'' 510:'not JSON'; do
	jid=${n%%:*} why=${n#*:}
	is lease "$(via e$jid)" "job $jid (${why:-connection closed}): the lease"
	is 1 "$(grep -c 'cannot tell whether' "$TEST_TMP/e$jid.err")" "job $jid: one warning line"
	[ -z "$why" ] || like "$(cat "$TEST_TMP/e$jid.err")" "cannot tell whether .*$why" "job $jid: the warning says '$why'"
done
is 1 "$(asks /actions/jobs/507)" "a rate limit's reset is waited for: one question about job 507"
ok "every question went to the waiters' own API base" test "$(stub_requests | wc -l)" -gt "$before"
ok "the token appears in no output of any run" bash -c "! grep -l '$TOKEN' '$TEST_TMP'/*.err '$TEST_TMP'/*.out '$TEST_TMP'/*.json"

# --- L: a live holder (renewing) whose job the API calls completed: never taken
# over; the answer is void once the holder renews (B14.3). A 300 s lease (30 s
# scaled): its renewals every H = 7.5 s come well inside H + m = 10.5 s.
env $(ci_env github 501 github-hosted) TFLOCK_KEY=ci/l TFLOCK_EVENT_LOG="$TEST_TMP/l.hevents" \
	"$TFLOCK" --lease 300s --no-queue -- "$TESTCHILD" touch="$TEST_TMP/l.run" \
	wait-file="$TEST_TMP/l.go" 2>"$TEST_TMP/l.h.err" &
holder=$!
wait_for "holder l" 30 test -e "$TEST_TMP/l.run" || bail "holder l"
q0=$(asks /actions/jobs/501)
waiter l ci/l --ci-takeover any --timeout 200s -- $(ci_env github 910 github-hosted) GITHUB_TOKEN=$TOKEN
wait "$wpid"
is 75 $? "L: the waiter gave up at its timeout (held)"
ok "L: it never took the live holder over" bash -c "! awk '\$3 == \"takeover\"' '$TEST_TMP/l.events' | grep -q ."
ok "L: it asked the API more than once (the answer was void after each renewal)" \
	test $(($(asks /actions/jobs/501) - q0)) -ge 2
touch "$TEST_TMP/l.go"
wait "$holder"
is 0 $? "L: the live holder's command ended normally (not lost)"

done_testing
