#!/bin/bash
# The documentation matches the program: every option --help lists (and its
# environment twin) is in README.md and the man page, and every exit code
# --help names is in both.
. "$top_srcdir/tests/integration/lib.sh"
plan_lazy
help=$("$TFLOCK" --help)
readme=$(cat "$top_srcdir/README.md")
man=$(sed 's/\\-/-/g; s/\\f[BIR]//g' "$top_srcdir/tflock.1")
n=0
while read -r opt env; do
	n=$((n + 1))
	ok "--$opt is in README.md" grep -q -- "--$opt" "$top_srcdir/README.md"
	ok "--$opt is in the man page" bash -c 'printf "%s" "$1" | grep -q -- "--$2"' _ "$man" "$opt"
	if [ -n "$env" ]; then
		ok "$env is in README.md" grep -q -- "$env" "$top_srcdir/README.md"
	fi
done < <(printf '%s\n' "$help" | sed -n 's/^ *\(-., \)\{0,1\}--\([a-z-]*\).*\[\(TFLOCK_[A-Z_]*\)\]$/\2 \3/p; s/^ *\(-., \)\{0,1\}--\([a-z-]*\) .*[^]]$/\2/p' | grep -v '^help$\|^version$')
ok "options were found in --help ($n)" test "$n" -ge 25
for code in 64 69 70 75 76 77 126 127; do
	ok "exit code $code is in --help" bash -c 'printf "%s" "$1" | grep -q "$2"' _ "$help" "$code"
	ok "exit code $code is in README.md" bash -c 'printf "%s" "$1" | grep -q "| $2\|$2 /\|/ $2"' _ "$readme" "$code"
	ok "exit code $code is in the man page" bash -c 'printf "%s" "$1" | grep -q "$2"' _ "$man" "$code"
done
done_testing
