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

# a commit the clone does not know (shallow history)
printf '{"commit":"%s","who":"x","at":"2026-01-01T00:00:00Z"}' 0123456789012345678901234567890123456789 >"$TEST_TMP/rec"
S3_BODY_FILE=$TEST_TMP/rec s3_status PUT "/$bucket/$TFLOCK_KEY.applied.tflock" >/dev/null
"$TFLOCK" -- terraform apply -auto-approve 2>"$TEST_TMP/e7"
is 77 $? "a last-applied commit missing from this clone is refused"
like "$(cat "$TEST_TMP/e7")" "fetch the full history" "with the fix"

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
cd /
"$TFLOCK" --git-check on -- true 2>"$TEST_TMP/e9"
is 77 $? "--git-check on outside a repository refuses"
"$TFLOCK" -- terraform apply 2>/dev/null
is 0 $? "auto outside a repository: no check"
done_testing
