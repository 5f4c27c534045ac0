#!/bin/bash
# demo.sh — tflock doing its job on an embedded default, from a fresh Debian 12
# machine (as root): installs only what the demo needs (the build and the local
# gateway: tests/install-deps.sh --demo), builds tflock, boots a throwaway Ceph
# RADOS Gateway on 127.0.0.1, and starts three pipelines at the same moment, each
# running `tflock -- terraform apply` on the same state. They run one after the
# other — watch the START/END lines never interleave — and a fourth run with
# --no-wait shows the exit code a busy lock gives.
#
# Where the real terraform binary is on PATH the pipelines run real applies (an
# S3 backend on the local gateway with use_lockfile = true and a built-in
# terraform_data resource: no provider download); otherwise, or with
# TFLOCK_DEMO_SAMPLE=1, a slow sample command stands in. Everything stays on
# loopback.
#
# For the test suite (tests/integration/demo.sh): TFLOCK_DEMO_TFLOCK names a
# built tflock (no install, no build), TFLOCK_DEMO_GATEWAY the env file of a
# running local gateway, TFLOCK_DEMO_BUCKET the bucket.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)

if [ -n "${TFLOCK_DEMO_TFLOCK:-}" ]; then
	tflock=$TFLOCK_DEMO_TFLOCK
else
	tests/install-deps.sh --demo
	b=$src/_build/default
	mkdir -p "$b"
	# the build's chatter goes to a log, shown only when the build fails
	build_log=$b/demo-build.log
	{
		{ [ -x configure ] || ./bootstrap; } &&
			cd "$b" && { [ -f Makefile ] || "$src/configure" -q; } && make -s -j2 tflock
	} >"$build_log" 2>&1 || {
		tail -n 30 "$build_log" >&2
		echo "demo: building tflock failed (whole log: $build_log)" >&2
		exit 1
	}
	cd "$src"
	tflock=$b/tflock
fi

run=$(mktemp -d /tmp/tflock-demo.XXXXXX)
if [ -n "${TFLOCK_DEMO_GATEWAY:-}" ]; then
	trap 'rm -rf "$run"' EXIT
	. "$TFLOCK_DEMO_GATEWAY"
else
	trap '"$src/tests/helpers/rgw-stop" "$run/rgw"; rm -rf "$run"' EXIT
	echo "== booting a local S3 server (Ceph RADOS Gateway) on 127.0.0.1"
	"$src/tests/helpers/rgw-start" "$run/rgw" >"$run/rgw.log" 2>&1 || {
		cat "$run/rgw.log"
		exit 1
	}
	. "$run/rgw/env"
fi

# loopback only: the demo's credentials and endpoint, no instance metadata, no
# terraform checkpoint call
export AWS_ACCESS_KEY_ID=$TFLOCK_TEST_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$TFLOCK_TEST_SECRET_KEY
export AWS_EC2_METADATA_DISABLED=true AWS_ENDPOINT_URL_STS=http://127.0.0.1:9
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
export CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1 TF_INPUT=0
unset AWS_PROFILE HTTPS_PROXY https_proxy HTTP_PROXY http_proxy
export TFLOCK_LEASE=30s
bucket=${TFLOCK_DEMO_BUCKET:-tflock-demo} key=network/terraform.tfstate

empty=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
curl -s -o /dev/null -X PUT --aws-sigv4 "aws:amz:us-east-1:s3" \
	--user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" -H "x-amz-content-sha256: $empty" \
	"$TFLOCK_TEST_S3_ENDPOINT/$bucket"

jobs=(pipeline-A pipeline-B pipeline-C)
if command -v terraform >/dev/null && [ -z "${TFLOCK_DEMO_SAMPLE:-}" ]; then
	real=1
	: >"$run/terraformrc"
	export TF_CLI_CONFIG_FILE=$run/terraformrc
	echo "== $(terraform version | head -1): each pipeline is a checkout with its own"
	echo "   'terraform init' (S3 backend on the local gateway, use_lockfile = true)"
	for job in "${jobs[@]}"; do
		mkdir -p "$run/$job"
		cat >"$run/$job/main.tf" <<TF
terraform {
  backend "s3" {
    bucket                      = "$bucket"
    key                         = "$key"
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
# built into terraform: no provider to download. A new value per pipeline
# replaces it, and the provisioner makes the apply take a while.
resource "terraform_data" "network" {
  triggers_replace = "$job"
  provisioner "local-exec" {
    command = "echo '[$job] apply START'; sleep 2; echo '[$job] apply END'"
  }
}
output "last_applied_by" { value = "$job" }
TF
		(cd "$run/$job" && terraform init -input=false >"$run/$job/init.log" 2>&1) || {
			cat "$run/$job/init.log"
			exit 1
		}
	done
	cmd=(terraform apply -auto-approve -no-color)
	# the lines that show the order: tflock's own, and the provisioner's
	show='tflock:|apply (START|END)$|Apply complete'
else
	real=0
	export TFLOCK_ENDPOINT=$TFLOCK_TEST_S3_ENDPOINT TFLOCK_BUCKET=$bucket TFLOCK_KEY=$key
	echo "== no terraform on PATH (or TFLOCK_DEMO_SAMPLE set): a slow sample command stands in"
	cat >"$run/apply" <<'APPLY'
#!/bin/sh
echo "[$(basename "$PWD")] apply START (lock ID $TFLOCK_HELD_ID)"
sleep 2
echo "[$(basename "$PWD")] apply END"
APPLY
	chmod +x "$run/apply"
	for job in "${jobs[@]}"; do mkdir -p "$run/$job"; done
	cmd=("$run/apply")
	show=.
fi

# Each pipeline's lines, prefixed with its name; every filter is line-buffered
# so the order shows in a log or a pipe as it does on a terminal.
echo "== three pipelines start at the same moment, each: tflock -- ${cmd[*]##*/}"
pids=()
for job in "${jobs[@]}"; do
	(cd "$run/$job" && USER=$job "$tflock" -- "${cmd[@]}" 2>&1) |
		grep --line-buffered -E "$show" | sed -u "s/^/  [$job] /; s/\[$job\] \[$job\] /[$job] /" &
	pids+=($!)
done
sleep 1
cd "$run/${jobs[0]}"
echo "== meanwhile: tflock status"
"$tflock" status | sed 's/^/  /' || true
echo "== and a fourth run with --no-wait gives up at once:"
set +e
"$tflock" --no-wait -- "${cmd[@]}" 2>&1 | sed 's/^/  /'
rc=${PIPESTATUS[0]}
set -e
echo "  exit code $rc (75: held by someone else)"
for p in "${pids[@]}"; do wait "$p"; done
echo "== all done; the lock is free again:"
"$tflock" status | sed 's/^/  /'
if [ $real = 1 ]; then
	echo "== the state saw three applies, one at a time:"
	terraform output -no-color | sed 's/^/  /'
	terraform state pull | grep -E '"serial"' | sed 's/^ */  state /'
fi
