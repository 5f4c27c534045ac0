#!/bin/bash
# soak.sh — a long soak (not part of `make check`): PROCS contenders cycle on one
# key through the fault proxy, each cycle a read-modify-write of a counter and a
# command tree (a grandchild, a setsid() child, a double-forked daemon); a killer
# SIGKILLs random holders; the proxy's faults change every few seconds; where the
# real terraform is on PATH, one more contender runs real applies on the same
# lock. At the end it prints: cycles, faults injected, kills, lost updates,
# overlapping holds, locks left, processes left, and the kill → next-acquired
# time (max and median).
#
#   tests/torture/soak.sh                      from the source tree, after a build
#   TFLOCK_SOAK_SECONDS=1800 TFLOCK_SOAK_PROCS=8 tests/torture/soak.sh
#
# Uses the build in $top_builddir (default _build/default) and boots (or reuses)
# the local gateway in $TFLOCK_TEST_RGW_RUN (default $top_builddir/tests/rgw-run).
# Loopback only. Durations are scaled by 0.1 as in the tests (lease 20s = 2 s).
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir/_build/default}"
: "${TFLOCK_TEST_RGW_RUN:=$top_builddir/tests/rgw-run}"
export top_srcdir top_builddir TFLOCK_TEST_RGW_RUN
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
export AWS_ENDPOINT_URL=http://127.0.0.1:9 AWS_ENDPOINT_URL_STS=http://127.0.0.1:9 CHECKPOINT_DISABLE=1
unset HTTPS_PROXY https_proxy HTTP_PROXY http_proxy AWS_PROFILE
. "$top_srcdir/tests/integration/lib.sh"
plan_lazy
rgw_require
bucket=$(new_bucket soak)
tflock_env "$bucket"
export TFLOCK_KEY=soak/terraform.tfstate
L=terraform.tfstate.tflock
SECS=${TFLOCK_SOAK_SECONDS:-3600}
PROCS=${TFLOCK_SOAK_PROCS:-8}
proxy_start
counter_setup "$bucket"
mkdir -p "$TEST_TMP/ev" "$TEST_TMP/trees"
end=$(($("$NOW") + SECS * 1000000000))
running() { [ "$("$NOW")" -lt "$end" ]; }

# one cycle's command: the read-modify-write, then a tree that lives a little
cat >"$TEST_TMP/cmd" <<SH
#!/bin/bash
"$TEST_TMP/rmw" "\$1" || exit 1
exec "$TESTCHILD" --log "$TEST_TMP/trees/\$1.log" spawn=400 spawn-setsid=400 daemon=400 run=\$((RANDOM % 300))
SH
chmod +x "$TEST_TMP/cmd"

contender() { # K
	local n=0 ok=0 fail=0 rc
	while running; do
		n=$((n + 1))
		TFLOCK_ENDPOINT=$PROXY_URL TFLOCK_EVENT_LOG=$TEST_TMP/ev/$1.$n "$TFLOCK" -q --lease 20s -- \
			"$TEST_TMP/cmd" "$1.$n" 2>>"$TEST_TMP/err.$1"
		rc=$?
		# 137: killed by the killer; 69: a release broken by a fault (said)
		case $rc in 0) ok=$((ok + 1)) ;; 137 | 69) ;; *) fail=$((fail + 1)) ;; esac
	done
	echo "$n $ok $fail" >"$TEST_TMP/count.$1"
}

killer() {
	local victims v id h
	while running; do
		sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.2f", 0.5 + (r % 250) / 100 }')"
		mapfile -t victims < <(pgrep -f -- "--lease 20s -- $TEST_TMP/cmd" || true)
		[ ${#victims[@]} -gt 0 ] || continue
		# a random tflock, the holder two times in three (its tree must die before
		# anyone takes over), else a waiter; its cycle id is the command's last
		# argument, and the holder's has entered its read-modify-write
		v=${victims[RANDOM % ${#victims[@]}]}
		if [ $((RANDOM % 3)) != 0 ]; then
			for h in "${victims[@]}"; do
				id=$(tr '\0' '\n' 2>/dev/null <"/proc/$h/cmdline" | tail -n 1)
				if [ -n "$id" ] && grep -q " $id\$" "$TEST_TMP/intervals" 2>/dev/null; then
					v=$h
					break
				fi
			done
		fi
		id=$(tr '\0' '\n' 2>/dev/null <"/proc/$v/cmdline" | tail -n 1)
		echo "kill $("$NOW") $v ${id:-?}" >>"$TEST_TMP/kills"
		kill -KILL "$v" 2>/dev/null
	done
}

faults() {
	local rules=("PUT $L drop-after count=2" "GET $L status 503 count=5" "PUT $L status 500 count=2"
		"PUT $L stall 150 count=3" "DELETE $L reset count=1" "GET $L stall-after 100 count=4"
		"PUT $L status-after 500 count=1" "")
	local w=0 r
	while running; do
		# a new tag each time: the proxy keys a rule's counters by its text, so
		# a rule written again unchanged would stay used up
		w=$((w + 1))
		r=${rules[RANDOM % ${#rules[@]}]}
		proxy_rules "${r:+$r tag=$w}"
		sleep 3
	done
	proxy_rules
}

tf_contender() { # real terraform applies on the same lock, zero configuration
	local d=$TEST_TMP/tf n=0 ok=0 fail=0
	mkdir -p "$d" && cd "$d" || return
	real_tf_main soak/terraform.tfstate "resource \"terraform_data\" \"t\" {
  triggers_replace = timestamp()
  provisioner \"local-exec\" {
    command = \"echo enter \$($NOW) tf >>$TEST_TMP/intervals; sleep 0.3; echo exit \$($NOW) tf >>$TEST_TMP/intervals\"
  }
}"
	: >"$TEST_TMP/terraformrc"
	TF_CLI_CONFIG_FILE=$TEST_TMP/terraformrc terraform init -input=false >"$d/init.out" 2>&1 || return
	while running; do
		n=$((n + 1))
		if TF_CLI_CONFIG_FILE=$TEST_TMP/terraformrc TFLOCK_EVENT_LOG=$TEST_TMP/ev/tf.$n \
			"$TFLOCK" -q --lease 20s -- terraform apply -auto-approve -input=false -no-color \
			>>"$d/apply.out" 2>&1; then ok=$((ok + 1)); else fail=$((fail + 1)); fi
	done
	echo "$n $ok $fail" >"$TEST_TMP/count.tf"
}

diag "soak: $PROCS contenders for ${SECS}s on s3://$bucket/$TFLOCK_KEY through the fault proxy"
pids=()
for k in $(seq 1 "$PROCS"); do
	contender "$k" 2>/dev/null & # (bash's "Killed" notes; tflock's stderr is in err.K)
	pids+=($!)
done
if command -v terraform >/dev/null; then
	(unset TFLOCK_BUCKET TFLOCK_KEY TFLOCK_ENDPOINT && tf_contender) &
	pids+=($!)
else
	diag "no terraform on PATH: no real applies among the contenders"
fi
killer &
kp=$!
faults &
fp=$!
wait "${pids[@]}" "$kp" "$fp" 2>/dev/null

# the last killed holder's lock is taken over by nobody: wait for its lease
wait_for "the lock to be free" 30 test "$(s3_status GET "/$bucket/$TFLOCK_KEY.tflock")" = 404 ||
	TFLOCK_ENDPOINT=$TFLOCK_TEST_S3_ENDPOINT "$TFLOCK" -q --lease 20s --timeout 60s -- true 2>/dev/null
sleep 1 # let the trees of the last cycles (400 ms) end

cycles=$(cat "$TEST_TMP"/count.* | awk '{ n += $1; ok += $2; f += $3 } END { print n, ok, f }')
read -r n_cycles n_ok n_fail <<<"$cycles"
kills=$(wc -l <"$TEST_TMP/kills" 2>/dev/null || echo 0)
injected=$(grep -vc 'action=pass' "$PROXY_LOG")
counter=$(s3 GET "/$bucket/counter" | sed '$d')
exits=$(awk '$1 == "exit" && $3 != "tf"' "$TEST_TMP/intervals" | wc -l)
lost=$((exits > counter ? exits - counter : 0))
# intervals by id: an enter without an exit (killed inside it) ends at its enter
overlaps=$(awk '$1 == "enter" { s[$3] = $2 } $1 == "exit" { e[$3] = $2 }
	END { for (k in s) print s[k], (k in e ? e[k] : s[k]) }' "$TEST_TMP/intervals" | sort -n |
	awk '{ if (NR > 1 && $1 < last) bad++; if ($2 > last) last = $2 } END { print bad + 0 }')
left=$([ "$(s3_status GET "/$bucket/$TFLOCK_KEY.tflock")" = 404 ] && echo 0 || echo 1)
procs=$(pgrep -f -- "$TEST_TMP/trees" | wc -l)
# a holder kill: the victim's cycle had entered its read-modify-write (so it held
# the lock); kill -> the next acquired event of anyone is its takeover time
cat "$TEST_TMP"/ev/* 2>/dev/null | awk '$3 == "acquired" { print $1 }' | sort -n >"$TEST_TMP/acq"
awk 'NR == FNR { if ($1 == "enter") held[$3] = 1; next } ($4 in held)' \
	"$TEST_TMP/intervals" "$TEST_TMP/kills" >"$TEST_TMP/holder-kills" 2>/dev/null
holder_kills=$(wc -l <"$TEST_TMP/holder-kills")
takeover=$(awk 'NR == FNR { a[++na] = $1; next } { t = $2; for (i = 1; i <= na; i++) if (a[i] > t) { print (a[i] - t) / 1e9; break } }' \
	"$TEST_TMP/acq" "$TEST_TMP/holder-kills" 2>/dev/null | sort -n |
	awk '{ v[NR] = $1 } END { if (NR) printf "%.2f s max, %.2f s median", v[NR], v[int((NR + 1) / 2)]; else print "none" }')

printf 'soak figures (%s s, %s contenders%s):\n' "$SECS" "$PROCS" "$(command -v terraform >/dev/null && echo ' + real terraform')"
printf '  cycles: %s (%s ok, %s failed otherwise; killed and fault-broken releases aside)\n' "$n_cycles" "$n_ok" "$n_fail"
printf '  faults injected: %s\n  kills: %s (%s of them holders)\n  lost updates: %s (counter %s, completed read-modify-writes %s)\n' \
	"$injected" "$kills" "$holder_kills" "$lost" "$counter" "$exits"
printf '  overlapping holds: %s\n  locks left: %s\n  processes left: %s\n' "$overlaps" "$left" "$procs"
printf '  holder killed -> next holder acquired: %s (lease %s s)\n' "$takeover" \
	"$(awk -v s="${TFLOCK_TIME_SCALE:-0.1}" 'BEGIN { print 20 * s }')"
is 0 "$lost" "no lost update"
is 0 "$overlaps" "no two holds at once"
is 0 "$left" "no lock left"
is 0 "$procs" "no process of a command tree left"
ok "cycles ran ($n_cycles)" test "$n_cycles" -gt 0
[ "$procs" = 0 ] || pkill -KILL -f -- "$TEST_TMP/trees"
done_testing
