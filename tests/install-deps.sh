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
#           into the build tree)
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
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing packages: ${missing[*]} (run as root, or install them)" >&2
	exit 1
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
