# libtap.sh — the shell twin of tests/tap/basic.c. Source it, then:
#   plan N | plan_lazy      announce the plan (lazy: printed by done_testing)
#   ok DESC CMD...          run CMD; pass when it exits 0
#   ok_not DESC CMD...      pass when CMD exits non-zero
#   is WANTED SEEN DESC     string equality
#   is_int WANTED SEEN DESC integer equality
#   like SEEN PATTERN DESC  SEEN matches the extended regex PATTERN
#   diag MSG | skip REASON | bail MSG
#   done_testing            print a lazy plan; exits 1 if anything failed
# Integer and string mismatches print wanted/seen as diagnostics.

_tap_n=0
_tap_failed=0
_tap_planned=

plan() { _tap_planned=$1; echo "1..$1"; }
plan_lazy() { _tap_planned=lazy; }
skip_all() { echo "1..0 # SKIP $*"; exit 0; }

_tap_report() {
	_tap_n=$((_tap_n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $_tap_n - $2"
	else
		_tap_failed=$((_tap_failed + 1))
		echo "not ok $_tap_n - $2"
	fi
}

ok() {
	local desc=$1
	shift
	"$@"
	_tap_report $? "$desc"
}

ok_not() {
	local desc=$1
	shift
	if "$@"; then _tap_report 1 "$desc"; else _tap_report 0 "$desc"; fi
}

is() {
	if [ "$1" = "$2" ]; then
		_tap_report 0 "$3"
	else
		_tap_report 1 "$3"
		diag "wanted: $1"
		diag "  seen: $2"
	fi
}

is_int() {
	if [ "$1" -eq "$2" ] 2>/dev/null; then
		_tap_report 0 "$3"
	else
		_tap_report 1 "$3"
		diag "wanted: $1"
		diag "  seen: $2"
	fi
}

like() {
	if printf '%s' "$1" | grep -Eq -- "$2"; then
		_tap_report 0 "$3"
	else
		_tap_report 1 "$3"
		diag "pattern: $2"
		diag "   seen: $1"
	fi
}

skip() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n # skip $*"; }
diag() { printf '%s\n' "$*" | sed 's/^/# /'; }
bail() { echo "Bail out! $*"; exit 255; }

done_testing() {
	if [ "$_tap_planned" = lazy ]; then
		echo "1..$_tap_n"
	elif [ -n "$_tap_planned" ] && [ "$_tap_planned" != "$_tap_n" ]; then
		echo "# planned $_tap_planned tests but ran $_tap_n"
		exit 1
	fi
	[ "$_tap_failed" = 0 ] || exit 1
	exit 0
}
