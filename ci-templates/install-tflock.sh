#!/bin/bash
# install-tflock.sh — build tflock from a source tree into a cache directory, for
# CI jobs (the GitHub Action and the GitLab template both use it).
#
#   install-tflock.sh source      print src=, key= and prefix= lines
#   install-tflock.sh install     make sure PREFIX/bin/tflock is built from the
#                                 source; print bin=
#   install-tflock.sh repository  print repository= (the action's own, see
#                                 TFLOCK_REPOSITORY), for install-release.sh
#   install-tflock.sh source-hash print source= (the SHA-256 of the files the
#                                 build reads: a release's source pin)
#
# Both print "name=value" lines on stdout, and append them to $GITHUB_OUTPUT
# when it is set; install also adds PREFIX/bin to $GITHUB_PATH when that is set.
# Settings, from the environment:
#
#   TFLOCK_SRC          the source tree (default: the tree this script is in)
#   TFLOCK_REPOSITORY   with TFLOCK_REF: fetch that ref of this git repository
#   TFLOCK_REF          ("owner/name" is fetched from $GITHUB_SERVER_URL) into
#                       TFLOCK_FETCH_DIR (default $RUNNER_TEMP/tflock-src) and
#                       build that instead
#   TFLOCK_VERSION      X.Y.Z: without TFLOCK_REF, build tag vX.Y.Z of that
#                       repository unless the source tree is that version (the
#                       fallback when a released binary cannot be downloaded),
#                       and only if its sources hash to TFLOCK_SOURCE_PIN (a
#                       tag can be moved); "source", "latest": this tree
#   TFLOCK_CACHE_ROOT   where builds are kept, one directory per key (default:
#                       $RUNNER_TOOL_CACHE/tflock, else ~/.cache/tflock)
#   TFLOCK_PRUNE        1: remove the other keys' builds under the cache root
#   TFLOCK_NO_APT       1: never run apt-get (fail naming what is missing)
#
# The key is a hash of every file the build reads (configure.ac, Makefile.am,
# bootstrap, wrapper/, this script), the distribution (ID and VERSION_ID from
# /etc/os-release: the binary links the distribution's libcurl, libgit2, ...)
# and the machine. A build is reused when PREFIX/.key holds the same key and
# the binary runs: a restored CI cache skips the build. Missing Debian/Ubuntu
# packages are installed with apt-get (through sudo when not root): the build
# dependencies before a build, only the missing runtime libraries otherwise.
# The source tree is never written to: the build happens in a scratch copy.
set -euo pipefail

build_pkgs=(gcc make autoconf automake pkg-config libcurl4-openssl-dev libssl-dev libcjson-dev libgit2-dev)
runtime_pkgs=(libcurl4-openssl-dev libssl-dev libcjson-dev libgit2-dev)

say() { printf 'tflock-install: %s\n' "$*" >&2; }
die() {
	say "$*"
	exit 1
}
out() {
	printf '%s=%s\n' "$1" "$2"
	if [ -n "${GITHUB_OUTPUT:-}" ]; then printf '%s=%s\n' "$1" "$2" >>"$GITHUB_OUTPUT"; fi
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
scratch=
cleanup() { if [ -n "$scratch" ]; then rm -rf "$scratch"; fi; }
trap cleanup EXIT
new_scratch() {
	if [ -z "$scratch" ]; then scratch=$(mktemp -d "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/tflock-install.XXXXXX"); fi
}

# the repository to fetch from: TFLOCK_REPOSITORY, else (inside a composite
# action github.action_repository is empty) the action's own, read from its
# path .../_actions/OWNER/NAME/REF/...; empty when neither tells
action_repo() {
	local repo=${TFLOCK_REPOSITORY:-} rest
	if [ -z "$repo" ] && [ -n "${GITHUB_ACTION_PATH:-}" ]; then
		case $GITHUB_ACTION_PATH in */_actions/*/*/*)
			rest=${GITHUB_ACTION_PATH#*/_actions/}
			repo=$(printf '%s' "$rest" | cut -d/ -f1-2) ;;
		esac
	fi
	printf '%s' "$repo"
}

# the version a source tree builds (AC_INIT in configure.ac)
tree_version() { sed -n 's/^AC_INIT(\[tflock\], \[\([^]]*\)\].*/\1/p' "$1/configure.ac" 2>/dev/null; }

# the source tree: this script's own, TFLOCK_SRC, or a fetched ref
resolve_src() {
	local want=${TFLOCK_VERSION:-} pinned_ref=0
	want=${want#v}
	if [ -z "${TFLOCK_REF:-}" ] && [ -n "$want" ] && [ "$want" != latest ] && [ "$want" != source ] &&
		[ "$(tree_version "${TFLOCK_SRC:-$here/..}")" != "$want" ]; then
		TFLOCK_REF=v$want
		pinned_ref=1
		# a tag can be moved: build it only if its sources are the pinned ones
		[ -n "${TFLOCK_SOURCE_PIN:-}" ] ||
			die "tflock $want has no pinned sources (tflock-$want-source in release/versions.txt): not building tag v$want"
	fi
	if [ -n "${TFLOCK_REF:-}" ]; then
		local repo
		repo=$(action_repo)
		[ -n "$repo" ] || die "TFLOCK_REF is set but TFLOCK_REPOSITORY is not: name the repository to fetch it from"
		case $repo in
		*://* | /* | *@*:*) ;;
		*/*) repo=${GITHUB_SERVER_URL:-https://github.com}/$repo.git ;;
		*) die "TFLOCK_REPOSITORY '$repo' is neither owner/name nor a git URL" ;;
		esac
		src=${TFLOCK_FETCH_DIR:-${RUNNER_TEMP:-${TMPDIR:-/tmp}}/tflock-src}
		say "fetching $TFLOCK_REF from $repo"
		rm -rf "$src"
		git init -q "$src"
		git -C "$src" fetch -q --depth 1 "$repo" "$TFLOCK_REF" ||
			die "cannot fetch '$TFLOCK_REF' from $repo"
		git -C "$src" -c advice.detachedHead=false checkout -q FETCH_HEAD
		if [ $pinned_ref = 1 ]; then
			local got
			got=$(source_hash)
			[ "$got" = "$TFLOCK_SOURCE_PIN" ] ||
				die "the sources of $TFLOCK_REF from $repo are not the pinned ones (SHA-256 $got, pinned $TFLOCK_SOURCE_PIN): not building them"
		fi
	else
		src=${TFLOCK_SRC:-$here/..}
		src=$(cd "$src" && pwd) || die "source tree '${TFLOCK_SRC:-}' not found"
	fi
	[ -f "$src/configure.ac" ] && [ -f "$src/wrapper/main.c" ] ||
		die "'$src' is not a tflock source tree (no configure.ac, wrapper/main.c)"
}

os_id() {
	local id=unknown ver=0
	if [ -r /etc/os-release ]; then
		# shellcheck disable=SC1091
		id=$(. /etc/os-release && printf '%s' "${ID:-unknown}")
		# shellcheck disable=SC1091
		ver=$(. /etc/os-release && printf '%s' "${VERSION_ID:-0}")
	fi
	printf '%s-%s-%s' "$id" "$ver" "$(uname -m)"
}

# the SHA-256 of every file the build reads: the sources' pin (release/pins.sh
# writes it), defined once, in install-release.sh (the GitLab templates carry
# that file inline)
source_hash() { sh "$here/install-release.sh" source-hash "$src"; }

compute_key() {
	local sh
	sh=$(source_hash) || die "cannot hash the sources in '$src'"
	key=$(os_id)-$(printf '%s\n%s\n' "$(os_id)" "$sh" | sha256sum | cut -c1-24)
}

cache_root() {
	if [ -n "${TFLOCK_CACHE_ROOT:-}" ]; then
		printf '%s' "$TFLOCK_CACHE_ROOT"
	elif [ -n "${RUNNER_TOOL_CACHE:-}" ]; then
		printf '%s/tflock' "$RUNNER_TOOL_CACHE"
	else
		printf '%s/.cache/tflock' "${HOME:?HOME is not set}"
	fi
}

as_root() {
	if [ "$(id -u)" = 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo -n "$@"
	else
		die "need root to run: $* (no sudo)"
	fi
}

# apt_ensure PKG... — install the packages that are not installed yet
apt_ensure() {
	local p st missing=()
	if ! command -v dpkg-query >/dev/null 2>&1; then
		die "not a Debian/Ubuntu system: install by hand the equivalents of: $*"
	fi
	for p in "$@"; do
		st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
		[ "$st" = "install ok installed" ] || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "${TFLOCK_NO_APT:-0}" = 1 ]; then
		die "missing packages: ${missing[*]} (TFLOCK_NO_APT=1: not installing them)"
	fi
	say "installing ${missing[*]}"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		"${missing[@]}" >/dev/null
}

# the cached binary is usable: same key, runs, all libraries found
usable() {
	local bin=$1
	[ -x "$bin" ] && [ -f "$prefix/.key" ] && [ "$(cat "$prefix/.key")" = "$key" ] || return 1
	if command -v ldd >/dev/null 2>&1 && ldd "$bin" 2>/dev/null | grep -q 'not found'; then
		say "the cached tflock misses libraries: $(ldd "$bin" | awk '/not found/ { printf "%s ", $1 }')"
		apt_ensure "${runtime_pkgs[@]}"
	fi
	"$bin" --version >/dev/null 2>&1
}

build() {
	local b
	apt_ensure "${build_pkgs[@]}"
	new_scratch
	say "building tflock ($key)"
	mkdir -p "$scratch/tree"
	tar -C "$src" --exclude=./_build --exclude=./.git --exclude=./autom4te.cache -cf - . |
		tar -C "$scratch/tree" -xf -
	(cd "$scratch/tree" && sh ./bootstrap >"$scratch/build.log" 2>&1) ||
		{ cat "$scratch/build.log" >&2; die "bootstrap failed"; }
	b=$scratch/tree/_ci-build
	mkdir -p "$b"
	(cd "$b" && ../configure -q >>"$scratch/build.log" 2>&1 &&
		make -s -j"$(nproc 2>/dev/null || echo 2)" tflock >>"$scratch/build.log" 2>&1) ||
		{ tail -n 60 "$scratch/build.log" >&2; die "the build failed"; }
	# assembled beside, then renamed: a concurrent job never sees half of it
	local tmp=$prefix.tmp.$$
	rm -rf "$tmp"
	mkdir -p "$tmp/bin"
	install -m 0755 "$b/tflock" "$tmp/bin/tflock"
	if [ -f "$scratch/tree/tflock.1" ]; then
		install -D -m 0644 "$scratch/tree/tflock.1" "$tmp/share/man/man1/tflock.1"
	fi
	printf '%s\n' "$key" >"$tmp/.key"
	rm -rf "$prefix"
	mv "$tmp" "$prefix"
}

cmd=${1:-}
case $cmd in
source | install) ;;
repository)
	out repository "$(action_repo)"
	exit 0
	;;
source-hash)
	src=${TFLOCK_SRC:-$here/..}
	[ -f "$src/configure.ac" ] || die "'$src' is not a tflock source tree"
	out source "$(source_hash)"
	exit 0
	;;
*)
	echo "usage: install-tflock.sh source|install|repository|source-hash" >&2
	exit 64
	;;
esac

resolve_src
compute_key
root=$(cache_root)
prefix=$root/$key

if [ "$cmd" = source ]; then
	out src "$src"
	out key "$key"
	out prefix "$prefix"
	exit 0
fi

bin=$prefix/bin/tflock
if usable "$bin"; then
	say "tflock $key found in the cache: not building"
else
	build
	usable "$bin" || die "the freshly built $bin does not run"
fi
if [ "${TFLOCK_PRUNE:-0}" = 1 ]; then
	for d in "$root"/*/; do
		d=${d%/}
		[ "$d" = "$prefix" ] || [ ! -f "$d/.key" ] || rm -rf "$d"
	done
fi
say "$("$bin" --version 2>&1 | head -n 1)"
out bin "$bin"
# later steps of a GitHub job find it on PATH
if [ -n "${GITHUB_PATH:-}" ]; then printf '%s\n' "$prefix/bin" >>"$GITHUB_PATH"; fi
