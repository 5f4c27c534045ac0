#!/bin/bash
# install-deps.sh — install, from Debian 12's packages, what tflock's build and
# tests need; with --demo only what the demo needs (the build and the local
# gateway). Idempotent: installs only what is missing. Run as root.
#
#   build:  gcc make autoconf automake pkg-config and the -dev packages of
#           libcurl, OpenSSL, cJSON and libgit2
#   gateway (demo and tests): ceph-mon ceph-osd radosgw curl openssl
#   tests only: valgrind; Go (checks lock bodies with Terraform's own JSON
#           decoding); cppcheck; clang (the fuzzers, the second warnings
#           build); clang-format; rsync; Node.js and npm where the machine has
#           no npm (the CI-template validators, installed from the npm registry
#           into the build tree); python3 (a local HTTP server serving a release)
#           and busybox (the release installer as on Alpine);
#           debhelper, lintian, fakeroot (the .deb); musl-tools, cmake, perl,
#           gcc-aarch64-linux-gnu, qemu-user-static (the static binaries);
#           dynalite (below)
#
# dynalite, the DynamoDB-compatible server of the DynamoDB lock item's tests,
# comes from the npm registry, pinned, into the source tree's _build/dynalite
# (or $TFLOCK_TEST_DYNALITE_PREFIX), where tests/helpers/ddb-start looks for
# it: 4.0.0 where node is 20 or newer (it needs 20), else 3.2.2, the last
# release that runs on older node (Debian 12's own nodejs is 18). The tests run
# it in memory, so its optional LevelDB binding is left out. The exact version
# installed is written to PREFIX/VERSION. Not with --demo.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)

pkgs=(
	gcc make autoconf automake pkg-config ca-certificates curl git openssl
	libcurl4-openssl-dev libssl-dev libcjson-dev libgit2-dev
	ceph-mon ceph-osd radosgw
)
if [ "${1:-}" != --demo ]; then
	pkgs+=(valgrind golang-go cppcheck clang clang-format libclang-rt-14-dev rsync python3 busybox)
	# packaging tests: the .deb (debhelper, lintian), the static binary (musl,
	# cmake for libgit2; its libraries come from Debian's source packages)
	pkgs+=(debhelper lintian dpkg-dev fakeroot musl-tools cmake perl)
	# the aarch64 static binary: a cross compiler (musl for arm64 is unpacked
	# into the build's cache, not installed) and qemu to run its --version
	pkgs+=(gcc-aarch64-linux-gnu qemu-user-static)
	# node and npm come with some machine images; Debian's packages otherwise
	command -v npm >/dev/null 2>&1 || pkgs+=(nodejs npm)
fi
[ -n "${TFLOCK_EXTRA_PKGS:-}" ] && read -r -a extra <<<"$TFLOCK_EXTRA_PKGS" && pkgs+=("${extra[@]}")

missing=()
for p in "${pkgs[@]}"; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$st" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "install-deps: missing packages: ${missing[*]} (run as root, or install them)" >&2
		exit 1
	fi
	echo "install-deps: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null
	apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

[ "${1:-}" = --demo ] && exit 0

# dynalite (see the top): installed again only when the pin changes (node
# upgraded to 20 or newer) or the installation is incomplete
prefix=${TFLOCK_TEST_DYNALITE_PREFIX:-$src/_build/dynalite}
mod=$prefix/node_modules/dynalite
major=$(node -p 'process.versions.node.split(".")[0]')
want=dynalite@4.0.0
[ "$major" -ge 20 ] || want=dynalite@3.2.2
if [ "$(cat "$prefix/.pkg" 2>/dev/null)" = "$want" ] && [ -s "$prefix/VERSION" ] &&
	[ -f "$mod/package.json" ]; then
	exit 0
fi
echo "install-deps: installing $want (npm) into $prefix" >&2
mkdir -p "$prefix"
rm -rf "$prefix/node_modules" "$prefix/package.json" "$prefix/package-lock.json" "$prefix/.pkg" \
	"$prefix/VERSION"
# the module must load, too (version 4's LevelDB module has a native part, used or not)
if ! npm install --prefix "$prefix" --save-exact --omit=optional --no-audit --no-fund \
	--loglevel=error "$want" >"$prefix/install.log" 2>&1 ||
	! node -e 'require(process.argv[1])' "$mod" >>"$prefix/install.log" 2>&1; then
	tail -n 20 "$prefix/install.log" | sed 's/^/install-deps: /' >&2
	echo "install-deps: could not install $want: see $prefix/install.log" >&2
	exit 1
fi
node -p 'require(process.argv[1]).version' "$mod/package.json" >"$prefix/VERSION"
printf '%s\n' "$want" >"$prefix/.pkg"
