#!/bin/bash
# pins.sh — the SHA-256 pins of released binaries (versions.txt beside this
# script), which the GitHub Action and the GitLab templates install by.
#
#   pins.sh pin VERSION DIR      pin DIR's tflock-VERSION-linux-*.sha256 files
#                                and this tree's sources (tflock-VERSION-source:
#                                install-tflock.sh source-hash, what a fallback
#                                build of tag vVERSION must match): replace
#                                VERSION's lines in versions.txt, then write
#                                the GitLab templates (sync-templates.sh)
#   pins.sh verify VERSION DIR   the release workflows' gate: exit 0 only when
#                                DIR holds, for every architecture pinned for
#                                VERSION, a binary whose SHA-256 is the pin, and
#                                no binary of VERSION that is not pinned
#
# A release is prepared by building the binaries (build-portable.sh, on
# Debian 12 as the release workflows do), pinning them and committing; the tag
# then goes on that commit, and the workflows rebuild from it and publish
# only what verify accepts: a binary that differs from its pin (a build that is
# not reproducible, a changed toolchain) stops the release.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
pins=$here/versions.txt
die() {
	echo "pins: $*" >&2
	exit 1
}
[ $# = 3 ] || {
	echo "usage: pins.sh pin|verify VERSION DIR" >&2
	exit 64
}
mode=$1 version=${2#v} dir=$3
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "version '$version' is not X.Y.Z"
[ -d "$dir" ] || die "no directory '$dir'"

# the binaries of VERSION in DIR, as "HASH  NAME" lines, each checked against its file
built() {
	local f name sum
	for f in "$dir"/tflock-"$version"-linux-*.sha256; do
		[ -e "$f" ] || continue
		name=$(basename "$f" .sha256)
		[ -f "$dir/$name" ] || die "$f names $name, which is not in $dir"
		sum=$(sha256sum "$dir/$name" | cut -d' ' -f1)
		grep -qx "$sum  $name" "$f" || die "$f does not match $name (SHA-256 $sum)"
		printf '%s  %s\n' "$sum" "$name"
	done
}

case $mode in
pin)
	lines=$(built)
	[ -n "$lines" ] || die "no tflock-$version-linux-*.sha256 in $dir"
	# the sources too: the fallback builds tag vVERSION only if they hash to this
	srcpin=$(TFLOCK_SRC=$here/../.. bash "$here/../install-tflock.sh" source-hash | sed -n 's/^source=//p')
	[ -n "$srcpin" ] || die "cannot hash the sources"
	lines=$(printf '%s\n%s  tflock-%s-source\n' "$lines" "$srcpin" "$version")
	{
		grep -v -e "  tflock-$version-linux-" -e "  tflock-$version-source\$" "$pins" || true
		printf '%s\n' "$lines"
	} >"$pins.new"
	mv "$pins.new" "$pins"
	printf '%s\n' "$lines" | sed 's/^/pins: pinned /' >&2
	"$here/sync-templates.sh"
	;;
verify)
	want=$(grep -- "  tflock-$version-linux-" "$pins" | LC_ALL=C sort || true)
	[ -n "$want" ] || die "tflock $version is not pinned in versions.txt: pin it (pins.sh pin) before tagging"
	got=$(built | LC_ALL=C sort)
	if [ "$want" != "$got" ]; then
		diff <(printf '%s\n' "$want") <(printf '%s\n' "$got") | sed -n 's/^</pins: pinned:/p; s/^>/pins: built: /p' >&2 || true
		die "the binaries built for $version are not the pinned ones: not publishing them"
	fi
	echo "pins: $(printf '%s\n' "$got" | wc -l) binaries of $version match their pins" >&2
	;;
*)
	echo "usage: pins.sh pin|verify VERSION DIR" >&2
	exit 64
	;;
esac
