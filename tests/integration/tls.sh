#!/bin/bash
# https against the real gateway: its TLS endpoint (tests/helpers/rgw-start gives
# it a self-signed certificate for 127.0.0.1). Verification is always on: the
# certificate is trusted only through a CA bundle named the usual ways
# (AWS_CA_BUNDLE, CURL_CA_BUNDLE, SSL_CERT_FILE, SSL_CERT_DIR); without one, or
# for a name the certificate does not carry, tflock refuses with a clear error
# and exit 69, and never falls back to an unverified connection.
. "$top_srcdir/tests/integration/lib.sh"
plan_lazy
rgw_require
[ -n "${TFLOCK_TEST_S3_TLS_ENDPOINT:-}" ] || bail "the gateway has no TLS endpoint (rgw-start too old? remove $TFLOCK_TEST_RGW_RUN)"
bucket=$(new_bucket)
tflock_env "$bucket"
unset AWS_CA_BUNDLE CURL_CA_BUNDLE SSL_CERT_FILE SSL_CERT_DIR
export TFLOCK_ENDPOINT=$TFLOCK_TEST_S3_TLS_ENDPOINT
CA=$TFLOCK_TEST_CA_BUNDLE
lockst() { s3_status GET "/$bucket/$1.tflock"; }

# trusted through each of the usual variables: a whole cycle over TLS, renewals included
n=0
for var in AWS_CA_BUNDLE CURL_CA_BUNDLE SSL_CERT_FILE; do
	n=$((n + 1))
	export TFLOCK_KEY=ok$n/terraform.tfstate
	env "$var=$CA" TFLOCK_EVENT_LOG="$TEST_TMP/ok$n.events" "$TFLOCK" --lease 20s -- \
		bash -c "for i in \$(seq 1 400); do [ \$(grep -c ' renewed ' '$TEST_TMP/ok$n.events' 2>/dev/null || true) -ge 1 ] && exit 0; sleep 0.05; done; exit 9" \
		2>"$TEST_TMP/ok$n.err"
	is 0 $? "$var names the CA: lock, a renewal and release over https"
	is 404 "$(lockst "$TFLOCK_KEY")" "$var: released"
done
# a CA directory (hashed names, as c_rehash makes them) through SSL_CERT_DIR
mkdir -p "$TEST_TMP/cadir"
cp "$CA" "$TEST_TMP/cadir/$(openssl x509 -hash -noout -in "$CA").0"
export TFLOCK_KEY=okdir/terraform.tfstate
SSL_CERT_DIR=$TEST_TMP/cadir "$TFLOCK" -- true 2>"$TEST_TMP/okdir.err"
is 0 $? "SSL_CERT_DIR with the CA in it works too"

# no CA for it: refused, exit 69, one clear line naming the certificate problem
export TFLOCK_KEY=bad1/terraform.tfstate
"$TFLOCK" -- touch "$TEST_TMP/ran1" 2>"$TEST_TMP/bad1.err"
is 69 $? "the system CAs do not know the gateway's certificate: 69"
like "$(cat "$TEST_TMP/bad1.err")" "cannot connect to https://127\.0\.0\.1:[0-9]+/.*(certificate|SSL)" \
	"the error says it is the certificate"
ok "the command never ran" test ! -e "$TEST_TMP/ran1"
is 404 "$(lockst "$TFLOCK_KEY")" "and nothing was written"

# the right CA, but a name the certificate does not carry (it is for 127.0.0.1 only)
export TFLOCK_KEY=bad2/terraform.tfstate
AWS_CA_BUNDLE=$CA TFLOCK_ENDPOINT=${TFLOCK_TEST_S3_TLS_ENDPOINT/127.0.0.1/localhost} \
	"$TFLOCK" -- touch "$TEST_TMP/ran2" 2>"$TEST_TMP/bad2.err"
is 69 $? "a host name the certificate does not carry (localhost): 69"
like "$(cat "$TEST_TMP/bad2.err")" "cannot connect to https://localhost:[0-9]+/.*(certificate|subject|name)" \
	"the error names the mismatch"
ok "the command never ran" test ! -e "$TEST_TMP/ran2"

# a CA bundle that does not exist: refused, naming the file
export TFLOCK_KEY=bad3/terraform.tfstate
AWS_CA_BUNDLE=$TEST_TMP/no-such-ca.pem "$TFLOCK" -- true 2>"$TEST_TMP/bad3.err"
is 69 $? "AWS_CA_BUNDLE naming a missing file: 69"
like "$(cat "$TEST_TMP/bad3.err")" "no-such-ca\.pem" "the error names the file"

# AWS_CA_BUNDLE comes first: a wrong one is not rescued by a right SSL_CERT_FILE
export TFLOCK_KEY=bad4/terraform.tfstate
AWS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt SSL_CERT_FILE=$CA "$TFLOCK" -- true 2>"$TEST_TMP/bad4.err"
is 69 $? "AWS_CA_BUNDLE wins over SSL_CERT_FILE (the system bundle does not know the gateway)"

ok "tflock has no option to turn verification off" bash -c "! '$TFLOCK' --help 2>&1 | grep -qi 'insecure\|no-verify\|skip-tls'"
done_testing
