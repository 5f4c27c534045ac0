#!/bin/bash
# The pre-apply git checks (libgit2), with real repositories made in temp dirs:
# clean, dirty, detached, unexpected HEAD, and — the check no other tool makes —
# a commit older than the one applied last to this state, recorded next to the
# lock after each successful apply. Plus the repository's own pre-apply hook.
. "$top_srcdir/tests/integration/lib.sh"
plan_lazy
rgw_require
bucket=$(new_bucket)
tflock_env "$bucket"
export TFLOCK_KEY=git/terraform.tfstate
unset GITHUB_SHA CI_COMMIT_SHA
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.com GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.com
repo=$TEST_TMP/repo
git init -q -b main "$repo"
cd "$repo" || bail "no repo"
echo 'output "x" { value = 1 }' >main.tf
git add main.tf && git commit -qm one
c1=$(git rev-parse HEAD)
echo 'output "y" { value = 2 }' >>main.tf
git commit -qam two
c2=$(git rev-parse HEAD)
# a stand-in terraform: the checks apply to terraform apply/destroy
mkdir -p "$TEST_TMP/bin"
printf '#!/bin/sh\necho "terraform $*" >>"%s/tf.calls"\n' "$TEST_TMP" >"$TEST_TMP/bin/terraform"
chmod +x "$TEST_TMP/bin/terraform"
export PATH=$TEST_TMP/bin:$PATH
record() { s3 GET "/$bucket/$TFLOCK_KEY.applied.tflock" | sed '$d'; }

"$TFLOCK" -- terraform apply -auto-approve 2>"$TEST_TMP/e1"
is 0 $? "a clean repository at its newest commit: apply runs"
like "$(record)" "\"commit\":\"$c2\"" "the applied commit is recorded next to the lock"
like "$(record)" "\"branch\":\"main\"" "with its branch"

echo 'junk' >>main.tf
"$TFLOCK" -- terraform apply -auto-approve 2>"$TEST_TMP/e2"
is 77 $? "a dirty working tree is refused (77)"
like "$(cat "$TEST_TMP/e2")" "dirty \(1 path: main.tf\)" "naming a changed file"
"$TFLOCK" --allow-dirty -- terraform apply -auto-approve 2>/dev/null
is 0 $? "--allow-dirty overrides"
git checkout -q main.tf
"$TFLOCK" -- terraform plan 2>/dev/null
is 0 $? "plan is not subject to the apply checks (auto)"

echo scratch >untracked.txt
"$TFLOCK" -- terraform apply -auto-approve 2>"$TEST_TMP/e3"
is 77 $? "an untracked file makes the tree dirty too"
rm untracked.txt

# files terraform writes itself (not ignored here) are not the user's changes
# (no backend file in them: this test names its bucket and key in the environment)
mkdir -p .terraform/modules .terraform/providers tfdata
echo '{}' >.terraform/modules/modules.json
echo 'x' >.terraform/providers/p
echo '{}' >tfdata/modules.json
echo '{}' >errored.tfstate
echo 'panic' >crash.log
printf 'PK\003\004\024\0\0\0\010\0%016d\006\0\0\0tfplan' 0 >prod.tfplan
TF_DATA_DIR=tfdata "$TFLOCK" -- terraform apply -auto-approve prod.tfplan 2>"$TEST_TMP/e3b"
is 0 $? "terraform's own files (.terraform/, TF_DATA_DIR, a saved plan, crash.log, errored.tfstate) do not make the tree dirty"
echo scratch >notes.txt
TF_DATA_DIR=tfdata "$TFLOCK" -- terraform apply -auto-approve 2>"$TEST_TMP/e3c"
is 77 $? "a change of the user's beside them still does"
like "$(cat "$TEST_TMP/e3c")" "dirty \(1 path: notes.txt; terraform's own files are not counted\)" \
	"naming only that path, and saying terraform's own files were not counted"
"$TFLOCK" -- terraform apply -auto-approve 2>"$TEST_TMP/e3d"
is 77 $? "without TF_DATA_DIR, tfdata/ is the user's"
like "$(cat "$TEST_TMP/e3d")" "dirty \(2 paths: (notes.txt, tfdata/modules.json|tfdata/modules.json, notes.txt);" \
	"and both are named"
rm -rf .terraform tfdata errored.tfstate crash.log prod.tfplan notes.txt

"$TFLOCK" --expect-commit "$c1" -- terraform apply -auto-approve 2>"$TEST_TMP/e4"
is 77 $? "HEAD is not the commit CI expects: refused"
like "$(cat "$TEST_TMP/e4")" "CI expects ${c1:0:12}" "naming both commits"
GITHUB_SHA=$c2 "$TFLOCK" -- terraform apply -auto-approve 2>/dev/null
is 0 $? "GITHUB_SHA matching HEAD passes"

git checkout -q "$c1"
"$TFLOCK" -- terraform apply -auto-approve 2>"$TEST_TMP/e5"
is 77 $? "a detached HEAD at an older commit than the last applied is refused"
like "$(cat "$TEST_TMP/e5")" "older than ${c2:0:12}.*roll the infrastructure back" "saying it would roll back"
calls_before=$(grep -c 'terraform apply' "$TEST_TMP/tf.calls")
"$TFLOCK" -- terraform apply -auto-approve 2>/dev/null
is "$calls_before" "$(grep -c 'terraform apply' "$TEST_TMP/tf.calls")" "a refused apply never ran terraform"
is 404 "$(s3_status GET "/$bucket/$TFLOCK_KEY.tflock")" "and released the lock"
"$TFLOCK" check-git 2>"$TEST_TMP/e6"
is 77 $? "tflock check-git gives the same verdict without locking"
"$TFLOCK" --allow-older -- terraform apply -auto-approve 2>/dev/null
is 0 $? "--allow-older applies the older commit deliberately"
like "$(record)" "\"commit\":\"$c1\"" "and records it"

git checkout -q main
echo 'output "z" { value = 3 }' >>main.tf
git commit -qam three
"$TFLOCK" -- terraform apply -auto-approve 2>/dev/null
is 0 $? "a descendant of the last applied commit applies"

# a last applied commit nobody can place (not here, no origin, no API): a loud
# warning and the apply goes on; --git-check strict refuses
unlike_file() { ! grep -q "$1" "$2"; }
set_last() { # COMMIT
	printf '{"commit":"%s","who":"x","at":"2026-01-01T00:00:00Z"}' "$1" >"$TEST_TMP/rec"
	S3_BODY_FILE=$TEST_TMP/rec s3_status PUT "/$bucket/$TFLOCK_KEY.applied.tflock" >/dev/null
}
set_last 0123456789012345678901234567890123456789
"$TFLOCK" -- terraform apply -auto-approve 2>"$TEST_TMP/e7"
is 0 $? "a last-applied commit nobody can place: the apply goes on"
like "$(cat "$TEST_TMP/e7")" "cannot tell whether commit ${c2:0:0}[0-9a-f]{12} is older than 012345678901.*--git-check strict refuses" \
	"with a warning that says what to do"
set_last 0123456789012345678901234567890123456789
"$TFLOCK" --git-check strict -- terraform apply -auto-approve 2>"$TEST_TMP/e7s"
is 77 $? "--git-check strict refuses it"
like "$(cat "$TEST_TMP/e7s")" "fetch the full history \(fetch-depth: 0" "naming the fix"

# another line of history: a warning with both commits and their dates
git checkout -q -b side "$c1"
echo 'output "s" { value = 9 }' >>main.tf
git commit -qam side
side=$(git rev-parse HEAD)
git checkout -q main
set_last "$side"
"$TFLOCK" -- terraform apply -auto-approve 2>"$TEST_TMP/e7d"
is 0 $? "a commit on another line of history than the last applied goes on"
like "$(cat "$TEST_TMP/e7d")" "on another line of history than ${side:0:12} \([0-9-]+ [0-9:]+ UTC\)" \
	"with a warning naming both commits and their dates"

# a shallow clone (CI's depth 1) fetches the missing history from origin
git clone -q --bare "$repo" "$TEST_TMP/origin.git"
git clone -q --depth 1 "file://$TEST_TMP/origin.git" "$TEST_TMP/shallow"
cd "$TEST_TMP/shallow" || bail "no shallow clone"
{
	head=$(git rev-parse HEAD)
	set_last "$c2" # an ancestor of HEAD, beyond the shallow clone's one commit
	"$TFLOCK" -- terraform apply -auto-approve 2>"$TEST_TMP/s1"
	is 0 $? "shallow clone, last applied an ancestor not in it: fetched, the apply goes on"
	like "$(cat "$TEST_TMP/s1")" "not in this clone's history \(a shallow clone\): fetching it from origin" "(said)"
	ok "no warning: the fetched history told" unlike_file "cannot tell" "$TEST_TMP/s1"
	# a newer commit lands in origin after this clone was made
	git -C "$repo" checkout -q main
	echo 'output "n" { value = 5 }' >>"$repo/main.tf"
	git -C "$repo" commit -qam newer
	newer=$(git -C "$repo" rev-parse HEAD)
	git -C "$repo" push -q "$TEST_TMP/origin.git" main
	set_last "$newer"
	"$TFLOCK" -- terraform apply -auto-approve 2>"$TEST_TMP/s2"
	is 77 $? "shallow clone whose HEAD is older than the last applied (in origin): refused"
	like "$(cat "$TEST_TMP/s2")" "${head:0:12} .*is older than ${newer:0:12}.*history fetched from origin" \
		"saying so, and how it knows"
}
cd "$repo" || bail "no repo"

# the CI's API, when the clone cannot tell and a token is at hand (stand-ins)
start_api() { # ROUTE...
	rm -f "$TEST_TMP/api.port"
	"$STUB_HTTP" --port-file "$TEST_TMP/api.port" --log "$TEST_TMP/api.log" "$@" &
	api=$!
	wait_for "the API stand-in" 20 test -s "$TEST_TMP/api.port"
	api_url=http://127.0.0.1:$(cat "$TEST_TMP/api.port")
}
head=$(git rev-parse HEAD)
unknown=abcdefabcdefabcdefabcdefabcdefabcdefabcd
printf '{"status":"behind","ahead_by":0,"behind_by":3}' >"$TEST_TMP/behind.json"
start_api "GET /repos/acme/infra/compare/$unknown...$head 200 $TEST_TMP/behind.json"
set_last "$unknown"
GITHUB_ACTIONS=true GITHUB_API_URL=$api_url GITHUB_REPOSITORY=acme/infra GITHUB_TOKEN=ghs_sEcReT \
	"$TFLOCK" -v -- terraform apply -auto-approve 2>"$TEST_TMP/a1"
is 77 $? "GitHub's compare API says HEAD is behind the last applied: refused"
like "$(cat "$TEST_TMP/a1")" "is older than ${unknown:0:12}.*GitHub's compare API" "saying how it knows"
like "$(cat "$TEST_TMP/api.log")" "Authorization: Bearer ghs_sEcReT" "the token was sent to the API"
ok "and never printed" unlike_file ghs_sEcReT "$TEST_TMP/a1"
set_last "$unknown"
GITHUB_ACTIONS=true GITHUB_API_URL=$api_url GITHUB_REPOSITORY=acme/infra GITHUB_TOKEN=ghs_jobs \
	TFLOCK_GITHUB_TOKEN=ghs_tflocks "$TFLOCK" -- terraform apply -auto-approve 2>"$TEST_TMP/a1b"
is 77 $? "TFLOCK_GITHUB_TOKEN (the action's): refused the same way"
like "$(tail -n 20 "$TEST_TMP/api.log")" "Authorization: Bearer ghs_tflocks" "TFLOCK_GITHUB_TOKEN is preferred over GITHUB_TOKEN"
kill "$api" 2>/dev/null
wait "$api" 2>/dev/null
printf '{"id":"%s"}' "$head" >"$TEST_TMP/mb.json"
start_api "GET /projects/42/repository/merge_base 200 $TEST_TMP/mb.json"
set_last "$unknown"
GITLAB_CI=true CI_API_V4_URL=$api_url/ CI_PROJECT_ID=42 GITLAB_TOKEN=glpat-sEcReT \
	"$TFLOCK" -- terraform apply -auto-approve 2>"$TEST_TMP/a2"
is 77 $? "GitLab's merge base is HEAD (HEAD is older): refused"
like "$(cat "$TEST_TMP/api.log")" "PRIVATE-TOKEN: glpat-sEcReT" "with the token in PRIVATE-TOKEN"
like "$(cat "$TEST_TMP/api.log")" "refs%5B%5D=$unknown&refs%5B%5D=$head" "asking for the merge base of both"
kill "$api" 2>/dev/null
wait "$api" 2>/dev/null
set_last "$unknown"
GITHUB_ACTIONS=true GITHUB_API_URL=http://api.example.com GITHUB_REPOSITORY=acme/infra GITHUB_TOKEN=ghs_sEcReT \
	"$TFLOCK" -- terraform apply -auto-approve 2>"$TEST_TMP/a3"
is 0 $? "a token is never sent to a plain-http API (warned, went on)"
like "$(cat "$TEST_TMP/a3")" "not https: the token is not sent there" "saying why"

# the repository's own pre-apply hook
"$TFLOCK" --allow-older -- terraform apply -auto-approve 2>/dev/null
printf '#!/bin/sh\necho "hook $TFLOCK_HELD_ID" >"%s/hook.ran"\nexit 3\n' "$TEST_TMP" >.git/hooks/pre-apply
chmod +x .git/hooks/pre-apply
"$TFLOCK" -- terraform apply -auto-approve 2>"$TEST_TMP/e8"
is 77 $? "a pre-apply hook that exits non-zero refuses the apply"
like "$(cat "$TEST_TMP/hook.ran")" "^hook [0-9a-f-]{36}$" "the hook ran under the lock, with its ID"
like "$(cat "$TEST_TMP/e8")" "pre-apply hook .* refused \(exit 3\)" "the refusal names the hook"
# a linked worktree (git worktree add) runs the repository's hooks, as git does
rm -f "$TEST_TMP/hook.ran"
git worktree add -q "$TEST_TMP/wt" 2>/dev/null
(cd "$TEST_TMP/wt" && "$TFLOCK" -- terraform apply -auto-approve) 2>"$TEST_TMP/e8w"
is 77 $? "in a linked worktree the common .git/hooks/pre-apply runs too"
like "$(cat "$TEST_TMP/hook.ran" 2>/dev/null)" "^hook [0-9a-f-]{36}$" "(the hook ran)"
git worktree remove --force "$TEST_TMP/wt"
mkdir -p "$TEST_TMP/hooks"
printf '#!/bin/sh\nexit 0\n' >"$TEST_TMP/hooks/pre-apply"
chmod +x "$TEST_TMP/hooks/pre-apply"
git config core.hooksPath "$TEST_TMP/hooks"
"$TFLOCK" -- terraform apply -auto-approve 2>/dev/null
is 0 $? "core.hooksPath is honoured (its hook passes)"
# the shipped hook gets the overrides given to tflock (it runs tflock check-git)
cp "$top_srcdir/hooks/pre-apply" "$TEST_TMP/hooks/pre-apply"
git checkout -q "$c1"
PRE_APPLY_TFLOCK=$TFLOCK "$TFLOCK" --allow-older -- terraform apply -auto-approve 2>"$TEST_TMP/e10"
is 0 $? "the shipped pre-apply hook honours the --allow-older given to tflock"
git checkout -q main
cd /
"$TFLOCK" --git-check on -- true 2>"$TEST_TMP/e9"
is 77 $? "--git-check on outside a repository refuses"
"$TFLOCK" -- terraform apply 2>/dev/null
is 0 $? "auto outside a repository: no check"
done_testing
