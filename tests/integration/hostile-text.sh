#!/bin/bash
# Issue 14: no foreign text reaches a terminal, a log or a CI runner raw. Lock
# bodies whose ID, Operation, Info, Who, Version, Path (and Tflock host/ci) hold
# terminal escapes, CR, bidi overrides, C1 controls, invalid UTF-8 and newlines
# followed by GitHub workflow commands or GitLab section markers are put in the
# bucket raw; then waiters (--no-wait, --timeout, -v, GitHub Actions, GitLab CI),
# `status` and `status --json` run against them, and an S3 error reply carries the
# same kind of text. Nothing tflock prints or writes may hold a raw control byte,
# a line starting with "::" or "section_" other than tflock's own, or a "##[";
# status --json stays valid JSON with the original strings; exit codes unchanged.
. "$top_srcdir/tests/integration/lib.sh"
plan_lazy
rgw_require
bucket=$(new_bucket)
tflock_env "$bucket"
J=$top_builddir/tests/helpers/jsonget
# valid_json FILE PATH — the document parses and has PATH (nothing printed)
valid_json() { "$J" "$1" "$2" >/dev/null; }
export LC_ALL=C

# The hostile fields, as JSON string contents (escapes decoded by the reader).
ID='\u001b[2J##[group]id\n::add-mask::idmask\u007f'
OP='\r\u001b[0Ksection_start:1:evil[collapsed=true]\r\u001b[0Kop\n  ::error::op'
INFO='\u202eofni \u2066x\u2069\n::stop-commands::tok\r\u001b[1A\u009b31m\u0085 ##[error]info'
WHO='\u001b[2J\u001b]0;pwned\u0007\n::add-mask::who\nBASH_ENV=/tmp/pwn\n  ::warning::w'
VER='v\u0007\u200f'
PTH='p\r\n::warning::path\nsection_end:1:x\r\u001b[0K'
HOST='\u001b]0;host\u0007\n::error::host'
CI='\nsection_start:1:ci\r\u001b[0K\n::add-mask::ci'

# A tflock body (class TFLOCK: status shows Lease and CI job lines) and a plain
# Terraform one with more (class FOREIGN: a \u0000 and a raw invalid byte).
printf '{"ID":"%s","Operation":"%s","Info":"%s","Who":"%s","Version":"%s","Created":"2024-05-01T12:00:00Z","Path":"%s","Tflock":{"v":1,"lease":120,"seq":1,"pid":4242,"host":"%s","boot":"b","ci":"%s","job":"9"}}' \
	"$ID" "$OP" "$INFO" "$WHO" "$VER" "$PTH" "$HOST" "$CI" >"$TEST_TMP/tflock.json"
printf '{"ID":"%s","Operation":"%s","Info":"%s\xff\xc3","Who":"%s","Version":"v\\u0000%s","Created":"2024-05-01T12:00:00Z","Path":"%s"}' \
	"$ID" "$OP" "$INFO" "$WHO" "$VER" "$PTH" >"$TEST_TMP/plain.json"
for kind in tflock plain; do
	S3_BODY_FILE=$TEST_TMP/$kind.json s3_status PUT "/$bucket/$kind/terraform.tfstate.tflock" >/dev/null
done

# tflock's own GitLab section lines (ESC and CR of its own): the wait's and the
# outcome's (held); taken out before checking. The outcome's body lines stay in.
own_section=$'^\e\\[0Ksection_(start|end):[0-9]+:tflock_(wait|held)(\\[collapsed=true\\])?\r\e\\[0K(tflock: waiting for the state lock|tflock: not acquired, the lock is held)?$'

# check_clean NAME FILE... — the assertions every output must pass
check_clean() {
	local name=$1 f bad=
	shift
	for f in "$@"; do
		[ -f "$f" ] || continue
		grep -avE "$own_section" "$f" >"$f.own-removed"
		# raw C0 (but the newline ending a line) and DEL
		if [ "$(tr -d '\n\040-\176\200-\377' <"$f.own-removed" | wc -c)" != 0 ]; then
			bad="$bad $(basename "$f"):control"
		fi
		# C1 controls as UTF-8, bidi controls, U+2028/U+2029
		if grep -aqP '\xc2[\x80-\x9f]|\xe2\x80[\x8e\x8f\xa8-\xae]|\xe2\x81[\xa6-\xa9]|\xd8\x9c' "$f.own-removed"; then
			bad="$bad $(basename "$f"):c1/bidi"
		fi
		# a workflow command other than tflock's own annotations, a GitLab marker
		if grep -aE '^[[:space:]]*::' "$f.own-removed" | grep -avqE '^::(warning|error) title=tflock%3A '; then
			bad="$bad $(basename "$f"):workflow-command"
		fi
		if grep -aqE '^[[:space:]]*section_' "$f.own-removed"; then
			bad="$bad $(basename "$f"):section"
		fi
		if grep -aqF '##[' "$f.own-removed"; then
			bad="$bad $(basename "$f"):legacy-command"
		fi
	done
	is "" "$bad" "$name: no raw control, bidi, '::', 'section_' or '##[' from the lock body"
	if [ -n "$bad" ]; then
		for f in "$@"; do [ -f "$f" ] && head -c 600 "$f" | od -c | head -12 | sed 's/^/# /'; done
	fi
}

# gh_names FILE — the names a GitHub file command sets, read as the runner does
# ("NAME<<DELIM" up to a line DELIM, else "NAME=VALUE"), then "closed" when no
# heredoc is left open
gh_names() {
	awk '
		d != "" { if ($0 == d) d = ""; next }
		(i = index($0, "<<")) && (!index($0, "=") || index($0, "=") > i) {
			print substr($0, 1, i - 1); d = substr($0, i + 2); next }
		(i = index($0, "=")) { print substr($0, 1, i - 1) }
		END { if (d == "") print "zz-closed" }' "$1" | sort | sed 's/^zz-//' | tr '\n' ' ' | sed 's/ $//'
}

gh_env() {
	local d=$TEST_TMP/$1
	mkdir -p "$d"
	: >"$d/output"
	: >"$d/env"
	: >"$d/summary"
	GH=(env GITHUB_ACTIONS=true GITHUB_OUTPUT="$d/output" GITHUB_ENV="$d/env"
		GITHUB_STEP_SUMMARY="$d/summary")
}

for kind in tflock plain; do
	export TFLOCK_KEY=$kind/terraform.tfstate
	d=$TEST_TMP/$kind
	mkdir -p "$d"

	# 1. --no-wait on GitHub Actions, with a JSON report
	gh_env "$kind/gh-nowait"
	"${GH[@]}" "$TFLOCK" --no-wait --report "$d/report.json" -- true \
		>"$d/nowait.out" 2>"$d/nowait.err"
	is 75 $? "$kind: --no-wait still exits 75"
	check_clean "$kind: --no-wait on GitHub" "$d/nowait.out" "$d/nowait.err" "$d/report.json" \
		"$TEST_TMP/$kind/gh-nowait/output" "$TEST_TMP/$kind/gh-nowait/summary"
	like "$(cat "$d/nowait.err")" "is held by .*x1b\[2J" "$kind: the holder is named, its ESC shown as \\x1b"
	ok "$kind: the report is valid JSON" valid_json "$d/report.json" outcome
	is "" "$(cat "$TEST_TMP/$kind/gh-nowait/env")" "$kind: \$GITHUB_ENV is not written"
	is "held-seconds lock-id outcome outcome-kind waited-seconds closed" \
		"$(gh_names "$TEST_TMP/$kind/gh-nowait/output")" \
		"$kind: \$GITHUB_OUTPUT, read as the runner reads it, sets tflock's five outputs only"
	is 5 "$(grep -c '<<ghadelimiter_' "$TEST_TMP/$kind/gh-nowait/output")" \
		"$kind: five outputs, each a heredoc"

	# 2. --timeout and -v on GitHub Actions: progress lines and the waited-for annotation
	gh_env "$kind/gh-timeout"
	"${GH[@]}" "$TFLOCK" -v --timeout 3s -- true >"$d/timeout.out" 2>"$d/timeout.err"
	is 75 $? "$kind: --timeout still exits 75"
	check_clean "$kind: --timeout -v on GitHub" "$d/timeout.out" "$d/timeout.err" \
		"$TEST_TMP/$kind/gh-timeout/output" "$TEST_TMP/$kind/gh-timeout/summary"
	like "$(cat "$d/timeout.err")" "waiting for .*: held by " "$kind: a progress line was printed"
	like "$(cat "$d/timeout.out")" "^::warning title=tflock%3A waited for the lock::" \
		"$kind: tflock's own annotation is there"
	like "$(cat "$TEST_TMP/$kind/gh-timeout/summary")" "Holders waited for" \
		"$kind: the step summary names the holder"

	# 3. GitLab CI: the wait section, its title and the lines inside
	GITLAB_CI=true "$TFLOCK" --timeout 2s -- true >"$d/gitlab.out" 2>"$d/gitlab.err"
	is 75 $? "$kind: on GitLab still exits 75"
	check_clean "$kind: GitLab CI" "$d/gitlab.out" "$d/gitlab.err"
	like "$(cat "$d/gitlab.err")" "section_start:[0-9]*:tflock_wait" "$kind: tflock's own section is there"
	like "$(grep -a -A1 'section_start:[0-9]*:tflock_held' "$d/gitlab.err" | tail -n 1)" \
		'^s3://.*held by .*\\x1b\[2J.*\(exit 75\)$' \
		"$kind: the outcome's section follows, the holder escaped in it"

	# 4. status and status --json
	"$TFLOCK" status >"$d/status.out" 2>"$d/status.err"
	is 75 $? "$kind: status still exits 75"
	check_clean "$kind: status" "$d/status.out" "$d/status.err"
	like "$(cat "$d/status.out")" "Who: +\\\\x1b\[2J\\\\x1b\]0;pwned\\\\x07\\\\n::add-mask::who" \
		"$kind: status shows Who with its controls escaped"
	"$TFLOCK" status --json >"$d/status.json" 2>"$d/status-json.err"
	is 75 $? "$kind: status --json still exits 75"
	check_clean "$kind: status --json" "$d/status.json" "$d/status-json.err"
	ok "$kind: status --json is valid JSON" valid_json "$d/status.json" who
done

# status --json round-trips the strings (the tflock body: no \u0000, no invalid UTF-8)
for f in ID:id OP:operation INFO:info WHO:who PTH:path; do
	var=${f%%:*} key=${f#*:}
	printf '{"s":"%s"}' "${!var}" >"$TEST_TMP/want.json"
	"$J" "$TEST_TMP/want.json" s >"$TEST_TMP/want"
	"$J" "$TEST_TMP/tflock/status.json" "$key" >"$TEST_TMP/got"
	ok "status --json round-trips $key" cmp -s "$TEST_TMP/want" "$TEST_TMP/got"
done

# 5. an S3 error reply with a hostile <Message> (raw bytes and character references)
printf '<?xml version="1.0"?><Error><Code>AccessDenied</Code><Message>\033[2J\033]0;pwned\007&#10;::add-mask::s3&#13;##[error]s3 \xe2\x80\xae\xc2\x9b&#x1b;[1m</Message><RequestId>tx\033[0m&#10;::error::r</RequestId></Error>' \
	>"$TEST_TMP/403.xml"
stub_http s3err "* / 403 $TEST_TMP/403.xml"
gh_env s3err
TFLOCK_KEY=s3err/terraform.tfstate TFLOCK_ENDPOINT=$STUB_URL "${GH[@]}" "$TFLOCK" --no-wait \
	-- true >"$TEST_TMP/s3err.out" 2>"$TEST_TMP/s3err.err"
is 69 $? "S3 error with hostile text: exits 69 (the store refused)"
check_clean "S3 error with hostile text" "$TEST_TMP/s3err.out" "$TEST_TMP/s3err.err" \
	"$TEST_TMP/s3err/output" "$TEST_TMP/s3err/summary"
like "$(cat "$TEST_TMP/s3err.err")" "AccessDenied" "the S3 error is still reported"
TFLOCK_KEY=s3err/terraform.tfstate TFLOCK_ENDPOINT=$STUB_URL "$TFLOCK" status \
	>"$TEST_TMP/s3err-status.out" 2>"$TEST_TMP/s3err-status.err"
is 69 $? "S3 error with hostile text: status exits 69"
check_clean "S3 error with hostile text, status" "$TEST_TMP/s3err-status.out" \
	"$TEST_TMP/s3err-status.err"

# 6. what tflock writes: a hostile CI identity never reaches the lock body raw
key=ours/terraform.tfstate
TFLOCK_KEY=$key GITHUB_ACTIONS=true GITHUB_ACTOR=$'eve\e]0;t\a\n::add-mask::x' \
	GITHUB_REPOSITORY=$'o/r\xe2\x80\xae' GITHUB_RUN_ID=1 GITHUB_JOB=$'j\r' RUNNER_NAME=r \
	GITHUB_OUTPUT= GITHUB_STEP_SUMMARY= "$TFLOCK" -- sh -c \
	'i=0; while [ ! -e "$0" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done' \
	"$TEST_TMP/go" >"$TEST_TMP/ours.out" 2>"$TEST_TMP/ours.err" &
pid=$!
wait_for "our lock" 30 lock_body "$bucket" "$key" >/dev/null
lock_body "$bucket" "$key" >"$TEST_TMP/ours.json"
touch "$TEST_TMP/go"
wait $pid
is 0 $? "a run with a hostile CI identity succeeds"
is "eve]0;t::add-mask::x@https://github.com/o/r/actions/runs/1" \
	"$("$J" "$TEST_TMP/ours.json" Who)" "Who in the body: controls and bidi stripped at write time"
ok_not "the body holds no escaped control (\\u00XX) or bidi: nothing raw for plain terraform" \
	grep -qE '\\u00[01][0-9a-f]|\\u202e|\\u007f|\\u0007' "$TEST_TMP/ours.json"
check_clean "a run with a hostile CI identity" "$TEST_TMP/ours.out" "$TEST_TMP/ours.err"
done_testing
