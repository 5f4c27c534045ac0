# lib.sh — shared set-up for integration tests: TAP, a scratch directory, the
# local RADOS Gateway and signed raw requests. Source it from a test script.
#
# rgw_require        make sure the local RGW runs (boot it if needed, shared by
#                    all tests of the run under a flock) and export its endpoint
#                    and keys; a server that cannot start fails the test loudly
# new_bucket [TAG]   create a fresh bucket for this test, print its name
# s3 METHOD PATH [CURL-ARGS...]   signed raw request; prints the body, then the
#                    status on the last line (the payload hash header is added)
# proxy_start, stub_http   a fault-injecting proxy, a canned-answer server
# ci_tools_require   the CI-template tools from npm (action-validator, yaml,
#                    gitlab-ci-local), once per build tree
# seed_build ROOT KEY  a cached build of the tflock under test, as the CI
#                    installer keeps one

. "${top_srcdir:?run through make check}/tests/tap/libtap.sh"

TFLOCK=${TFLOCK:-$top_builddir/tflock}
test_name=$(basename "$0" .sh)
# On exit: when a check failed, the tail of every *.err the test kept (tflock's
# stderr, mostly) goes to the log, then the scratch directory is removed.
test_cleanup() {
	local f
	if [ "${_tap_failed:-0}" -gt 0 ]; then
		for f in "$TEST_TMP"/*.err; do
			[ -s "$f" ] || continue
			diag "--- ${f##*/} (last 20 lines)"
			tail -n 20 "$f" | sed 's/^/#   /'
		done
	fi
	rm -rf "$TEST_TMP"
}
if [ -n "${TEST_TMP:-}" ] && [ -d "$TEST_TMP" ] && [ "${TEST_TMP_OWNER:-}" != "$$" ]; then
	: # a helper script a test runs (a stand-in, a child): the test's own directory
else
	TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/tflock-$test_name.XXXXXX")
	TEST_TMP_OWNER=$$
	export TEST_TMP TEST_TMP_OWNER
	trap test_cleanup EXIT
fi

rgw_require() {
	local run=${TFLOCK_TEST_RGW_RUN:?}
	if [ -z "${TFLOCK_TEST_S3_ENDPOINT:-}" ]; then
		mkdir -p "$(dirname "$run")"
		(
			flock 9
			# fd 9 (the flock) must not be inherited by the daemons: they would hold it
			"$top_srcdir/tests/helpers/rgw-start" "$run" >"$run.boot.log" 2>&1 9>&-
		) 9>"$run.lock" || {
			cat "$run.boot.log" | sed 's/^/# /'
			bail "cannot start the local RADOS Gateway: read $run.boot.log and $run/log/"
		}
		. "$run/env"
	fi
	export TFLOCK_TEST_S3_ENDPOINT TFLOCK_TEST_ACCESS_KEY TFLOCK_TEST_SECRET_KEY
}

# ci_tools_require: the CI-template tools from the npm registry (action-validator,
# yaml, gitlab-ci-local), installed once into $top_builddir/tests/npm-cache (or
# TFLOCK_TEST_NPM_PREFIX); sets AV, GCL and NODE_PATH. Bails without node/npm.
ci_tools_require() {
	command -v node >/dev/null && command -v npm >/dev/null ||
		bail "node and npm are needed (Debian: apt-get install nodejs npm)"
	NPM_PREFIX=${TFLOCK_TEST_NPM_PREFIX:-$top_builddir/tests/npm-cache}
	npm_pkgs="@action-validator/cli@0.6.0 yaml@2.9.1 gitlab-ci-local@4.70.0"
	mkdir -p "$NPM_PREFIX"
	(
		flock 9
		if [ "$(cat "$NPM_PREFIX/.pkgs" 2>/dev/null)" != "$npm_pkgs" ]; then
			# shellcheck disable=SC2086
			npm install --prefix "$NPM_PREFIX" --no-audit --no-fund --loglevel=error $npm_pkgs \
				>"$NPM_PREFIX/install.log" 2>&1 || exit 1
			printf '%s\n' "$npm_pkgs" >"$NPM_PREFIX/.pkgs"
		fi
	) 9>"$NPM_PREFIX/.lock" || {
		sed 's/^/# /' "$NPM_PREFIX/install.log"
		bail "npm install $npm_pkgs failed (log above)"
	}
	AV=$NPM_PREFIX/node_modules/.bin/action-validator
	GCL=$NPM_PREFIX/node_modules/.bin/gitlab-ci-local
	export NODE_PATH=$NPM_PREFIX/node_modules
}

# seed_build ROOT KEY: a "restored" build of the tflock under test, as
# ci-templates/install-tflock.sh keeps one (ROOT/KEY/bin/tflock, ROOT/KEY/.key)
seed_build() {
	mkdir -p "$1/$2/bin"
	ln -sf "$TFLOCK" "$1/$2/bin/tflock"
	printf '%s\n' "$2" >"$1/$2/.key"
}

_sha256_file() { sha256sum "$1" | cut -d' ' -f1; }

# s3 METHOD PATH [extra curl args]; body from $S3_BODY_FILE when set
s3() {
	local method=$1 path=$2
	shift 2
	local hash=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
	local data=()
	if [ -n "${S3_BODY_FILE:-}" ]; then
		hash=$(_sha256_file "$S3_BODY_FILE")
		data=(--data-binary "@$S3_BODY_FILE")
	fi
	curl -s -S --max-time 20 -X "$method" -w '\n%{http_code}' \
		--aws-sigv4 "aws:amz:us-east-1:s3" \
		--user "$TFLOCK_TEST_ACCESS_KEY:$TFLOCK_TEST_SECRET_KEY" \
		-H "x-amz-content-sha256: $hash" "${data[@]}" "$@" \
		"$TFLOCK_TEST_S3_ENDPOINT$path"
}

# status of the last line of s3's output
s3_status() { s3 "$@" | tail -n 1; }

new_bucket() {
	local tag=${1:-b}
	local name
	name=$(printf 'tfl-%s-%s-%s' "$test_name" "$tag" "$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')" |
		tr 'A-Z_.' 'a-z--' | cut -c1-63)
	local st
	st=$(s3_status PUT "/$name")
	[ "$st" = 200 ] || bail "cannot create bucket $name (HTTP $st)"
	printf '%s\n' "$name"
}

# tflock_env BUCKET — point tflock at the local gateway and the given bucket;
# every duration scaled down 10x (and up again by TFLOCK_TEST_TIME_SCALE).
tflock_env() {
	export AWS_ACCESS_KEY_ID=$TFLOCK_TEST_ACCESS_KEY
	export AWS_SECRET_ACCESS_KEY=$TFLOCK_TEST_SECRET_KEY
	export TFLOCK_ENDPOINT=$TFLOCK_TEST_S3_ENDPOINT
	export TFLOCK_BUCKET=$1
	# a DynamoDB table named anywhere (a backend's dynamodb_table) is reached on
	# loopback only: the test server when there is one, else a closed port
	export AWS_ENDPOINT_URL_DYNAMODB=${TFLOCK_TEST_DDB_ENDPOINT:-http://127.0.0.1:9}
	export TFLOCK_TIME_SCALE
	TFLOCK_TIME_SCALE=$(awk -v s="${TFLOCK_TEST_TIME_SCALE:-1}" 'BEGIN { printf "%g", 0.1 * s }')
}

NOW=$top_builddir/tests/helpers/now
TESTCHILD=$top_builddir/tests/helpers/testchild

# wait_for DESC SECONDS CMD... — bounded poll until CMD succeeds (scaled)
wait_for() {
	local desc=$1 secs=$2 i
	shift 2
	secs=$(awk -v s="$secs" -v k="${TFLOCK_TEST_TIME_SCALE:-1}" 'BEGIN { printf "%d", s * k * 10 }')
	for ((i = 0; i < secs; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	diag "timed out waiting for: $desc"
	return 1
}

# lock_body BUCKET KEY — the raw lock object (empty output when absent)
lock_body() {
	local out
	out=$(s3 GET "/$1/$2.tflock")
	[ "$(printf '%s' "$out" | tail -n 1)" = 200 ] || return 1
	printf '%s' "$out" | sed '$d'
}

TFCOMPAT=$top_builddir/tests/helpers/tfcompat/tfcompat
export TFCOMPAT
TF_LOCKCLIENT=$top_srcdir/tests/helpers/tf-lockclient
# (tfcompat is built by make check only where a Go toolchain is on PATH: tests
# that need it skip without it, saying so)

# tf_force_unlock BUCKET KEY ID — Terraform's force-unlock: tf-lockclient where
# tfcompat is built; without Go, the same requests made here (GET the lock,
# compare its ID, one unconditional DELETE). Exit 0 when the lock was deleted.
tf_force_unlock() {
	if [ -x "$TFCOMPAT" ]; then
		"$TF_LOCKCLIENT" unlock "$@"
		return
	fi
	local body
	body=$(lock_body "$1" "$2") || return 1
	case $body in *"\"ID\":\"$3\""*) ;; *) return 1 ;; esac
	[ "$(s3_status DELETE "/$1/$2.tflock")" = 204 ]
}

# proxy_start — a fault-injecting proxy in front of the gateway; sets PROXY_URL,
# PROXY_LOG and PROXY_RULES (rewrite it with proxy_rules to change faults).
# The proxy is stopped when the test exits.
FAULTPROXY=$top_builddir/tests/helpers/faultproxy
proxy_start() {
	PROXY_LOG=$TEST_TMP/proxy.log
	PROXY_RULES=$TEST_TMP/proxy.rules
	: >"$PROXY_RULES"
	"$FAULTPROXY" --upstream "$TFLOCK_TEST_S3_ENDPOINT" --port-file "$TEST_TMP/proxy.port" \
		--log "$PROXY_LOG" --rules "$PROXY_RULES" --idle-exit 300 2>"$TEST_TMP/proxy.err" &
	PROXY_PID=$!
	trap 'kill $PROXY_PID 2>/dev/null; test_cleanup' EXIT
	wait_for "proxy port" 20 test -s "$TEST_TMP/proxy.port" || bail "faultproxy did not start"
	PROXY_URL=http://127.0.0.1:$(cat "$TEST_TMP/proxy.port")
}
# stub_http NAME ROUTE... — a canned-answer server (tests/helpers/stub-http; its
# header comment has the route format) on loopback; sets STUB_URL and STUB_LOG
# ($TEST_TMP/NAME.log). It exits with the test (parent-death signal), so call
# this in the test's own shell, never in $(...).
STUB_HTTP=$top_builddir/tests/helpers/stub-http
stub_http() {
	local name=$1 i
	shift
	rm -f "$TEST_TMP/$name.port"
	STUB_LOG=$TEST_TMP/$name.log
	"$STUB_HTTP" --port-file "$TEST_TMP/$name.port" --log "$STUB_LOG" --idle 300 "$@" \
		2>"$TEST_TMP/$name.stub-err" &
	wait_for "stub-http $name" 20 test -s "$TEST_TMP/$name.port" ||
		bail "stub-http did not start: $(cat "$TEST_TMP/$name.stub-err")"
	STUB_URL=http://127.0.0.1:$(cat "$TEST_TMP/$name.port")
}
# stub_requests — the requests STUB_LOG holds, one "METHOD TARGET" a line
stub_requests() { sed -n 's/^=== [0-9]* //p' "$STUB_LOG"; }

# proxy_rules LINE... — replace the rules atomically
proxy_rules() {
	printf '%s\n' "$@" >"$PROXY_RULES.tmp"
	mv "$PROXY_RULES.tmp" "$PROXY_RULES"
}

# counter_setup BUCKET — a counter object set to 0 and $TEST_TMP/rmw, a command
# that read-modify-writes it once, logging "enter/exit <boottime ns> <tag>" to
# $TEST_TMP/intervals (for the mutual-exclusion tests)
counter_setup() {
	local bucket=$1
	printf 0 >"$TEST_TMP/zero"
	S3_BODY_FILE=$TEST_TMP/zero s3_status PUT "/$bucket/counter" >/dev/null
	cat >"$TEST_TMP/rmw" <<RMW
#!/bin/bash
. "$top_srcdir/tests/integration/lib.sh" >/dev/null
trap - EXIT
echo "enter \$($NOW) \$1" >>"$TEST_TMP/intervals"
v=\$(s3 GET "/$bucket/counter" | sed '\$d')
printf '%d' \$((v + 1)) >"$TEST_TMP/val.\$\$"
st=\$(S3_BODY_FILE="$TEST_TMP/val.\$\$" s3_status PUT "/$bucket/counter")
rm -f "$TEST_TMP/val.\$\$"
echo "exit \$($NOW) \$1" >>"$TEST_TMP/intervals"
[ "\$st" = 200 ]
RMW
	chmod +x "$TEST_TMP/rmw"
}

# mkbackend DIR [SED] — the backend file `terraform init` writes
# (DIR/terraform.tfstate, shape from tests/corpus/backend), pointed at $bucket on
# the local gateway; SED edits it further
mkbackend() {
	mkdir -p "$1"
	sed -e "s|\"bucket\": \"acme-tfstate\"|\"bucket\": \"$bucket\"|" \
		-e "s|\"region\": \"eu-west-1\"|\"region\": \"us-east-1\"|" \
		-e "s|\"use_path_style\": null|\"use_path_style\": true|" \
		-e "s|\"endpoints\": null|\"endpoints\": {\"s3\": \"$TFLOCK_TEST_S3_ENDPOINT\", \"sts\": null, \"iam\": null, \"dynamodb\": \"${TFLOCK_TEST_DDB_ENDPOINT:-http://127.0.0.1:9}\", \"sso\": null}|" \
		${2:+-e "$2"} "$top_srcdir/tests/corpus/backend/tf111-minimal.tfstate" >"$1/terraform.tfstate"
}

# real_tf_main KEY [EXTRA] — a main.tf (in the current directory) for the real
# terraform binary: the s3 backend on the local gateway for $bucket/KEY with the
# lock file, then EXTRA (HCL) and an output
real_tf_main() {
	cat >main.tf <<TF
terraform {
  backend "s3" {
    bucket                      = "$bucket"
    key                         = "$1"
    region                      = "us-east-1"
    endpoints                   = { s3 = "$TFLOCK_TEST_S3_ENDPOINT" }
    use_path_style              = true
    use_lockfile                = true
    skip_credentials_validation = true
    skip_region_validation      = true
    skip_requesting_account_id  = true
    skip_metadata_api_check     = true
  }
}
${2:-}
output "x" { value = "hello" }
TF
}

# need_ddb — the DynamoDB test server (dynalite, tests/helpers/ddb-start): the
# run's when TFLOCK_TEST_DDB_RUN names its directory (tests/run.sh boots one),
# else TFLOCK_TEST_DDB_ENDPOINT when already set (a test's helper script, or a
# server of your own), else a private one for this test, stopped at exit (and
# by its own watchdog within a second when the test dies or its EXIT trap is
# replaced). Exports TFLOCK_TEST_DDB_ENDPOINT, TFLOCK_TEST_DDB_VERSION and
# AWS_ENDPOINT_URL_DYNAMODB. Skips the whole test, saying why, only when node
# or dynalite is not installed (tests/install-deps.sh installs them); a server
# that cannot start fails it. Call it in the test's own shell, before any check.
# need_ddb --optional: return 1 instead of skipping, for a test with checks of
# its own beside the server's. ddb_require is need_ddb; ddb_table ARGS runs
# tests/helpers/ddb-table on the server.
need_ddb() {
	local run=${TFLOCK_TEST_DDB_RUN:-}
	if [ -n "$run" ]; then
		[ -s "$run/env" ] || bail "TFLOCK_TEST_DDB_RUN=$run: no dynalite runs there (no $run/env)"
		. "$run/env"
		kill -0 "$TFLOCK_TEST_DDB_PID" 2>/dev/null ||
			bail "TFLOCK_TEST_DDB_RUN=$run: its dynalite (pid $TFLOCK_TEST_DDB_PID) is gone: see $run/log"
	elif [ -z "${TFLOCK_TEST_DDB_ENDPOINT:-}" ]; then
		run=$TEST_TMP/ddb
		"$top_srcdir/tests/helpers/ddb-start" "$run" $$ >"$TEST_TMP/ddb-start.log" 2>&1
		case $? in
		0) ;;
		2)
			[ "${1:-}" = --optional ] && return 1
			skip_all "$(sed -n '$s/^ddb-start: //p' "$TEST_TMP/ddb-start.log")"
			;;
		*)
			sed 's/^/# /' "$TEST_TMP/ddb-start.log" "$run/log" 2>/dev/null
			bail "cannot start dynalite (its output above)"
			;;
		esac
		. "$run/env"
		# stop it first, then whatever the EXIT trap did already
		eval "set -- $(trap -p EXIT)"
		trap "\"\$top_srcdir/tests/helpers/ddb-stop\" '$run'; ${3:-}" EXIT
	fi
	TFLOCK_TEST_DDB_VERSION=${TFLOCK_TEST_DDB_VERSION:-unknown}
	export TFLOCK_TEST_DDB_ENDPOINT TFLOCK_TEST_DDB_VERSION
	export AWS_ENDPOINT_URL_DYNAMODB=$TFLOCK_TEST_DDB_ENDPOINT
}
ddb_require() { need_ddb; }
ddb_table() { "$top_srcdir/tests/helpers/ddb-table" "$TFLOCK_TEST_DDB_ENDPOINT" "$@"; }
