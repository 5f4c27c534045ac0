#!/bin/bash
# sync-templates.sh — write the generated parts of the GitLab templates from
# their one source each:
#
#   ci-templates/gitlab/tflock.gitlab-ci.yml, between "# BEGIN release" and
#       "# END release": the release installer (ci-templates/install-release.sh)
#       inline, with the pins of release/versions.txt inline in place of its
#       tflock_pins function (an included template has no files beside it);
#   templates/tflock.yml (the CI/CD component), between "# BEGIN .tflock" and
#       "# END .tflock": the hidden job's before_script and after_script, as
#       they are in tflock.gitlab-ci.yml.
#
#   sync-templates.sh           rewrite both files
#   sync-templates.sh --check   change nothing; exit 1 naming what is out of date
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ct=$(dirname "$here")
top=$(dirname "$ct")
hidden=$ct/gitlab/tflock.gitlab-ci.yml
component=$top/templates/tflock.yml
check=0
case ${1:-} in
--check) check=1 ;;
"") ;;
*)
	echo "usage: sync-templates.sh [--check]" >&2
	exit 64
	;;
esac

# the installer with the pins inline
installer() {
	awk -v pins="$here/versions.txt" '
		/^# BEGIN tflock_pins/ {
			print "tflock_pins() {"
			print "\tcat <<'"'"'TFLOCK_PINS'"'"'"
			while ((getline l < pins) > 0) if (l !~ /^#/ && l != "") print l
			print "TFLOCK_PINS"
			print "}"
			skip = 1
			next
		}
		/^# END tflock_pins/ { skip = 0; next }
		# (the header comment and blank lines stay in the file)
		skip || /^$/ || (/^#/ && !/^#!/) { next }
		{ print }
	' "$ct/install-release.sh"
}

# the release block of the hidden job's before_script, unindented
release_block() {
	cat <<'EOF'
# BEGIN release (written by ci-templates/release/sync-templates.sh from
# ci-templates/install-release.sh and release/versions.txt: edit those)
if [ -z "${TFLOCK_BIN:-}" ] && [ -z "${TFLOCK_SRC:-}" ] && [ -z "${TFLOCK_REF:-}" ] &&
  [ "${TFLOCK_VERSION:-}" != source ]; then
  if [ -z "${TFLOCK_RELEASE_URL:-}" ] && [ -n "${TFLOCK_PROJECT:-}" ]; then
    TFLOCK_RELEASE_URL=$CI_API_V4_URL/projects/$(printf '%s' "$TFLOCK_PROJECT" | sed 's|/|%2F|g')/packages/generic/tflock/{version}/{asset}
  fi
  mkdir -p "$TFLOCK_CACHE_ROOT"
  cat >"$TFLOCK_CACHE_ROOT/.install-release.sh" <<'TFLOCK_INSTALLER'
EOF
	installer
	cat <<'EOF'
TFLOCK_INSTALLER
  tflock_rc=0
  tflock_out=$(TFLOCK_VERSION=${TFLOCK_VERSION:-} TFLOCK_RELEASE_URL=${TFLOCK_RELEASE_URL:-} \
    sh "$TFLOCK_CACHE_ROOT/.install-release.sh" plan) || tflock_rc=$?
  # (exit 3 with a version: no binary of it for this machine; build its tag)
  tflock_version=$(printf '%s\n' "$tflock_out" | sed -n 's/^version=//p')
  tflock_source_pin=$(printf '%s\n' "$tflock_out" | sed -n 's/^source=//p')
  if [ "$tflock_rc" = 0 ]; then
    tflock_out=$(TFLOCK_VERSION=$tflock_version TFLOCK_RELEASE_URL=${TFLOCK_RELEASE_URL:-} \
      sh "$TFLOCK_CACHE_ROOT/.install-release.sh" install) || tflock_rc=$?
    case $tflock_rc in
    0) TFLOCK_BIN=$(printf '%s\n' "$tflock_out" | sed -n 's/^bin=//p') ;;
    3) echo "tflock: the tflock $tflock_version release could not be downloaded" ;;
    *) tflock_fail "tflock $tflock_version was refused (above): not building it from source instead" ;;
    esac
  elif [ "$tflock_rc" != 3 ]; then
    tflock_fail "no tflock release to install (above)"
  fi
  if [ -z "${TFLOCK_BIN:-}" ] && [ -n "$tflock_version" ]; then
    # the version's tag, built only if its sources are the pinned ones (below)
    [ -n "$tflock_source_pin" ] || tflock_fail "tflock $tflock_version has no pinned sources: not building tag v$tflock_version"
    echo "tflock: building v$tflock_version from source"
    TFLOCK_REF=v$tflock_version
  fi
fi
# END release
EOF
}

# replace_between FILE BEGIN-RE END-RE INDENT TEXT-FILE: the lines from BEGIN
# to END (both included) become TEXT-FILE's lines, each indented by INDENT
# (empty lines stay empty)
replace_between() {
	awk -v b="$2" -v e="$3" -v ind="$4" -v txt="$5" '
		$0 ~ b && !done {
			while ((getline l < txt) > 0) print (l == "" ? "" : ind l)
			skip = 1
			next
		}
		skip && $0 ~ e { skip = 0; done = 1; next }
		!skip { print }
		END { if (!done) { print "sync-templates: markers " b " .. " e " not found" > "/dev/stderr"; exit 1 } }
	' "$1"
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
release_block >"$tmp/release"
replace_between "$hidden" '^      # BEGIN release' '^      # END release' '      ' "$tmp/release" >"$tmp/hidden"
# the hidden job's scripts: from "  before_script:" to the end of the file
{
	echo '# BEGIN .tflock (written by ci-templates/release/sync-templates.sh from'
	echo '# the hidden job .tflock in ci-templates/gitlab/tflock.gitlab-ci.yml: edit that)'
	sed -n '/^  before_script:$/,$p' "$tmp/hidden"
	echo '# END .tflock'
} | sed 's/^  //' >"$tmp/scripts"
replace_between "$component" '^  # BEGIN \.tflock' '^  # END \.tflock' '  ' "$tmp/scripts" >"$tmp/component"

stale=0
for pair in "hidden:$hidden" "component:$component"; do
	name=${pair%%:*} file=${pair#*:}
	if ! cmp -s "$tmp/$name" "$file"; then
		if [ $check = 1 ]; then
			echo "sync-templates: ${file#"$top"/} is out of date: run ci-templates/release/sync-templates.sh" >&2
			stale=1
		else
			cat "$tmp/$name" >"$file"
			echo "sync-templates: wrote ${file#"$top"/}" >&2
		fi
	fi
done
exit $stale
