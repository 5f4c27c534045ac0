#!/bin/sh
# install-release.sh — put a released tflock binary (the portable, static one)
# on this machine, verified against the SHA-256 pinned in this tree, for CI
# jobs. The GitHub Action runs this file; the GitLab templates carry the same
# text inline (written there by release/sync-templates.sh, which also puts the
# pins inline in place of the tflock_pins function below). POSIX sh: it runs
# under Alpine's busybox as well as bash or dash.
#
#   install-release.sh plan      print version=, asset=, sha256=, source= and prefix=
#   install-release.sh install   make sure PREFIX/bin/tflock is that binary,
#                                downloading it if needed; print bin=
#   install-release.sh source-hash DIR   the SHA-256 of the files a build of
#                                the source tree DIR reads (a source pin)
#
# Both print "name=value" lines on stdout (and to $GITHUB_OUTPUT when set).
# Settings, from the environment:
#
#   TFLOCK_VERSION      X.Y.Z (a leading v is allowed); empty or "latest": the
#                       newest pinned version
#   TFLOCK_RELEASE_URL  where the assets are: a URL with {version} and {asset}
#                       in it (default, on GitHub:
#                       $GITHUB_SERVER_URL/$TFLOCK_REPOSITORY/releases/download/v{version}/{asset})
#   TFLOCK_CACHE_ROOT   where binaries are kept (default: $RUNNER_TOOL_CACHE/tflock,
#                       else ~/.cache/tflock), one directory per version and machine
#
# A checksum published beside a release proves integrity, not origin, so the
# SHA-256 of every released binary is pinned in this tree
# (release/versions.txt): pinning the action or the template pins the binary.
# A cached binary is verified again before it is used. With CI_JOB_TOKEN set
# and a release URL under $CI_API_V4_URL (GitLab's generic package registry),
# the job token is sent to that URL, and to no other: not to where it
# redirects, and not at all without curl.
#
# Exit status: 0 installed; 1 refused: a checksum mismatch (downloaded or
# cached), a cached release directory holding other files, a version with no
# pin, bad input: never to be answered by building from source; 3 no release
# asset was reachable, or no binary of that version is pinned for this system
# (not Linux, another architecture): the caller builds the version's tag from
# source, after checking the tag's sources against source= (what source-hash
# gives, pinned as tflock-VERSION-source); 64
# usage. TFLOCK_PRUNE=1 removes the other releases from the cache.
set -eu

say() { printf 'tflock-install: %s\n' "$*" >&2; }
refuse() {
	say "$*"
	exit 1
}
unreachable() {
	say "$*"
	exit 3
}
out() {
	printf '%s=%s\n' "$1" "$2"
	if [ -n "${GITHUB_OUTPUT:-}" ]; then printf '%s=%s\n' "$1" "$2" >>"$GITHUB_OUTPUT"; fi
}

# BEGIN tflock_pins: "SHA-256  tflock-VERSION-linux-ARCH" lines, as sha256sum writes them
tflock_pins() { grep -v '^#' "$(dirname "$0")/release/versions.txt" 2>/dev/null || true; }
# END tflock_pins

# the machine's architecture as the assets name them; empty: no portable
# build for this system (not Linux, or another architecture)
arch() {
	[ "$(uname -s)" = Linux ] || return 0
	case $(uname -m) in
	x86_64 | amd64) echo x86_64 ;;
	aarch64 | arm64) echo aarch64 ;;
	esac
}

sha256() {
	if command -v sha256sum >/dev/null 2>&1; then
		sha256sum "$1" | cut -d' ' -f1
	elif command -v shasum >/dev/null 2>&1; then
		shasum -a 256 "$1" | cut -d' ' -f1
	elif command -v openssl >/dev/null 2>&1; then
		openssl dgst -sha256 -r "$1" | cut -d' ' -f1
	else
		refuse "no sha256sum, shasum or openssl here: cannot verify the binary"
	fi
}

# the pinned versions with a binary for ARCH ("" for any), newest last
# (versions compared field by field, numerically)
pinned() {
	tflock_pins | sed -n "s/^[0-9a-f]\{64\}  tflock-\([0-9][0-9.]*[0-9]\)-linux-${1:-[a-z0-9_]*}\$/\1/p" |
		sort -u -t . -k 1,1n -k 2,2n -k 3,3n
}

# version=, and the sha256 pins of its binary for this machine (want) and of
# its sources (source_pin). Exit 3 (after printing version= and source=, so
# that the caller builds that version's tag, checked against source=) when
# this machine has no pinned binary of it
resolve() {
	version=${TFLOCK_VERSION:-}
	version=${version#v}
	a=$(arch)
	if [ -z "$version" ] || [ "$version" = latest ]; then
		version=$(pinned "$a" | tail -n 1)
		[ -n "$version" ] || version=$(pinned "" | tail -n 1)
		[ -n "$version" ] || unreachable "no released version is pinned here: building from source"
	fi
	case $version in
	*[!0-9.]* | .* | *. | *..*) refuse "version '$version' is not X.Y.Z" ;;
	esac
	if ! pinned "" | grep -qx "$version"; then
		known=$(pinned "" | tr '\n' ' ')
		refuse "tflock $version has no pinned checksum here (pinned: ${known:-none}): use a newer action or template, or build a ref"
	fi
	source_pin=$(tflock_pins | awk -v f="tflock-$version-source" '$2 == f { print $1; exit }')
	asset=tflock-$version-linux-${a:-none}
	want=$(tflock_pins | awk -v f="$asset" '$2 == f { print $1; exit }')
	if [ -z "$want" ]; then
		out version "$version"
		out source "$source_pin"
		unreachable "no portable tflock $version is pinned for $(uname -s) $(uname -m): building it from source"
	fi
	if [ -n "${TFLOCK_CACHE_ROOT:-}" ]; then
		root=$TFLOCK_CACHE_ROOT
	elif [ -n "${RUNNER_TOOL_CACHE:-}" ]; then
		root=$RUNNER_TOOL_CACHE/tflock
	else
		root=${HOME:?HOME is not set}/.cache/tflock
	fi
	prefix=$root/release-$version-linux-$a
}

# https, or plain http to loopback (the tests' servers)
url_ok() {
	case $1 in
	https://* | http://127.0.0.1[:/]* | http://localhost[:/]* | http://\[::1\][:/]*) return 0 ;;
	esac
	return 1
}

release_url() {
	u=${TFLOCK_RELEASE_URL:-}
	if [ -z "$u" ]; then
		r=${TFLOCK_REPOSITORY:-}
		case $r in
		"") unreachable "no TFLOCK_RELEASE_URL and no TFLOCK_REPOSITORY: nowhere to download from" ;;
		*://*) u=${r%.git}/releases/download/v{version}/{asset} ;;
		*) u=${GITHUB_SERVER_URL:-https://github.com}/$r/releases/download/v{version}/{asset} ;;
		esac
	fi
	url_ok "$u" || refuse "release URL '$u' is neither https nor loopback"
	u=$(printf '%s' "$u" | sed -e "s|{version}|$version|g" -e "s|{asset}|$asset|g")
}

# fetch URL FILE: 0 downloaded, else unreachable. The job token goes to
# $CI_API_V4_URL alone: a redirect from there (to object storage, say) is
# followed without it, by hand, and only to an https (or loopback) URL
fetch() {
	token_header=
	case $1 in
	"${CI_API_V4_URL:-//none}"/*) [ -z "${CI_JOB_TOKEN:-}" ] || token_header="JOB-TOKEN: $CI_JOB_TOKEN" ;;
	esac
	url=$1 file=$2
	if command -v curl >/dev/null 2>&1; then
		set -- --retry 2 --connect-timeout 10 --max-time 300 -o "$file"
		if [ -z "$token_header" ]; then
			curl -fsSL --proto-redir =https "$@" "$url"
			return
		fi
		loc=$(curl -fsS "$@" -H "$token_header" -w '%{redirect_url}' "$url") || return 1
		[ -n "$loc" ] || return 0
		url_ok "$loc" || {
			say "refusing the redirect to '$loc': neither https nor loopback"
			return 1
		}
		curl -fsSL --proto-redir =https "$@" "$loc"
	elif command -v wget >/dev/null 2>&1; then
		# (no -T: Debian 12's busybox wget crashes on it)
		[ -z "$token_header" ] ||
			say "no curl here: downloading without the job token (wget would pass it on to wherever it is redirected)"
		wget -q -O "$file" "$url"
	else
		say "neither curl nor wget is here"
		return 1
	fi
}

# the release's directory holds the binary and its .sha256, nothing else
# (its bin/ goes on PATH)
only_binary() {
	[ "$(cd "$prefix" && LC_ALL=C ls -A)" = "$(printf '.sha256\nbin')" ] &&
		[ "$(cd "$prefix/bin" && LC_ALL=C ls -A)" = tflock ]
}

install_release() {
	bin=$prefix/bin/tflock
	if [ -f "$bin" ]; then
		got=$(sha256 "$bin")
		[ "$got" = "$want" ] ||
			refuse "the cached $bin is not tflock $version's binary (SHA-256 $got, pinned $want): refusing it; remove $prefix"
		only_binary || refuse "the cached $prefix holds files besides bin/tflock: refusing it; remove $prefix"
		say "tflock $version found in the cache, checksum verified"
		return 0
	fi
	release_url
	mkdir -p "$root"
	tmp=$root/.dl.$$
	rm -rf "$tmp"
	mkdir -p "$tmp/bin"
	trap 'rm -rf "$tmp"' EXIT
	say "downloading $u"
	if ! fetch "$u" "$tmp/bin/tflock"; then
		unreachable "cannot download $u: building from source instead"
	fi
	got=$(sha256 "$tmp/bin/tflock")
	[ "$got" = "$want" ] ||
		refuse "checksum mismatch for $asset from $u: SHA-256 $got, pinned $want: refusing it (not building from source instead)"
	chmod 0755 "$tmp/bin/tflock"
	printf '%s  %s\n' "$want" "$asset" >"$tmp/.sha256"
	# assembled beside, then renamed: a concurrent job never sees half of it
	rm -rf "$prefix"
	mv "$tmp" "$prefix"
	trap - EXIT
	say "tflock $version installed, checksum verified"
}

cmd=${1:-}
case $cmd in
plan)
	resolve
	out version "$version"
	out asset "$asset"
	out sha256 "$want"
	out source "$source_pin"
	out prefix "$prefix"
	;;
install)
	resolve
	install_release
	"$bin" --version >/dev/null 2>&1 || refuse "$bin does not run here"
	out bin "$bin"
	if [ -n "${GITHUB_PATH:-}" ]; then printf '%s\n' "$prefix/bin" >>"$GITHUB_PATH"; fi
	# TFLOCK_PRUNE=1: the other releases go (the GitLab cache keeps one)
	if [ "${TFLOCK_PRUNE:-0}" = 1 ]; then
		for d in "$root"/release-*; do
			[ "$d" = "$prefix" ] || [ ! -d "$d" ] || rm -rf "$d"
		done
	fi
	;;
source-hash)
	# the SHA-256 of every file a source build reads: install-tflock.sh's cache
	# key, and a release's source pin (tflock-VERSION-source)
	[ -f "${2:-}/configure.ac" ] || {
		echo "usage: install-release.sh source-hash DIR (a tflock source tree)" >&2
		exit 64
	}
	(cd "$2" && find configure.ac Makefile.am bootstrap wrapper ci-templates/install-tflock.sh \
		-type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum) | sha256sum | cut -c1-64
	;;
*)
	echo "usage: install-release.sh plan|install|source-hash DIR" >&2
	exit 64
	;;
esac
