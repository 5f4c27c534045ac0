#!/bin/bash
# deb.sh — the Debian package, built the way a Debian user builds it:
#   - a copy of the source tree as a fresh checkout has it (tracked and new
#     files, nothing generated: no configure, no Makefile.in, no build tree)
#     builds with `dpkg-buildpackage -us -uc -b` into tflock_VERSION_ARCH.deb,
#     VERSION being configure.ac's and debian/changelog's (the same);
#   - the build ran every unit program and nothing else (the integration tests
#     need the gateway), and DEB_BUILD_OPTIONS=nocheck runs none of them;
#   - lintian reports no error and no warning;
#   - the package holds the program, the man page, the pre-apply hook and its
#     installer (executable), the docs and the examples;
#   - the packaged binary is hardened: PIE, BIND_NOW, RELRO, a non-executable
#     stack, fortified libc calls and the stack protector (read with readelf
#     and objdump, not taken from the build flags);
#   - as root, with no tflock package installed already: it installs,
#     /usr/bin/tflock --version names the version, debian/tests/lock-cycle (the
#     autopkgtest) runs the installed binary through a lock cycle on the local
#     gateway, and `dpkg -P` removes every file the package listed. An aborted
#     test still purges what it installed.
# Skips when TFLOCK_PACKAGING_TESTS=no (distcheck's copy), in sanitizer builds,
# without debian/, or without the Debian packaging tools.
. "$top_srcdir/tests/integration/lib.sh"

[ "${TFLOCK_PACKAGING_TESTS:-yes}" = no ] && skip_all "TFLOCK_PACKAGING_TESTS=no (distcheck's copy: the source tree's own run builds the package)"
[ -n "${TFLOCK_TEST_SANITIZED:-}" ] &&
	skip_all "sanitizer build ($TFLOCK_TEST_SANITIZED): the package is built with Debian's flags from the source, the default build's run covers it"
[ -d "$top_srcdir/debian" ] || skip_all "no debian/ in $top_srcdir"
for t in dpkg-buildpackage dpkg-parsechangelog dh lintian fakeroot readelf objdump; do
	command -v "$t" >/dev/null ||
		skip_all "$t not found: install debhelper lintian dpkg-dev fakeroot binutils (tests/install-deps.sh does)"
done
plan_lazy

# --- a source tree like a fresh checkout -----------------------------------
pkg=$TEST_TMP/pkg
src=$pkg/tflock
mkdir -p "$src"
if git -C "$top_srcdir" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	# what git tracks plus new files it does not ignore (the work in progress);
	# files deleted in the work tree are left out
	git -C "$top_srcdir" ls-files -z -c -o --exclude-standard |
		while IFS= read -r -d '' f; do
			[ -e "$top_srcdir/$f" ] || [ -L "$top_srcdir/$f" ] || continue
			printf '%s\0' "$f"
		done | tar -C "$top_srcdir" --null -T - -cf - | tar -C "$src" -xf -
else
	# a tree without git (a release tarball): everything but build products
	tar -C "$top_srcdir" -cf - --exclude=./_build --exclude=./.git --exclude=autom4te.cache \
		--exclude=./configure --exclude=./configure~ --exclude=Makefile.in --exclude=./Makefile \
		--exclude=./aclocal.m4 --exclude='./ac-config.h*' --exclude=./build-aux --exclude=./m4 \
		--exclude=./config.status --exclude=./config.log --exclude=./stamp-h1 --exclude='*.o' \
		--exclude='*.a' --exclude=.deps --exclude=.dirstamp --exclude=./tflock \
		--exclude='./tests/rgw-run*' --exclude=./tests/ddb-run --exclude=./tests/tmp . |
		tar -C "$src" -xf -
fi
ok "the copy has debian/rules" test -x "$src/debian/rules"
ok_not "the copy has no generated configure, Makefile.in, aclocal.m4 or build-aux/" \
	bash -c 'ls -d "$1"/configure "$1"/Makefile.in "$1"/aclocal.m4 "$1"/build-aux 2>/dev/null | grep -q .' _ "$src"

version=$(sed -n 's/^AC_INIT(\[tflock\], *\[\([^]]*\)\].*/\1/p' "$src/configure.ac")
like "$version" '^[0-9]+\.[0-9]+\.[0-9]+' "configure.ac's AC_INIT names a version"
is "$version" "$(cd "$src" && dpkg-parsechangelog -SVersion)" "debian/changelog's version is configure.ac's"
arch=$(dpkg --print-architecture)
deb=$pkg/tflock_${version}_$arch.deb

# --- the build ---------------------------------------------------------------
# make check's own make variables and any DEB_* choices of the caller stay out
(
	cd "$src" || exit 1
	unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES GNUMAKEFLAGS DEB_BUILD_OPTIONS DEB_BUILD_PROFILES
	# the unit programs' durations stretched (as valgrind.sh does): this build
	# runs beside the rest of the suite, two make -j2 on two cores
	TFLOCK_TEST_TIME_SCALE=$(awk -v s="${TFLOCK_TEST_TIME_SCALE:-1}" 'BEGIN { print s * 4 }')
	export TFLOCK_TEST_TIME_SCALE
	exec dpkg-buildpackage -us -uc -b
) >"$TEST_TMP/build.log" 2>&1
rc=$?
is 0 "$rc" "dpkg-buildpackage -us -uc -b succeeds"
if [ "$rc" != 0 ]; then
	diag "--- failed checks in the build log"
	grep -E '^(not ok|FAIL:|ERROR:|# failed)' "$TEST_TMP/build.log" | head -n 20 | sed 's/^/#   /'
	diag "--- dpkg-buildpackage (last 40 lines of its log)"
	tail -n 40 "$TEST_TMP/build.log" | sed 's/^/#   /'
	done_testing
fi
ok "it built ${deb##*/}" test -s "$deb"
ls "$pkg"/*.deb >"$TEST_TMP/debs" 2>/dev/null
diag "built: $(sed 's|.*/||' "$TEST_TMP/debs" | tr '\n' ' ')"

# every unit program ran (automake's PASS lines) and no integration test did
units=$(sed -n '/^UNIT_TESTS = \\$/,/^$/p' "$src/Makefile.am" | sed -n 's|^[[:space:]]*\(tests/unit/[a-z0-9_]*\).*|\1|p')
like "$units" 'tests/unit/' "Makefile.am lists the unit programs"
missing=
for u in $units; do
	grep -q "^PASS: $u " "$TEST_TMP/build.log" || missing="$missing $u"
done
is "" "$missing" "the build ran every unit program ($(echo $units | wc -w) of them; none missing)"
ok_not "and no integration test" grep -Eq '^(PASS|FAIL|SKIP|ERROR): tests/integration/' "$TEST_TMP/build.log"
like "$(grep -E '^# (TOTAL|FAIL|ERROR):' "$TEST_TMP/build.log" | tr '\n' ' ')" \
	'^# TOTAL: [1-9][0-9]* # FAIL: +0 # ERROR: +0 $' "their summary: results, no failure"

# nocheck, in the built tree: the test step has the unit run to do without it
# (make -n) and runs nothing with it
(cd "$src" && unset MAKEFLAGS MFLAGS MAKELEVEL DEB_BUILD_OPTIONS && debian/rules -n override_dh_auto_test) \
	>"$TEST_TMP/test-dry.log" 2>&1
like "$(cat "$TEST_TMP/test-dry.log")" 'check-unit' "without nocheck, the test step runs make check-unit"
(cd "$src" && unset MAKEFLAGS MFLAGS MAKELEVEL && DEB_BUILD_OPTIONS=nocheck debian/rules override_dh_auto_test) \
	>"$TEST_TMP/nocheck.log" 2>&1
is 0 $? "DEB_BUILD_OPTIONS=nocheck debian/rules override_dh_auto_test succeeds"
ok_not "and runs nothing (no make check-unit, no test result)" \
	grep -Eq 'check-unit|^(PASS|FAIL|ERROR): |^# TOTAL' "$TEST_TMP/nocheck.log"

# --- lintian ------------------------------------------------------------------
lintian --fail-on error,warning --display-info --pedantic "$deb" >"$TEST_TMP/lintian.out" 2>"$TEST_TMP/lintian.stderr"
rc=$?
ok_not "lintian: no error or warning" grep -Eq '^[EW]: ' "$TEST_TMP/lintian.out"
is 0 "$rc" "lintian --fail-on error,warning exits 0 (info and pedantic tags, if any, below)"
if [ -s "$TEST_TMP/lintian.out" ]; then
	diag "--- lintian ${deb##*/}"
	sed 's/^/#   /' "$TEST_TMP/lintian.out"
fi
grep -v 'running with root privileges' "$TEST_TMP/lintian.stderr" | sed 's/^/# lintian: /'

# --- contents -------------------------------------------------------------
dpkg-deb -c "$deb" | awk '{ print substr($1, 1, 1) substr($1, 4, 1), $6 }' >"$TEST_TMP/contents"
has() { grep -Eq "^$1 \./$2\$" "$TEST_TMP/contents"; }
ok "the package has /usr/bin/tflock (executable)" has -x 'usr/bin/tflock'
ok "the man page tflock.1" has '-.' 'usr/share/man/man1/tflock\.1\.gz'
ok "the pre-apply hook (executable)" has -x 'usr/share/tflock/hooks/pre-apply'
ok "the hook's installer (executable)" has -x 'usr/share/tflock/hooks/install\.sh'
ok "the copyright file" has '-.' 'usr/share/doc/tflock/copyright'
ok "the hook's README" has '-.' 'usr/share/doc/tflock/hooks/README\.md(\.gz)?'
missing=
for f in "$src"/README.md "$src"/docs/*.md; do
	n=${f##*/}
	has '-.' "usr/share/doc/tflock/${n//./\\.}(\\.gz)?" || missing="$missing ${f#"$src"/}"
done
is "" "$missing" "the docs: README.md and docs/*.md (none missing)"
missing=
while IFS= read -r f; do
	has '[-l].' "usr/share/doc/tflock/examples/$(printf '%s' "${f#./}" | sed 's/[].[*^$+?(){}|\\]/\\&/g')(\\.gz)?" ||
		missing="$missing $f"
done < <(cd "$src/examples" && find . -type f)
is "" "$missing" "the examples, every file of examples/ (none missing)"

# --- hardening, read from the packaged binary -----------------------------
dpkg-deb -x "$deb" "$TEST_TMP/root"
bin=$TEST_TMP/root/usr/bin/tflock
readelf -hW "$bin" >"$TEST_TMP/elf.h" 2>&1
readelf -dW "$bin" >"$TEST_TMP/elf.d" 2>&1
readelf -lW "$bin" >"$TEST_TMP/elf.l" 2>&1
objdump -T "$bin" | awk '{ print $NF }' >"$TEST_TMP/elf.syms"
ok "PIE: an ELF of type DYN" grep -Eq 'Type:[[:space:]]+DYN' "$TEST_TMP/elf.h"
ok "PIE: FLAGS_1 says PIE" grep -Eq '\(FLAGS_1\).*\bPIE\b' "$TEST_TMP/elf.d"
ok "BIND_NOW (immediate binding)" grep -Eq '\(BIND_NOW\)|\(FLAGS\).*\bBIND_NOW\b|\(FLAGS_1\).*\bNOW\b' "$TEST_TMP/elf.d"
ok "RELRO: a GNU_RELRO segment" grep -q 'GNU_RELRO' "$TEST_TMP/elf.l"
ok "a non-executable stack (GNU_STACK RW)" grep -Eq 'GNU_STACK.*[[:space:]]RW[[:space:]]' "$TEST_TMP/elf.l"
ok "fortified libc calls (__*_chk)" grep -Eq '^__[a-z0-9_]+_chk$' "$TEST_TMP/elf.syms"
ok "the stack protector (__stack_chk_fail)" grep -qx '__stack_chk_fail' "$TEST_TMP/elf.syms"

# --- install, run, purge (root only) --------------------------------------
status=$(dpkg-query -W -f='${Status}' tflock 2>/dev/null)
if [ "$(id -u)" != 0 ]; then
	skip "install, lock cycle and purge: not root"
	done_testing
fi
case $status in
'' | *not-installed) ;;
*)
	skip "install, lock cycle and purge: a tflock package is already here ($status): not replacing it"
	done_testing
	;;
esac

# dpkg ARGS — dpkg, waiting (bounded) while another dpkg or apt holds its lock
dpkg_locked() {
	local i
	for ((i = 0; i < 120; i++)); do
		dpkg "$@" >"$TEST_TMP/dpkg.out" 2>&1 && return 0
		grep -q 'lock' "$TEST_TMP/dpkg.out" || break
		sleep 1
	done
	sed 's/^/# dpkg: /' "$TEST_TMP/dpkg.out"
	return 1
}
installed=
purge_on_exit() {
	[ -n "$installed" ] && dpkg_locked -P tflock
	test_cleanup
}
trap purge_on_exit EXIT
# a signal waits for the running command (dpkg) to finish, then purges on exit
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
installed=yes
ok "dpkg -i ${deb##*/}" dpkg_locked -i "$deb"
like "$(dpkg-query -W -f='${Status} ${Version}' tflock 2>&1)" "^install ok installed $version\$" \
	"dpkg-query: installed, version $version"
is "tflock $version" "$(/usr/bin/tflock --version 2>&1)" "/usr/bin/tflock --version"
dpkg -L tflock >"$TEST_TMP/listed"
while IFS= read -r f; do
	[ -d "$f" ] && [ ! -L "$f" ] && continue
	printf '%s\n' "$f"
done <"$TEST_TMP/listed" >"$TEST_TMP/listed-files"
ok "dpkg -L lists the binary" grep -qx /usr/bin/tflock "$TEST_TMP/listed-files"

rgw_require
TFLOCK=/usr/bin/tflock "$src/debian/tests/lock-cycle" >"$TEST_TMP/lock-cycle.out" 2>"$TEST_TMP/lock-cycle.err"
rc=$?
is 0 "$rc" "debian/tests/lock-cycle (the autopkgtest) passes with the installed tflock"
like "$(cat "$TEST_TMP/lock-cycle.out")" '^1\.\.[1-9]' "and ran its checks"
if [ "$rc" != 0 ] || grep -q '^not ok' "$TEST_TMP/lock-cycle.out"; then
	diag "--- lock-cycle"
	sed 's/^/#   /' "$TEST_TMP/lock-cycle.out" "$TEST_TMP/lock-cycle.err"
fi

ok "dpkg -P tflock" dpkg_locked -P tflock
installed=
left=
while IFS= read -r f; do
	{ [ -e "$f" ] || [ -L "$f" ]; } && left="$left $f"
done <"$TEST_TMP/listed-files"
is "" "$left" "every file the package listed ($(wc -l <"$TEST_TMP/listed-files")) is gone"
ok_not "its own directories are gone" bash -c 'ls -d /usr/share/tflock /usr/share/doc/tflock 2>/dev/null | grep -q .'
like "$(dpkg-query -W -f='${Status}' tflock 2>&1)" 'not-installed|no packages found' "dpkg-query: not installed"
done_testing
