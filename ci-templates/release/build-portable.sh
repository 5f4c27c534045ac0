#!/bin/bash
# build-portable.sh — the portable tflock: one fully static Linux binary
# (musl libc), for Alpine-based Terraform/OpenTofu images and any CI runner.
#
#   build-portable.sh --out DIR [--arch x86_64|aarch64] [--cache DIR]
#
# Writes, in DIR:
#   tflock-VERSION-linux-ARCH                the stripped static binary
#   tflock-VERSION-linux-ARCH.sha256         its SHA-256 (sha256sum -c format)
#   tflock-VERSION-linux-ARCH.LICENSES.txt   the bundled libraries' notices
#
# The libraries (OpenSSL, libcurl, cJSON, libgit2 and what libgit2 needs:
# zlib, http-parser) are built as static libraries with musl-gcc from Debian's
# own source packages, fetched with `apt-get source` through a PRIVATE apt
# state (the system's apt configuration is only read: its deb entries, turned
# into deb-src entries with the same URIs, suites, components and Signed-By).
# For each source package the newest version in the index that the mirror
# serves is used (apt checks every file against the signed index); the
# versions used are printed and written into the licence notice. Each library
# is built with SOURCE_DATE_EPOCH from its debian/changelog and without build
# paths, so the same sources give the same binary, wherever the cache is.
# The source index is refreshed when older than a day.
#
# --cache DIR keeps the downloaded sources and the built libraries, keyed by
# the source package versions, the arch and the build recipe, so a second run
# only builds tflock. Default: $XDG_CACHE_HOME/tflock/portable when
# XDG_CACHE_HOME is set, else ./portable-cache (run from the build dir, as
# `make portable` does). The source tree is never written to: tflock is built
# from a copy, out of tree.
#
# Needs: musl-tools, cmake, perl, make, dpkg-dev (dpkg-source), binutils,
# pkg-config (tests/install-deps.sh installs them). --arch aarch64 on an x86_64
# machine cross-builds: it also needs gcc-aarch64-linux-gnu and, to run the
# result, qemu-user-static (or qemu-user); musl for arm64 is Debian's
# musl-dev:arm64, downloaded (through a second private apt state, for arm64)
# and unpacked into the cache, not installed: the system's dpkg architectures
# are left alone.
set -euo pipefail

RECIPE=5 # bump when a library's build options change: the cache key includes it
PKGS=(zlib http-parser openssl curl cjson libgit2)

me=build-portable
src=$(cd "$(dirname "$0")/../.." && pwd)
log_file=

die() {
	echo "$me: $*" >&2
	if [ -n "$log_file" ] && [ -s "$log_file" ]; then
		echo "$me: last lines of $log_file:" >&2
		tail -n 25 "$log_file" | sed 's/^/  | /' >&2
	fi
	exit 1
}
note() { echo "$me: $*" >&2; }

usage() {
	echo "usage: $0 --out DIR [--arch x86_64|aarch64] [--cache DIR]" >&2
	exit 2
}

out='' arch='' cache=''
while [ $# -gt 0 ]; do
	case $1 in
	--out) out=${2:?}; shift 2 ;;
	--out=*) out=${1#*=}; shift ;;
	--arch) arch=${2:?}; shift 2 ;;
	--arch=*) arch=${1#*=}; shift ;;
	--cache) cache=${2:?}; shift 2 ;;
	--cache=*) cache=${1#*=}; shift ;;
	-h | --help) usage ;;
	*) echo "$me: unknown argument '$1'" >&2; usage ;;
	esac
done
[ -n "$out" ] || usage
machine=$(uname -m)
[ "$machine" = arm64 ] && machine=aarch64
arch=${arch:-$machine}
case $arch in
x86_64 | aarch64) ;;
*) die "unknown --arch '$arch' (x86_64 or aarch64)" ;;
esac

# the toolchain: musl-gcc natively; for aarch64 on x86_64 Debian's cross gcc
# with musl's specs file, and qemu to run the result
cross='' run=()
case $machine:$arch in
x86_64:x86_64 | aarch64:aarch64) ;;
x86_64:aarch64)
	cross=aarch64-linux-gnu
	for t in $cross-gcc $cross-ar $cross-ranlib $cross-strip; do
		command -v "$t" >/dev/null 2>&1 || die "--arch aarch64: '$t' not found: install gcc-aarch64-linux-gnu (apt-get install gcc-aarch64-linux-gnu)"
	done
	q=$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)
	[ -n "$q" ] || die "--arch aarch64: qemu-aarch64 not found (needed to check the binary runs): install qemu-user-static"
	run=("$q") ;;
*) die "--arch $arch: cross-building from $machine is not supported" ;;
esac

for t in musl-gcc cmake perl make dpkg-source dpkg-deb dpkg-parsechangelog apt-get apt-cache readelf strip sha256sum pkg-config ar flock; do
	command -v "$t" >/dev/null 2>&1 || die "'$t' not found: run tests/install-deps.sh (musl-tools, cmake, perl, dpkg-dev, binutils, pkg-config)"
done

version=$(sed -n 's/^AC_INIT(\[tflock\], *\[\([^]]*\)\].*/\1/p' "$src/configure.ac")
[ -n "$version" ] || die "cannot read the version from $src/configure.ac (AC_INIT)"

if [ -z "$cache" ]; then
	if [ -n "${XDG_CACHE_HOME:-}" ]; then
		cache=$XDG_CACHE_HOME/tflock/portable
	elif [ "$(pwd -P)" = "$(cd "$src" && pwd -P)" ]; then
		die "run from a build directory, or name a cache with --cache DIR (the source tree is not written to)"
	else
		cache=$PWD/portable-cache
	fi
fi
mkdir -p "$cache" "$out" || die "cannot create '$cache' or '$out'"
cache=$(cd "$cache" && pwd) out=$(cd "$out" && pwd)
exec 9>"$cache/.lock"
flock 9 || die "cannot lock the cache '$cache'"
t0=$(date +%s)

# --- the private apt state -------------------------------------------------

apt_dir=$cache/apt
APT=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o "Dir::Etc::SourceParts=$apt_dir/sources.list.d"
	-o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
	-o "Dir::Etc::Preferences=/dev/null" -o "Dir::Etc::PreferencesParts=/dev/null"
	-o "APT::Sandbox::User=root" -o "Acquire::Languages=none")

# deb-src entries from the system's deb entries: deb822 stanzas in
# sources.list.d/*.sources (Types gains deb-src; disabled stanzas are dropped)
# and one-line "deb" entries in sources.list and sources.list.d/*.list.
apt_sources() {
	local f n=0
	rm -rf "$apt_dir/sources.list.d"
	mkdir -p "$apt_dir/sources.list.d" "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
	: >"$apt_dir/sources.list"
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		sed -n 's/^[[:space:]]*deb\([[:space:]]\)/deb-src\1/p' "$f" >>"$apt_dir/sources.list"
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		n=$((n + 1))
		awk 'BEGIN { RS = ""; ORS = "\n\n" }
		{
			out = ""; types = 0; off = 0
			nl = split($0, line, "\n")
			for (i = 1; i <= nl; i++) {
				l = line[i]
				if (l ~ /^#/) continue
				if (l ~ /^Types:/) { if (l ~ /[: ]deb( |$)/) types = 1; l = "Types: deb-src" }
				if (tolower(l) ~ /^enabled:[ \t]*no/) off = 1
				out = out l "\n"
			}
			if (types && !off) printf "%s\n", out
		}' "$f" >"$apt_dir/sources.list.d/system-$n.sources"
	done
	grep -qs . "$apt_dir/sources.list" "$apt_dir"/sources.list.d/*.sources ||
		die "no deb entries in /etc/apt/sources.list or /etc/apt/sources.list.d/: cannot derive deb-src entries"
}

# The source index, refreshed when older than a day (a warm run needs no network).
apt_update() {
	log_file=$cache/apt-update.log
	if [ -f "$apt_dir/updated" ] && [ -n "$(find "$apt_dir/updated" -mmin -1440)" ]; then
		return
	fi
	apt_sources
	if apt-get "${APT[@]}" -q update >"$log_file" 2>&1 && ! grep -q '^[WE]:' "$log_file"; then
		touch "$apt_dir/updated"
	elif [ -f "$apt_dir/updated" ]; then
		note "apt-get update of the source index failed; using the one from $(date -r "$apt_dir/updated" +%F)"
	else
		die "apt-get update of the private source index failed"
	fi
}

# The versions of source package $1 in the index, newest first.
src_versions() {
	local v sorted=() i j
	while read -r v; do
		sorted+=("$v")
	done < <(apt-cache "${APT[@]}" showsrc --only-source "$1" 2>/dev/null |
		sed -n 's/^Version: //p' | sort -u)
	for ((i = 1; i < ${#sorted[@]}; i++)); do
		for ((j = i; j > 0; j--)); do
			dpkg --compare-versions "${sorted[j - 1]}" lt "${sorted[j]}" || break
			v=${sorted[j]} sorted[j]=${sorted[j - 1]} sorted[j - 1]=$v
		done
	done
	printf '%s\n' "${sorted[@]}"
}

# Fetch the newest version of source package $1 that the mirror serves into
# $cache/src/$1/VERSION (kept: a later run reuses it); prints the version.
src_fetch() {
	local pkg=$1 v d tried=()
	log_file=$cache/src/$pkg.log
	mkdir -p "$cache/src"
	: >"$log_file"
	while read -r v; do
		[ -n "$v" ] || continue
		d=$cache/src/$pkg/$v
		if [ -f "$d/.ok" ]; then
			echo "$v"
			return
		fi
		rm -rf "$d" && mkdir -p "$d"
		if (cd "$d" && apt-get "${APT[@]}" -q source --download-only --only-source "$pkg=$v") >>"$log_file" 2>&1; then
			touch "$d/.ok"
			[ ${#tried[@]} -eq 0 ] || note "$pkg: ${tried[*]} not served by the mirror; using $v"
			echo "$v"
			return
		fi
		rm -rf "$d"
		tried+=("$v")
	done < <(src_versions "$pkg")
	[ ${#tried[@]} -gt 0 ] || die "no source package '$pkg' in the index (deb-src entries derived from the system's deb entries)"
	die "cannot download any version of the source package '$pkg' (tried ${tried[*]})"
}

# --- the static libraries ------------------------------------------------------

jobs=2
CC=musl-gcc AR=ar RANLIB=ranlib STRIP=strip HOST=''
# build paths stay out of the binary (libgit2's __FILE__): see -ffile-prefix-map
# where $work is known (lib_build)
LIB_CFLAGS="-O2 -fPIC -ffunction-sections -fdata-sections"

# Unpack source package $1 (version $2) into the scratch dir; prints its path.
src_unpack() {
	local pkg=$1 v=$2 dsc
	dsc=$(ls "$cache/src/$pkg/$v"/*.dsc)
	rm -rf "${work:?}/$pkg"
	mkdir -p "$work/$pkg"
	dpkg-source -x "$dsc" "$work/$pkg/src" >>"$log_file" 2>&1 || die "dpkg-source -x $(basename "$dsc") failed"
	echo "$work/$pkg/src"
}

# Build library $1 with build_$1 unless its stamp is in the prefix; $2 = version.
lib_build() {
	local pkg=$1 v=$2 d s
	[ -f "$libs/.done-$pkg" ] && return
	LIB_CFLAGS="${LIB_CFLAGS%% -ffile-prefix-map=*} -ffile-prefix-map=$work/$pkg/src=$pkg"
	log_file=$libs/logs/$pkg.log
	: >"$log_file"
	s=$(date +%s)
	d=$(src_unpack "$pkg" "$v")
	# the source package's date stands for "now" (OpenSSL's "built on")
	SOURCE_DATE_EPOCH=$(dpkg-parsechangelog -l "$d/debian/changelog" -STimestamp) ||
		die "cannot read the date of $pkg $v (debian/changelog)"
	export SOURCE_DATE_EPOCH
	# in the background so that set -e holds inside (it is off in a || list)
	(cd "$d" && "build_${pkg//-/_}") >>"$log_file" 2>&1 &
	wait $! || die "building $pkg $v failed"
	touch "$libs/.done-$pkg"
	note "$pkg $v built in $(($(date +%s) - s)) s"
}

build_zlib() {
	CC=$CC AR=$AR RANLIB=$RANLIB CFLAGS="$LIB_CFLAGS" ./configure --static --prefix="$pfx"
	make -j$jobs libz.a
	make install
}

# one C file; libgit2's FindHTTPParser finds it in the prefix
build_http_parser() {
	$CC $LIB_CFLAGS -c http_parser.c -o http_parser.o
	$AR rcs libhttp_parser.a http_parser.o
	install -D -m 644 libhttp_parser.a "$pfx/lib/libhttp_parser.a"
	install -D -m 644 http_parser.h "$pfx/include/http_parser.h"
}

build_openssl() {
	local target=linux-$arch
	# musl: no makecontext (async), no kernel headers (afalg); the binary
	# only needs libssl and libcrypto's TLS client; OPENSSLDIR is where the
	# systems keep openssl.cnf
	# the prefix is compiled in (ENGINESDIR, MODULESDIR, unused here): a neutral
	# one, installed through DESTDIR, so that no build path is in the binary
	local neutral=/usr/local/lib/tflock-openssl
	CC=$CC AR=$AR RANLIB=$RANLIB ./Configure $target --prefix=$neutral --libdir=lib --openssldir=/etc/ssl \
		no-shared no-tests no-async no-afalgeng no-engine no-dso no-module no-comp \
		no-ssl3 no-dtls no-srp no-weak-ssl-ciphers no-legacy no-ui-console \
		-DOPENSSL_NO_SECURE_MEMORY -ffunction-sections -fdata-sections
	make -j$jobs build_libs
	make install_dev DESTDIR="$PWD/_stage"
	cp -R "_stage$neutral/." "$pfx/"
	sed -i "s|^prefix=.*|prefix=$pfx|; s|$neutral|\${prefix}|g" "$pfx"/lib/pkgconfig/{libcrypto,libssl,openssl}.pc
}

# HTTP and HTTPS only; no CA bundle of its own (wrapper/http.c finds one)
build_curl() {
	CC=$CC AR=$AR RANLIB=$RANLIB CFLAGS="$LIB_CFLAGS" PKG_CONFIG_LIBDIR="$pfx/lib/pkgconfig" \
		PKG_CONFIG_PATH='' CPPFLAGS="-I$pfx/include" LDFLAGS="-L$pfx/lib" \
		./configure ${HOST:+--host=$HOST} --prefix="$pfx" --disable-shared --enable-static --with-openssl="$pfx" \
		--without-ca-bundle --without-ca-path --without-ca-fallback \
		--without-zlib --without-brotli --without-zstd --without-libpsl --without-libidn2 \
		--without-nghttp2 --without-nghttp3 --without-ngtcp2 --without-librtmp \
		--without-libssh2 --without-libssh --without-libgsasl --without-gssapi \
		--disable-ldap --disable-ldaps --disable-rtsp --disable-dict --disable-telnet \
		--disable-tftp --disable-pop3 --disable-imap --disable-smb --disable-smtp \
		--disable-gopher --disable-mqtt --disable-ftp --disable-file --disable-manual \
		--disable-ntlm --disable-ntlm-wb --disable-unix-sockets --disable-alt-svc \
		--disable-dependency-tracking
	make -j$jobs -C lib
	make -C lib install
	make -C include install
	make install-pkgconfigDATA
}

build_cjson() {
	$CC $LIB_CFLAGS -c cJSON.c -o cJSON.o
	$AR rcs libcjson.a cJSON.o
	install -D -m 644 libcjson.a "$pfx/lib/libcjson.a"
	install -D -m 644 cJSON.h "$pfx/include/cjson/cJSON.h"
	v=$(sed -n 's/^project(cJSON VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
	mkdir -p "$pfx/lib/pkgconfig"
	printf '%s\n' "prefix=$pfx" "libdir=\${prefix}/lib" "includedir=\${prefix}/include" "" \
		"Name: libcjson" "Description: cJSON (static)" "Version: ${v:-1.7.15}" \
		"Libs: -L\${libdir} -lcjson" "Libs.private: -lm" "Cflags: -I\${includedir}" \
		>"$pfx/lib/pkgconfig/libcjson.pc"
}

# tflock only reads local repositories: no HTTPS, SSH or NTLM; libc's regcomp;
# zlib and http-parser from the prefix only (never the system's)
build_libgit2() {
	local xc=()
	[ -z "$cross" ] || xc=(-DCMAKE_SYSTEM_NAME=Linux -DCMAKE_SYSTEM_PROCESSOR="$arch"
		-DCMAKE_AR="$(command -v "$AR")" -DCMAKE_RANLIB="$(command -v "$RANLIB")")
	mkdir -p _b && cd _b
	cmake .. "${xc[@]}" -DCMAKE_C_COMPILER="$CC" -DCMAKE_C_FLAGS="$LIB_CFLAGS" -DCMAKE_BUILD_TYPE=Release \
		-DCMAKE_INSTALL_PREFIX="$pfx" -DCMAKE_INSTALL_LIBDIR=lib \
		-DCMAKE_FIND_ROOT_PATH="$pfx" -DCMAKE_FIND_ROOT_PATH_MODE_LIBRARY=ONLY \
		-DCMAKE_FIND_ROOT_PATH_MODE_INCLUDE=ONLY -DCMAKE_FIND_ROOT_PATH_MODE_PACKAGE=ONLY \
		-DPKG_CONFIG_EXECUTABLE=/bin/false \
		-DBUILD_SHARED_LIBS=OFF -DBUILD_TESTS=OFF -DBUILD_CLI=OFF -DBUILD_EXAMPLES=OFF \
		-DUSE_SSH=OFF -DUSE_HTTPS=OFF -DUSE_NTLMCLIENT=OFF -DUSE_GSSAPI=OFF \
		-DUSE_SHA1=CollisionDetection -DUSE_SHA256=Builtin -DREGEX_BACKEND=regcomp \
		-DUSE_HTTP_PARSER=system -DUSE_BUNDLED_ZLIB=OFF -DENABLE_REPRODUCIBLE_BUILDS=ON
	make -j$jobs install
}

# musl for arm64 (cross): Debian's musl and musl-dev for arm64, downloaded
# with a private apt state for arm64 (the system's deb entries, read only) and
# unpacked into the cache; a wrapper runs the cross gcc with musl's specs file
# pointed there. Sets CC, AR, RANLIB, STRIP, HOST, musl_version, musl_copyright.
musl_cross() {
	local dir=$cache/musl-$arch a v
	a=$(dpkg --print-architecture 2>/dev/null)
	[ "$arch" = aarch64 ] && a=arm64
	local APTX=(-o "Dir::Etc::SourceList=/etc/apt/sources.list" -o "Dir::Etc::SourceParts=/etc/apt/sources.list.d"
		-o "Dir::State::Lists=$dir/apt/lists" -o "Dir::Cache=$dir/apt/cache" -o "Dir::State::status=/dev/null"
		-o "APT::Architecture=$a" -o "APT::Architectures::=$a" -o "APT::Sandbox::User=root"
		-o "Acquire::Languages=none" -o "Dir::Etc::Preferences=/dev/null" -o "Dir::Etc::PreferencesParts=/dev/null")
	log_file=$cache/musl-$arch.log
	if [ ! -f "$dir/.ok" ]; then
		rm -rf "$dir" && mkdir -p "$dir/apt/lists/partial" "$dir/apt/cache/archives/partial" "$dir/deb" "$dir/root"
		apt-get "${APTX[@]}" -q update >"$log_file" 2>&1 || die "apt-get update of the private $a index failed"
		(cd "$dir/deb" && apt-get "${APTX[@]}" -q download "musl:$a" "musl-dev:$a") >>"$log_file" 2>&1 ||
			die "cannot download musl and musl-dev for $a"
		for f in "$dir"/deb/*.deb; do
			dpkg-deb -x "$f" "$dir/root" >>"$log_file" 2>&1 || die "dpkg-deb -x $f failed"
		done
		local spec=$dir/root/usr/lib/$arch-linux-musl/musl-gcc.specs
		[ -f "$spec" ] || die "no musl-gcc.specs in musl-dev:$a"
		sed -e "s|/usr/include/$arch-linux-musl|$dir/root&|g" -e "s|/usr/lib/$arch-linux-musl|$dir/root&|g" \
			"$spec" >"$dir/musl-gcc.specs"
		printf '#!/bin/sh\nexec %s "$@" -specs "%s"\n' "$cross-gcc" "$dir/musl-gcc.specs" >"$dir/$arch-musl-gcc"
		chmod 755 "$dir/$arch-musl-gcc"
		dpkg-deb -f "$(ls "$dir"/deb/musl-dev_*.deb)" Version >"$dir/VERSION"
		touch "$dir/.ok"
	fi
	CC=$dir/$arch-musl-gcc AR=$cross-ar RANLIB=$cross-ranlib STRIP=$cross-strip HOST=$cross
	musl_version=$(cat "$dir/VERSION")
	musl_copyright=$dir/root/usr/share/doc/musl/copyright
	log_file=
}

# --- main ----------------------------------------------------------------------

musl_version=$(dpkg-query -W -f='${Version}' musl-dev 2>/dev/null || echo '?')
musl_copyright=/usr/share/doc/musl/copyright
[ -z "$cross" ] || musl_cross
apt_update
declare -A ver
key="recipe=$RECIPE arch=$arch musl=$musl_version"
for p in "${PKGS[@]}"; do
	ver[$p]=$(src_fetch "$p") || exit 1
	key="$key $p=${ver[$p]}"
done
log_file=
keyhash=$(printf '%s' "$key" | sha256sum | cut -c1-16)
libs=$cache/libs/$arch-$keyhash
pfx=$libs/prefix
work=$libs/work
mkdir -p "$libs/logs" "$pfx"
printf '%s\n' "$key" >"$libs/KEY"
note "sources: ${key#* * }"

if [ -f "$libs/.done-all" ]; then
	note "static libraries: reused from $libs"
else
	for p in "${PKGS[@]}"; do
		lib_build "$p" "${ver[$p]}"
	done
	unset SOURCE_DATE_EPOCH
	touch "$libs/.done-all"
fi
rm -rf "$work"

# tflock itself: a copy of the source tree, configured out of tree
scratch=$(mktemp -d "$cache/tflock.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
log_file=$cache/tflock-$arch.log # kept: the scratch dir goes
: >"$log_file"
mkdir -p "$scratch/src" "$scratch/build"
(cd "$src" && tar cf - --exclude=./_build --exclude=./.git --exclude=./autom4te.cache \
	--exclude=./portable-cache .) | (cd "$scratch/src" && tar xf -) || die "cannot copy the source tree"
if [ ! -x "$scratch/src/configure" ]; then
	(cd "$scratch/src" && ./bootstrap) >>"$log_file" 2>&1 || die "bootstrap failed (no configure in the source tree)"
fi
(cd "$scratch/build" &&
	../src/configure ${HOST:+--host=$HOST} CC="$CC" \
		CFLAGS="-O2 -ffunction-sections -fdata-sections -ffile-prefix-map=$scratch/src=." \
		LDFLAGS="-static -Wl,--gc-sections" PKG_CONFIG="pkg-config --static" \
		PKG_CONFIG_LIBDIR="$pfx/lib/pkgconfig" PKG_CONFIG_PATH='' \
		TFLOCK_PACKAGING_TESTS=no) >>"$log_file" 2>&1 ||
	die "configure of tflock (static, musl) failed"
make -C "$scratch/build" -j$jobs tflock >>"$log_file" 2>&1 || die "building tflock (static, musl) failed"

name=tflock-$version-linux-$arch
bin=$out/$name
$STRIP -o "$bin.tmp" "$scratch/build/tflock" || die "strip failed"
mv -f "$bin.tmp" "$bin"
chmod 755 "$bin"

# the result is static and runs
log_file=$scratch/check.log
readelf -l "$bin" >"$log_file" 2>&1 || die "readelf -l $name failed"
! grep -q INTERP "$log_file" || die "$name has a program interpreter (INTERP): not static"
readelf -d "$bin" >"$log_file" 2>&1 || true
! grep -q NEEDED "$log_file" || die "$name needs shared libraries (NEEDED): not static"
env -i "${run[@]}" "$bin" --version >"$log_file" 2>&1 || die "$name --version failed${run:+ (under ${run[*]})}"

# the licence notice: the bundled libraries' debian/copyright
{
	echo "tflock $version, portable Linux binary ($arch, fully static)."
	echo "It bundles the following libraries: musl as Debian 12 ships it (musl-dev),"
	echo "the others built from Debian 12's source packages. Their copyright and"
	echo "licence terms (each package's debian/copyright) follow."
	echo
	echo "  musl C library $musl_version (Debian package musl-dev)"
	for p in "${PKGS[@]}"; do
		echo "  $p ${ver[$p]}"
	done
	cop() {
		echo
		echo "==============================================================================="
		echo "$1 $2 (debian/copyright)"
		echo "==============================================================================="
		cat "$3"
	}
	[ -f "$musl_copyright" ] || die "no musl copyright file ($musl_copyright)"
	cop musl "$musl_version" "$musl_copyright"
	for p in "${PKGS[@]}"; do
		d=$cache/src/$p/${ver[$p]}
		f=$(tar -xOf "$(ls "$d"/*.debian.tar.* | head -n1)" debian/copyright 2>/dev/null | head -c 2000000 || true)
		[ -n "$f" ] || die "no debian/copyright in the $p ${ver[$p]} source package"
		cop "$p" "${ver[$p]}" <(printf '%s\n' "$f")
	done
} >"$bin.LICENSES.txt.tmp"
mv -f "$bin.LICENSES.txt.tmp" "$bin.LICENSES.txt"

(cd "$out" && sha256sum "$name" >"$name.sha256.tmp" && mv -f "$name.sha256.tmp" "$name.sha256")
size=$(stat -c %s "$bin")
sum=$(cut -d' ' -f1 "$bin.sha256")
echo "$me: $bin: $size bytes, sha256 $sum ($(($(date +%s) - t0)) s)"
