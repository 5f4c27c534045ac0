#!/bin/bash
# Parked locks (PROTOCOL B14.4) against the real gateway (and dynalite for a
# table), with a stand-in CI API on loopback for a parking tied to its run:
#  - hold parks: a v 2 body with Terraform's seven keys, the handle file
#    (mode 0600) bound to ID and version; status shows it; a waiter waits and
#    says why; `tflock release` without the handle leaves it alone;
#  - resume in another process: same ID, the command runs, released after;
#    a stale handle (released, re-parked), another lock's, a malformed one:
#    76 / 64 with a clear line; release --handle-file drops it;
#  - hold with a command: exit 2 parks (exit 0), exit 0 and 1 release;
#  - expiry: a waiter takes it over no sooner than for + the skew margin after
#    the parking (a lower bound from logged CLOCK_BOOTTIME stamps); the late
#    resume then exits 76;
#  - tie run: the CI says the parking run completed → taken over at once;
#    a GitLab pipeline with a manual job still to play stays parked;
#  - both records (file and DynamoDB item) park and resume together.
. "$top_srcdir/tests/integration/lib.sh"
plan_lazy
rgw_require
bucket=$(new_bucket)
tflock_env "$bucket"
J=$top_builddir/tests/helpers/jsonget
cd "$TEST_TMP" || bail "no scratch directory"
scale=$TFLOCK_TIME_SCALE

# --- hold without a command
export TFLOCK_KEY=pk/a.tfstate
TFLOCK_EVENT_LOG=$TEST_TMP/a.hevents "$TFLOCK" hold --for 1h --note 'approval #42' \
	--handle-file a.json 2>a.err
is 0 $? "hold --for 1h parks and exits 0"
like "$(cat a.err)" "parked s3://$bucket/pk/a.tfstate.tflock until [0-9T:-]+Z .*note: approval #42" \
	"it says what it parked, until when, with the note"
is 600 "$(stat -c %a a.json)" "the handle file is mode 0600"
id=$("$J" a.json id)
like "$id" '^[0-9a-f-]{36}$' "the handle names the lock ID"
body=$(lock_body "$bucket" pk/a.tfstate)
like "$body" "^\{\"ID\":\"$id\",\"Operation\":\"OperationTypeApply\",\"Info\":\"[^\"]*\",\"Who\":\"[^\"]*\",\"Version\":\"[^\"]*\",\"Created\":\"[^\"]*\",\"Path\":\"$bucket/pk/a.tfstate\",\"Tflock\":\{\"v\":2," \
	"the body: Terraform's seven keys, then a v 2 Tflock part"
like "$body" '"park":\{"until":"[0-9T:-]+Z","for_ms":360000,"note":"approval #42","by":"","tie":"none","jname":""\}' \
	"the park object (for_ms scaled: 1h at a scale of 0.1)"
like "$body" '"Info":"parked by tflock hold for [^"]* until [0-9T:-]+Z \(note: approval #42\); .tflock status. shows more"' \
	"the file's Info, what plain terraform shows, says parked"
etag=$(s3 HEAD "/$bucket/pk/a.tfstate.tflock" -I | tr -d '\r' | sed -n 's/^[Ee][Tt]ag: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p')
is "$etag" "$("$J" a.json versions.0)" "the handle's version is the object's ETag"
"$TFLOCK" status >st.out 2>&1
is 75 $? "status: held (75)"
like "$(cat st.out)" "Parked: +until [0-9T:-]+Z \(tie none\)" "status shows the parking"
like "$(cat st.out)" "Note: +approval #42" "and its note"
"$TFLOCK" status --json >st.json 2>/dev/null
is "approval #42" "$("$J" st.json parked.note)" "status --json: parked.note"
"$TFLOCK" status --all --prefix pk/ >sa.out 2>sa.err
is 0 $? "status --all: a parked lock is no reason for 78"
like "$(cat sa.out)" "^parked +s3://$bucket/pk/a.tfstate.tflock .*parked until [0-9T:-]+Z" \
	"status --all: state parked, until when"
like "$(cat sa.err)" "1 parked, 0 held live" "status --all: counted as parked"

"$TFLOCK" --timeout 3s -- true 2>w.err
is 75 $? "a waiter gives up at its timeout: a parked lock is never stale by the lease"
like "$(cat w.err)" "waiting for s3://$bucket/pk/a.tfstate.tflock: parked by .*note: approval #42.* until [0-9T:-]+Z, [0-9hms.]+ left" \
	"the waiting line says parked, by whom, the note, until when and what is left"
"$TFLOCK" release 2>r.err
is 0 $? "tflock release without a handle exits 0"
like "$(cat r.err)" "parked by .*leaves a parked lock alone" "and leaves the parked lock alone"
ok "the parked lock is still there" test -n "$(lock_body "$bucket" pk/a.tfstate)"

# --- resume, re-park, stale handles, release by handle
TFLOCK_EVENT_LOG=$TEST_TMP/a.revents "$TFLOCK" hold --for 1h --resume a.json \
	--handle-file a2.json 2>a2.err
is 0 $? "hold --resume re-parks (a re-run of the plan job)"
is "$id" "$("$J" a2.json id)" "re-parked with the same ID"
ok "at a new version" test "$("$J" a.json versions.0)" != "$("$J" a2.json versions.0)"
"$TFLOCK" run --resume a.json -- "$TESTCHILD" exit=0 2>s.err
is 76 $? "resume with the older handle: 76"
like "$(cat s.err)" "re-parked or changed since the handle was written" "it says the handle is stale"
printf '{"v":1}' >bad.json
"$TFLOCK" run --resume bad.json -- true 2>b.err
is 64 $? "a malformed handle: 64"
like "$(cat b.err)" "is not a tflock handle" "it says so"
TFLOCK_KEY=pk/other.tfstate "$TFLOCK" run --resume a2.json -- true 2>o.err
is 64 $? "a handle for another lock: 64"
like "$(cat o.err)" "the handle \"a2.json\" is for s3://$bucket/pk/a.tfstate.tflock, not s3://$bucket/pk/other.tfstate.tflock" \
	"it names both locks"
TFLOCK_EVENT_LOG=$TEST_TMP/a.xevents "$TFLOCK" run --resume a2.json -- "$TESTCHILD" --log x.log \
	exit=0 2>x.err
is 0 $? "resume with the current handle: the command runs under the lock, exit 0"
like "$(cat x.err)" "resumed s3://$bucket/pk/a.tfstate.tflock, parked as ID $id" "it says it resumed"
ok "the command ran" grep -q '^start ' x.log
like "$(grep ' acquired ' a.xevents)" "id=$id how=resumed" "the resume holds the parked ID"
ok "the resumed lock was renewed and released" grep -q ' released ' a.xevents
is 404 "$(s3_status GET "/$bucket/pk/a.tfstate.tflock")" "released after the command"
"$TFLOCK" run --resume a2.json -- true 2>y.err
is 76 $? "resume again once released: 76"
like "$(cat y.err)" "not locked: the parked lock was released" "it says it was released"

export TFLOCK_KEY=pk/r.tfstate
"$TFLOCK" hold --for 1h --handle-file r.json 2>/dev/null
is 0 $? "parked again"
printf '{"v":1,"lock":"s3://%s/pk/r.tfstate.tflock","id":"%s","versions":["0000"],"run":""}' \
	"$bucket" "$("$J" r.json id)" >r-wrong.json
"$TFLOCK" release --handle-file r-wrong.json 2>rw.err
is 76 $? "release with a handle of another version: 76, nothing removed"
ok "still parked" test -n "$(lock_body "$bucket" pk/r.tfstate)"
"$TFLOCK" release --handle-file r.json 2>rr.err
is 0 $? "release --handle-file drops the parked lock"
is 404 "$(s3_status GET "/$bucket/pk/r.tfstate.tflock")" "it is gone"

# --- the plan job run again re-parks its own parking at once (same run, same job)
export TFLOCK_KEY=pk/rr.tfstate
rr="GITHUB_ACTIONS=true GITHUB_REPOSITORY=acme/infra GITHUB_RUN_ID=555 GITHUB_RUN_ATTEMPT=1 RUNNER_NAME=r"
env $rr GITHUB_JOB=plan "$TFLOCK" hold --for 1h --tie run --handle-file rr1.json 2>/dev/null
is 0 $? "parked by job 'plan' of run 555"
TFLOCK_EVENT_LOG=$TEST_TMP/rr.events env $rr GITHUB_RUN_ATTEMPT=2 GITHUB_JOB=plan "$TFLOCK" hold \
	--for 1h --tie run --handle-file rr2.json 2>rr2.err
is 0 $? "the same job of the same run, attempt 2: re-parked"
like "$(awk '$3 == "takeover"' rr.events)" "via=own-parking" "taken at once, as its own parking"
like "$(cat rr2.err)" "parked by this job of this run, run again" "it says why"
ok "a new handle, a new ID" test "$("$J" rr1.json id)" != "$("$J" rr2.json id)"
env $rr GITHUB_JOB=lint "$TFLOCK" hold --for 1h --timeout 3s --handle-file rr3.json 2>rr3.err
is 75 $? "another job of the same run waits for the parking (75 at its timeout)"
"$TFLOCK" release --handle-file rr2.json 2>/dev/null
is 404 "$(s3_status GET "/$bucket/pk/rr.tfstate.tflock")" "released by the new handle"

# --- one handle, two resumes at once: exactly one runs its command
export TFLOCK_KEY=pk/two.tfstate
"$TFLOCK" hold --for 1h --handle-file two.json 2>/dev/null
is 0 $? "parked for the double resume"
for n in 1 2; do
	"$TFLOCK" run --resume two.json -- "$TESTCHILD" --log "two$n.log" sleep=500 exit=0 2>"two$n.err" &
	eval "r$n=\$!"
done
wait "$r1"
c1=$?
wait "$r2"
c2=$?
is "0 76" "$(printf '%s\n' "$c1" "$c2" | sort -n | paste -sd' ')" \
	"two resumes of one handle: one runs (0), the other is refused (76)"
is 1 "$(cat two1.log two2.log 2>/dev/null | grep -c '^start ')" "exactly one command ran"
is 404 "$(s3_status GET "/$bucket/pk/two.tfstate.tflock")" "released after"

# --- status --watch and unlock --force never call a parked lock stale
export TFLOCK_KEY=pk/w.tfstate
"$TFLOCK" hold --for 1h --handle-file w.json 2>/dev/null
"$TFLOCK" status --watch >ww.out 2>ww.err
ok "status --watch does not call it stale" bash -c "! grep -q 'Stale: *yes' ww.out"
like "$(cat ww.err)" "is parked: no process renews it" "it says why it does not watch"
"$TFLOCK" unlock --force 2>wf.err
is 75 $? "unlock --force refuses a parked lock (75)"
like "$(cat wf.err)" "--force never removes a parked lock" "saying so"
ok "still parked" test -n "$(lock_body "$bucket" pk/w.tfstate)"
"$TFLOCK" release --handle-file w.json 2>/dev/null

# --- a cancelled hold never parks
export TFLOCK_KEY=pk/x.tfstate
"$TFLOCK" hold --for 1h --handle-file x.json -- "$TESTCHILD" --log x2.log touch=x2.run \
	wait-file=never-there 2>x2.err &
hpid=$!
wait_for "the held command" 30 test -e x2.run
kill -INT "$hpid"
wait "$hpid"
ok "a cancelled hold exits non-zero" test $? != 0
is 404 "$(s3_status GET "/$bucket/pk/x.tfstate.tflock")" "and released the lock, not parked"
ok "no handle written" test ! -e x.json

# --- hold with a command: 2 parks, 0 and 1 release
export TFLOCK_KEY=pk/c.tfstate
"$TFLOCK" hold --for 1h --handle-file c.json -- "$TESTCHILD" exit=2 2>c.err
is 0 $? "hold -- COMMAND (exit 2: changes) parks and exits 0"
like "$(lock_body "$bucket" pk/c.tfstate)" '"v":2,' "parked"
"$TFLOCK" release --handle-file c.json 2>/dev/null
"$TFLOCK" hold --for 1h --handle-file c0.json -- "$TESTCHILD" exit=0 2>c0.err
is 0 $? "exit 0 (no changes): released, exit 0"
is 404 "$(s3_status GET "/$bucket/pk/c.tfstate.tflock")" "nothing parked"
ok "no handle written" test ! -e c0.json
"$TFLOCK" hold --for 1h --handle-file c1.json -- "$TESTCHILD" exit=1 2>c1.err
is 1 $? "exit 1 (failed): released, the command's exit"
is 404 "$(s3_status GET "/$bucket/pk/c.tfstate.tflock")" "nothing parked"
"$TFLOCK" hold --handle-file c1.json -- true 2>h.err
is 64 $? "hold without --for: 64"
like "$(cat h.err)" "hold needs --for DUR" "it says so"

# --- expiry: for 20 s (2 s scaled) + the skew margin (60 s, 6 s scaled)
export TFLOCK_KEY=pk/e.tfstate
TFLOCK_EVENT_LOG=$TEST_TMP/e.hevents "$TFLOCK" hold --for 20s --handle-file e.json 2>/dev/null
is 0 $? "parked for 20s"
TFLOCK_EVENT_LOG=$TEST_TMP/e.wevents "$TFLOCK" -- true 2>e.err
is 0 $? "a waiter takes the expired parking over and runs"
like "$(awk '$3 == "takeover"' e.wevents)" "via=park-expiry" "by the parking's end"
park=$(awk '$3 == "park" { print $1; exit }' e.hevents)
take=$(awk '$3 == "takeover" { print $1; exit }' e.wevents)
need=$(awk -v s="$scale" 'BEGIN { printf "%.0f", (20000 + 60000) * s * 1000000 }')
diag "parked at $park, taken over at $take, for + margin $need ns"
ok "never before for + the skew margin after the parking" test $((take - park)) -ge "$need"
like "$(cat e.err)" "took over .*its parking ended \(until [0-9T:-]+Z\)" "the takeover says why"
"$TFLOCK" run --resume e.json -- true 2>el.err
is 76 $? "the late resume: 76"

# --- tie run: the CI says the parking run ended
printf '{"id":100,"status":"completed","conclusion":"cancelled","run_attempt":1,"updated_at":"2026-01-01T00:00:00Z"}' >run-done.json
printf '{"id":300,"status":"success","finished_at":"2026-01-01T00:00:00Z"}' >pl-success.json
printf '[{"id":9,"status":"manual","name":"apply"}]' >pl-manual.json
stub_http api "GET /repos/acme/infra/actions/runs/100 200 $TEST_TMP/run-done.json
GET /api/v4/projects/42/pipelines/300/jobs 200 $TEST_TMP/pl-manual.json
GET /api/v4/projects/42/pipelines/300 200 $TEST_TMP/pl-success.json"
gh="GITHUB_ACTIONS=true GITHUB_REPOSITORY=acme/infra GITHUB_RUN_ATTEMPT=1 GITHUB_JOB=plan RUNNER_NAME=r1 GITHUB_API_URL=$STUB_URL GITHUB_TOKEN=tok-1"
export TFLOCK_KEY=pk/t.tfstate
env $gh GITHUB_RUN_ID=100 GITHUB_OUTPUT="$TEST_TMP/gh-output" "$TFLOCK" hold --for 1h --tie run \
	--handle-file t.json 2>/dev/null
is 0 $? "parked with --tie run on GitHub"
like "$(cat gh-output)" "^handle=\{\"v\":1,\"lock\":\"s3://$bucket/pk/t.tfstate.tflock\"" \
	"the handle is also the step output 'handle'"
is 100 "$("$J" t.json run)" "the handle names the parking run"
env $gh GITHUB_RUN_ID=101 "$TFLOCK" run --resume t.json -- true 2>tr.err
is 64 $? "resume from another run of a --tie run parking: 64"
like "$(cat tr.err)" "parked for run 100 \(--tie run\), not this one" "it says whose it is"
TFLOCK_EVENT_LOG=$TEST_TMP/t.wevents env $gh GITHUB_RUN_ID=102 "$TFLOCK" -- true 2>t.err
is 0 $? "a waiter in another run takes it over once the parking run completed"
like "$(awk '$3 == "takeover"' t.wevents)" "via=ci" "on the CI's word"
like "$(cat t.err)" "the CI says the holder's run 100 attempt 1 ended" "and says so"
is 1 "$(stub_requests | grep -c '^GET /repos/acme/infra/actions/runs/100$')" "one question about the run"

gl="GITLAB_CI=true CI_SERVER_URL=https://gitlab.example.com CI_PROJECT_ID=42 CI_API_V4_URL=$STUB_URL/api/v4 GITLAB_TOKEN=tok-2 CI_JOB_NAME=plan"
export TFLOCK_KEY=pk/g.tfstate
env $gl CI_PIPELINE_ID=300 CI_JOB_ID=7 "$TFLOCK" hold --for 1h --tie run --handle-file g.json 2>/dev/null
is 0 $? "parked with --tie run on GitLab"
env $gl CI_PIPELINE_ID=301 CI_JOB_ID=8 "$TFLOCK" --timeout 5s -- true 2>g.err
is 75 $? "a pipeline 'success' with a manual job to play keeps the parking (waiter times out)"
ok "the manual jobs were asked about" test "$(stub_requests | grep -c '^GET /api/v4/projects/42/pipelines/300/jobs?scope%5B%5D=manual&per_page=1$')" -ge 1
ok "no takeover" bash -c "! grep -q 'took over' '$TEST_TMP/g.err'"
env $gl CI_PIPELINE_ID=300 CI_JOB_ID=9 "$TFLOCK" run --resume g.json -- true 2>/dev/null
is 0 $? "the manual apply job of the same pipeline resumes it"

# --- both records: the file and the DynamoDB item park and resume together
if need_ddb --optional; then
	table=tfl-park-$$
	ddb_table create "$table" >/dev/null || bail "cannot create table $table"
	export TFLOCK_KEY=pk/d.tfstate TFLOCK_DYNAMODB_TABLE=$table
	"$TFLOCK" hold --for 1h --handle-file d.json 2>d.err
	is 0 $? "both records parked"
	like "$(cat d.json)" '"versions":\["[^"]+","[^"]+"\]' "the handle names two versions"
	like "$(ddb_table get "$table" "$bucket/pk/d.tfstate")" '\\"v\\":2' "the item's Tflock part is v 2"
	"$TFLOCK" run --resume d.json -- true 2>dr.err
	is 0 $? "both resumed, the command ran, both released"
	is "{}" "$(ddb_table get "$table" "$bucket/pk/d.tfstate")" "the item is gone"
	is 404 "$(s3_status GET "/$bucket/pk/d.tfstate.tflock")" "the file is gone"
	unset TFLOCK_DYNAMODB_TABLE
else
	skip "no DynamoDB test server (dynalite): the two-record parking is not tested here"
fi

done_testing
