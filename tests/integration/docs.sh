#!/bin/bash
# The documentation matches the program: every option --help lists (and its
# environment twin) is in README.md and the man page, and every exit code
# --help names is in both.
. "$top_srcdir/tests/integration/lib.sh"
plan_lazy
help=$("$TFLOCK" --help)
# an option's text wraps onto lines indented past the flag column: join them
joined=$(printf '%s\n' "$help" | awk '/^ {20,}[^ -]/ { sub(/^ +/, " "); line = line $0; next }
	{ if (NR > 1) print line; line = $0 } END { print line }')
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
done < <(printf '%s\n' "$joined" | sed -n 's/^ *\(-., \)\{0,1\}--\([a-z-]*\).*\[\(TFLOCK_[A-Z_]*\)\]$/\2 \3/p; s/^ *\(-., \)\{0,1\}--\([a-z-]*\) .*[^]]$/\2/p' | grep -v '^help$\|^version$')
ok "options were found in --help ($n)" test "$n" -ge 25
is "" "$(printf '%s\n' "$help" | awk 'length($0) > 80')" "--help fits 80 columns"
like "$help" "Example: +tflock -- terraform apply" "--help has an example"
like "$help" "\\.terraform/" "--help says .terraform/ is read by itself"
for sec in EXAMPLES FILES "SEE ALSO" CREDENTIALS "EXIT STATUS"; do
	ok "the man page has $sec" grep -q "^\.SH $sec" "$top_srcdir/tflock.1"
done
for topic in -lock-timeout "workspace new" "--json" "--watch" "AWS_WEB_IDENTITY_TOKEN_FILE" "share/doc/tflock"; do
	ok "the man page covers $topic" bash -c 'printf "%s" "$1" | grep -q -- "$2"' _ "$man" "$topic"
done
if command -v groff >/dev/null; then
	is "" "$(groff -man -Tutf8 -ww -z "$top_srcdir/tflock.1" 2>&1)" "groff renders the man page without a warning"
fi
for code in 64 69 70 75 76 77 78 126 127; do
	ok "exit code $code is in --help" bash -c 'printf "%s" "$1" | grep -q "$2"' _ "$help" "$code"
	ok "exit code $code is in README.md" bash -c 'printf "%s" "$1" | grep -q "| $2\|$2 /\|/ $2"' _ "$readme" "$code"
	ok "exit code $code is in the man page" bash -c 'printf "%s" "$1" | grep -q "$2"' _ "$man" "$code"
done

# Every tflock release the CI templates and the docs pin (uses: .../ci-templates/
# github@REF, a YAML TFLOCK_REF: REF) is configure.ac's version as a tag, or a
# full commit SHA; an all-caps placeholder (@REF) is not a pin
version=$(sed -n 's/^AC_INIT(\[tflock\], *\[\([^]]*\)\].*/\1/p' "$top_srcdir/configure.ac")
like "$version" '^[0-9]+\.[0-9]+\.[0-9]+$' "configure.ac names the version ($version)"
pins=$(cd "$top_srcdir" && find README.md docs examples ci-templates -type f \( -name '*.md' -o -name '*.yml' \) |
	LC_ALL=C sort | xargs grep -HnoE \
		"ci-templates/github@[A-Za-z0-9][^[:space:]\"'\`)]*|^[[:space:]]*TFLOCK_REF:[[:space:]]*[A-Za-z0-9][^[:space:]#]*" |
	sed -E 's/:[[:space:]]*(ci-templates\/github@|TFLOCK_REF:[[:space:]]*)/ /' | grep -vE ' [A-Z]+$')
npins=0
while read -r where ref; do
	npins=$((npins + 1))
	ok "$where pins v$version or a full commit SHA ($ref)" \
		bash -c '[ "$1" = "v$2" ] || [[ $1 =~ ^[0-9a-f]{40}$ ]]' _ "$ref" "$version"
done <<<"$pins"
ok "the pins were found ($npins: the action in README and the example workflow, TFLOCK_REF in README and the GitLab example)" \
	test "$npins" -ge 5
done_testing
