#!/bin/bash
# demo.sh — tflock doing its job on an embedded default, from a fresh Debian 12
# machine (as root): installs what is missing, builds tflock, boots a throwaway
# Ceph RADOS Gateway on 127.0.0.1, and starts three pipelines at the same moment,
# each running a slow sample "terraform apply" under tflock. They run one after
# the other — watch the start/end lines never interleave — and a fourth run with
# --no-wait shows the exit code a busy lock gives. Everything stays on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)

tests/install-deps.sh
[ -x configure ] || ./bootstrap >/dev/null
b=$src/_build/default
mkdir -p "$b"
(cd "$b" && { [ -f Makefile ] || "$src/configure" -q; } && make -s -j2 tflock >/dev/null)
tflock=$b/tflock

run=$(mktemp -d /tmp/tflock-demo.XXXXXX)
trap '"$src/tests/helpers/rgw-stop" "$run/rgw"; rm -rf "$run"' EXIT
echo "== booting a local S3 server (Ceph RADOS Gateway) on 127.0.0.1"
"$src/tests/helpers/rgw-start" "$run/rgw" >"$run/rgw.log" 2>&1 || {
	cat "$run/rgw.log"
	exit 1
}
. "$run/rgw/env"

# loopback only: the demo's credentials and endpoint, no instance metadata
export AWS_ACCESS_KEY_ID=$TFLOCK_TEST_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$TFLOCK_TEST_SECRET_KEY
export AWS_EC2_METADATA_DISABLED=true AWS_ENDPOINT_URL_STS=http://127.0.0.1:9
export TFLOCK_ENDPOINT=$TFLOCK_TEST_S3_ENDPOINT TFLOCK_BUCKET=tflock-demo
export TFLOCK_KEY=network/terraform.tfstate TFLOCK_LEASE=30s

empty=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
curl -s -o /dev/null -X PUT --aws-sigv4 "aws:amz:us-east-1:s3" \
	--user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" -H "x-amz-content-sha256: $empty" \
	"$TFLOCK_ENDPOINT/$TFLOCK_BUCKET"

# the sample command: a slow, chatty stand-in for `terraform apply`
cat >"$run/apply" <<'APPLY'
#!/bin/sh
echo "  [$1] apply START (lock ID $TFLOCK_HELD_ID)"
sleep 2
echo "  [$1] apply END"
APPLY
chmod +x "$run/apply"

echo "== three pipelines start at the same moment, each: tflock -- apply"
pids=()
for job in pipeline-A pipeline-B pipeline-C; do
	USER=$job "$tflock" -- "$run/apply" "$job" 2>&1 | sed "s/^tflock:/  [$job] tflock:/" &
	pids+=($!)
done
sleep 1
echo "== meanwhile: tflock status"
"$tflock" status | sed 's/^/  /' || true
echo "== and a fourth run with --no-wait gives up at once:"
set +e
"$tflock" --no-wait -- true 2>&1 | sed 's/^/  /'
rc=${PIPESTATUS[0]}
set -e
echo "  exit code $rc (75: held by someone else)"
for p in "${pids[@]}"; do wait "$p"; done
echo "== all done; the lock is free again:"
"$tflock" status | sed 's/^/  /'
