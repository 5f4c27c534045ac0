#!/bin/bash
# migrate.sh — move one configuration's locking from a DynamoDB table to the
# S3 lock file, in the order that never leaves a window without exclusion.
#
#   migrate.sh both   DIR   step 1: DIR's backend has use_lockfile = true AND
#                           dynamodb_table; re-initialise and verify
#   migrate.sh file   DIR   step 2 (once every client runs step 1): DIR's
#                           backend has use_lockfile = true only; re-initialise
#                           and verify
#   migrate.sh drop-table TABLE [REGION]
#                           last, days later: show the command deleting the
#                           table; with YES=1 in the environment, run it
#
# DIR is the configuration directory (its backend block edited as in
# backend.tf, then after/backend.tf; before/backend.tf is where it starts).
# Each step re-initialises DIR, runs tflock doctor, then one plan under tflock
# and checks what tflock held from its --report: in step 1 the lock file and
# the DynamoDB item (tflock holds both, as terraform does with both settings),
# in step 2 the lock file alone. Needs terraform >= 1.11 and tflock on PATH (or
# TERRAFORM / TFLOCK naming them); drop-table needs the aws CLI.
set -euo pipefail

terraform=${TERRAFORM:-terraform}
tflock=${TFLOCK:-tflock}
say() { printf 'migrate: %s\n' "$*"; }
die() {
	printf 'migrate: %s\n' "$*" >&2
	exit 1
}
usage() {
	sed -n '4,13p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 64
}

# has_setting DIR NAME: a NAME = ... line in one of DIR's .tf files
has_setting() { grep -Eqs "^[[:space:]]*$2[[:space:]]*=" "$1"/*.tf; }

# reinit_and_verify DIR both|file: re-initialise, check, and take the lock once
# through terraform, verifying that tflock held the records the step wants
reinit_and_verify() {
	local dir=$1 want=$2 held
	say "terraform init -reconfigure in $dir (the backend settings changed, the state did not)"
	(cd "$dir" && "$terraform" init -reconfigure -input=false)
	say "checking the store, the credentials and the backend settings"
	(cd "$dir" && "$tflock" doctor)
	say "taking and releasing the lock once, through terraform"
	report=$(mktemp)
	trap 'rm -f "$report"' EXIT
	(cd "$dir" && "$tflock" --no-wait --report "$report" -- "$terraform" plan -input=false -detailed-exitcode) ||
		{
			rc=$?
			# plan -detailed-exitcode: 2 means changes are pending, which is fine here
			[ "$rc" = 2 ] || die "the locked plan failed (exit $rc)"
		}
	# the report's "lock": what tflock held, "s3://B/K.tflock and dynamodb://T/B/K" with both
	held=$(sed -n 's/^  "lock": "\(.*\)",$/\1/p' "$report")
	say "tflock held: ${held:-nothing?}"
	case $want in
	both) [[ $held == s3://*.tflock\ and\ dynamodb://* ]] ||
		die "tflock did not hold both the lock file and the DynamoDB item: is $dir's backend block as in backend.tf?" ;;
	file) [[ $held == s3://*.tflock && $held != *dynamodb://* ]] ||
		die "tflock did not hold the lock file alone: is $dir's backend block as in after/backend.tf?" ;;
	esac
}

[ $# -ge 1 ] || usage
case $1 in
both)
	[ $# = 2 ] || usage
	has_setting "$2" use_lockfile || die "$2: add use_lockfile = true to the backend block first (see backend.tf)"
	has_setting "$2" dynamodb_table || die "$2: keep dynamodb_table during step 1 (see backend.tf)"
	reinit_and_verify "$2" both
	say "step 1 done: terraform and tflock hold the lock file and the DynamoDB item;" \
		"clients still on the table alone are excluded by the item"
	say "when every pipeline and person uses this backend block, run: $0 file $2"
	;;
file)
	[ $# = 2 ] || usage
	has_setting "$2" use_lockfile || die "$2: the backend block needs use_lockfile = true"
	! has_setting "$2" dynamodb_table || die "$2: remove dynamodb_table from the backend block first (see after/backend.tf)"
	reinit_and_verify "$2" file
	say "step 2 done. When no configuration names the table any more: $0 drop-table TABLE"
	;;
drop-table)
	[ $# = 2 ] || [ $# = 3 ] || usage
	table=$2
	region=${3:-${AWS_REGION:-}}
	cmd=(aws dynamodb delete-table --table-name "$table")
	[ -z "$region" ] || cmd+=(--region "$region")
	if [ "${YES:-}" = 1 ]; then
		say "deleting the DynamoDB table $table"
		"${cmd[@]}"
	else
		say "to delete the table (after checking no configuration still names it), run:"
		printf '  %s\n' "${cmd[*]}"
		say "or: YES=1 $0 drop-table $table${region:+ $region}"
	fi
	;;
*) usage ;;
esac
