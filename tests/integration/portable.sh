#!/bin/bash
# The portable binary: ci-templates/release/build-portable.sh builds tflock
# fully static against musl (libraries from Debian's source packages), and the
# result is checked here as a user would meet it: its files and checksum, no
# program interpreter and no shared library, the same --version as this build,
# a lock cycle and a wait against the local gateway, https with the CA named by
# a variable and, with none, only the system's CA list trusted (found by the
# binary itself: a chroot with nothing but the binary has none, then Alpine's
# /etc/ssl/cert.pem), no NSS, an empty environment. The static libraries are
# kept in $top_builddir/portable-cache (as `make portable` keeps them), so a
# second run only builds tflock.
. "$top_srcdir/tests/integration/lib.sh"
[ "${TFLOCK_PACKAGING_TESTS:-yes}" != no ] ||
	skip_all "TFLOCK_PACKAGING_TESTS=no: the packaging tests are off (configure TFLOCK_PACKAGING_TESTS=yes)"
[ -z "${TFLOCK_TEST_SANITIZED:-}" ] ||
	skip_all "a sanitizer build: the static binary is built and tested by the default build's run"
command -v musl-gcc >/dev/null 2>&1 ||
	skip_all "musl-gcc not found: install musl-tools (tests/install-deps.sh)"
plan_lazy

version=$(sed -n 's/^AC_INIT(\[tflock\], *\[\([^]]*\)\].*/\1/p' "$top_srcdir/configure.ac")
arch=$(uname -m)
out=$top_builddir/tests/portable
cache=$top_builddir/portable-cache
name=tflock-$version-linux-$arch
P=$out/$name

# --- the build ---------------------------------------------------------------
rm -f "$P" "$P.sha256" "$P.LICENSES.txt"
t0=$(date +%s)
"$top_srcdir/ci-templates/release/build-portable.sh" --out "$out" --cache "$cache" \
	>"$TEST_TMP/build.err" 2>&1
rc=$?
is 0 "$rc" "build-portable.sh --out --cache builds the static binary"
if [ "$rc" != 0 ]; then
	tail -n 30 "$TEST_TMP/build.err" | sed 's/^/# /'
	bail "build-portable.sh failed (its output above)"
fi
diag "built in $(($(date +%s) - t0)) s: $(tail -n 1 "$TEST_TMP/build.err")"
grep '^build-portable: sources:' "$TEST_TMP/build.err" | sed 's/^/# /'

ok "the binary, its .sha256 and its licence notice are there" \
	test -x "$P" -a -s "$P.sha256" -a -s "$P.LICENSES.txt"
ok "the .sha256 file verifies (sha256sum -c)" \
	bash -c 'cd "$1" && sha256sum -c --quiet "$2.sha256"' _ "$out" "$name"
ok_not "no program interpreter (readelf -l: no INTERP)" bash -c 'readelf -l "$1" | grep -q INTERP' _ "$P"
ok_not "no shared library (readelf -d: no NEEDED)" bash -c 'readelf -d "$1" 2>/dev/null | grep -q NEEDED' _ "$P"
for lib in openssl curl cjson libgit2 zlib http-parser; do
	ok "the licence notice has $lib's debian/copyright" \
		grep -q "^$lib [^ ]* (debian/copyright)\$" "$P.LICENSES.txt"
done
is "$("$TFLOCK" --version 2>&1)" "$("$P" --version 2>&1)" "--version says what the dynamic build says"
ok_not "no reference to NSS (libnss, nsswitch)" bash -c 'strings "$1" | grep -q -e libnss -e nsswitch' _ "$P"

size=$(stat -c %s "$P")
runs=20
ms() { # the mean wall time of $runs `$1 --version`, in ms
	local s e i
	s=$(date +%s%N)
	for ((i = 0; i < runs; i++)); do "$1" --version >/dev/null; done
	e=$(date +%s%N)
	awk -v d=$((e - s)) -v n=$runs 'BEGIN { printf "%.2f", d / n / 1e6 }'
}
diag "size $size bytes; --version start-up: $(ms "$P") ms static, $(ms "$TFLOCK") ms dynamic (mean of $runs)"

# --- against the gateway -----------------------------------------------------
rgw_require
bucket=$(new_bucket)
tflock_env "$bucket"
export TFLOCK_KEY=p/terraform.tfstate
lockst() { s3_status GET "/$bucket/$TFLOCK_KEY.tflock"; }
export -f s3 _sha256_file

# a cycle: the child sees the lock object (a raw GET) and its own ID in it
"$P" -- bash -c 'echo "$TFLOCK_HELD_ID" >"$TEST_TMP/id"; s3 GET "${TFLOCK_HELD_LOCK#s3:/}" >"$TEST_TMP/get"' \
	2>"$TEST_TMP/cycle.err"
is 0 $? "a lock cycle under the portable binary"
is 200 "$(tail -n 1 "$TEST_TMP/get")" "... the child finds the lock object (GET KEY.tflock: 200)"
id=$(sed -n 's/^{"ID":"\([^"]*\)".*/\1/p' "$TEST_TMP/get")
ok "... the lock's ID is the one the child was given (TFLOCK_HELD_ID)" \
	test -n "$id" -a "$id" = "$(cat "$TEST_TMP/id")"
is 404 "$(lockst)" "... and released afterwards (404)"

# a second one waits while the first holds; the order comes from the children's log
order=$TEST_TMP/order
"$P" -- bash -c 'echo first-start >>"$0"; touch "$0.running"; for i in $(seq 1 600); do [ -e "$0.go" ] && break; sleep 0.05; done; echo first-end >>"$0"' \
	"$order" 2>"$TEST_TMP/first.err" &
first=$!
wait_for "the first holder's child" 20 test -e "$order.running"
"$P" -- bash -c 'echo second >>"$0"' "$order" 2>"$TEST_TMP/second.err" &
second=$!
ok "the second waits, saying for what" \
	wait_for "the second's waiting message" 20 grep -q "waiting for s3://$bucket/$TFLOCK_KEY.tflock" "$TEST_TMP/second.err"
touch "$order.go"
wait "$first"
is 0 $? "the first exits 0"
wait "$second"
is 0 $? "the second exits 0 once it had the lock"
is "first-start first-end second" "$(tr '\n' ' ' <"$order" | sed 's/ $//')" \
	"the second's command ran only after the first's had finished"
is 404 "$(lockst)" "both released"

# an empty environment but for what it needs (no HOME, no PATH)
env -i AWS_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY" \
	TFLOCK_ENDPOINT="$TFLOCK_ENDPOINT" TFLOCK_BUCKET="$bucket" TFLOCK_KEY="$TFLOCK_KEY" \
	TFLOCK_TIME_SCALE="$TFLOCK_TIME_SCALE" "$P" -- /bin/sh -c 'echo "$TFLOCK_HELD_LOCK"' \
	>"$TEST_TMP/envi.out" 2>"$TEST_TMP/envi.err"
is 0 $? "runs with an empty environment but for the store and the keys"
is "s3://$bucket/$TFLOCK_KEY.tflock" "$(cat "$TEST_TMP/envi.out")" "... and its command got the lock"

# --- https -------------------------------------------------------------------
[ -n "${TFLOCK_TEST_S3_TLS_ENDPOINT:-}" ] || bail "the gateway has no TLS endpoint (rgw-start too old? remove $TFLOCK_TEST_RGW_RUN)"
CA=$TFLOCK_TEST_CA_BUNDLE
unset AWS_CA_BUNDLE CURL_CA_BUNDLE SSL_CERT_FILE SSL_CERT_DIR
export TFLOCK_ENDPOINT=$TFLOCK_TEST_S3_TLS_ENDPOINT
for var in AWS_CA_BUNDLE SSL_CERT_FILE; do
	env "$var=$CA" "$P" -- true 2>"$TEST_TMP/tls-$var.err"
	is 0 $? "https: $var names the test CA: lock and release"
done
"$P" -- touch "$TEST_TMP/ran" 2>"$TEST_TMP/tls-none.err"
is 69 $? "https, no variable: the system's CAs do not know the test CA (69)"
like "$(cat "$TEST_TMP/tls-none.err")" "cannot connect to https://127\.0\.0\.1:[0-9]+/.*(certificate|SSL)" \
	"... a TLS error"
ok_not "... naming no secret" grep -qF -e "$TFLOCK_TEST_SECRET_KEY" "$TEST_TMP/tls-none.err"
ok "... and the command never ran" test ! -e "$TEST_TMP/ran"

# the CA list itself, in a chroot holding nothing but the binary (with /proc,
# which the guardian needs, in a mount namespace of its own)
unshare=$(command -v unshare) chroot=$(command -v chroot)
if [ "$(id -u)" = 0 ] && [ -n "$unshare" ] && [ -n "$chroot" ] &&
	"$unshare" --mount --mount-proc="$TEST_TMP" true 2>/dev/null; then
	root=$TEST_TMP/root
	mkdir -p "$root/proc" "$root/tmp"
	cp "$P" "$root/tflock"
	in_root() {
		env -i AWS_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY" \
			TFLOCK_ENDPOINT="$TFLOCK_ENDPOINT" TFLOCK_BUCKET="$bucket" TFLOCK_KEY="$TFLOCK_KEY" \
			TFLOCK_TIME_SCALE="$TFLOCK_TIME_SCALE" \
			"$unshare" --mount --mount-proc="$root/proc" "$chroot" "$root" /tflock -- /tflock --version
	}
	in_root >/dev/null 2>"$TEST_TMP/chroot-none.err"
	is 69 $? "https with no CA anywhere (a chroot): refused (69)"
	like "$(head -n 1 "$TEST_TMP/chroot-none.err")" \
		"no CA certificates .*none of /etc/ssl/certs/ca-certificates\.crt, /etc/pki/tls/certs/ca-bundle\.crt, /etc/pki/ca-trust/extracted/pem/tls-ca-bundle\.pem, /etc/ssl/ca-bundle\.pem, /etc/ssl/cert\.pem is readable; .*AWS_CA_BUNDLE, CURL_CA_BUNDLE or SSL_CERT_FILE, .*SSL_CERT_DIR" \
		"... naming the files tried and the variables"
	mkdir -p "$root/etc/ssl"
	cp "$CA" "$root/etc/ssl/cert.pem"
	in_root >"$TEST_TMP/chroot-alpine.out" 2>"$TEST_TMP/chroot-alpine.err"
	is 0 $? "https: the CA in Alpine's /etc/ssl/cert.pem is found with no variable"
	is "tflock $version" "$(cat "$TEST_TMP/chroot-alpine.out")" "... and the command ran"
else
	for i in 1 2 3 4; do skip "needs root, unshare and chroot (the CA list in an empty root)"; done
fi
is 404 "$(lockst)" "nothing left locked"

# --- aarch64: cross-built here, run under qemu-user ----------------------------
qemu=$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)
if [ "$arch" != x86_64 ]; then
	skip "aarch64 is cross-built from x86_64 only (this machine: $arch)"
elif ! command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || [ -z "$qemu" ]; then
	skip "aarch64: needs gcc-aarch64-linux-gnu and qemu-user-static (tests/install-deps.sh)"
else
	A=$out/tflock-$version-linux-aarch64
	rm -f "$A" "$A.sha256" "$A.LICENSES.txt"
	t0=$(date +%s)
	"$top_srcdir/ci-templates/release/build-portable.sh" --arch aarch64 --out "$out" --cache "$cache" \
		>"$TEST_TMP/build-aarch64.err" 2>&1
	is 0 $? "build-portable.sh --arch aarch64 cross-builds the static binary"
	diag "aarch64 built in $(($(date +%s) - t0)) s: $(tail -n 1 "$TEST_TMP/build-aarch64.err")"
	ok "aarch64: the .sha256 file verifies and the licence notice is there" \
		bash -c 'cd "$1" && sha256sum -c --quiet "$2.sha256" && test -s "$2.LICENSES.txt"' _ "$out" "${A##*/}"
	like "$(readelf -h "$A" 2>&1)" "Machine: +AArch64" "aarch64: an AArch64 executable"
	ok_not "aarch64: no INTERP, no NEEDED" bash -c '{ readelf -l "$1"; readelf -d "$1"; } 2>/dev/null | grep -q -e INTERP -e NEEDED' _ "$A"
	is "$("$TFLOCK" --version 2>&1)" "$(env -i "$qemu" "$A" --version 2>&1)" "aarch64: --version under qemu-user"
	# a lock cycle needs the binary to re-execute itself (the guardian): only
	# where binfmt_misc runs aarch64 binaries through qemu
	if [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
		"$A" -- sh -c 'echo "$TFLOCK_HELD_LOCK"' >"$TEST_TMP/a64.out" 2>"$TEST_TMP/a64.err"
		is 0 $? "aarch64: a lock cycle (binfmt_misc)"
	else
		skip "aarch64: no lock cycle: qemu-aarch64 is not registered with binfmt_misc (tflock re-executes itself)"
	fi
fi
done_testing
