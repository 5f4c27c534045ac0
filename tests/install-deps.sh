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
#           into the build tree; dynalite, below)
set -euo pipefail

pkgs=(
	gcc make autoconf automake pkg-config ca-certificates curl git openssl
	libcurl4-openssl-dev libssl-dev libcjson-dev libgit2-dev
	ceph-mon ceph-osd radosgw
)
if [ "${1:-}" != --demo ]; then
	pkgs+=(valgrind golang-go cppcheck clang clang-format libclang-rt-14-dev rsync)
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

# tests only: dynalite, DynamoDB's API on LevelDB (the DynamoDB lock item's
# tests), pinned, into TFLOCK_DYNALITE_PREFIX (default /opt/tflock-test/dynalite).
# dynalite 4 needs Node >= 20; Debian 12's nodejs is 18, where 3.2.2 (the last
# release without that requirement) is used.
if [ "${1:-}" != --demo ]; then
	prefix=${TFLOCK_DYNALITE_PREFIX:-/opt/tflock-test/dynalite}
	major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
	want=dynalite@4.0.0
	[ "$major" -ge 20 ] || want=dynalite@3.2.2
	if [ "$(cat "$prefix/.pkg" 2>/dev/null)" != "$want" ]; then
		echo "install-deps: installing $want (npm) into $prefix" >&2
		mkdir -p "$prefix"
		npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error "$want" >&2
		printf '%s\n' "$want" >"$prefix/.pkg"
	fi
fi
