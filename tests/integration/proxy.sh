#!/bin/bash
# Proxies, as curl users expect them: libcurl reads http_proxy (lowercase only:
# an uppercase HTTP_PROXY is ignored for http:// URLs, as in curl), HTTPS_PROXY
# or https_proxy, and NO_PROXY or no_proxy, from the environment. Instance
# metadata and container credentials never go through a proxy.
#
# The store's endpoint is http://127.0.0.1:9, where nothing listens: a run can
# only work through the proxy (faultproxy, forwarding absolute-form requests to
# the gateway). The gateway takes any Host other than 127.0.0.1 for a bucket
# name, so a made-up host name cannot be used here. For https, a stand-in proxy
# (stub-http) records the CONNECT and refuses the tunnel; no TLS server is
# needed and no name is looked up.
. "$top_srcdir/tests/integration/lib.sh"
plan_lazy
rgw_require
bucket=$(new_bucket)
tflock_env "$bucket"
unset NO_PROXY no_proxy HTTP_PROXY http_proxy HTTPS_PROXY https_proxy ALL_PROXY all_proxy
proxy_start
CLOSED=http://127.0.0.1:9
export TFLOCK_ENDPOINT=$CLOSED
proxy_lines() { wc -l <"$PROXY_LOG"; }

# --- http_proxy: the whole cycle through the proxy, heartbeats included
export TFLOCK_KEY=a/terraform.tfstate
http_proxy=$PROXY_URL TFLOCK_EVENT_LOG=$TEST_TMP/a.events "$TFLOCK" --lease 20s -- \
	bash -c "for i in \$(seq 1 400); do [ \$(grep -c ' renewed ' '$TEST_TMP/a.events' 2>/dev/null || true) -ge 2 ] && exit 0; sleep 0.05; done; exit 9" \
	2>"$TEST_TMP/a.err"
is 0 $? "http_proxy: lock, run through 2 renewals, release, all through the proxy"
is 404 "$(s3_status GET "/$bucket/a/terraform.tfstate.tflock")" "http_proxy: the lock was released"
lock_target="$CLOSED/$bucket/a/terraform.tfstate.tflock"
n_put=$(awk -v t="$lock_target" '$3 == "PUT" && $4 == t' "$PROXY_LOG" | wc -l)
ok "http_proxy: the proxy saw the create and the renewals in absolute form ($n_put PUTs of $lock_target)" \
	test "$n_put" -ge 3
ok "http_proxy: ... and the release" \
	awk -v t="$lock_target" '$3 == "DELETE" && $4 == t { f = 1 } END { exit !f }' "$PROXY_LOG"
is 0 "$(awk -v p="$CLOSED/" 'index($4, p) != 1' "$PROXY_LOG" | wc -l)" \
	"http_proxy: every request it saw was in absolute form for $CLOSED"
is 0 "$(grep -c 'upstream=error\|upstream=timeout' "$PROXY_LOG")" \
	"http_proxy: the proxy reached the gateway every time"

# --- the fault proxy's cond-delete works on absolute-form requests too (it signs
# its own HEAD for the origin-form path): the self-test finds conditional DELETE honoured
proxy_rules "DELETE * cond-delete"
export TFLOCK_KEY=a2/terraform.tfstate
http_proxy=$PROXY_URL "$TFLOCK" -v -- true 2>"$TEST_TMP/a2.err"
is 0 $? "http_proxy with cond-delete: the run succeeds"
like "$(cat "$TEST_TMP/a2.err")" "conditional DELETE honoured" "the emulation answered the proxied self-test"
is 0 "$(grep -c 'upstream=error' "$PROXY_LOG")" "no HEAD of the emulation failed"
proxy_rules

# --- uppercase HTTP_PROXY does not count for http:// (libcurl, like curl)
before=$(proxy_lines)
export TFLOCK_KEY=b/terraform.tfstate
HTTP_PROXY=$PROXY_URL "$TFLOCK" -- true 2>"$TEST_TMP/b.err"
is 69 $? "HTTP_PROXY (uppercase) is not used for http://: the closed endpoint cannot be reached (69)"
like "$(cat "$TEST_TMP/b.err")" "cannot connect to $CLOSED/" "... cannot connect"
is "$before" "$(proxy_lines)" "... and the proxy saw nothing"

# --- NO_PROXY / no_proxy naming the endpoint's host: straight to it
for v in NO_PROXY no_proxy; do
	before=$(proxy_lines)
	export TFLOCK_KEY=c-$v/terraform.tfstate
	env http_proxy="$PROXY_URL" "$v=localhost,127.0.0.1" "$TFLOCK" -- true 2>"$TEST_TMP/c.err"
	is 69 $? "$v=127.0.0.1: no proxy for the endpoint: the closed port cannot be reached (69)"
	like "$(cat "$TEST_TMP/c.err")" "cannot connect to $CLOSED/.*(refused|Couldn't connect)" \
		"$v: the error says it cannot connect"
	is "$before" "$(proxy_lines)" "$v: the proxy saw nothing"
done
before=$(proxy_lines)
export TFLOCK_KEY=c-other/terraform.tfstate
http_proxy=$PROXY_URL NO_PROXY=s3.example.com "$TFLOCK" -- true 2>"$TEST_TMP/c2.err"
is 0 $? "NO_PROXY naming another host: still through the proxy"
ok "... which saw the requests" test "$(proxy_lines)" -gt "$before"

# --- HTTPS_PROXY: a CONNECT to the endpoint's host, refused by the proxy
stub_http tunnel "CONNECT tfl-bucket.s3.tflock.invalid:443 403 -
CONNECT s3.tflock.invalid:443 200 -"
export TFLOCK_KEY=d/terraform.tfstate
HTTPS_PROXY=$STUB_URL timeout -k 5 120 "$TFLOCK" --bucket tfl-bucket --endpoint https://s3.tflock.invalid \
	-- true 2>"$TEST_TMP/d.err"
is 69 $? "HTTPS_PROXY refusing the tunnel: exit 69 (store unusable), no hang"
like "$(cat "$TEST_TMP/d.err")" \
	'^tflock: store self-test: creating d/terraform\.tfstate\.[0-9a-f]{8}\.selftest\.tflock failed: cannot connect to https://tfl-bucket\.s3\.tflock\.invalid/d/terraform\.tfstate\.[0-9a-f]{8}\.selftest\.tflock: CONNECT tunnel failed, response 403$' \
	"HTTPS_PROXY: one line: cannot connect, and the proxy's answer"
reqs=$(stub_requests)
like "$reqs" '^CONNECT tfl-bucket\.s3\.tflock\.invalid:443$' \
	"HTTPS_PROXY: the proxy was asked for a tunnel to the bucket's virtual host, port 443"
is 0 "$(printf '%s\n' "$reqs" | grep -vc '^CONNECT tfl-bucket\.s3\.tflock\.invalid:443$')" \
	"HTTPS_PROXY: nothing but CONNECTs to that host"

HTTPS_PROXY=$STUB_URL timeout -k 5 120 "$TFLOCK" --bucket tfl-bucket --endpoint https://s3.tflock.invalid \
	--path-style -- true 2>"$TEST_TMP/d2.err"
is 69 $? "HTTPS_PROXY, a tunnel that closes before TLS: exit 69, no hang"
like "$(cat "$TEST_TMP/d2.err")" 'cannot connect to https://s3\.tflock\.invalid/tfl-bucket/d/' \
	"... cannot connect (path style: the tunnel is to the endpoint's host)"
like "$(stub_requests)" '^CONNECT s3\.tflock\.invalid:443$' "... whose CONNECT the proxy saw"

# --- instance metadata and container credentials bypass the proxy
printf '{"Code":"Success","AccessKeyId":"%s","SecretAccessKey":"%s"}' \
	"$TFLOCK_TEST_ACCESS_KEY" "$TFLOCK_TEST_SECRET_KEY" >"$TEST_TMP/creds.json"
printf 'tflock-role' >"$TEST_TMP/role"
printf 'AQAEAToken==' >"$TEST_TMP/imds-token"
stub_http meta "PUT /latest/api/token 200 $TEST_TMP/imds-token
GET /latest/meta-data/iam/security-credentials/ 200 $TEST_TMP/role
GET /latest/meta-data/iam/security-credentials/tflock-role 200 $TEST_TMP/creds.json
GET /container-creds 200 $TEST_TMP/creds.json"
before=$(proxy_lines)
export TFLOCK_KEY=e/terraform.tfstate
env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_EC2_METADATA_DISABLED \
	AWS_EC2_METADATA_SERVICE_ENDPOINT="$STUB_URL" http_proxy="$PROXY_URL" \
	"$TFLOCK" -v -- true 2>"$TEST_TMP/e.err"
is 0 $? "instance metadata credentials with http_proxy set: the run works"
like "$(cat "$TEST_TMP/e.err")" 'credentials from instance metadata' "... with the instance's credentials"
like "$(stub_requests)" 'GET /latest/meta-data/iam/security-credentials/tflock-role' \
	"... fetched from the metadata endpoint directly"
is 0 "$(tail -n +$((before + 1)) "$PROXY_LOG" | grep -c '/latest/')" "... never through the proxy"
ok "... while the store's requests went through it" test "$(proxy_lines)" -gt "$before"

before=$(proxy_lines)
export TFLOCK_KEY=f/terraform.tfstate
env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY \
	AWS_CONTAINER_CREDENTIALS_FULL_URI="$STUB_URL/container-creds" http_proxy="$PROXY_URL" \
	"$TFLOCK" -v -- true 2>"$TEST_TMP/f.err"
is 0 $? "container credentials with http_proxy set: the run works"
like "$(cat "$TEST_TMP/f.err")" 'credentials from container credentials' "... with the container's credentials"
like "$(stub_requests)" 'GET /container-creds' "... fetched from the container endpoint directly"
is 0 "$(tail -n +$((before + 1)) "$PROXY_LOG" | grep -c 'container-creds')" "... never through the proxy"
done_testing
