#!/bin/sh
# install.sh — install tflock's pre-apply hook into a git repository, where
# tflock looks for it: core.hooksPath when the repository sets it, else
# .git/hooks. One command:
#
#   hooks/install.sh [--force] [--link] [REPOSITORY]
#
# REPOSITORY defaults to the current directory. The hook is copied (with --link:
# symlinked, so it follows this checkout of tflock) as <hooks dir>/pre-apply,
# mode 0755. An existing, different pre-apply hook is kept unless --force is
# given (it is then saved as pre-apply.orig). Running it again is harmless.
# Exit status: 0 installed or already there, 1 refused or failed, 64 usage.
set -eu

say() { printf 'install.sh: %s\n' "$*" >&2; }
usage() {
	echo "usage: hooks/install.sh [--force] [--link] [REPOSITORY]" >&2
	exit 64
}

force=0
link=0
repo=
while [ $# -gt 0 ]; do
	case $1 in
	--force) force=1 ;;
	--link) link=1 ;;
	-h | --help) usage ;;
	--) shift; break ;;
	-*) say "unknown option '$1'"; usage ;;
	*) [ -z "$repo" ] || usage; repo=$1 ;;
	esac
	shift
done
[ $# -eq 0 ] || { [ -z "$repo" ] && [ $# -eq 1 ] && repo=$1; } || usage
repo=${repo:-.}

src=$(cd "$(dirname "$0")" && pwd)/pre-apply
[ -f "$src" ] || { say "cannot find the hook next to this script ($src)"; exit 1; }
command -v git >/dev/null 2>&1 || { say "git not found"; exit 1; }
top=$(git -C "$repo" rev-parse --show-toplevel 2>/dev/null) || {
	say "'$repo' is not in a git work tree"
	exit 1
}
# git resolves core.hooksPath (relative to the work tree) or <git dir>/hooks
hooks=$(cd "$top" && git rev-parse --git-path hooks)
case $hooks in /*) ;; *) hooks=$top/$hooks ;; esac
mkdir -p "$hooks"
hooks=$(cd "$hooks" && pwd)
dst=$hooks/pre-apply

if [ -e "$dst" ] || [ -L "$dst" ]; then
	if [ "$link" = 1 ] && [ -L "$dst" ] && [ "$(readlink "$dst")" = "$src" ]; then
		say "already installed: $dst -> $src"
		exit 0
	fi
	if [ "$link" = 0 ] && [ ! -L "$dst" ] && cmp -s "$src" "$dst"; then
		chmod 0755 "$dst"
		say "already installed: $dst"
		exit 0
	fi
	if [ "$force" = 0 ]; then
		say "$dst exists and differs: not replacing it (use --force; the old one is kept as pre-apply.orig)"
		exit 1
	fi
	mv -f "$dst" "$dst.orig"
fi
if [ "$link" = 1 ]; then
	ln -s "$src" "$dst"
else
	tmp=$dst.tmp.$$
	cp "$src" "$tmp"
	chmod 0755 "$tmp"
	mv -f "$tmp" "$dst"
fi
say "installed $dst"
