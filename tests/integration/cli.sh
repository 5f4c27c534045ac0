#!/bin/bash
# The command line's basic contract: --version, --help, usage errors.
. "$top_srcdir/tests/integration/lib.sh"
plan_lazy

out=$("$TFLOCK" --version)
like "$out" '^tflock [0-9]+\.[0-9]+\.[0-9]+$' "--version prints the version"
out=$("$TFLOCK" --help)
like "$out" '^usage: tflock' "--help prints usage"
like "$out" 'Exit codes' "--help documents the exit codes"
"$TFLOCK" --no-such-option >/dev/null 2>"$TEST_TMP/err"
is 64 $? "an unknown option exits 64"
like "$(cat "$TEST_TMP/err")" "^tflock: " "the error names tflock"
done_testing
